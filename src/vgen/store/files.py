"""Uploaded input images: metadata rows; the bytes live in storage under `storage_key`."""

from __future__ import annotations

import sqlalchemy as sa

from vgen.domain.files import StoredFile
from vgen.store.database import Database
from vgen.store.tables import files


class FileRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def create(self, stored: StoredFile) -> None:
        await self._db.execute(
            sa.insert(files).values(
                id=stored.id,
                tenant_id=stored.tenant_id,
                mime_type=stored.mime_type,
                size_bytes=stored.size_bytes,
                width=stored.width,
                height=stored.height,
                storage_key=stored.storage_key,
                created_at=stored.created_at,
            )
        )

    async def get(self, tenant_id: str, file_id: str) -> StoredFile | None:
        row = await self._db.fetch_one(
            sa.select(files).where(files.c.id == file_id, files.c.tenant_id == tenant_id)
        )
        return StoredFile(**{c.name: row[c.name] for c in files.c}) if row else None

    async def get_any(self, file_id: str) -> StoredFile | None:
        """A file regardless of tenant: only for URLs whose signature already proved access."""
        row = await self._db.fetch_one(sa.select(files).where(files.c.id == file_id))
        return StoredFile(**{c.name: row[c.name] for c in files.c}) if row else None
