"""Single sign-on with OpenID Connect: the authorization code flow with PKCE, through Authlib
(its OAuth 2.0 and OpenID Connect core: request and response parameters, PKCE, client
authentication, ID token claims) and joserfc (signatures), over httpx.

`GET /login/oidc` reads the identity provider's discovery document and sends the browser to
its authorization endpoint with a fresh `state`, `nonce` and PKCE challenge (S256); the three
secrets wait in a short-lived cookie signed with the session key (HttpOnly, SameSite=Lax so
that it comes back on the provider's redirect, path /login/oidc). The provider sends the
browser back to `GET /login/oidc/callback`, where the state must match, the code is exchanged
with the code verifier and Headway's client secret, and the ID token must be signed by a key
of the provider's JWKS (RS, PS, ES or EdDSA; never `none` or a shared secret) and name this
issuer, this client, an unexpired time and the nonce. The person's role comes from their
groups (HEADWAY_OIDC_ROLE_MAP) or from an admin (`headway.flags.users`). Failed sign-ins count
toward the address's limit (HEADWAY_LOGIN_RATE_LIMIT).

The session cookie is SameSite=Strict, so a browser would not send it on the redirect chain
that started at the provider's site: the callback answers a page that moves on to the app
with a same-site navigation instead of a redirect.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
from authlib.common.errors import AuthlibBaseError
from authlib.oauth2.auth import ClientAuth
from authlib.oauth2.rfc6749.parameters import (
    parse_authorization_code_response,
    prepare_grant_uri,
    prepare_token_request,
)
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from headway.config import Settings
from headway.flags.users import Refused, UserService, role_of_groups
from headway.web.render import render, safe_next
from headway.web.session import Keys, start
from headway.web.throttle import failed, held

__all__ = ["COOKIE", "Failure", "IdentityProvider", "login_link", "router"]

router = APIRouter(include_in_schema=False)
COOKIE = "headway_oidc"
FLOW_SECONDS = 600  # from leaving for the provider to coming back
TIMEOUT = 10.0
SCOPE = "openid email profile"
# Signatures only a key pair makes: an ID token signed with a shared secret or none is refused.
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA")


class Failure(Exception):
    """The sign-in cannot go on; the message is for the person signing in."""


@dataclass(frozen=True)
class Flow:
    """What the browser carries (signed) between leaving for the provider and coming back."""

    state: str
    nonce: str
    verifier: str
    next: str
    expires: int


class IdentityProvider:
    """The configured provider: its discovery document, authorization URLs, code exchange."""

    def __init__(self, settings: Settings) -> None:
        assert settings.oidc_issuer is not None
        assert settings.oidc_client_id is not None
        assert settings.oidc_client_secret is not None
        self.issuer = settings.oidc_issuer
        self.client_id = settings.oidc_client_id
        self._secret = settings.oidc_client_secret
        self.groups_claim = settings.oidc_groups_claim
        self.roles = settings.oidc_roles

    def _get(self, url: str) -> dict[str, Any]:
        try:
            answer = httpx.get(url, timeout=TIMEOUT, follow_redirects=False, trust_env=False)
            answer.raise_for_status()
            found: dict[str, Any] = answer.json()
        except (httpx.HTTPError, ValueError) as error:
            raise Failure(f"the identity provider cannot be reached ({_said(error)})") from None
        return found

    def metadata(self) -> dict[str, Any]:
        """The provider's discovery document, which must name this very issuer."""
        found = self._get(f"{self.issuer}/.well-known/openid-configuration")
        if found.get("issuer") != self.issuer:
            raise Failure(
                f"the identity provider says it is {found.get('issuer')!r}, not "
                f"{self.issuer!r} (HEADWAY_OIDC_ISSUER)"
            )
        return found

    def _exchange(
        self, endpoint: str, code: str, redirect_uri: str, verifier: str
    ) -> dict[str, Any]:
        """The token endpoint's answer to the code, sent with the PKCE verifier and Headway's
        client credentials (HTTP Basic, RFC 6749 section 2.3.1)."""
        body = prepare_token_request(
            "authorization_code", code=code, redirect_uri=redirect_uri, code_verifier=verifier
        )
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }
        auth = ClientAuth(self.client_id, self._secret.get_secret_value(), "client_secret_basic")
        url, headers, body = auth.prepare("POST", endpoint, headers, body)
        try:
            answer = httpx.post(
                url, content=body, headers=headers, timeout=TIMEOUT, follow_redirects=False,
                trust_env=False,
            )  # fmt: skip
            found: dict[str, Any] = answer.json()
        except httpx.HTTPError as error:
            raise Failure(f"the identity provider cannot be reached ({_said(error)})") from None
        except ValueError:
            raise Failure(
                f"the token endpoint answered {answer.status_code} without JSON"
            ) from None
        if answer.status_code != 200 or "error" in found:
            said = f"{found.get('error', answer.status_code)}: {found.get('error_description', '')}"
            raise Failure(f"the identity provider refused the sign-in ({said.rstrip(': ')})")
        return found

    def begin(self, redirect_uri: str, target: str) -> tuple[str, Flow]:
        """The provider's authorization URL, and the flow to keep until the browser is back."""
        endpoint = self.metadata()["authorization_endpoint"]
        flow = Flow(
            secrets.token_urlsafe(32),
            secrets.token_urlsafe(32),
            secrets.token_urlsafe(48),  # 64 characters: RFC 7636 asks for 43 to 128
            target,
            int(time.time()) + FLOW_SECONDS,
        )
        url = prepare_grant_uri(
            endpoint,
            client_id=self.client_id,
            response_type="code",
            redirect_uri=redirect_uri,
            scope=SCOPE,
            state=flow.state,
            nonce=flow.nonce,
            code_challenge=create_s256_code_challenge(flow.verifier),
            code_challenge_method="S256",
        )
        return url, flow

    def finish(self, redirect_uri: str, callback_url: str, flow: Flow) -> dict[str, Any]:
        """The checked ID token claims of the person the provider sends back."""
        metadata = self.metadata()
        try:
            code = parse_authorization_code_response(callback_url, state=flow.state)["code"]
        except AuthlibBaseError as error:
            raise Failure(f"the provider's answer is not one to this sign-in ({error})") from None
        token = self._exchange(metadata["token_endpoint"], code, redirect_uri, flow.verifier)
        if "id_token" not in token:
            raise Failure("the identity provider sent no ID token: is `openid` allowed?")
        offered = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        allowed = [a for a in offered if a in ALGORITHMS]
        keys = KeySet.import_key_set(self._get(metadata["jwks_uri"]))  # type: ignore[arg-type]
        try:
            decoded = jwt.decode(token["id_token"], keys, algorithms=allowed)
            claims = CodeIDToken(
                decoded.claims,
                decoded.header,
                {
                    "iss": {"essential": True, "values": [self.issuer]},
                    "aud": {"essential": True, "values": [self.client_id]},
                },
                {
                    "nonce": flow.nonce,
                    "client_id": self.client_id,
                    "access_token": token.get("access_token"),
                },
            )
            claims.validate(leeway=60)
        except (JoseError, ValueError) as error:
            raise Failure(f"the identity provider's ID token is not valid ({error})") from None
        return dict(claims)


