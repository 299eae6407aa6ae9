"""Every environment variable the studio reads, declared once, typed and documented.

Settings are built by :func:`get_settings` and passed in; nothing is created at
import time, so tests build their own with a temporary ``STUDIO_HOME``.
"""
from __future__ import annotations

import ipaddress
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


OPTUNA_SCHEMA = "optuna"  # Optuna's tables on a PostgreSQL store (see optuna_storage)


def _default_home() -> Path:
    return Path.home() / ".studio"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STUDIO_", extra="ignore")

    home: Path = Field(default_factory=_default_home, description="Folder holding the store.")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL of the metadata store; default SQLite in home."
    )
    artifact_root: Path | None = Field(
        default=None, description="Folder of content-addressed artifacts; default home/artifacts."
    )
    optuna_url: str | None = Field(
        default=None, description="Optuna RDB storage URL; default its own SQLite file in home."
    )
    max_upload_mb: int = Field(default=500, ge=1, description="Largest file accepted by import.")
    service_host: str = Field(default="127.0.0.1", description="Prediction service bind address.")
    service_port: int = Field(default=8080, ge=1, le=65535)
    service_workers: int = Field(
        default=1, ge=1, le=32,
        description="Worker processes of the service (set by `serve --workers`); above one they "
                    "share their /metrics counters through files under STUDIO_HOME/run/.")
    service_url: str | None = Field(
        default=None, description="Where the UI reaches the service; default http://host:port."
    )
    ui_port: int = Field(default=8501, ge=1, le=65535)
    max_request_mb: float = Field(default=6.0, gt=0, description="Largest invocation body.")
    max_request_rows: int = Field(default=100_000, ge=1, description="Most rows in one request.")
    require_api_key: bool | None = Field(
        default=None, description="Check API keys on endpoint calls; default on off loopback."
    )
    allowed_hosts: str = Field(
        default="127.0.0.1,localhost,[::1],::1",
        description="Comma-separated Host header allow-list (DNS-rebinding guard); '*' disables.",
    )
    dask_scheduler: str | None = Field(default=None, description="tcp://host:port of a Dask cluster.")
    monitor_interval_s: int = Field(default=300, ge=5, description="Seconds between scheduled checks.")
    log_flush_s: float = Field(default=0.5, gt=0, description="Prediction log flush interval.")
    capture_retention_days: float = Field(
        default=90, ge=0,
        description="Days prediction logs, feedback and capture files are kept (0: forever).")
    train_budget_s: float = Field(
        default=60, ge=5, le=86_400,
        description="AutoML time budget (seconds) of the home page's one-click training.")

    @field_validator("home", mode="after")
    @classmethod
    def _absolute_home(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'studio.db'}"

    @property
    def artifacts(self) -> Path:
        return (self.artifact_root or self.home / "artifacts").expanduser().resolve()

    @property
    def optuna_storage(self) -> str:
        """Optuna's RDB storage: ``optuna_url``; else, on PostgreSQL, the store's database
        with ``search_path`` set to the ``optuna`` schema (created by migration 0004), so
        Optuna's tables and its own ``alembic_version`` never meet ours in ``public``;
        else its own SQLite file in home."""
        if self.optuna_url:
            return self.optuna_url
        if self.database_url and self.database_url.startswith("postgresql"):
            from sqlalchemy.engine import make_url

            url = make_url(self.database_url)
            options = url.query.get("options") or ""
            if isinstance(options, tuple):
                options = " ".join(options)
            return url.update_query_dict(
                {"options": f"{options} -csearch_path={OPTUNA_SCHEMA}".strip()}
            ).render_as_string(hide_password=False)
        return f"sqlite:///{self.home / 'optuna.db'}"

    @property
    def base_service_url(self) -> str:
        host = self.service_host if self.service_host not in ("0.0.0.0", "::") else "127.0.0.1"
        return self.service_url or f"http://{host}:{self.service_port}"

    @property
    def is_loopback(self) -> bool:
        if self.service_host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.service_host).is_loopback
        except ValueError:
            return False

    @property
    def api_keys_required(self) -> bool:
        if self.require_api_key is None:
            return not self.is_loopback
        return self.require_api_key

    @property
    def host_allow_list(self) -> list[str]:
        return [h.strip().lower() for h in self.allowed_hosts.split(",") if h.strip()]


def get_settings(**overrides) -> Settings:
    """Read settings from the environment; keyword overrides win (used by tests)."""
    settings = Settings(**overrides)
    settings.home.mkdir(parents=True, exist_ok=True)
    return settings
