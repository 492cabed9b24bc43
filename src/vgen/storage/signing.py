"""HMAC-signed, expiring file URLs: `/v1/files/<path>?exp=<unix s>&sig=<hex>`.

Invariant: a URL verifies only if its path and expiry are exactly what was signed and the
expiry has not passed.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from urllib.parse import quote

_URL_SAFE = re.compile(r"[A-Za-z0-9_./-]+")


class UrlSigner:
    def __init__(self, secret: bytes, *, public_url: str) -> None:
        self._secret = secret
        self._public_url = public_url.rstrip("/")

    def _signature(self, path: str, expires_at: int) -> str:
        message = f"{path}\n{expires_at}".encode()
        return hmac.digest(self._secret, message, hashlib.sha256).hex()

    def mint_url(self, path: str, *, expires_at: int) -> str:
        """An absolute URL for `path` (e.g. `vgen_x/video.mp4`) valid until `expires_at`."""
        sig = self._signature(path, expires_at)
        # Minted paths are made of ids and fixed names; quote only what could need it.
        safe = path if _URL_SAFE.fullmatch(path) else quote(path)
        return f"{self._public_url}/v1/files/{safe}?exp={expires_at}&sig={sig}"

    def is_valid(self, path: str, *, expires_at: str, signature: str, now: float) -> bool:
        if not expires_at.isdigit() or int(expires_at) < now:
            return False
        expected = self._signature(path, int(expires_at))
        return hmac.compare_digest(expected, signature)
