"""Bearer-key authentication and per-key request rates: every authenticated request passes here.

Keys are looked up on every request (one indexed read of the key's hash), so a key revoked by
any process — `vgen keys revoke` included — is refused at once.
"""

from __future__ import annotations

from vgen.domain.errors import AuthenticationFailed, PermissionDenied
from vgen.domain.ids import is_task_id
from vgen.domain.keys import ApiKey
from vgen.domain.tasks import TaskStatus
from vgen.service.rate_limits import RequestRateLimiter
from vgen.store.keys import KeyRepository
from vgen.store.polls import PollReader

_UNKNOWN_KEY = "Incorrect API key provided."


class Authenticator:
    def __init__(
        self,
        *,
        keys: KeyRepository,
        polls: PollReader,
        limiter: RequestRateLimiter | None = None,
    ) -> None:
        self._keys = keys
        self._polls = polls
        self._limiter = limiter

    async def authenticate(self, authorization: str | None) -> ApiKey:
        """The key named by an `Authorization: Bearer <key>` header, admitted under its rate.

        Raises:
            AuthenticationFailed: header missing or malformed, or key unknown or revoked.
            RateLimited: the key is over its requests per minute.
        """
        key = await self._keys.find_active(_bearer_secret(authorization))
        return await self._admitted(key)

    async def authenticate_poll(self, authorization: str | None, task_id: str) -> TaskStatus | None:
        """`authenticate`, then the status of `task_id` if the key's tenant owns it: one
        database read for the hottest request.

        Raises:
            AuthenticationFailed, RateLimited: as `authenticate`.
        """
        if not is_task_id(task_id):  # cannot exist: no need to read it (nor send odd bytes)
            await self.authenticate(authorization)
            return None
        caller, status = await self._polls.key_and_status(_bearer_secret(authorization), task_id)
        if caller is None:
            raise AuthenticationFailed(_UNKNOWN_KEY)
        if self._limiter is not None and caller.rate_per_minute is not None:  # None: unlimited
            await self._limiter.hit_key(caller.key_id, caller.rate_per_minute)
        return status

    async def _admitted(self, key: ApiKey | None) -> ApiKey:
        if key is None:
            raise AuthenticationFailed(_UNKNOWN_KEY)
        if self._limiter is not None:
            await self._limiter.hit(key)
        return key

    async def authenticate_admin(self, authorization: str | None) -> ApiKey:
        key = await self.authenticate(authorization)
        if not key.is_admin:
            raise PermissionDenied("This endpoint needs an admin API key.")
        return key


def _bearer_secret(authorization: str | None) -> str:
    if not authorization:
        raise AuthenticationFailed("Missing API key: send 'Authorization: Bearer <key>'.")
    scheme, _, secret = authorization.partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret:
        raise AuthenticationFailed("Malformed Authorization header: expected 'Bearer <key>'.")
    return secret
