"""Where the worker's CPU goes: a cProfile of `bench/inflight.py --profile` over one phase,
summed by package (own time) and by vgen operation (cumulative time).

cProfile counts every resumption of a coroutine as a call, so per-poll figures divide by the
upstream's count of calls (submits, polls, downloads), never by `ncalls`.
"""

from __future__ import annotations

import pstats
from collections import Counter
from pathlib import Path
from typing import Any

# (label, "<file>:<function>" suffix) of the worker's operations, for cumulative time.
OPERATIONS: tuple[tuple[str, str], ...] = (
    ("Worker.run (idle loop + claiming)", "vgen/worker/runner.py:run"),
    ("  TaskQueue.claim_next", "vgen/store/queue.py:claim_next"),
    ("Worker._execute (one claimed task)", "vgen/worker/runner.py:_execute"),
    ("  RelayEngine.advance", "vgen/engines/relay.py:advance"),
    ("    RelayEngine._submit (httpx POST + JSON)", "vgen/engines/relay.py:_submit"),
    ("    _Reporter.record_upstream_id (UPDATE)", "vgen/worker/runner.py:record_upstream_id"),
    ("    RelayEngine._poll (httpx GET + JSON)", "vgen/engines/relay.py:_poll"),
    ("      httpx AsyncClient.send", "httpx/_client.py:send"),
    ("      wire read_task", "vgen/wire/veo_task.py:read_task"),
    ("    _Reporter.report_progress (UPDATE)", "vgen/worker/runner.py:report_progress"),
    ("    download_video", "vgen/engines/download.py:download_video"),
    ("  Worker._park (UPDATE)", "vgen/worker/runner.py:_park"),
    ("  Worker._archive (move + UPDATE)", "vgen/worker/runner.py:_archive"),
    ("  thread hops (anyio to_thread.run_sync)", "anyio/to_thread.py:run_sync"),
    ("  Worker._keep_lease", "vgen/worker/runner.py:_keep_lease"),
    ("all SQL: Database.fetch_all", "vgen/store/database.py:fetch_all"),
    ("all SQL: Database.execute", "vgen/store/database.py:execute"),
    ("  SQLAlchemy Connection.execute", "sqlalchemy/engine/base.py:execute"),
    ("  sqlite3 Cursor.execute (C)", "~:<method 'execute' of 'sqlite3.Cursor' objects>"),
    ("  sqlite3 commit (C)", "~:<method 'commit' of 'sqlite3.Connection' objects>"),
    ("logging", "logging/__init__.py:info"),
)


def print_worker_profile(
    path: Path, *, phase: str, seconds: float, calls: int, top: int = 20
) -> None:
    stats = pstats.Stats(str(path))
    entries: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    own = _own_time_by_package(entries)
    total = sum(own.values())
    per = f", {calls:,} upstream calls" if calls else ""
    print(
        f"\nworker profile over the {phase} phase ({seconds:.0f} s real, {total:.2f} s profiled"
        f"{per}; CPU time; cProfile inflates Python-heavy code, so read shares):"
    )
    print("  own time by package:")
    for package, own_s in own.most_common(12):
        print(f"    {own_s / total:6.1%}  {_per_call(own_s, calls)}  {package}")
    print("  cumulative time by operation:")
    for label, suffix in OPERATIONS:
        cumulative = sum(
            entry[3] for func, entry in entries.items() if _where(func).endswith(suffix)
        )
        print(f"    {cumulative / total:6.1%}  {_per_call(cumulative, calls)}  {label}")
    print(f"\n  top {top} functions by own time:")
    stats.sort_stats("tottime").print_stats(top)


def _per_call(seconds: float, calls: int) -> str:
    return f"{seconds / calls * 1e3:6.3f} ms/call" if calls else ""


def _where(func: Any) -> str:
    filename, _line, name = func
    return f"{filename}:{name}"


def _own_time_by_package(entries: dict[Any, Any]) -> Counter[str]:
    totals: Counter[str] = Counter()
    for func, (_cc, _n, tottime, _ct, callers) in entries.items():
        totals[_package(func, callers, entries)] += tottime
    return totals


def _package(func: Any, callers: dict[Any, Any], entries: dict[Any, Any], depth: int = 0) -> str:
    """The package a function belongs to; C functions are charged to their heaviest caller's,
    except sqlite3's own, which are the database's work."""
    filename, _line, name = func
    if "sqlite3" in name:
        return "sqlite3 (C)"
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1].split("/", 1)[0]
    if "/src/vgen/" in filename:
        return "vgen." + filename.split("/src/vgen/", 1)[1].split("/", 1)[0].removesuffix(".py")
    if filename.startswith("<"):
        return "stdlib (frozen)"
    if filename != "~":
        path = Path(filename)  # a stdlib package (asyncio) or module (contextlib)
        return "stdlib " + (
            path.stem if path.parent.name.startswith("python") else path.parent.name
        )
    if callers and depth < 6:
        heaviest = max(callers, key=lambda caller: callers[caller][2])
        return _package(heaviest, entries.get(heaviest, (0, 0, 0, 0, {}))[4], entries, depth + 1)
    return "other (C)"
