"""Bearer-key authentication with a short-lived cache of verified keys.

Status polling is the hottest path, so a verified key is remembered for `ttl_s` (by the hash
of its secret; the secret itself is never kept). Revocation through this process evicts at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from vgen.domain.errors import AuthenticationFailed
from vgen.domain.tasks import ApiKey
from vgen.store.keys import KeyRepository, hash_secret

_MAX_CACHED = 10_000
_NEGATIVE_TTL_S = 1.0


class Authenticator:
    def __init__(
        self,
        *,
        keys: KeyRepository,
        ttl_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._keys = keys
        self._ttl_s = ttl_s
        self._clock = clock
        self._cache: dict[str, tuple[ApiKey | None, float]] = {}

    async def authenticate(self, authorization: str | None) -> ApiKey:
        """The key named by an `Authorization: Bearer <key>` header.

        Raises:
            AuthenticationFailed: header missing or malformed, or key unknown or revoked.
        """
        secret = _bearer_secret(authorization)
        digest = hash_secret(secret)
        now = self._clock()
        cached = self._cache.get(digest)
        if cached is not None and cached[1] > now:
            if cached[0] is None:
                raise AuthenticationFailed("Incorrect API key provided.")
            return cached[0]
        key = await self._keys.find_active(secret)
        if len(self._cache) >= _MAX_CACHED:
            self._cache.clear()
        # Unknown keys are remembered too (briefly), so a flood of bad keys costs no queries.
        self._cache[digest] = (key, now + (self._ttl_s if key else _NEGATIVE_TTL_S))
        if key is None:
            raise AuthenticationFailed("Incorrect API key provided.")
        return key

    def forget(self, key_id: str) -> None:
        """Evict a key (after revocation) so this process refuses it immediately."""
        for digest, (key, _) in list(self._cache.items()):
            if key is not None and key.id == key_id:
                del self._cache[digest]


def _bearer_secret(authorization: str | None) -> str:
    if not authorization:
        raise AuthenticationFailed("Missing API key: send 'Authorization: Bearer <key>'.")
    scheme, _, secret = authorization.partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret:
        raise AuthenticationFailed("Malformed Authorization header: expected 'Bearer <key>'.")
    return secret
