"""The GitHub App manifest: what the app may read and write, and which events it receives.

GitHub creates an app from this document (https://docs.github.com/en/apps/sharing-github-apps/
registering-a-github-app-from-a-manifest), then sends the browser back to `redirect_url` with a
code that `conversion` exchanges for the app's id, private key and webhook secret.
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import urlsplit

__all__ = [
    "CALLBACK_PATH",
    "EVENTS",
    "HOOK_PATH",
    "PERMISSIONS",
    "RECEIVED",
    "ManifestError",
    "manifest",
]

# Read what delivery metrics need; write only check runs (the flags a pull request touches)
# and pull requests (comments linking to those flags). Metadata is read by every app.
PERMISSIONS: Final = {
    "checks": "write",
    "contents": "read",
    "deployments": "read",
    "metadata": "read",
    "pull_requests": "write",
}
EVENTS: Final = (
    "check_run",
    "check_suite",
    "deployment",
    "deployment_status",
    "pull_request",
    "pull_request_review",
    "push",
    "release",
)
# GitHub sends `installation` and `installation_repositories` to every app whatever it
# subscribes to, and they cannot be listed in a manifest; the app receives them all the same.
RECEIVED: Final = (*EVENTS, "installation", "installation_repositories")
CALLBACK_PATH: Final = "/github/app/callback"
HOOK_PATH: Final = "/hooks/github-app"


class ManifestError(ValueError):
    """A base URL GitHub could not call back."""


def _base(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ManifestError(
            f"the URL {url!r} needs https:// and a host, e.g. https://headway.example.com"
        )
    if parts.query or parts.fragment:
        raise ManifestError(f"the URL {url!r} must not carry a query or a fragment")
    return url.rstrip("/")


def manifest(url: str, name: str = "Headway", *, public: bool = False) -> dict[str, Any]:
    """The manifest of an app whose Headway server answers at `url`."""
    base = _base(url)
    if not name.strip() or len(name) > 34:  # GitHub's limit on an app's name
        raise ManifestError("the app's name must be 1 to 34 characters")
    return {
        "name": name,
        "url": base,
        "description": "Delivery metrics, feature flags and guarded rollouts from Headway.",
        "hook_attributes": {"url": base + HOOK_PATH, "active": True},
        "redirect_url": base + CALLBACK_PATH,
        "public": public,
        "default_permissions": dict(PERMISSIONS),
        "default_events": list(EVENTS),
    }
