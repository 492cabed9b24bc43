"""Settings: the only code that reads the environment (prefix `VGEN_`).

`cli.py` builds one `Settings` and passes it down; nothing reads it at import time.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from vgen.domain.catalog import OMNI_MODEL_NAMES, VEO_MODEL_NAMES
from vgen.domain.prices import parse_prices


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VGEN_", extra="ignore")

    data_dir: Path = Path("./vgen-data")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite file <data_dir>/vgen.db"
    )
    database_pool_size: int = Field(
        default=20,
        ge=1,
        description="PostgreSQL connections per process at most (more statements wait their turn)",
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

    # The archive (storage/factory.py). S3 credentials come from the standard AWS chain only.
    storage_url: str | None = Field(
        default=None,
        description="file:///abs/path or s3://bucket[/prefix]; default: <data_dir>/archive",
    )
    s3_endpoint_url: str | None = Field(
        default=None, description="S3-compatible endpoint (MinIO, R2, GCS); default: AWS"
    )
    s3_region: str | None = Field(default=None, description="Default: the AWS chain's region")
    s3_presigned_urls: bool = Field(
        default=False, description="video_url is a presigned bucket URL, not a vgen-signed one"
    )

    # Client side (the `vgen generate|status|list|download|cancel|batch` commands).
    base_url: str | None = Field(default=None, description="Server the client commands use")
    api_key: str | None = Field(default=None, description="API key the client commands use")

    signed_url_ttl_seconds: int = 24 * 3600
    retention_seconds: int = 7 * 24 * 3600
    sweep_interval_seconds: float = 300.0

    task_deadline_seconds: float = 30 * 60
    lease_seconds: float = 30.0
    worker_concurrency: int = 16
    worker_idle_poll_seconds: float = 0.5
    learned_poll_pace: bool = Field(
        default=True, description="Poll remote jobs when their history says they end"
    )
    local_processes: int = 2

    config: Path | None = Field(default=None, description="vgen.toml: engines, routes, models")
    gemini_api_key: str | None = Field(default=None, description="Route Veo models to Gemini")
    gemini_base_url: str | None = Field(
        default=None, description="Gemini API base URL (default: Google's; for tests and proxies)"
    )
    vertex_project: str | None = Field(
        default=None, description="Google Cloud project: route Veo models to Vertex AI first"
    )
    vertex_location: str = Field(
        default="us-central1", description="Vertex AI region (`global`: the global endpoint)"
    )
    vertex_base_url: str | None = Field(
        default=None, description="Vertex AI base URL (default: the location's; tests, proxies)"
    )
    vertex_storage_uri: str | None = Field(
        default=None, description="gs://bucket/prefix for Vertex output (default: inline bytes)"
    )
    vertex_storage_base_url: str = Field(
        default="https://storage.googleapis.com",
        description="GCS JSON API base for gs:// downloads (tests, private endpoints)",
    )
    relay_base_url: str | None = Field(
        default=None, description="A Veo-task-dialect server (reseller, other vgen) for Veo models"
    )
    relay_api_key: str | None = None
    relay_poll_interval_seconds: float = 30.0
    relay_first_poll_seconds: float | None = Field(
        default=None, description="Default: the model's typical minimum time (catalog)"
    )

    max_prompt_chars: int = 8000
    max_body_bytes: int = 128 * 1024 * 1024
    max_image_bytes: int = 20 * 1024 * 1024
    min_image_side_px: int = 300
    max_image_side_px: int = 6000
    image_fetch_timeout_seconds: float = 15.0
    allow_private_urls: bool = False
    log_format: Literal["json", "text"] | None = Field(
        default=None,
        description="Log lines as JSON objects or plain text; unset: text on a terminal, "
        "JSON otherwise (log shippers)",
    )
    log_level: str = "INFO"
    redis_url: str | None = Field(
        default=None, description="Share rate-limit counters between processes (redis://…)"
    )
    metrics_token: str | None = Field(
        default=None, description="Require `Authorization: Bearer <token>` on /metrics"
    )

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'vgen.db').resolve()}"

    def resolved_public_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"


class TargetConfig(BaseModel):
    """One engine target of the routing file (`[targets.NAME]` in vgen.toml)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["local", "relay", "gemini", "gemini_omni", "openai", "vertex"]
    base_url: str | None = None
    project: str | None = Field(default=None, description="vertex: Google Cloud project")
    location: str | None = Field(default=None, description="vertex: region (default us-central1)")
    credentials_file: Path | None = Field(
        default=None, description="vertex: service-account key file (default: ADC)"
    )
    storage_uri: str | None = Field(default=None, description="vertex: gs:// output prefix")
    storage_base_url: str | None = Field(default=None, description="vertex: GCS JSON API base")
    api_key: str | None = None
    api_key_env: str | None = Field(default=None, description="Read the key from this variable")
    models: dict[str, str] = Field(default_factory=dict, description="public → upstream model")
    max_concurrent: int | None = Field(default=None, ge=1)
    poll_interval_seconds: float | None = Field(default=None, gt=0)
    first_poll_seconds: float | None = Field(default=None, ge=0)
    min_poll_interval_seconds: float | None = Field(
        default=None, gt=0, description="Learned pace: least time between two polls (default 5)"
    )
    task_deadline_seconds: float | None = Field(default=None, gt=0)

    def resolved_api_key(self) -> str | None:
        if self.api_key:
            return self.api_key
        return os.environ.get(self.api_key_env) if self.api_key_env else None


