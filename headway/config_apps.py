"""The settings of the surfaces people sign in to and the apps Headway is: the web app's
sessions, the key that seals stored secrets, single sign-on and the GitHub App. `config.Settings` holds them with the rest; they
live here so that each module stays short enough to read."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings

from headway.config_values import SecretKey, parse_role_map

__all__ = ["AppSettings"]


class AppSettings(BaseSettings):
    # -- the web app (docs/web.md) ----------------------------------------------------------
    session_key: str | None = Field(
        default=None,
        min_length=32,
        description="Key that signs the web app's session cookies (32 characters or more). "
        "Unset: a random key per server process, so sessions end when it restarts; set it "
        "when several workers or replicas serve the app.",
    )
    session_hours: float = Field(
        default=12.0, gt=0, description="How long a web app session lasts after signing in."
    )

    # -- stored secrets (docs/security.md, "Rotating secrets") ------------------------------
    secret_key: SecretKey | None = Field(
        default=None,
        description="Key that encrypts the secrets Headway stores (the GitHub App's): 32 random "
        "bytes in base64 (`openssl rand -base64 32`). Unset: the GitHub App cannot be made.",
    )
    secret_key_previous: SecretKey | None = Field(
        default=None, description="While rotating: the key being replaced, still read."
    )

    # -- single sign-on (docs/security.md, "Single sign-on") ---------------------------------
    oidc_issuer: str | None = Field(
        default=None,
        description="The OpenID Connect issuer people sign in through, such as "
        "https://login.example.com/realms/eng (its /.well-known/openid-configuration is read); "
        "https only, except on a loopback address. Unset: sign-in with tokens only.",
    )
    oidc_client_id: str | None = Field(default=None, description="Headway's client id there.")
    oidc_client_secret: SecretStr | None = Field(
        default=None,
        description="Headway's client secret at the identity provider (sent with HTTP Basic "
        "to its token endpoint; never logged or shown).",
    )
    oidc_role_map: str = Field(
        default="",
        description="Which identity provider groups give which role: "
        "`GROUP=ROLE,GROUP=ROLE` (roles viewer, editor, admin), e.g. "
        "`platform-admins=admin,eng=viewer`. A person in several groups gets the strongest "
        "role; in none, they are refused unless an admin added them (`headway users add`).",
    )
    oidc_groups_claim: str = Field(default="groups", description="The ID token's groups claim.")
    oidc_redirect_url: str | None = Field(
        default=None,
        description="The callback registered at the identity provider, "
        "https://HOST/login/oidc/callback. Unset: this server's own address as requests "
        "reach it (set it behind a proxy that changes the host or scheme).",
    )

    # -- the GitHub App (docs/github-app.md) ----------------------------------------------
    github_api_url: str = Field(
        default="https://api.github.com",
        description="GitHub's REST API, which the GitHub App calls; "
        "https://HOST/api/v3 on GitHub Enterprise Server.",
    )
    github_web_url: str = Field(
        default="https://github.com",
        description="Where the GitHub App is created and installed; https://HOST on GitHub "
        "Enterprise Server.",
    )
    github_backfill_on_install: bool = Field(
        default=True,
        description="Read each repository the app is newly granted (installed, or given a "
        "repository) for its merged pull requests and releases, after answering GitHub; "
        "false leaves it to `headway github backfill`.",
    )

    @field_validator("oidc_role_map")
    @classmethod
    def _role_map(cls, value: str) -> str:
        parse_role_map(value)
        return value

    @field_validator("oidc_issuer")
    @classmethod
    def _issuer(cls, value: str | None) -> str | None:
        if value is None:
            return None
        import httpx

        url = httpx.URL(value.strip())
        loopback = url.host in ("127.0.0.1", "::1", "localhost")
        if url.scheme != "https" and not (url.scheme == "http" and loopback):
            raise ValueError(f"{value!r}: an issuer is an https:// URL (http only on loopback)")
        return value.strip().rstrip("/")

    @property
    def oidc_roles(self) -> dict[str, str]:
        """HEADWAY_OIDC_ROLE_MAP as group -> role."""
        return parse_role_map(self.oidc_role_map)

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer and self.oidc_client_id and self.oidc_client_secret)
