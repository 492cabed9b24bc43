"""Scratch databases for benchmarks: a fresh PostgreSQL schema (dropped afterwards), selected
through `search_path`, so a bench never touches tables it did not make."""

from __future__ import annotations

import contextlib
import re
import secrets
from collections.abc import Iterator


def libpq_url(url: str) -> str:
    """The URL as psycopg reads it (no SQLAlchemy driver suffix)."""
    return re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql://", url)


@contextlib.contextmanager
def scratch_schema(url: str | None, *, prefix: str = "vgen_bench") -> Iterator[str | None]:
    """For PostgreSQL, `url` pointed at a fresh schema; None (SQLite) passes through."""
    if url is None:
        yield None
        return
    import psycopg

    schema = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        try:
            separator = "&" if "?" in url else "?"
            yield f"{url}{separator}options=-csearch_path%3D{schema}"
        finally:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