class CatalogModelConfig(BaseModel):
    """A model the operator adds to the catalog (`[[models]]` in vgen.toml)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    resolutions: list[str] = Field(default_factory=lambda: ["720p", "1080p", "4K"])
    modes: list[str] = Field(
        default_factory=lambda: ["text", "first_frame", "first_last", "references"]
    )
    durations: list[int] = Field(default_factory=lambda: [8])
    typical_seconds: float = 60.0
    min_seconds: float = Field(default=30.0, ge=0, description="First poll of a remote job")


class RoutingConfig(BaseModel):
    """Engine targets, routes (public model → ordered targets; `"*"` for the rest) and extra
    catalog models. Built from vgen.toml, or from the `VGEN_VERTEX_*` / `VGEN_GEMINI_*` /
    `VGEN_RELAY_*` shortcuts, or empty (everything renders on `local`)."""

    model_config = ConfigDict(extra="forbid")

    targets: dict[str, TargetConfig] = Field(default_factory=dict)
    routes: dict[str, list[str]] = Field(default_factory=dict)
    models: list[CatalogModelConfig] = Field(default_factory=list)
    prices: dict[str, Any] = Field(
        default_factory=dict, description="[prices]: per-second prices (docs/prices.md)"
    )

    @field_validator("prices")
    @classmethod
    def _check_prices(cls, value: dict[str, Any]) -> dict[str, Any]:
        parse_prices(value)  # a wrong price table stops start-up, naming the entry
        return value


def load_routing(settings: Settings) -> RoutingConfig:
    """The routing file named by `settings.config` (VGEN_CONFIG / --config) if any, plus the
    environment shortcuts for the Veo models that the file does not route itself."""
    routing = RoutingConfig()
    if settings.config is not None:
        with settings.config.open("rb") as handle:
            routing = RoutingConfig.model_validate(tomllib.load(handle))
    shortcut_targets: list[str] = []
    if settings.vertex_project:
        # Vertex first: it serves the GA Veo 3.1 models; gemini/relay stay as fail-over.
        routing.targets.setdefault(
            "vertex",
            TargetConfig(
                type="vertex",
                project=settings.vertex_project,
                location=settings.vertex_location,
                base_url=settings.vertex_base_url,
                storage_uri=settings.vertex_storage_uri,
                storage_base_url=settings.vertex_storage_base_url,
            ),
        )
        shortcut_targets.append("vertex")
    if settings.gemini_api_key:
        routing.targets.setdefault(
            "gemini",
            TargetConfig(
                type="gemini", api_key=settings.gemini_api_key, base_url=settings.gemini_base_url
            ),
        )
        shortcut_targets.append("gemini")
        # The same key reaches Gemini Omni through the Interactions API.
        routing.targets.setdefault(
            "gemini_omni",
            TargetConfig(
                type="gemini_omni",
                api_key=settings.gemini_api_key,
                base_url=settings.gemini_base_url,
            ),
        )
        for model in OMNI_MODEL_NAMES:
            routing.routes.setdefault(model, ["gemini_omni"])
    if settings.relay_base_url:
        routing.targets.setdefault(
            "relay",
            TargetConfig(
                type="relay",
                base_url=settings.relay_base_url,
                api_key=settings.relay_api_key,
                poll_interval_seconds=settings.relay_poll_interval_seconds,
                first_poll_seconds=settings.relay_first_poll_seconds,
            ),
        )
        shortcut_targets.append("relay")
    if shortcut_targets:
        for model in VEO_MODEL_NAMES:
            routing.routes.setdefault(model, shortcut_targets)
    unknown = {t for route in routing.routes.values() for t in route} - set(routing.targets)
    unknown.discard("local")
    if unknown:
        raise ValueError(f"routes name unknown targets: {', '.join(sorted(unknown))}")
    return routing
