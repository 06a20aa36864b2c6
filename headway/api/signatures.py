"""Whether a webhook delivery comes from its source: each source's signature or token,
checked in constant time against the configured secret and, during a rotation, the previous
one."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

from fastapi import Request

__all__ = [
    "Refused",
    "token_verifier",
    "verify_any",
    "verify_github",
    "verify_gitlab",
    "verify_pagerduty",
]


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _hmac_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def verify_github(request: Request, body: bytes, secret: str) -> None:
    header = request.headers.get("x-hub-signature-256")
    if not header:
        raise Refused(401, "missing X-Hub-Signature-256: set the webhook's secret in GitHub")
    if not _same(header.strip(), f"sha256={_hmac_hex(secret, body)}"):
        raise Refused(
            401,
            "X-Hub-Signature-256 does not match the body signed with the "
            "configured secret (HEADWAY_GITHUB_WEBHOOK_SECRET)",
        )


def verify_gitlab(request: Request, body: bytes, secret: str) -> None:
    token = request.headers.get("x-gitlab-token")
    if not token:
        raise Refused(401, "missing X-Gitlab-Token: set the webhook's secret token in GitLab")
    if not _same(token, secret):
        raise Refused(401, "X-Gitlab-Token does not match HEADWAY_GITLAB_WEBHOOK_SECRET")


def verify_pagerduty(request: Request, body: bytes, secret: str) -> None:
    header = request.headers.get("x-pagerduty-signature")
    if not header:
        raise Refused(401, "missing X-PagerDuty-Signature: use a v3 webhook subscription")
    expected = f"v1={_hmac_hex(secret, body)}"
    # While PagerDuty rotates secrets it sends one signature per secret; any may match.
    # Every candidate is compared, so timing does not reveal which one matched.
    matches = [_same(candidate.strip(), expected) for candidate in header.split(",")]
    if not any(matches):
        raise Refused(
            401,
            "no signature in X-PagerDuty-Signature matches the body signed with "
            "HEADWAY_PAGERDUTY_WEBHOOK_SECRET",
        )


def token_verifier(setting: str) -> Callable[[Request, bytes, str], None]:
    def verify(request: Request, body: bytes, secret: str) -> None:
        signature = request.headers.get("x-hub-signature")  # Jira Cloud's signed webhooks
        if signature:
            if not _same(signature.strip(), f"sha256={_hmac_hex(secret, body)}"):
                raise Refused(401, f"X-Hub-Signature does not match the body signed with {setting}")
            return
        authorization = request.headers.get("authorization", "")
        token = (
            request.headers.get("x-headway-token")
            or (authorization[7:] if authorization.lower().startswith("bearer ") else None)
            or request.query_params.get("token")
        )
        if not token:
            raise Refused(
                401, "missing token: send it as X-Headway-Token, Authorization: Bearer or ?token="
            )
        if not _same(token, secret):
            raise Refused(401, f"the token does not match {setting}")

    return verify


def verify_any(
    request: Request,
    verify: Callable[[Request, bytes, str], None],
    body: bytes,
    secrets: list[str | None],
) -> None:
    """Accept a delivery signed with the secret, or with the previous one while a rotation is
    under way (HEADWAY_<SOURCE>_WEBHOOK_SECRET_PREVIOUS). Both are always checked, so timing
    does not tell which matched; a refusal names the current secret."""
    refusals = []
    for secret in secrets:
        if not secret:
            continue
        try:
            verify(request, body, secret)
        except Refused as refused:
            refusals.append(refused)
    if len(refusals) == len([s for s in secrets if s]):
        raise refusals[0]
