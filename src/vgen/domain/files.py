"""`StoredFile`: an input image kept in the archive, and how requests name it (`asset://<id>`)."""

from __future__ import annotations

from dataclasses import dataclass

ASSET_SCHEME = "asset://"
"""An image reference naming an upload (`POST /v1/files`) or an image vgen fetched already."""


def asset_ref(file_id: str) -> str:
    return ASSET_SCHEME + file_id


def asset_file_id(ref: str) -> str:
    return ref.removeprefix(ASSET_SCHEME)


@dataclass(frozen=True)
class StoredFile:
    """An uploaded (or fetched) input image, owned by one tenant."""

    id: str
    tenant_id: str
    mime_type: str
    size_bytes: int
    width: int
    height: int
    storage_key: str
    created_at: float
