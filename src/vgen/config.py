"""Settings: the only code that reads the environment (prefix `VGEN_`).

`cli.py` builds one `Settings` and passes it down; nothing reads it at import time.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VGEN_", extra="ignore")

    data_dir: Path = Path("./vgen-data")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite file <data_dir>/vgen.db"
    )
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = Field(
        default=None, description="Base URL put in signed links; default http://host:port"
    )
    signing_secret: str | None = Field(
        default=None, description="HMAC secret for file URLs; default: <data_dir>/signing.key"
    )
    run_worker: bool = True

    # Client side (the `vgen generate|status|list|download|cancel|batch` commands).
    base_url: str | None = Field(default=None, description="Server the client commands use")
    api_key: str | None = Field(default=None, description="API key the client commands use")

    signed_url_ttl_seconds: int = 24 * 3600
    retention_seconds: int = 7 * 24 * 3600
    sweep_interval_seconds: float = 300.0

    task_deadline_seconds: float = 30 * 60
    lease_seconds: float = 30.0
    worker_concurrency: int = 2
    worker_idle_poll_seconds: float = 0.5
    local_processes: int = 2

    relay_base_url: str | None = Field(
        default=None, description="A Veo-task-dialect server (reseller, other vgen) for Veo models"
    )
    relay_api_key: str | None = None
    relay_poll_interval_seconds: float = 30.0
    relay_first_poll_seconds: float = 60.0

    max_prompt_chars: int = 8000
    max_body_bytes: int = 128 * 1024 * 1024
    max_image_bytes: int = 20 * 1024 * 1024
    min_image_side_px: int = 300
    max_image_side_px: int = 6000
    image_fetch_timeout_seconds: float = 15.0
    allow_private_urls: bool = False

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'vgen.db').resolve()}"

    def resolved_public_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"
