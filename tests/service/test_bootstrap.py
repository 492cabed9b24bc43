"""First start with several processes at once (a scale-out deployment coming up): exactly one
admin key is made, and every process reads the same URL-signing secret."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from vgen.service.bootstrap import ensure_admin_key, load_signing_secret
from vgen.store.store import Store

pytestmark = pytest.mark.anyio


async def test_processes_starting_at_once_make_one_admin_key(
    database_url: str, tmp_path: Path
) -> None:
    stores = [Store.open(database_url) for _ in range(4)]
    try:
        made = await asyncio.gather(
            *(
                ensure_admin_key(store, tmp_path / f"data-{i}", clock=time.time)
                for i, store in enumerate(stores)
            )
        )
        assert len([secret for secret in made if secret]) == 1, made
        assert await stores[0].keys.count(admin_only=True) == 1
        # Later starts make none, and the key made is the one that works.
        assert await ensure_admin_key(stores[1], tmp_path / "later", clock=time.time) is None
        secret = next(secret for secret in made if secret)
        key = await stores[2].keys.find_active(secret)
        assert key is not None and key.is_admin
    finally:
        for store in stores:
            await store.close()


def test_processes_starting_at_once_share_one_signing_secret(tmp_path: Path) -> None:
    with ThreadPoolExecutor(8) as pool:
        secrets = list(pool.map(lambda _: load_signing_secret(None, tmp_path), range(32)))
    assert len(set(secrets)) == 1 and len(secrets[0]) == 64
    assert [p.name for p in tmp_path.iterdir()] == ["signing.key"]
    assert load_signing_secret("configured", tmp_path) == b"configured"
