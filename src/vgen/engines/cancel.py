"""Asking an upstream to stop a job that vgen's user cancelled: best effort, never blocking.

A 2xx ends the matter; so does a 4xx (the job is gone, already finished, or the upstream has no
cancel): vgen has stopped polling the job either way. A 429, 5xx or network error is transient,
so the caller may try again a little later.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from vgen.domain.errors import UpstreamUnavailable
from vgen.engines.upstream_http import translated


async def request_upstream_cancel(
    client: httpx.AsyncClient, method: str, url: str, *, headers: Mapping[str, str]
) -> bool:
    """True when the upstream confirmed (2xx); False when it refused or cannot cancel.

    Raises:
        UpstreamUnavailable: a transient failure; asking again later may work.
        UpstreamRejected: the URL can never work.
    """
    with translated("cancel"):
        response = await client.request(method, url, headers=headers)
    status = response.status_code
    if status == 429 or status >= 500:
        raise UpstreamUnavailable(f"upstream cancel answered HTTP {status}")
    return status < 300
