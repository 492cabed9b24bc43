"""OAuth access tokens for Google Cloud APIs, from `google-auth` (ENGINES.md §1b).

Invariant: one token is cached per target and refreshed before it expires (or once after the
upstream refused it); refreshes never overlap and run in a thread, as google-auth's transport
blocks. google-auth's own errors become domain errors here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import google.auth
import google.auth.exceptions
import google.auth.transport.requests
from google.oauth2 import service_account

from vgen.domain.errors import UpstreamRejected, UpstreamUnavailable

CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
# Renew this long before Google's stated expiry, so no request carries a token that dies on
# the way.
_REFRESH_MARGIN_S = 300.0


class GoogleCredentials:
    """Bearer tokens from a service-account key file, else Application Default Credentials
    (`GOOGLE_APPLICATION_CREDENTIALS`, gcloud's user credentials, the metadata server)."""

    def __init__(
        self,
        *,
        key_file: Path | None = None,
        clock: Callable[[], float],
        scopes: tuple[str, ...] = (CLOUD_PLATFORM_SCOPE,),
    ) -> None:
        self._key_file = key_file
        self._clock = clock
        self._scopes = list(scopes)
        self._credentials: Any = None
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = anyio.Lock()

    async def token(self) -> str:
        """A valid access token, refreshed first if it expires within the margin.

        Raises:
            UpstreamRejected: no credentials are configured, or Google refused them for good.
            UpstreamUnavailable: the token endpoint could not be reached; try again later.
        """
        async with self._lock:
            if self._token is not None and self._clock() < self._expires_at - _REFRESH_MARGIN_S:
                return self._token
            token, self._expires_at = await anyio.to_thread.run_sync(self._refresh)
            self._token = token
            return token

    def invalidate(self, token: str) -> None:
        """The upstream refused `token`: the next `token()` fetches a new one."""
        if token == self._token:
            self._token = None

    def _refresh(self) -> tuple[str, float]:
        try:
            if self._credentials is None:
                self._credentials = self._load()
            self._credentials.refresh(google.auth.transport.requests.Request())
        except google.auth.exceptions.DefaultCredentialsError as exc:
            raise UpstreamRejected(
                "No Google Cloud credentials: set GOOGLE_APPLICATION_CREDENTIALS to a "
                f"service-account key file, or run `gcloud auth application-default login` ({exc})"
            ) from exc
        except google.auth.exceptions.RefreshError as exc:
            if exc.retryable:
                raise UpstreamUnavailable(f"Google token refresh failed: {exc}") from exc
            raise UpstreamRejected(f"Google refused the credentials: {exc}") from exc
        except google.auth.exceptions.GoogleAuthError as exc:
            raise UpstreamUnavailable(f"Google token refresh failed: {exc}") from exc
        token = str(self._credentials.token)
        expiry = self._credentials.expiry
        if expiry is None:
            return token, self._clock() + 3600.0
        # google-auth states expiry as naive UTC; measured on our clock from now.
        lifetime_s = expiry.replace(tzinfo=UTC).timestamp() - _wall_now()
        return token, self._clock() + lifetime_s

    def _load(self) -> Any:
        if self._key_file is not None:
            return service_account.Credentials.from_service_account_file(  # type: ignore[no-untyped-call]
                str(self._key_file), scopes=self._scopes
            )
        credentials, _project = google.auth.default(scopes=self._scopes)
        return credentials


def _wall_now() -> float:
    # Read at the I/O edge only to turn google-auth's absolute expiry into a lifetime.
    return time.time()