def _said(error: Exception) -> str:
    """An HTTP failure in one line: the address and status, or what went wrong."""
    if isinstance(error, httpx.HTTPStatusError):
        return f"{error.request.url} answered {error.response.status_code}"
    if isinstance(error, httpx.RequestError):
        return f"{error.request.url}: {type(error).__name__}"
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def provider_of(request: Request) -> IdentityProvider | None:
    """The app's identity provider, or None when single sign-on is not configured."""
    settings: Settings = request.app.state.settings
    if not settings.oidc_enabled:
        return None
    found: IdentityProvider | None = getattr(request.app.state, "identity_provider", None)
    if found is None:
        found = request.app.state.identity_provider = IdentityProvider(settings)
    return found


def _redirect_uri(request: Request) -> str:
    settings: Settings = request.app.state.settings
    return settings.oidc_redirect_url or str(request.url_for("oidc_callback"))


def _seal(keys: Keys, flow: Flow) -> str:
    return keys.seal_value("oidc", json.dumps(flow.__dict__, separators=(",", ":")))


def _open(keys: Keys, cookie: str | None) -> Flow | None:
    text = keys.open_value("oidc", cookie) if cookie else None
    if text is None:
        return None
    try:
        flow = Flow(**json.loads(text))
    except (ValueError, TypeError):
        return None
    return flow if flow.expires > time.time() else None


