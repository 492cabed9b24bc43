"""API keys: stored only as SHA-256 hashes of the secret (secrets are high-entropy, so a fast
hash is safe and lets a lookup be one indexed read)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from vgen.domain.keys import DEFAULT_WEIGHT, UNLIMITED, ApiKey, KeyLimits
from vgen.store.database import Database
from vgen.store.tables import api_keys


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


KEY_COLUMNS = (
    "id", "tenant_id", "name", "is_admin", "created_at", "revoked_at", "rate_per_minute",
    "max_inflight", "daily_seconds", "webhook_url", "secret_hash", "weight", "daily_budget",
    "monthly_budget",
)  # fmt: skip
# Every request authenticates, so on SQLite the lookup is a raw prepared statement (as the
# status read is): SQLAlchemy's statement handling would cost more than the read itself.
_ACTIVE_KEY_SQL = (
    f"SELECT {', '.join(KEY_COLUMNS)} FROM api_keys WHERE secret_hash = ? AND revoked_at IS NULL"
)


def row_to_key(row: Mapping[Any, Any]) -> ApiKey:
    return ApiKey(
        id=row["id"],
        tenant_id=row["tenant_id"],
        name=row["name"],
        is_admin=bool(row["is_admin"]),
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
        limits=KeyLimits(
            rate_per_minute=row["rate_per_minute"],
            max_inflight=row["max_inflight"],
            daily_seconds=row["daily_seconds"],
            daily_budget=row["daily_budget"],
            monthly_budget=row["monthly_budget"],
        ),
        webhook_url=row["webhook_url"],
        weight=float(row["weight"]),
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
        limits: KeyLimits = UNLIMITED,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        weight: float = DEFAULT_WEIGHT,
    ) -> ApiKey:
        await self._db.execute(
            sa.insert(api_keys).values(
                id=key_id,
                tenant_id=tenant_id,
                name=name,
                secret_hash=hash_secret(secret),
                is_admin=is_admin,
                created_at=now,
                rate_per_minute=limits.rate_per_minute,
                max_inflight=limits.max_inflight,
                daily_seconds=limits.daily_seconds,
                daily_budget=limits.daily_budget,
                monthly_budget=limits.monthly_budget,
                webhook_url=webhook_url,
                webhook_secret=webhook_secret,
                weight=weight,
            )
        )
        return ApiKey(
            key_id, tenant_id, name, is_admin, now, None, limits, webhook_url, weight=weight
        )

    async def create_first_admin(
        self, *, key_id: str, tenant_id: str, secret: str, webhook_secret: str, now: float
    ) -> bool:
        """Create the admin key unless an admin key ever existed; False if one did. Atomic
        across processes (two first starts at once make one key): the insert carries its own
        NOT EXISTS, and on PostgreSQL an advisory lock serialises the check with the insert."""
        values = {
            "id": key_id,
            "tenant_id": tenant_id,
            "name": "admin",
            "secret_hash": hash_secret(secret),
            "is_admin": True,
            "created_at": now,
            "webhook_secret": webhook_secret,
        }
        row = sa.select(*(sa.literal(v, type_=api_keys.c[k].type) for k, v in values.items()))
        never_an_admin = ~sa.exists().where(api_keys.c.is_admin.is_(True))
        insert = (
            sa.insert(api_keys)
            .from_select(list(values), row.where(never_an_admin))
            .returning(api_keys.c.id)  # rowcount is not reliable for INSERT … SELECT
        )
        async with self._db.transaction() as tx:
            if not self._db.is_sqlite:  # SQLite: one writer at a time already
                await tx.fetch_one(sa.text("SELECT pg_advisory_xact_lock(7462)"))
            return await tx.fetch_one(insert) is not None

    async def find_active(self, secret: str) -> ApiKey | None:
        """The unrevoked key whose secret this is. The lookup is an exact match on the hash,
        and the hashes are compared again in constant time, so timing reveals nothing about
        how close a guess was."""
        digest = hash_secret(secret)
        row: Mapping[Any, Any] | None
        if self._db.is_sqlite:
            found = self._db.raw_sqlite().execute(_ACTIVE_KEY_SQL, (digest,)).fetchone()
            row = dict(zip(KEY_COLUMNS, found, strict=True)) if found else None
        else:
            row = await self._db.fetch_one(
                sa.select(api_keys).where(
                    api_keys.c.secret_hash == digest, api_keys.c.revoked_at.is_(None)
                )
            )
        if row is None or not hmac.compare_digest(row["secret_hash"], digest):
            return None
        return row_to_key(row)

    async def id_of_secret(self, secret: str) -> str | None:
        """The id of the key (revoked or not) whose secret this is."""
        row = await self._db.fetch_one(
            sa.select(api_keys.c.id).where(api_keys.c.secret_hash == hash_secret(secret))
        )
        return row["id"] if row else None

    async def get(self, key_id: str) -> ApiKey | None:
        row = await self._db.fetch_one(sa.select(api_keys).where(api_keys.c.id == key_id))
        return row_to_key(row) if row else None

    async def list(self) -> list[ApiKey]:
        rows = await self._db.fetch_all(
            sa.select(api_keys).order_by(api_keys.c.created_at, api_keys.c.id)
        )
        return [row_to_key(r) for r in rows]

    async def revoke(self, key_id: str, *, now: float) -> ApiKey | None:
        """Revoke a key (idempotent); None if no such key."""
        await self._db.execute(
            sa.update(api_keys)
            .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return await self.get(key_id)

    async def count(self, *, admin_only: bool = False) -> int:
        """Keys ever created (revoked ones included)."""
        query = sa.select(sa.func.count().label("n")).select_from(api_keys)
        if admin_only:
            query = query.where(api_keys.c.is_admin.is_(True))
        row = await self._db.fetch_one(query)
        return int(row["n"]) if row else 0
