"""The status poll's read under concurrency: however polls are coalesced (PostgreSQL batches
the polls that arrive while a read is in flight), each gets the answer to its own key and task:
its key's id and rate (None if unknown or revoked) and the task only if the key's tenant owns
it."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import pytest

from tests.store.test_queue import T0, add_task
from vgen.domain.ids import new_key_id
from vgen.domain.keys import KeyLimits
from vgen.store.store import Store

pytestmark = pytest.mark.anyio


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = Store.open(database_url, pool_size=3)
    yield opened
    await opened.close()


async def test_concurrent_polls_each_get_their_own_key_and_task(store: Store) -> None:
    secrets, key_ids = {}, {}
    for tenant, rate in (("a", None), ("b", 60), ("c", 7)):
        secrets[tenant] = f"vgen-sk-test-{tenant}"
        created = await store.keys.create(
            key_id=new_key_id(),
            tenant_id=tenant,
            name=tenant,
            secret=secrets[tenant],
            is_admin=False,
            now=T0,
            limits=KeyLimits(rate_per_minute=rate),
        )
        key_ids[tenant] = (created.id, rate)
    revoked = await store.keys.create(
        key_id=new_key_id(), tenant_id="a", name="old", secret="vgen-sk-old", is_admin=False, now=T0
    )
    await store.keys.revoke(revoked.id, now=T0 + 1)
    owned = {t: [await add_task(store, tenant=t) for _ in range(5)] for t in ("a", "b", "c")}

    cases = []  # (secret, task id, expected tenant of the key, whether the task is visible)
    for tenant, secret in secrets.items():
        for owner, ids in owned.items():
            cases += [(secret, task_id, tenant, owner == tenant) for task_id in ids]
        cases.append((secret, "vgen_" + "0" * 24, tenant, False))
    cases += [
        ("vgen-sk-old", owned["a"][0], None, False),
        ("vgen-sk-nope", owned["b"][0], None, False),
    ]
    cases *= 4
    random.Random(7).shuffle(cases)

    answers = await asyncio.gather(*(store.polls.key_and_status(s, t) for s, t, _, _ in cases))

    for (secret, task_id, tenant, visible), (caller, status) in zip(cases, answers, strict=True):
        expected = key_ids[tenant] if tenant else None
        assert (tuple(caller) if caller else None) == expected, (secret, task_id)
        assert (status.id if status else None) == (task_id if visible else None), (secret, task_id)
