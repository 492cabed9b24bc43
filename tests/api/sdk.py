"""The official `openai` SDK pointed at a live vgen (API.md §2), and small helpers around it."""

from __future__ import annotations

from typing import Any

from openai import AsyncOpenAI, OpenAI

from tests.support import LiveServer

# The SDK marks its video methods deprecated (the Sora API's shutdown); vgen serves them anyway.
SORA_DEPRECATION = "ignore:The Sora API is scheduled:DeprecationWarning"


def openai_client(server: LiveServer, key: str | None = None, **kwargs: Any) -> OpenAI:
    return OpenAI(base_url=f"{server.url}/v1", api_key=key or server.admin_key, **kwargs)


def async_openai_client(server: LiveServer, key: str | None = None, **kwargs: Any) -> AsyncOpenAI:
    return AsyncOpenAI(base_url=f"{server.url}/v1", api_key=key or server.admin_key, **kwargs)
