"""API.md §0 and §1.1: another tenant's task answers 404 like an unknown id; an
Idempotency-Key replays the original task, or answers 409 for a different body."""

from __future__ import annotations

import asyncio
import time

import httpx

from tests.support import LiveServer
from vgen.store.store import Store

BODY = {"model": "veo_3_1_fast", "prompt": "idempotent"}


def make_key(server: LiveServer, tenant: str) -> str:
    secret = f"vgen-sk-test-{tenant}-{time.monotonic_ns()}"

    async def create() -> None:
        store = Store.open(server.settings.resolved_database_url())
        try:
            await store.keys.create(
                key_id=f"key_{tenant}{time.monotonic_ns()}",
                tenant_id=tenant,
                name=tenant,
                secret=secret,
                is_admin=False,
                now=time.time(),
            )
        finally:
            await store.close()

    asyncio.run(create())
    return secret


def test_other_tenants_task_is_404_and_unlisted(shared_server: LiveServer) -> None:
    alice, bob = make_key(shared_server, "alice"), make_key(shared_server, "bob")
    with shared_server.client(alice) as a, shared_server.client(bob) as b:
        task_id = a.post("/v1/veo/videos", json=BODY).json()["id"]
        assert a.get(f"/v1/result/{task_id}").status_code == 200
        for path in [f"/v1/result/{task_id}", f"/v1/veo/videos/{task_id}", f"/result/{task_id}"]:
            unknown = b.get(path.replace(task_id, "vgen_" + "0" * 24))
            theirs = b.get(path)
            assert theirs.status_code == unknown.status_code == 404
            assert theirs.json()["error"].keys() == unknown.json()["error"].keys()
        assert all(t["id"] != task_id for t in b.get("/v1/veo/videos").json()["data"])
        # Uploaded files are per tenant too.
        from tests.images import scene_image

        asset = a.post("/v1/files", files={"file": ("a.png", scene_image(), "image/png")}).json()[
            "url"
        ]
        response = b.post("/v1/veo/videos", json={**BODY, "first_image": asset})
        assert response.status_code == 400 and response.json()["error"]["param"] == "first_image"


def test_idempotency_key_replays_or_conflicts(shared_server: LiveServer) -> None:
    key = make_key(shared_server, "idem")
    with shared_server.client(key) as client:
        headers = {"Idempotency-Key": "order-42"}
        first = client.post("/v1/veo/videos", json=BODY, headers=headers)
        again = client.post(
            "/v1/veo/videos", json=dict(reversed(list(BODY.items()))), headers=headers
        )
        assert first.status_code == again.status_code == 200
        assert first.json()["id"] == again.json()["id"]
        conflict = client.post("/v1/veo/videos", json={**BODY, "prompt": "other"}, headers=headers)
        assert conflict.status_code == 409
        assert conflict.json()["error"]["code"] == "idempotency_conflict"
        fresh = client.post("/v1/veo/videos", json=BODY, headers={"Idempotency-Key": "order-43"})
        assert fresh.json()["id"] != first.json()["id"]
        listed = [t["id"] for t in client.get("/v1/veo/videos").json()["data"]]
        assert sorted(listed) == sorted({first.json()["id"], fresh.json()["id"]})


def test_same_idempotency_key_in_other_tenant_is_independent(shared_server: LiveServer) -> None:
    one, two = make_key(shared_server, "one"), make_key(shared_server, "two")
    headers = {"Idempotency-Key": "shared-key"}
    with shared_server.client(one) as a, shared_server.client(two) as b:
        first = a.post("/v1/veo/videos", json=BODY, headers=headers).json()["id"]
        second = b.post("/v1/veo/videos", json={**BODY, "prompt": "different"}, headers=headers)
        assert second.status_code == 200 and second.json()["id"] != first


def test_upload_rejects_non_images_and_missing_field(shared_server: LiveServer) -> None:
    with shared_server.client() as client:
        text = client.post("/v1/files", files={"file": ("a.txt", b"hello world", "text/plain")})
        assert text.status_code == 415 and text.json()["error"]["param"] == "file"
        missing = client.post("/v1/files", files={"other": ("a.png", b"x", "image/png")})
        assert missing.status_code == 400 and missing.json()["error"]["param"] == "file"
        not_multipart = client.post("/v1/files", json={"file": "x"})
        assert not_multipart.status_code == 400
        big = client.post(
            "/v1/files", files={"file": ("a.png", b"\0" * (21 * 1024 * 1024), "image/png")}
        )
        assert big.status_code == 413
    with httpx.Client(base_url=shared_server.url) as anonymous:
        assert anonymous.get("/healthz").status_code == 200
        ready = anonymous.get("/readyz")
        assert ready.status_code == 200 and ready.json()["checks"] == {
            "database": True,
            "storage": True,
        }
