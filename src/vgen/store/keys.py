"""API keys: stored only as SHA-256 hashes of the secret (secrets are high-entropy, so a fast
hash is safe and lets a lookup be one indexed read)."""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping

from vgen.domain.tasks import ApiKey
from vgen.store.database import Database
from vgen.store.tables import api_keys


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _row_to_key(row: RowMapping) -> ApiKey:
    return ApiKey(
        id=row["id"],
        tenant_id=row["tenant_id"],
        name=row["name"],
        is_admin=bool(row["is_admin"]),
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
    )


class KeyRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def create(
        self,
        *,
        key_id: str,
        tenant_id: str,
        name: str,
        secret: str,
        is_admin: bool,
        now: float,
    ) -> ApiKey:
        await self._db.execute(
            sa.insert(api_keys).values(
                id=key_id,
                tenant_id=tenant_id,
                name=name,
                secret_hash=hash_secret(secret),
                is_admin=is_admin,
                created_at=now,
            )
        )
        return ApiKey(key_id, tenant_id, name, is_admin, now)

    async def find_active(self, secret: str) -> ApiKey | None:
        """The unrevoked key whose secret this is. The hash lookup is an exact index match, so
        timing reveals nothing about how close a guess was."""
        row = await self._db.fetch_one(
            sa.select(api_keys).where(
                api_keys.c.secret_hash == hash_secret(secret), api_keys.c.revoked_at.is_(None)
            )
        )
        return _row_to_key(row) if row else None

    async def count(self) -> int:
        row = await self._db.fetch_one(sa.select(sa.func.count().label("n")).select_from(api_keys))
        return int(row["n"]) if row else 0
