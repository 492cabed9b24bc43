"""Identifier formats: `vgen_` + 24 lowercase hex chars for tasks, `file_` + 24 for uploads."""

from __future__ import annotations

import secrets
from collections.abc import Callable

IdFactory = Callable[[], str]


def new_task_id() -> str:
    return "vgen_" + secrets.token_hex(12)


def new_file_id() -> str:
    return "file_" + secrets.token_hex(12)


def new_key_id() -> str:
    return "key_" + secrets.token_hex(8)


def new_api_key_secret() -> str:
    """An API key as shown to its owner once; only its hash is stored."""
    return "vgen-sk-" + secrets.token_urlsafe(32)


def is_task_id(value: str) -> bool:
    return len(value) == 29 and value.startswith("vgen_") and _is_lower_hex(value[5:])


def is_file_id(value: str) -> bool:
    return len(value) == 29 and value.startswith("file_") and _is_lower_hex(value[5:])


def _is_lower_hex(text: str) -> bool:
    return all(c in "0123456789abcdef" for c in text)
