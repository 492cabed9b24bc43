"""The dashboard's routes (API.md §8): the page and its assets need no key and carry a strict
CSP; the session route needs a key like every API call; nothing outside the static folder is
served."""

from __future__ import annotations

from tests.support import LiveServer


def test_page_and_assets_are_served_without_a_key_under_a_strict_csp(server: LiveServer) -> None:
    with server.client() as client:
        client.headers.pop("Authorization")
        page = client.get("/")
        script = client.get("/dashboard/app.js")
        style = client.get("/dashboard/style.css")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/dashboard/app.js">' in page.text
    policy = page.headers["content-security-policy"]
    for directive in (
        "default-src 'self'",
        "script-src 'self';",
        "style-src 'self';",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ):
        assert directive in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert script.headers["content-security-policy"] == policy
    assert style.headers["content-type"].startswith("text/css")


def test_session_needs_a_key_and_never_shows_its_secret(server: LiveServer) -> None:
    with server.client() as client:
        mine = client.get("/dashboard/session.json")
        client.headers["Authorization"] = "Bearer wrong"
        wrong = client.get("/dashboard/session.json")
    assert wrong.status_code == 401
    assert wrong.json()["error"]["type"]
    assert mine.status_code == 200
    body = mine.json()
    assert body["key"]["admin"] is True
    assert "key" not in body["key"] and server.admin_key not in mine.text
    fast = next(m for m in body["models"] if m["id"] == "veo_3_1_fast")
    assert fast["resolutions"] == ["1080p", "4K", "720p"]
    assert fast["durations"] == [8]


def test_only_known_static_files_are_served(server: LiveServer) -> None:
    with server.client() as client:
        answers = [
            client.get(path).status_code
            for path in (
                "/dashboard/missing.js",
                "/dashboard/__init__.py",
                "/dashboard/..%2F__init__.py",
                "/dashboard/.hidden.js",
            )
        ]
    assert answers == [404, 404, 404, 404]
