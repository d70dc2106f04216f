"""Typed settings: environment variables with the ``PYMESCORE_`` prefix, or an optional TOML file.

Built once in an entry point (the CLI, the service) and passed down; library functions take the small
frozen config objects they need, never this class.
"""

from __future__ import annotations

import secrets
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
    # -- scoring service -------------------------------------------------------------------------
    serve_bundle: Path | None = Field(default=None, description="Bundle folder the service serves.")
    serve_model_uri: str | None = Field(default=None, description="Registry URI the service serves instead.")
    serve_shadow_bundle: Path | None = Field(
        default=None, description="Challenger bundle scored in the shadow of each decision (stored, never returned)."
    )
    serve_shadow_uri: str | None = Field(
        default=None, description="Or the registry's challenger, e.g. models:/pymescore@challenger."
    )
    shadow_queue: int = Field(
        default=256, ge=1, le=100_000, description="Requests waiting for the shadow challenger (beyond: dropped)."
    )
    policy_file: Path | None = Field(default=None, description="TOML decision policy (default: built-in).")
    monitor_dir: Path = Field(
        default=Path("monitoring"),
        description="Folder of the latest `pymescore monitor --out` (monitor.json), shown on the risk dashboard.",
    )
    policy_sim_dir: Path = Field(
        default=Path("policy-sim"),
        description="Folder of the latest `pymescore simulate-policy --out` (summary.json, report.html), linked "
        "from the risk dashboard.",
    )
    trusted_keys: str = Field(
        default="",
        description="Public keys (ed25519:...) or .pub files, comma-separated, whose signed bundles are served; "
        "given, an unsigned or otherwise signed bundle is refused.",
    )
    require_signed: bool = Field(
        default=False, description="Production mode: refuse unsigned bundles (the embedded default warns)."
    )
    signing_key: str | None = Field(
        default=None, description="Private key (PEM, or its file) with which train and sign sign bundles."
    )
    max_body_bytes: int = Field(default=1_048_576, ge=1024, description="Largest request body accepted (413 above).")
    batch_max: int = Field(default=100, ge=1, le=1000, description="Applications per POST /v1/scores:batch.")
    idempotency_hours: float = Field(default=48.0, ge=24.0, description="How long Idempotency-Key answers are kept.")
    store_timeout_s: float = Field(default=1.5, gt=0, le=30, description="Longest wait on the audit store (503).")
    reload_interval_s: float = Field(default=30.0, ge=0, description="How often to look for a new champion (0=never).")
    xgb_threads: int = Field(default=1, ge=1, description="XGBoost threads per worker (workers x threads <= cores).")
    score_concurrency: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Scorings run at once per worker (CPU-bound: more only contend for the GIL).",
    )
    # -- abuse limits and HTTP hygiene (per worker; 0 = no limit) --------------------------------
    auth_failures_per_min: int = Field(
        default=60, ge=0, description="Failed authentications per minute per client address and per key id (429)."
    )
    requests_per_min_client: int = Field(default=0, ge=0, description="Requests per minute per client address (429).")
    requests_per_min_key: int = Field(default=0, ge=0, description="Requests per minute per API key (429).")
    body_timeout_s: float = Field(default=10.0, gt=0, le=300, description="Longest wait for a request's body (408).")
    server_timing: bool = Field(
        default=True,
        description="Say in a Server-Timing header of each scoring answer where its time went (ms): the scoring, "
        "the audit rows' write and commit, the whole app; browsers' developer tools show it. Off: the answers say "
        "nothing of it.",
    )
    metrics_port: int = Field(
        default=0, ge=0, le=65535, description="Serve /metrics on this port only, not the API's (0: the API's port)."
    )
    metrics_token: str | None = Field(
        default=None, min_length=16, description="Bearer token /metrics requires (unset: open, or on its own port)."
    )
    # -- official exchange rates and lineage ------------------------------------------------------
    bcrp_url: str = Field(
        default="https://estadisticas.bcrp.gob.pe/estadisticas/series/api",
        description="BCRPData's statistics API (ingest-rates reads the PEN/USD series there).",
    )
    openlineage_url: str | None = Field(
        default=None, description="Marquez-compatible endpoint: run events are POSTed to URL/api/v1/lineage."
    )
    openlineage_api_key: str | None = Field(default=None, description="Bearer token of that endpoint, if it has one.")
    openlineage_namespace: str = Field(default="pymescore", min_length=1, description="Namespace of the jobs.")
    openlineage_file: Path | None = Field(
        default=None,
        description="Where run events are appended (default: openlineage.jsonl in the lake or beside the output).",
    )
    log_salt: str = Field(
        default_factory=lambda: secrets.token_hex(16),
        description="Secret key of the RUC HMACs in the service's logs (random per process when unset).",
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
        """Precedence: arguments, then ``PYMESCORE_*`` variables, then ``pymescore.toml``."""
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))
