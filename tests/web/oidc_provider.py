"""A small OpenID Connect provider for the single sign-on tests, built on Authlib's server.

It speaks the protocol a real identity provider does (OpenID Connect Core 1.0 and Discovery
1.0, RFC 6749, RFC 7636): a discovery document, a JWKS with one RSA key, an authorization
endpoint that hands out one-time codes bound to the client, redirect URI, nonce and PKCE
challenge (S256 only, and required of every client, confidential ones too), and a token
endpoint that authenticates the client (client_secret_basic or _post), checks the code
verifier against the challenge, and answers an access token and an RS256-signed ID token with
the user's e-mail address and groups.

Who is signed in at the provider is what a test sets (`Provider.user`): the provider's own
login page is not what these tests are about. Served by uvicorn on 127.0.0.1 in a thread.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from authlib.oauth2 import AuthorizationServer, OAuth2Error, OAuth2Request
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from authlib.oidc.core.models import AuthorizationCodeMixin
from joserfc.jwk import KeySet, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.conftest import free_port


@dataclass
class Client(ClientMixin):  # type: ignore[misc]
    client_id: str
    client_secret: str
    redirect_uris: list[str]

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(s for s in scope.split() if s in ("openid", "email", "profile"))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(client_secret, self.client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class Code(AuthorizationCodeMixin):  # type: ignore[misc]
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    nonce: str | None
    user: dict[str, Any]
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int = field(default_factory=lambda: int(time.time()))

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> None:
        return None


class _Request(OAuth2Request):  # type: ignore[misc]
    """An Authlib request from what Starlette read: query arguments and form fields."""

    def __init__(self, method: str, uri: str, headers: Any, data: dict[str, str]) -> None:
        super().__init__(method, uri, headers=headers)
        self._data = data
        self.payload = BasicOAuth2Payload(data)

    @property
    def args(self) -> dict[str, str]:
        return dict(parse_qsl(self.uri.partition("?")[2]))

    @property
    def form(self) -> dict[str, str]:
        return self._data


class StrictPKCE(CodeChallenge):  # type: ignore[misc]
    """PKCE with S256, required of every client (RFC 9700 recommends it for all)."""

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: send code_challenge")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256")
        super().validate_code_challenge(grant, redirect_uri)


class Provider:
    """The identity provider; `start()` serves it, `issuer` is its address."""

    def __init__(self, client_id: str, client_secret: str, redirect_uri: str) -> None:
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.key = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig"}, private=True)
        self.client = Client(client_id, client_secret, [redirect_uri])
        self.codes: dict[str, Code] = {}
        self.user: dict[str, Any] = {}  # who is signed in here: sub, email, name, groups
        self.token_requests = 0
        self.server = self._authorization_server()
        self._uvicorn: uvicorn.Server | None = None

    # -- Authlib's server -----------------------------------------------------------------

    def _authorization_server(self) -> AuthorizationServer:
        provider = self

        class Server(AuthorizationServer):  # type: ignore[misc]
            def query_client(self, client_id: str) -> Client | None:
                return provider.client if client_id == provider.client.client_id else None

            def save_token(self, token: dict[str, Any], request: Any) -> None:
                pass

            def create_oauth2_request(self, request: _Request) -> _Request:
                return request

            def handle_response(self, status: int, body: Any, headers: Any) -> Response:
                if isinstance(body, dict):
                    return JSONResponse(body, status, headers=dict(headers))
                return Response(body, status, headers=dict(headers))

            def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
                pass

        class CodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
            TOKEN_ENDPOINT_AUTH_METHODS = ("client_secret_basic", "client_secret_post")

            def save_authorization_code(self, code: str, request: _Request) -> None:
                data = request.payload.data
                provider.codes[code] = Code(
                    code,
                    request.client.get_client_id(),
                    request.payload.redirect_uri,
                    request.payload.scope,
                    data.get("nonce"),
                    dict(request.user),
                    data.get("code_challenge"),
                    data.get("code_challenge_method"),
                )

            def query_authorization_code(self, code: str, client: Client) -> Code | None:
                found = provider.codes.get(code)
                return found if found and found.client_id == client.get_client_id() else None

            def delete_authorization_code(self, authorization_code: Code) -> None:
                provider.codes.pop(authorization_code.code, None)  # one use only

            def authenticate_user(self, authorization_code: Code) -> dict[str, Any]:
                return authorization_code.user

        class IdToken(OpenIDCode):  # type: ignore[misc]
            def resolve_client_private_key(self, client: Client) -> RSAKey:
                return provider.key

            def get_client_claims(self, client: Client) -> dict[str, Any]:
                return {"iss": provider.issuer, "aud": [client.get_client_id()]}

            def exists_nonce(self, nonce: str, request: Any) -> bool:
                return any(c.nonce == nonce for c in provider.codes.values())

            def generate_user_info(self, user: dict[str, Any], scope: str) -> UserInfo:
                return UserInfo(
                    sub=user["sub"],
                    email=user.get("email"),
                    email_verified=True,
                    name=user.get("name"),
                    groups=user.get("groups", []),
                )

        server = Server()
        server.register_token_generator(
            "default", BearerTokenGenerator(lambda *_, **__: secrets.token_urlsafe(32))
        )
        server.register_grant(CodeGrant, [StrictPKCE(required=True), IdToken(require_nonce=True)])
        return server

    # -- HTTP -----------------------------------------------------------------------------

    def discovery(self, _: Request) -> JSONResponse:
        return JSONResponse(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": ["openid", "email", "profile"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_basic",
                    "client_secret_post",
                ],
                "code_challenge_methods_supported": ["S256"],
                "claims_supported": ["sub", "email", "email_verified", "name", "groups"],
            }
        )

    def jwks(self, _: Request) -> JSONResponse:
        return JSONResponse(KeySet([self.key]).as_dict(private=False))

    async def authorize(self, request: Request) -> Response:
        oauth = _Request("GET", str(request.url), request.headers, dict(request.query_params))
        try:
            grant = self.server.get_authorization_grant(oauth)
        except OAuth2Error as error:
            error.state = oauth.payload.state
            refused: Response = self.server.handle_error_response(oauth, error)
            return refused
        response: Response = self.server.create_authorization_response(
            oauth, grant_user=self.user or None, grant=grant
        )
        return response

    async def token(self, request: Request) -> Response:
        self.token_requests += 1
        form = dict(parse_qsl((await request.body()).decode()))
        oauth = _Request("POST", str(request.url), request.headers, form)
        response: Response = self.server.create_token_response(oauth)
        return response

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self.discovery),
                Route("/jwks", self.jwks),
                Route("/authorize", self.authorize),
                Route("/token", self.token, methods=["POST"]),
            ]
        )

    def start(self) -> Provider:
        config = uvicorn.Config(self.app(), host="127.0.0.1", port=self.port, log_level="warning")
        self._uvicorn = uvicorn.Server(config)
        threading.Thread(target=self._uvicorn.run, daemon=True).start()
        deadline = time.monotonic() + 10
        while not self._uvicorn.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the test identity provider did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._uvicorn is not None:
            self._uvicorn.should_exit = True
