"""Identifier formats: `vgen_` + 24 lowercase hex chars for tasks, `file_` + 24 for uploads."""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Callable

IdFactory = Callable[[], str]


def new_task_id() -> str:
    return "vgen_" + secrets.token_hex(12)


def new_file_id() -> str:
    return "file_" + secrets.token_hex(12)


def new_key_id() -> str:
    return "key_" + secrets.token_hex(8)


SECRET_PREFIX = "vgen-sk-"


def new_api_key_secret() -> str:
    """An API key as shown to its owner once; only its hash is stored."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


_TASK_ID = re.compile(r"vgen_[0-9a-f]{24}")
_FILE_ID = re.compile(r"file_[0-9a-f]{24}")


def is_task_id(value: str) -> bool:
    return _TASK_ID.fullmatch(value) is not None


def is_file_id(value: str) -> bool:
    return _FILE_ID.fullmatch(value) is not None


def new_tenant_id() -> str:
    return "ten_" + secrets.token_hex(8)


def new_webhook_secret() -> str:
    """A Standard Webhooks signing secret: `whsec_` + base64 of 24 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
