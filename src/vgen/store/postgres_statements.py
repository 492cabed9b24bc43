"""SQLAlchemy Core statements rendered once, run on psycopg directly (PostgreSQL).

SQLAlchemy builds and compiles vgen's statements (one definition for both databases), and its
compiled cache makes re-rendering a statement of the same shape cheap. Executing them through
SQLAlchemy's asyncio layer, though, costs several times the statement itself on a worker's
poll (a greenlet hop and the result machinery per statement: ~1 ms of CPU of a ~5 ms poll), so
on PostgreSQL the store hands the rendered SQL and parameters to psycopg itself.

What this supports is what vgen's tables need, and anything else is refused loudly rather than
run wrong: bind values as SQLAlchemy processes them, result values as psycopg returns them
(text, integers, floats, booleans need no result processing), "expanding" `IN` parameters, and
scalar Python-side column defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement, Executable
from sqlalchemy.sql.compiler import SQLCompiler

# Distinct statement shapes vgen runs are a few hundred at most (dynamic updates included).
_CACHE_SIZE = 1_000


class UnsupportedStatement(TypeError):
    """The statement needs SQLAlchemy features this renderer does not reproduce."""


class PostgresStatements:
    """Renders Core statements to (SQL, parameters) for psycopg's `execute`."""

    def __init__(self, dialect: Dialect) -> None:
        self._dialect = dialect
        self._cache: sa.util.LRUCache[Any, Any] = sa.util.LRUCache(_CACHE_SIZE)

    def render(
        self, stmt: Executable, params: Mapping[str, Any] | None = None
    ) -> tuple[str, dict[str, Any]]:
        if not isinstance(stmt, ClauseElement):
            raise UnsupportedStatement(f"not a Core statement: {type(stmt).__name__}")
        keys = sorted(params) if params else []
        compiled, extracted, collected, _hit = stmt._compile_w_cache(
            dialect=self._dialect,
            compiled_cache=self._cache,
            column_keys=keys,
            for_executemany=False,
            schema_translate_map=None,
        )
        assert isinstance(compiled, SQLCompiler)
        values = dict(params) if params else {}
        for column in (*compiled.insert_prefetch, *compiled.update_prefetch):
            values.setdefault(column.key, _scalar_default(column))
        bound = compiled.construct_params(
            values,
            escape_names=False,
            extracted_parameters=extracted,
            _collected_params=collected,
        )
        sql = compiled.string
        processors: Mapping[str, Any] = compiled._bind_processors
        if compiled.literal_execute_params or compiled.post_compile_params:
            expanded = compiled._process_parameters_for_postcompile(bound)
            sql, bound = expanded.statement, dict(expanded.parameters)
            processors = {**processors, **expanded.processors}
        escaped = compiled.escaped_bind_names
        return sql, {
            escaped.get(key, key): (processors[key](value) if key in processors else value)
            for key, value in bound.items()
        }


def _scalar_default(column: sa.Column[Any]) -> Any:
    default = column.default
    if default is None or not default.is_scalar:
        raise UnsupportedStatement(f"column {column.key!r} has a non-scalar Python default")
    return default.arg  # type: ignore[attr-defined]
