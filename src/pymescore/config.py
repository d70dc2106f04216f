"""Typed settings: environment variables with the ``PYMESCORE_`` prefix, or an optional TOML file.

Built once in an entry point (the CLI, the service) and passed down; library functions take the small
frozen config objects they need, never this class.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


class Settings(BaseSettings):
    """Settings shared by every pymescore entry point."""

    model_config = SettingsConfigDict(env_prefix="PYMESCORE_", toml_file="pymescore.toml", extra="ignore")

    lake: Path = Field(default=Path("lake"), description="Root folder of the Parquet lake.")
    database_url: str = Field(default="sqlite:///pymescore.db", description="SQLAlchemy URL of the audit store.")
    equity_tolerance: float = Field(
        default=0.01,
        ge=0,
        le=0.5,
        description="Relative tolerance of the rule equity = assets - liabilities in financial statements.",
    )
    log_level: str = Field(default="INFO", description="Logging level of the CLI and the service.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Precedence: arguments, then ``PYMESCORE_*`` variables, then ``pymescore.toml``."""
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))