def _refused(request: Request, status: int, why: str, retry: int | None = None) -> HTMLResponse:
    page = render(request, "error.html", None, status, title="Not signed in", why=why)
    if retry is not None:
        page.headers["Retry-After"] = str(retry)
    page.delete_cookie(COOKIE, path="/login/oidc")
    return page


@router.get("/login/oidc")
def begin(request: Request, next: str = "/") -> Response:
    provider = provider_of(request)
    if provider is None:
        return _refused(request, 404, "Single sign-on is not configured on this server.")
    wait = held(request)
    if wait is not None:
        return _refused(request, 429, _too_many(wait), wait)
    try:
        url, flow = provider.begin(_redirect_uri(request), safe_next(next))
    except Failure as error:
        return _refused(request, 502, f"Cannot sign in: {error}.")
    answer = RedirectResponse(url, status_code=303)
    answer.set_cookie(
        COOKIE,
        _seal(request.app.state.web_keys, flow),
        max_age=FLOW_SECONDS,
        httponly=True,
        samesite="lax",  # sent back on the provider's top-level redirect; Strict would not be
        secure=request.url.scheme == "https",
        path="/login/oidc",
    )
    return answer


@router.get("/login/oidc/callback", name="oidc_callback")
def callback(request: Request) -> Response:
    provider = provider_of(request)
    if provider is None:
        return _refused(request, 404, "Single sign-on is not configured on this server.")
    wait = held(request)
    if wait is not None:
        return _refused(request, 429, _too_many(wait), wait)
    given = request.query_params
    flow = _open(request.app.state.web_keys, request.cookies.get(COOKIE))
    problem: str | None = None
    if given.get("error"):
        problem = (
            f"the identity provider said {given['error']}: {given.get('error_description', '')}"
        )
    elif flow is None:
        problem = "this sign-in was not started here, or took longer than 10 minutes: start again"
    elif not secrets.compare_digest(given.get("state", ""), flow.state):
        problem = "the answer's state does not match the sign-in started here"
    if problem is not None or flow is None:
        failed(request)
        return _refused(request, 403, f"Cannot sign in: {problem}.")
    try:
        claims = provider.finish(_redirect_uri(request), str(request.url), flow)
        user = _user(request, provider, claims)
    except (Failure, Refused) as error:
        failed(request)
        return _refused(request, 403, f"Cannot sign in: {error}.")
    assert user.role is not None
    target = flow.next
    page = render(request, "signed_in.html", None, title="Signed in", target=target, user=user)
    page.delete_cookie(COOKIE, path="/login/oidc")
    start(request, page, user.id, user.role, user.email, principal="user")
    return page


def _user(request: Request, provider: IdentityProvider, claims: dict[str, Any]) -> Any:
    email = claims.get("email")
    if not isinstance(email, str) or claims.get("email_verified") is False:
        raise Failure("the identity provider sent no verified e-mail address (scope `email`)")
    groups = claims.get(provider.groups_claim) or []
    if isinstance(groups, str):
        groups = [groups]
    if not isinstance(groups, list):
        raise Failure(f"the claim {provider.groups_claim!r} is not a list of groups")
    users: UserService = request.app.state.users
    name = claims.get("name") if isinstance(claims.get("name"), str) else None
    return users.sign_in(
        email,
        name or email,
        str(claims["sub"]),
        role_of_groups([str(g) for g in groups], provider.roles),
        provider.issuer,
    )


def _too_many(wait: int) -> str:
    return (
        "Too many failed sign-ins from this address (HEADWAY_LOGIN_RATE_LIMIT): "
        f"try again in {wait} s."
    )


def login_link(request: Request, target: str) -> str | None:
    """The single sign-on link for the login page, when it is configured."""
    if provider_of(request) is None:
        return None
    return f"/login/oidc?next={quote(target, safe='')}"
