"""First start: make the admin key and the URL-signing secret, each stored in the data dir."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

from vgen.domain.ids import new_api_key_secret, new_key_id, new_webhook_secret
from vgen.store.store import Store

ADMIN_KEY_FILE = "admin.key"
ADMIN_WEBHOOK_SECRET_FILE = "admin.webhook-secret"
SIGNING_KEY_FILE = "signing.key"
DEFAULT_TENANT = "default"


def write_private(path: Path, text: str) -> None:
    """Create `path` readable by its owner only (mode 0600) before any secret is written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(path, 0o600)


async def ensure_admin_key(
    store: Store, data_dir: Path, *, clock: Callable[[], float]
) -> str | None:
    """When no admin key was ever made, create one, save it to `<data_dir>/admin.key` (and its
    webhook signing secret to `admin.webhook-secret`) and return it (to be printed once);
    otherwise None."""
    # Only if there never was an admin key: `vgen keys create` may have made other keys before
    # the first start, and a revoked admin key must not come back by itself.
    if await store.keys.count(admin_only=True) > 0:
        return None
    secret, webhook_secret = new_api_key_secret(), new_webhook_secret()
    await store.keys.create(
        key_id=new_key_id(),
        tenant_id=DEFAULT_TENANT,
        name="admin",
        secret=secret,
        is_admin=True,
        now=clock(),
        webhook_secret=webhook_secret,
    )
    write_private(data_dir / ADMIN_WEBHOOK_SECRET_FILE, webhook_secret + "\n")
    write_private(data_dir / ADMIN_KEY_FILE, secret + "\n")
    return secret


def load_signing_secret(configured: str | None, data_dir: Path) -> bytes:
    if configured:
        return configured.encode()
    path = data_dir / SIGNING_KEY_FILE
    if not path.exists():
        write_private(path, secrets.token_hex(32))
    return path.read_text().strip().encode()
