"""The GitHub App's private key, webhook secret and client secret are encrypted at rest with
HEADWAY_SECRET_KEY: read back through plain SQL they hold nothing GitHub gave; without a key
the app is not made; a wrong key is a 503 that names the key to set; a rotation reads with
the previous key and writes with the new one; a plain-text row of an older store is encrypted
when the server first starts with a key."""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from typer.testing import CliRunner

from headway.api.app import create_app
from headway.cli import app as cli
from headway.config import Settings, get_settings
from headway.github.app import GitHubApp
from headway.github.rest import GitHubClient
from headway.store import Store, open_store
from headway.store import github as rows
from headway.store.sealing import PREFIX, Keyring, NoSecretKey, SealError
from tests.conftest import FIXTURES, authorize
from tests.github.fake_github import APP_ID, SECRET_KEY, State, keyed

runner = CliRunner()
# A second key, and the key ids each one stamps on what it seals (worked out once by hand
# with the same hash as headway.store.sealing).
NEW_KEY = "ZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmY="  # 32 bytes of "f"
CLIENT_SECRET = "1726be1638095a19edd134c77bde3aa2ece1e5d8"  # the fake's conversion answer


def _key_id(key: str) -> str:
    import base64

    raw = base64.b64decode(key)
    return hashlib.sha256(b"headway secret key id\x00" + raw).hexdigest()[:16]


def _sign(secret: str, body: bytes) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {
        "X-Hub-Signature-256": f"sha256={digest}",
        "Content-Type": "application/json",
        "X-GitHub-Event": "installation",
    }


INSTALLED = (FIXTURES / "github/installation/created.payload.json").read_bytes()


def _make_app(settings: Settings) -> None:
    with TestClient(create_app(settings)) as http:
        authorize(http, "admin")
        started = http.post("/api/github/manifest", json={"url": "https://h.example.com"})
        assert started.status_code == 200, started.text
        done = http.get(
            "/github/app/callback", params={"code": "good-code", "state": started.json()["state"]}
        )
        assert done.status_code == 200, done.text
        assert done.json()["encrypted"] is True


def _raw(settings: Settings) -> tuple[str, str, str]:
    """The app's stored secrets as plain SQL reads them, bypassing Headway's rows."""
    store = open_store(settings)
    try:
        [row] = store.query("SELECT private_key, webhook_secret, client_secret FROM github_apps")
    finally:
        store.close()
    return row[0], row[1], row[2]


def test_the_stored_row_holds_no_secret_github_gave(
    engine_settings: Settings, state: State, url: str
) -> None:
    # Given a server with a key, when the app is made
    settings = keyed(engine_settings, url)
    _make_app(settings)

    # Then plain SQL reads only sealed values, stamped with the key's id
    for value in _raw(settings):
        assert value.startswith(f"{PREFIX}{_key_id(SECRET_KEY)}:")
        assert "PRIVATE KEY" not in value
        assert state.webhook_secret not in value
        assert CLIENT_SECRET not in value
    # And the app still works: a delivery signed with the webhook secret is accepted
    with TestClient(create_app(settings)) as http:
        hook = http.post(
            "/hooks/github-app", content=INSTALLED, headers=_sign(state.webhook_secret, INSTALLED)
        )
        assert hook.status_code == 200, hook.text
        authorize(http, "admin")
        assert http.get("/api/github/app").json()["encrypted"] is True


