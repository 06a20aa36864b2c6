"""Settings, read from HEADWAY_* environment variables (and a headway.toml if present)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


class Settings(BaseSettings):
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
        description="Admin token the CLI sends to the server at HEADWAY_URL for changes "
        "(rollouts); create one with `headway tokens create --kind admin`.",
    )
    production_environments: list[str] = Field(
        default=["production"],
        description="Environments whose deployments count as reaching users.",
    )
    incident_window_hours: float = Field(
        default=24.0,
        description="An incident with no named cause is blamed on the service's latest "
        "production deployment at most this many hours before it opened.",
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


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
