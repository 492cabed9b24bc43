"""Security: every route needs a key (except the few the contract exempts), and tenants never
see each other's tasks, videos, files or usage — another tenant's id answers exactly as an
unknown id does (404, never 403)."""

from __future__ import annotations

import io
import re

import httpx

from tests.images import scene_image
from tests.platform.conftest import assert_error, create_tiny, finish, make_key
from tests.support import LiveServer
from vgen.api.app import create_app
from vgen.config import Settings

UNKNOWN_TASK = "vgen_" + "f" * 24
PUBLIC_PATHS = {"/healthz", "/readyz", "/metrics"}


def test_every_route_but_the_public_ones_needs_a_key(platform_server: LiveServer) -> None:
    # Every documented operation (the OpenAPI schema lists each route once).
    paths = create_app(Settings()).openapi()["paths"]
    checked = 0
    with httpx.Client(base_url=platform_server.url) as anonymous:
        for template, operations in paths.items():
            if template in PUBLIC_PATHS or (
                template.startswith("/v1/files/") and template != "/v1/files"
            ):
                continue  # signed file URLs are checked by their signature instead
            path = re.sub(r"\{[^}]+\}", UNKNOWN_TASK, template)
            for method in operations:
                assert_error(anonymous.request(method.upper(), path), 401)
                checked += 1
    assert checked >= 14


def test_tenants_never_see_each_others_things(platform_server: LiveServer) -> None:
    alice, bob = make_key(platform_server, name="alice"), make_key(platform_server, name="bob")
    with platform_server.client(alice["key"]) as client:
        done = create_tiny(client).json()["id"]
        assert finish(client, done)["status"] == "completed"
        pending = create_tiny(client).json()["id"]
        png = scene_image(shift=40)
        upload = client.post("/v1/files", files={"file": ("a.png", io.BytesIO(png), "image/png")})
        assert upload.status_code == 200, upload.text
        asset = upload.json()["url"]
    with platform_server.client(bob["key"]) as client:
        for task_id in (done, pending):
            for method, path in (
                ("GET", f"/v1/result/{task_id}"),
                ("GET", f"/result/{task_id}"),
                ("GET", f"/kyyReactApiServer/v1/result/{task_id}"),
                ("GET", f"/v1/veo/videos/{task_id}"),
                ("POST", f"/v1/veo/videos/{task_id}/cancel"),
                ("GET", f"/v1/videos/{task_id}"),
                ("GET", f"/v1/videos/{task_id}/content"),
                ("GET", f"/v1/videos/{task_id}/content?variant=thumbnail"),
                ("DELETE", f"/v1/videos/{task_id}"),
            ):
                foreign = client.request(method, path)
                unknown = client.request(method, path.replace(task_id, UNKNOWN_TASK))
                assert_error(foreign, 404)
                assert foreign.json() == {
                    "error": {
                        **unknown.json()["error"],
                        "message": foreign.json()["error"]["message"],
                    }
                }, path
                assert foreign.json()["error"]["message"] == unknown.json()["error"][
                    "message"
                ].replace(UNKNOWN_TASK, task_id)
        assert client.get("/v1/veo/videos").json()["data"] == []
        assert client.get("/v1/videos").json()["data"] == []
        assert client.get("/v1/usage").json()["data"] == []
        borrowed = client.post(
            "/v1/veo/videos",
            json={"model": "veo_3_1_fast", "prompt": "steal", "first_image": asset},
        )
        assert 400 <= borrowed.status_code < 500 and borrowed.status_code != 403
        assert client.get("/v1/veo/videos").json()["data"] == [], "nothing stored"
    with platform_server.client(alice["key"]) as client:
        assert client.get(f"/v1/result/{pending}").status_code == 200, "bob changed nothing"
        assert client.get(f"/v1/result/{done}").json()["status"] == "completed"
