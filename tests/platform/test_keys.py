"""API keys through the admin API: created with limits and a webhook target, secrets shown
once and stored only as hashes, admin-only, revoked keys refused at once."""

from __future__ import annotations

import asyncio
import hashlib
import time
from pathlib import Path

import httpx
import sqlalchemy as sa

from tests.platform.conftest import assert_error, make_key
from tests.support import LiveServer
from vgen.service.bootstrap import ensure_admin_key
from vgen.service.keys import KeyRequest, KeyService
from vgen.store.database import normalise_url
from vgen.store.store import Store


def test_admin_creates_lists_and_revokes_keys(platform_server: LiveServer) -> None:
    created = make_key(
        platform_server,
        name="alice",
        rate_per_minute=100,
        max_inflight=3,
        daily_seconds=60,
        webhook_url="https://hooks.example.test/vgen",
    )
    assert created["key"].startswith("vgen-sk-") and created["webhook_secret"].startswith("whsec_")
    assert created["object"] == "api_key" and created["admin"] is False
    assert (created["rate_per_minute"], created["max_inflight"], created["daily_seconds"]) == (
        100,
        3,
        60,
    )
    with platform_server.client() as admin:
        listed = admin.get("/v1/admin/keys").json()["data"]
    alice = next(k for k in listed if k["id"] == created["id"])
    assert "key" not in alice and "webhook_secret" not in alice, "secrets are shown only once"
    assert alice["webhook_url"] == "https://hooks.example.test/vgen"

    with platform_server.client(created["key"]) as alice_client:
        assert alice_client.get("/v1/veo/videos").status_code == 200
        with platform_server.client() as admin:
            revoked = admin.post(f"/v1/admin/keys/{created['id']}/revoke")
        assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
        # Refused at once, on the ordinary routes and on the status fast path alike.
        assert_error(alice_client.get("/v1/veo/videos"), 401)
        assert_error(alice_client.get("/v1/result/vgen_" + "0" * 24), 401)


def test_weight_and_budgets_are_stored_and_shown(platform_server: LiveServer) -> None:
    weighted = make_key(
        platform_server, name="weighted", weight=2.5, daily_budget=3, monthly_budget=40.5
    )
    plain = make_key(platform_server, name="plain")
    assert (weighted["weight"], weighted["daily_budget"], weighted["monthly_budget"]) == (
        2.5,
        3,
        40.5,
    )
    assert (plain["weight"], plain["daily_budget"], plain["monthly_budget"]) == (1, None, None)
    with platform_server.client() as admin:
        listed = {k["id"]: k for k in admin.get("/v1/admin/keys").json()["data"]}
    assert listed[weighted["id"]]["weight"] == 2.5 and listed[plain["id"]]["weight"] == 1
    assert listed[weighted["id"]]["monthly_budget"] == 40.5
    assert all(k["weight"] == 1 for k in listed.values() if k["name"] == "admin")


def test_each_key_gets_its_own_tenant_unless_told(platform_server: LiveServer) -> None:
    first, second = make_key(platform_server, name="a"), make_key(platform_server, name="b")
    assert first["tenant_id"] != second["tenant_id"]
    teammate = make_key(platform_server, name="c", tenant_id=first["tenant_id"])
    assert teammate["tenant_id"] == first["tenant_id"]


def test_admin_routes_refuse_other_keys(platform_server: LiveServer) -> None:
    plain = make_key(platform_server, name="plain")
    with platform_server.client(plain["key"]) as client:
        assert_error(client.post("/v1/admin/keys", json={"name": "x"}), 403)
        assert_error(client.get("/v1/admin/keys"), 403)
        assert_error(client.post(f"/v1/admin/keys/{plain['id']}/revoke"), 403)
    with httpx.Client(base_url=platform_server.url) as anonymous:
        assert_error(anonymous.get("/v1/admin/keys"), 401)
    with platform_server.client() as admin:  # the same API under /v1/keys
        aliased = admin.post("/v1/keys", json={"name": "via alias"})
        assert aliased.status_code == 200 and aliased.json()["key"]
        assert admin.delete(f"/v1/keys/{aliased.json()['id']}").json()["revoked_at"]
    promoted = make_key(platform_server, name="second admin", admin=True)
    with platform_server.client(promoted["key"]) as client:
        assert client.get("/v1/admin/keys").status_code == 200


def test_bad_key_requests_are_400_and_create_nothing(platform_server: LiveServer) -> None:
    with platform_server.client() as admin:
        before = len(admin.get("/v1/admin/keys").json()["data"])
        for body, param in (
            ({}, "name"),
            ({"name": "  "}, "name"),
            ({"name": "x", "rate_per_minute": 0}, "rate_per_minute"),
            ({"name": "x", "rate_per_minute": "60/min"}, "rate_per_minute"),
            ({"name": "x", "max_inflight": -1}, "max_inflight"),
            ({"name": "x", "daily_seconds": 0}, "daily_seconds"),
            ({"name": "x", "weight": 0}, "weight"),
            ({"name": "x", "weight": -2}, "weight"),
            ({"name": "x", "weight": "2"}, "weight"),
            ({"name": "x", "weight": True}, "weight"),
            ({"name": "x", "daily_budget": 0}, "daily_budget"),
            ({"name": "x", "monthly_budget": -5}, "monthly_budget"),
            ({"name": "x", "monthly_budget": "ten"}, "monthly_budget"),
            ({"name": "x", "webhook_url": "ftp://example.test/"}, "webhook_url"),
            ({"name": "x", "colour": "blue"}, "colour"),
        ):
            response = admin.post("/v1/admin/keys", json=body)
            assert_error(response, 400)
            assert response.json()["error"]["param"] == param, body
        assert_error(admin.post("/v1/admin/keys", content=b"{nope"), 400)
        assert_error(admin.post("/v1/admin/keys/key_unknown/revoke"), 404)
        assert len(admin.get("/v1/admin/keys").json()["data"]) == before


def test_secrets_are_stored_only_as_hashes(platform_server: LiveServer) -> None:
    created = make_key(platform_server, name="hashed")
    engine = sa.create_engine(normalise_url(platform_server.settings.resolved_database_url()))
    try:
        with engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(sa.text("SELECT * FROM api_keys")).mappings()]
    finally:
        engine.dispose()
    dumped = repr(rows)
    assert created["key"] not in dumped
    assert hashlib.sha256(created["key"].encode()).hexdigest() in dumped


def test_first_start_makes_an_admin_key_unless_one_ever_existed(
    database_url: str, tmp_path: Path
) -> None:
    async def scenario() -> None:
        store = Store.open(database_url)
        keys = KeyService(keys=store.keys, clock=time.time)
        try:
            # `vgen keys create` before the first `vgen serve`: serve still makes the admin key.
            await keys.create(KeyRequest(name="made early"))
            admin = await ensure_admin_key(store, tmp_path, clock=time.time)
            assert admin is not None and (tmp_path / "admin.key").read_text().strip() == admin
            assert (await store.keys.find_active(admin)) is not None
            assert await ensure_admin_key(store, tmp_path, clock=time.time) is None
            # A revoked admin key does not come back by itself.
            only_admin = next(k for k in await keys.list() if k.is_admin)
            await keys.revoke(only_admin.id)
            assert await ensure_admin_key(store, tmp_path / "again", clock=time.time) is None
        finally:
            await store.close()

    asyncio.run(scenario())
