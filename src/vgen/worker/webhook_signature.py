"""Standard Webhooks signatures (https://www.standardwebhooks.com, API.md §4).

The signature is `v1,` + base64 HMAC-SHA256 over `"{webhook-id}.{webhook-timestamp}.{body}"`,
keyed with the base64-decoded part of a `whsec_` secret (made by `domain.ids.new_webhook_secret`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

SECRET_PREFIX = "whsec_"


class InvalidSecret(ValueError):
    """A stored webhook secret that is not `whsec_` + base64."""


def secret_key(secret: str) -> bytes:
    """The HMAC key inside a `whsec_` secret.

    Raises:
        InvalidSecret: no `whsec_` prefix, not base64, or empty.
    """
    if not secret.startswith(SECRET_PREFIX):
        raise InvalidSecret("webhook secret does not start with whsec_")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except binascii.Error as exc:
        raise InvalidSecret("webhook secret is not base64") from exc
    if not key:
        raise InvalidSecret("webhook secret is empty")
    return key


def sign(secret: str, *, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value for one delivery attempt."""
    message = b"%s.%d.%s" % (msg_id.encode(), timestamp, body)
    digest = hmac.digest(secret_key(secret), message, hashlib.sha256)
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(secret: str, *, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """Every header a delivery carries: id, timestamp, signature and the JSON content type."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, msg_id=msg_id, timestamp=timestamp, body=body),
        "content-type": "application/json",
    }
