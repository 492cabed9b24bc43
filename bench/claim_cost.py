"""Claim cost with fair share (issue 14): how long `claim_next` takes with 1k, 10k and 100k
queued tasks, on SQLite and (with `--database-url`) PostgreSQL.

Each size gets a fresh database holding that many queued tasks of `--tenants` tenants (a few
big, many small: one tenant holds half), inserted in bulk with the slots their creates would
have taken. Then `--claims` claims are timed one by one, each started task completed at once
(one render slot's worth of work), alternating two engine targets as a worker would ask. The
figure is the median µs per claim and its ratio to the 1k run in the same process: flat or
logarithmic is the goal (O(log n) per claim). `queue_position` reads are timed too, for a task
near the front and one at the back (by design O(its position): it counts who is ahead).

Run: `.venv/bin/python bench/claim_cost.py [--database-url postgresql://postgres@127.0.0.1/test]`
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
from scratch import scratch_schema

from vgen.domain.fair_share import Priority, rank
from vgen.domain.ids import new_task_id
from vgen.domain.requests import VideoRequest
from vgen.store.store import Store
from vgen.store.tables import tasks, tenant_shares

T0 = 1_800_000_000.0
ENGINES = ("local", "relay")
REQUEST = VideoRequest(model="veo_3_1_fast", prompt="claim cost").to_json()


def tenant_of(i: int, tenants: int) -> str:
    """Half the tasks are tenant 0's; the rest spread over the others."""
    return "t0" if i % 2 == 0 else f"t{1 + (i // 2) % (tenants - 1)}"


async def fill(store: Store, size: int, tenants: int) -> list[str]:
    import orjson

    request = orjson.dumps(REQUEST).decode()
    next_slot: dict[str, float] = {}
    rows, ids = [], []
    for i in range(size):
        tenant = tenant_of(i, tenants)
        tag = next_slot[tenant] = next_slot.get(tenant, 0.0) + 1.0
        priority = Priority.HIGH if i % 50 == 0 else Priority.NORMAL
        task_id = new_task_id()
        ids.append(task_id)
        rows.append(
            {
                "id": task_id, "tenant_id": tenant, "model": "veo_3_1_fast",
                "engine": ENGINES[i % 2], "state": "queued", "progress": 0, "request": request,
                "created_at": T0, "updated_at": T0, "available_at": T0,
                "deadline_at": T0 + 86_400, "attempts": 0, "priority": priority.value,
                "fair_tag": tag, "fair_rank": rank(tag, priority, 1.0),
            }
        )  # fmt: skip
    for start in range(0, size, 5_000):
        async with store.database.transaction() as tx:
            await tx.execute(sa.insert(tasks), rows[start : start + 5_000])  # type: ignore[arg-type]
    async with store.database.transaction() as tx:
        for tenant, tag in next_slot.items():
            await tx.execute(sa.insert(tenant_shares).values(tenant_id=tenant, last_tag=tag))
    return ids


async def measure(url: str, size: int, *, claims: int, tenants: int) -> dict[str, float]:
    store = Store.open(url)
    try:
        ids = await fill(store, size, tenants)
        if not store.database.is_sqlite:
            await store.database.execute(sa.text("ANALYZE tasks"))
        timings = []
        for n in range(claims):
            engines = [ENGINES[n % 2], ENGINES[(n + 1) % 2]]
            started = time.perf_counter()
            task = await store.queue.claim_next("bench", now=T0 + 1, lease_s=60, engines=engines)
            timings.append(time.perf_counter() - started)
            assert task is not None
            await store.queue.complete(
                task.id, "bench", artifact_key="k", video_seconds=1.0, now=T0 + 1,
                archive_expires_at=T0 + 3600, calls=0,
            )  # fmt: skip
        front, back = [], []
        queued = [i for i in ids[claims * 2 :]]
        for _ in range(20):
            for sample, task_id in ((front, queued[0]), (back, random.choice(queued[-50:]))):
                started = time.perf_counter()
                await store.queue_positions.position(task_id)
                sample.append(time.perf_counter() - started)
        return {
            "claim_us": statistics.median(timings) * 1e6,
            "claim_p95_us": sorted(timings)[int(0.95 * len(timings))] * 1e6,
            "position_front_us": statistics.median(front) * 1e6,
            "position_back_us": statistics.median(back) * 1e6,
        }
    finally:
        await store.close()


async def run_backend(name: str, base_url: str | None, args: argparse.Namespace) -> None:
    print(f"\n{name}: median µs per claim ({args.claims} claims), ratio to 1k")
    print(f"{'queued':>8} {'claim':>9} {'p95':>9} {'ratio':>6} {'pos@front':>10} {'pos@back':>10}")
    baseline = None
    for size in args.sizes:
        if base_url is None:
            with tempfile.TemporaryDirectory() as tmp:
                figures = await measure(
                    f"sqlite:///{Path(tmp) / 'claim.db'}", size,
                    claims=args.claims, tenants=args.tenants,
                )  # fmt: skip
        else:
            with scratch_schema(base_url, prefix="vgen_claims") as url:
                assert url is not None
                figures = await measure(url, size, claims=args.claims, tenants=args.tenants)
        baseline = baseline or figures["claim_us"]
        print(
            f"{size:>8} {figures['claim_us']:>9.0f} {figures['claim_p95_us']:>9.0f} "
            f"{figures['claim_us'] / baseline:>6.2f} {figures['position_front_us']:>10.0f} "
            f"{figures['position_back_us']:>10.0f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="also run on this PostgreSQL (scratch schema)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--claims", type=int, default=300)
    parser.add_argument("--tenants", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(run_backend("SQLite", None, args))
    if args.database_url:
        asyncio.run(run_backend("PostgreSQL", args.database_url, args))


if __name__ == "__main__":
    sys.exit(main())
