"""Which server and key the client commands use: `--server`/`--api-key`, else
`VGEN_BASE_URL`/`VGEN_API_KEY`, else `http://127.0.0.1:8000` and the default data dir's key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import typer

from vgen.client import DEFAULT_BASE_URL, Client
from vgen.config import Settings

ServerOption = Annotated[
    str | None,
    typer.Option("--server", help="vgen server URL [env: VGEN_BASE_URL; default local]."),
]
ApiKeyOption = Annotated[
    str | None,
    typer.Option("--api-key", help="API key [env: VGEN_API_KEY; default <data dir>/admin.key]."),
]


@dataclass(frozen=True)
class Connection:
    base_url: str
    api_key: str | None

    def client(self, **kwargs: object) -> Client:
        return Client(self.base_url, self.api_key, **kwargs)  # type: ignore[arg-type]


def resolve(server: str | None, api_key: str | None) -> Connection:
    settings = Settings()
    base_url = server or settings.base_url or DEFAULT_BASE_URL
    key = api_key or settings.api_key
    if key is None:
        key_file = settings.data_dir / "admin.key"
        key = key_file.read_text().strip() if key_file.is_file() else None
    return Connection(base_url=base_url, api_key=key)
