"""Time-by-component report of a cProfile taken inside the vgen server (bench/api.py --profile)."""

import pstats
from collections import Counter
from pathlib import Path
from typing import Any

# --- Profiling ---------------------------------------------------------------------------------

# (category, substrings of "<file>:<function>"), first match wins. Anything else (C functions,
# the standard library) is charged to the category of its heaviest caller.
CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("auth (Authenticator, key cache, sha256)", ("vgen/api/auth", "vgen/store/keys")),
    ("URL signing (hmac, quote)", ("vgen/storage/signing", "/hmac.py", "urllib/parse")),
    (
        "row -> Task (row_to_task, VideoRequest.from_json)",
        ("vgen/store/tasks.py:row_to_task", "vgen/domain/"),
    ),
    ("DB read (SQLAlchemy Core + sqlite3/psycopg)", ("sqlalchemy", "vgen/store/", "psycopg")),
    (
        "vgen route + body (get_video, render_task, task_body)",
        ("vgen/api/veo", "vgen/api/middleware", "vgen/service/", "vgen/api/deps"),
    ),
    (
        "thread-pool hop (FastAPI runs sync `def` dependencies in threads)",
        (
            "run_sync_in_worker_thread",
            "anyio/to_thread",
            "starlette/concurrency",
            "threading.py",
            "queue.py:",
        ),
    ),
    ("FastAPI telemetry check (OpenTelemetry, env reads)", ("fastapi/telemetry", "opentelemetry")),
    ("FastAPI routing + dependency injection", ("fastapi/",)),
    ("Starlette routing, middleware, responses", ("starlette/",)),
    ("uvicorn HTTP protocol (httptools, socket writes)", ("uvicorn/", "httptools")),
    ("asyncio / anyio / event loop", ("asyncio/", "anyio/", "uvloop")),
)


def categorise_profile(path: Path) -> tuple[list[tuple[str, float]], float, int]:
    """Own time per category, total own time, and the number of requests profiled."""
    stats = pstats.Stats(str(path))
    entries: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    totals: Counter[str] = Counter()
    requests = 0
    for func, (_cc, ncalls, tottime, _ct, callers) in entries.items():
        filename, _line, name = func
        if filename.endswith("vgen/api/veo.py") and name == "render_task":
            requests = ncalls
        totals[_category(func, callers, entries)] += tottime
    return totals.most_common(), sum(totals.values()), requests


def _category(func: Any, callers: dict[Any, Any], entries: dict[Any, Any], depth: int = 0) -> str:
    filename, _line, name = func
    where = f"{filename}:{name}"
    for category, needles in CATEGORIES:
        if any(needle in where for needle in needles):
            return category
    if callers and depth < 6:
        heaviest = max(callers, key=lambda caller: callers[caller][2])
        return _category(heaviest, entries.get(heaviest, (0, 0, 0, 0, {}))[4], entries, depth + 1)
    return "other"


def print_profile(path: Path, *, top: int = 25) -> None:
    categories, total, requests = categorise_profile(path)
    per_request = f", {requests:,} requests" if requests else ""
    print(
        f"\nvgen server profile (cProfile own time, {total:.2f} s{per_request}; cProfile "
        "inflates Python-heavy code, so read shares, not absolutes):"
    )
    for category, seconds in categories:
        us = f"{seconds / requests * 1e6:7.1f} us/req" if requests else ""
        print(f"  {seconds / total:6.1%}  {us}  {category}")
    print(f"\ntop {top} functions by own time:")
    stats = pstats.Stats(str(path))
    stats.sort_stats("tottime").print_stats(top)
