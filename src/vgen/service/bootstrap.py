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
    secret, webhook_secret = new_api_key_secret(), new_webhook_secret()
    created = await store.keys.create_first_admin(
        key_id=new_key_id(),
        tenant_id=DEFAULT_TENANT,
        secret=secret,
        webhook_secret=webhook_secret,
        now=clock(),
    )
    if not created:  # one exists or existed (made by another process starting just now too)
        return None
    write_private(data_dir / ADMIN_WEBHOOK_SECRET_FILE, webhook_secret + "\n")
    write_private(data_dir / ADMIN_KEY_FILE, secret + "\n")
    return secret


def load_signing_secret(configured: str | None, data_dir: Path) -> bytes:
    """`VGEN_SIGNING_SECRET`, else the data dir's `signing.key`, made by the first process that
    gets there: created exclusively and written whole under a temporary name, so processes
    starting at once on one data dir all read the same secret."""
    if configured:
        return configured.encode()
    path = data_dir / SIGNING_KEY_FILE
    if not path.exists():
        draft = path.with_name(f".{SIGNING_KEY_FILE}.{secrets.token_hex(4)}")
        write_private(draft, secrets.token_hex(32))
        try:
            os.link(draft, path)  # fails if another process made it first: theirs wins
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip().encode()
