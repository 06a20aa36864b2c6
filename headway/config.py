"""Settings, read from HEADWAY_* environment variables (and a headway.toml if present)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict, TomlConfigSettingsSource


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
    production_environments: list[str] = Field(
        default=["production"],
        description="Environments whose deployments count as reaching users.",
    )
    incident_window_hours: float = Field(
        default=24.0,
        description="An incident with no named cause is blamed on the service's latest "
        "production deployment at most this many hours before it opened.",
    )

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings,  # type: ignore[no-untyped-def, override]
                                   dotenv_settings, file_secret_settings):
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