def test_without_a_key_the_app_is_not_made(
    engine_settings: Settings,
    state: State,
    url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    unkeyed = keyed(engine_settings, url, key=None)
    # The manifest is refused before an admin goes to GitHub
    with TestClient(create_app(unkeyed)) as http:
        authorize(http, "admin")
        refused = http.post("/api/github/manifest", json={"url": "https://h.example.com"})
        assert refused.status_code == 503
        assert "HEADWAY_SECRET_KEY is not set" in refused.json()["error"]
        assert "openssl rand -base64 32" in refused.json()["error"]

    # A state asked for while a key was set is not spent, and the code not converted, by a
    # server that has none
    store = open_store(unkeyed)
    try:
        with GitHubClient(url) as client:
            started = GitHubApp(store, keyed(engine_settings, url), client).start(
                "https://h.example.com"
            )
            with pytest.raises(NoSecretKey, match="HEADWAY_SECRET_KEY"):
                GitHubApp(store, unkeyed, client).complete("good-code", started.state)
            assert state.requests == []  # GitHub was never asked
            made = GitHubApp(store, keyed(engine_settings, url), client)
            assert made.complete("good-code", started.state).encrypted
    finally:
        store.close()

    # The command line says the same, on stderr, without a traceback
    monkeypatch.setenv("HEADWAY_DATABASE", str(engine_settings.database))
    monkeypatch.delenv("HEADWAY_SECRET_KEY", raising=False)
    get_settings.cache_clear()
    result = runner.invoke(cli, ["github", "app-manifest", "--url", "https://h.example.com"])
    assert result.exit_code == 1
    assert "HEADWAY_SECRET_KEY is not set" in result.stderr
    assert result.stdout == ""


def test_a_wrong_key_is_a_503_naming_the_key_to_set(
    engine_settings: Settings,
    state: State,
    url: str,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _make_app(keyed(engine_settings, url))
    wrong = keyed(engine_settings, url, key=NEW_KEY)

    # When the server starts with another key, it logs why and keeps serving
    with caplog.at_level(logging.INFO, "headway.github"), TestClient(create_app(wrong)) as http:
        assert http.get("/healthz").status_code == 200
        authorize(http, "admin")
        shown = http.get("/api/github/app")
        hook = http.post(
            "/hooks/github-app", content=INSTALLED, headers=_sign(state.webhook_secret, INSTALLED)
        )
    # Then the app's routes answer 503 naming both settings, never a 500
    for answer in (shown, hook):
        assert answer.status_code == 503, answer.text
        error = answer.json()["error"]
        assert "neither HEADWAY_SECRET_KEY nor HEADWAY_SECRET_KEY_PREVIOUS" in error
        assert f"key id {_key_id(SECRET_KEY)}" in error
    [logged] = [r for r in caplog.records if r.name == "headway.github"]
    assert logged.levelno == logging.ERROR
    assert logged.exc_info is None
    # and the row was left as it was
    assert all(v.startswith(f"{PREFIX}{_key_id(SECRET_KEY)}:") for v in _raw(wrong))

    # The command line says it in one line, exit 1
    monkeypatch.setenv("HEADWAY_DATABASE", str(engine_settings.database))
    monkeypatch.setenv("HEADWAY_SECRET_KEY", NEW_KEY)
    monkeypatch.setenv("HEADWAY_GITHUB_API_URL", url)
    get_settings.cache_clear()
    result = runner.invoke(cli, ["github", "backfill", "Codertocat/Hello-World"])
    assert result.exit_code == 1
    assert "neither HEADWAY_SECRET_KEY nor HEADWAY_SECRET_KEY_PREVIOUS" in result.stderr
    assert "Traceback" not in result.output


def test_a_rotation_reads_with_the_previous_key_and_seals_with_the_new(
    engine_settings: Settings, state: State, url: str
) -> None:
    old = keyed(engine_settings, url)
    _make_app(old)
    rotating = Settings(
        **{
            **keyed(engine_settings, url, key=NEW_KEY).model_dump(),
            "secret_key_previous": SECRET_KEY,
        }
    )

    # When the server starts with the new key and the old one as previous
    with TestClient(create_app(rotating)) as http:
        # Then what the old key sealed is sealed again with the new one as it starts
        assert all(v.startswith(f"{PREFIX}{_key_id(NEW_KEY)}:") for v in _raw(rotating))
        hook = http.post(
            "/hooks/github-app", content=INSTALLED, headers=_sign(state.webhook_secret, INSTALLED)
        )
        assert hook.status_code == 200, hook.text

    # And once the previous key is removed the new one alone reads it; the old one no longer
    new_only = keyed(engine_settings, url, key=NEW_KEY)
    with TestClient(create_app(new_only)) as http:
        authorize(http, "admin")
        assert http.get("/api/github/app").status_code == 200
    with TestClient(create_app(old)) as http:
        authorize(http, "admin")
        assert http.get("/api/github/app").status_code == 503


def test_a_plain_text_row_of_an_older_store_is_encrypted_at_the_first_start_with_a_key(
    engine_settings: Settings, state: State, url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a store written before encryption: the app's secrets in plain text (migration 0016)
    unkeyed = keyed(engine_settings, url, key=None)
    store = open_store(unkeyed)
    try:
        store.execute(
            "INSERT INTO github_apps (id, slug, name, private_key, webhook_secret, "
            f"client_secret, created_at) VALUES ({APP_ID}, 'headway-acme', 'Headway acme', "
            f"'{state.pem}', '{state.webhook_secret}', '{CLIENT_SECRET}', "
            "TIMESTAMP '2026-12-01 10:00:00')"
        )
    finally:
        store.close()

    # When a server starts without a key, the app keeps working, with a warning at start
    with (
        caplog.at_level(logging.WARNING, "headway.github"),
        TestClient(create_app(unkeyed)) as http,
    ):
        authorize(http, "admin")
        assert http.get("/api/github/app").json()["encrypted"] is False
    assert any("plain text" in r.getMessage() for r in caplog.records)
    assert _raw(unkeyed) == (state.pem, state.webhook_secret, CLIENT_SECRET)

    # When it starts with a key, the row is encrypted before any request
    with TestClient(create_app(keyed(engine_settings, url))) as http:
        raw = _raw(unkeyed)
        assert all(v.startswith(f"{PREFIX}{_key_id(SECRET_KEY)}:") for v in raw)
        assert state.webhook_secret not in "".join(raw)
        assert "PRIVATE KEY" not in "".join(raw)
        # and the same secrets come back out of it
        hook = http.post(
            "/hooks/github-app", content=INSTALLED, headers=_sign(state.webhook_secret, INSTALLED)
        )
        assert hook.status_code == 200, hook.text
        authorize(http, "admin")
        assert http.get("/api/github/app").json()["encrypted"] is True


def test_a_sealed_value_opens_only_where_it_was_sealed(store: Store) -> None:
    keys = Keyring(b"k" * 32)
    app = rows.AppCredentials(
        7, "s", "S", None, None, None, None, "cs", "PEM", "whsec", datetime(2026, 1, 1, tzinfo=UTC)
    )
    rows.insert_app(store, app, keys)
    # Each sealing draws a fresh nonce: the same value twice is two texts
    assert keys.seal("same", "x") != keys.seal("same", "x")
    # A sealed value copied to another column does not open there
    [(private_key,)] = store.query("SELECT private_key FROM github_apps")
    store.execute(f"UPDATE github_apps SET webhook_secret = '{private_key}'")
    with pytest.raises(SealError, match=r"github_apps\.webhook_secret\.7 does not decrypt"):
        rows.load_app(store, keys)
    # Nor does one changed by a byte
    flipped = private_key[:-2] + ("A" if private_key[-2] != "A" else "B") + private_key[-1]
    rows.insert_app(store, app, keys)
    store.execute(f"UPDATE github_apps SET private_key = '{flipped}'")
    with pytest.raises(SealError, match="changed in the store"):
        rows.load_app(store, keys)
    # And without a key, a sealed value says which setting is missing
    rows.insert_app(store, app, keys)
    with pytest.raises(SealError, match="HEADWAY_SECRET_KEY is not set"):
        rows.load_app(store, Keyring(None))
    assert rows.load_app(store, keys) == replace(app, encrypted=True)


@pytest.mark.parametrize(
    "key",
    [
        "too-short",
        "q83vEjRWeJC7ze8SNFZ4kLvN7xI0VniQu83vEjRWeA==",  # 31 bytes
        "q83vEjRWeJC7ze8SNFZ4kLvN7xI0VniQu83vEjRWeJC7",  # 33 bytes
        "!!!!EjRWeJC7ze8SNFZ4kLvN7xI0VniQu83vEjRWeJA=",  # not base64
    ],
)
def test_a_key_that_is_not_32_bytes_of_base64_is_refused(key: str) -> None:
    with pytest.raises(ValidationError, match="openssl rand -base64 32"):
        Settings(secret_key=key)
    with pytest.raises(ValidationError, match="secret_key_previous"):
        Settings(secret_key=SECRET_KEY, secret_key_previous=key)


def test_both_base64_alphabets_are_accepted_and_a_keyring_never_prints_a_key() -> None:
    standard = "+/+/" * 10 + "+/+/"[:3] + "="  # 43 characters and padding: 32 bytes
    urlsafe = standard.replace("+", "-").replace("/", "_")
    for key in (standard, urlsafe, urlsafe.rstrip("=")):
        settings = Settings(secret_key=key)
        keys = Keyring.from_settings(settings)
        assert keys.open(keys.seal("v", "w"), "w") == "v"
        assert key.rstrip("=") not in repr(keys)
        assert key not in repr(settings)
