"""Settings, read from HEADWAY_* environment variables (and a headway.toml if present)."""

from __future__ import annotations

import ipaddress
import os
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from headway.config_apps import AppSettings
from headway.config_values import parse_host


class Settings(AppSettings):
    model_config = SettingsConfigDict(
        env_prefix="HEADWAY_", toml_file="headway.toml", extra="ignore"
    )

    database: str = Field(
        default="./.headway/headway.duckdb",
        description="DuckDB file path, or a postgresql:// URL.",
    )
    url: str | None = Field(
        default=None,
        description="Address of a running `headway serve`; CLI commands then go through it.",
    )
    token: str | None = Field(
        default=None,
        description="Token the CLI sends to the server at HEADWAY_URL: a viewer token for "
        "reads, an editor's for changes, an admin's for tokens and imports; create one with "
        "`headway tokens create --kind viewer` (`headway serve` prints an admin token when "
        "the store has none).",
    )
    production_environments: list[str] = Field(
        default=["production"],
        description="Environments whose deployments count as reaching users.",
    )
    incident_window_hours: float = Field(
        default=24.0,
        description="The window of the stored incident link that `list incidents` and the "
        "review show: an incident with no named cause is shown against the service's latest "
        "production deployment at most this many hours before it opened. No metric reads it: "
        "metrics attribute under their definition (`attribution.window_hours`).",
    )

    # -- analytics engines (docs/engines.md) -------------------------------------------------
    engine: Literal["duckdb", "postgres", "spark"] | None = Field(
        default=None,
        description="Engine the analytics run on through Ibis: duckdb, postgres or spark. "
        "Unset: the store's own engine. Writes always stay on the store.",
    )
    engine_parquet: str | None = Field(
        default=None,
        description="Folder of a `headway export parquet` the engine reads its tables from "
        "(required for spark; duckdb reads it instead of the store when set).",
    )
    engine_links: Literal["auto", "stored", "computed"] = Field(
        default="auto",
        description="Where the engine's links between records come from: stored (the columns "
        "the store computed), computed (the same rules as Ibis expressions), or auto (stored, "
        "but computed over a Parquet export whose changes or deployments lack them).",
    )
    spark_url: str = Field(
        default="local[*]",
        description="Spark to run on: a master such as local[*] (a session in this process) "
        "or a Spark Connect URL such as sc://spark-host:15002.",
    )

    # -- webhooks (`headway serve`, docs/webhooks.md) --------------------------------------
    github_webhook_secret: str | None = Field(
        default=None, description="Secret GitHub signs deliveries with (X-Hub-Signature-256)."
    )
    gitlab_webhook_secret: str | None = Field(
        default=None, description="Secret token GitLab sends in X-Gitlab-Token."
    )
    pagerduty_webhook_secret: str | None = Field(
        default=None, description="PagerDuty v3 webhook signing secret (X-PagerDuty-Signature)."
    )
    opsgenie_webhook_secret: str | None = Field(
        default=None, description="Token Opsgenie sends (header X-Headway-Token or ?token=)."
    )
    jira_webhook_secret: str | None = Field(
        default=None, description="Token Jira sends (header X-Headway-Token or ?token=)."
    )
    cdevents_webhook_secret: str | None = Field(
        default=None, description="Token CDEvents producers send (Authorization: Bearer …)."
    )
    github_webhook_secret_previous: str | None = Field(
        default=None,
        description="While rotating: the secret being replaced, also accepted until removed.",
    )
    gitlab_webhook_secret_previous: str | None = Field(
        default=None,
        description="While rotating: the secret being replaced, also accepted until removed.",
    )
    pagerduty_webhook_secret_previous: str | None = Field(
        default=None,
        description="While rotating: the secret being replaced, also accepted until removed.",
    )
    opsgenie_webhook_secret_previous: str | None = Field(
        default=None,
        description="While rotating: the token being replaced, also accepted until removed.",
    )
    jira_webhook_secret_previous: str | None = Field(
        default=None,
        description="While rotating: the token being replaced, also accepted until removed.",
    )
    cdevents_webhook_secret_previous: str | None = Field(
        default=None,
        description="While rotating: the token being replaced, also accepted until removed.",
    )
    webhook_max_bytes: int = Field(
        default=5 * 1024 * 1024, description="Largest webhook body accepted; larger ones get 413."
    )
    webhook_max_skew_s: float = Field(
        default=86400.0,
        description="A timestamp more than this many seconds in the future is "
        "refused (422) rather than stored.",
    )
    webhook_batch_ms: float = Field(
        default=2.0,
        description="How long the webhook writer waits for more deliveries before "
        "committing a group in one transaction (deliveries queued meanwhile join it anyway).",
    )
    service_map: dict[str, dict[str, str]] = Field(
        default={},
        description="Repository (or PagerDuty service, Opsgenie/Jira project) → "
        "{service, team, context}. Unmapped repositories are their own service.",
    )
    incident_labels: list[str] = Field(
        default=["incident"], description="Issue labels that make an issue an incident."
    )
    defect_labels: list[str] = Field(
        default=["bug", "defect", "escaped-defect"],
        description="Issue labels (and Jira issue types) that make an issue an escaped defect.",
    )
    jira_incident_types: list[str] = Field(
        default=["Incident"], description="Jira issue types recorded as incidents."
    )

    # -- input bounds (`headway serve`, docs/security.md) ----------------------------------
    body_max_bytes: int = Field(
        default=1024 * 1024,
        gt=0,
        description="Largest request body accepted by routes without a limit of their own "
        "(admin JSON, SDK batches, notes); larger ones get 413.",
    )
    ofrep_max_bytes: int = Field(
        default=64 * 1024,
        gt=0,
        description="Largest OFREP evaluation body (/ofrep/v1/...) accepted; larger ones get 413.",
    )
    import_max_bytes: int = Field(
        default=64 * 1024 * 1024,
        gt=0,
        description="Largest body POST /api/import/jsonl or /cdevents accepts (remote "
        "`headway import`); larger ones get 413.",
    )
    import_max_records: int = Field(
        default=250_000,
        gt=0,
        description="Most records (or CDEvents) one POST /api/import/... may hold; more get 413.",
    )
    page_default: int = Field(
        default=100, gt=0, description="Rows a list route returns when `limit` is not given."
    )
    page_max: int = Field(
        default=1000,
        gt=0,
        description="Largest `limit` a list route accepts; a larger one gets 422. Lists "
        'longer than a page carry a Link: <...>; rel="next" header.',
    )
    header_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="A connection must deliver a request's headers within this many seconds "
        "of its first byte (or of connecting), or it is closed.",
    )
    body_idle_timeout_s: float = Field(
        default=30.0,
        gt=0,
        description="A request body that sends nothing for this many seconds is dropped.",
    )
    keep_alive_s: int = Field(
        default=5, gt=0, description="An idle keep-alive connection is closed after this."
    )
    header_max_bytes: int = Field(
        default=16 * 1024,
        gt=0,
        description="Largest request line plus headers accepted; larger ones get 400.",
    )
    access_log: bool = Field(
        default=True,
        description="Log one line per HTTP request (method, path, status, milliseconds and "
        "the token that made it) to the `headway.access` logger.",
    )
    max_connections: int = Field(
        default=1000,
        gt=0,
        description="Open connections (SSE streams included) and requests in flight per "
        "worker above which new requests get 503.",
    )
    read_connections: int = Field(
        default=2,
        gt=0,
        description="PostgreSQL connections per worker for the metrics and their records, "
        "apart from the one writes use: at most this many such reads run at once, and none "
        "waits for a write or holds one up (docs/operations.md).",
    )

    # -- SDK telemetry (docs/rollouts.md) ------------------------------------------------
    sample_rate_limit: str = Field(
        default="120/minute",
        description="Guardrail sample requests (POST /sdk/metrics, /api/rollouts/samples) "
        "each key may send to one server process, as N/second, N/minute or N/hour; beyond "
        "it the answer is 429 with Retry-After.",
    )

    token_rate_limit: str = Field(
        default="60/hour",
        description="Tokens one admin (token or person) may make per server process, as "
        "N/second, N/minute or N/hour (POST /api/tokens and the web app's tokens page); "
        "beyond it the answer is 429 with Retry-After.",
    )
    login_rate_limit: str = Field(
        default="10/minute",
        description="Failed sign-ins (a wrong token on the login page, a refused single "
        "sign-on) one client address may make per server process; beyond it every sign-in "
        "from that address gets 429 with Retry-After until the window has room again.",
    )

    schedule_interval: float = Field(
        default=5.0,
        ge=0,
        le=3600,
        description="How often, in seconds, each server process applies the scheduled flag "
        "changes that are due (`headway flags schedule`); 0 turns the runner off on that "
        "server, and another server's runner or its own next start applies them.",
    )
    pulse_rate_limit: str = Field(
        default="10/hour",
        description="Pulse answers (the web app's /pulse pages) one client address may send "
        "per server process; beyond it the answer is 429 with Retry-After. Several people "
        "behind one office address share it: raise it for them.",
    )
    pulse_link_rate_limit: str = Field(
        default="100/hour",
        description="Answers one survey link (/pulse/CODE) takes per server process, from "
        "every address together; beyond it the answer is 429 with Retry-After.",
    )

    credential_recheck_s: float = Field(
        default=2.0,
        gt=0,
        description="How often each server process re-checks the tokens of open SDK streams "
        "(a revoked token's streams end within this many seconds) and how long a verified "
        "token is trusted without asking the store again.",
    )

    # -- outbound requests (docs/rollouts.md) ---------------------------------------------
    outbound_hosts: list[str] = Field(
        default=[],
        description="Hosts (`host` or `host:port`) that URLs an admin configures, such as a "
        "rollout's Prometheus, may reach. Empty (the default): none.",
    )
    outbound_private_networks: list[str] = Field(
        default=[],
        description="Private, loopback or link-local networks (CIDR, e.g. 10.0.0.0/8) that an "
        "allowed host may resolve to; every other such address is refused.",
    )

    @field_validator(
        "sample_rate_limit",
        "token_rate_limit",
        "login_rate_limit",
        "pulse_rate_limit",
        "pulse_link_rate_limit",
    )
    @classmethod
    def _rate(cls, value: str) -> str:
        from limits import parse

        try:
            parse(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a rate such as 120/minute") from None
        return value

    @field_validator("engine_links", mode="before")
    @classmethod
    def _links(cls, value: object) -> object:
        if value not in ("auto", "stored", "computed"):
            raise ValueError(
                f"HEADWAY_ENGINE_LINKS={value!r}: use auto, stored or computed (auto: the "
                "stored links, computed where a Parquet export lacks them)"
            )
        return value

    @field_validator("outbound_hosts")
    @classmethod
    def _hosts(cls, value: list[str]) -> list[str]:
        return [parse_host(host) for host in value]

    @field_validator("outbound_private_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for network in value:
            try:
                ipaddress.ip_network(network)
            except ValueError:
                raise ValueError(f"{network!r} is not a network such as 10.0.0.0/8") from None
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # arguments first, then HEADWAY_* variables, then headway.toml
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    @property
    def is_postgres(self) -> bool:
        return self.database.startswith(("postgresql://", "postgres://"))

    @property
    def duckdb_path(self) -> Path:
        return Path(self.database)


class SettingsError(ValueError):
    """A setting that cannot be used, named as it is set (HEADWAY_… or headway.toml's key)."""


def _refusal(error: ValidationError) -> SettingsError:
    said = []
    for problem in error.errors():
        key = str(problem["loc"][0]) if problem["loc"] else "settings"
        variable = f"HEADWAY_{key.upper()}"
        message = problem["msg"].removeprefix("Value error, ")
        if not message.startswith(variable):  # a validator of ours names it already
            message = f"{variable}={problem.get('input')!r} (or {key} in headway.toml): {message}"
        said.append(message)
    return SettingsError("; ".join(said))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings from the environment and headway.toml; a value that cannot be used is a
    SettingsError naming its variable and what it takes."""
    try:
        return Settings()
    except ValidationError as error:
        raise _refusal(error) from None


def now() -> datetime:
    """The current time as naive UTC, the "today" every report's default period ends with.

    HEADWAY_NOW (an ISO time such as 2026-11-01T12:00:00Z, or a date) fixes it, so tests and
    a report that must be reproduced do not depend on the day they run. It moves nothing
    else: stored times, token expiry and rollout stages keep the real clock. Read on each
    call, not cached with the settings, so a test can set it for one case.
    """
    fixed = os.environ.get("HEADWAY_NOW")
    if not fixed:
        return datetime.now(UTC).replace(tzinfo=None)
    try:
        value = datetime.fromisoformat(fixed)
    except ValueError:
        raise ValueError(
            f"HEADWAY_NOW {fixed!r} is not a time; use an ISO time like 2026-11-01T12:00:00Z, "
            "or unset it to use the clock"
        ) from None
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
