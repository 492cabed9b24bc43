"""A vgen server shared by a module's tests (for request-validation tests that render nothing)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import DATABASES, PG_URL, _pg_schema_url
from tests.support import LiveServer, start_live_server
from vgen.config import Settings


@pytest.fixture(scope="module", params=DATABASES)
def shared_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("shared")
    if request.param == "sqlite":
        urls: Iterator[str] = iter([f"sqlite:///{tmp / 'vgen.db'}"])
    else:
        assert PG_URL is not None
        urls = _pg_schema_url(PG_URL)
    url = next(urls)
    # run_worker off: validation tests must not start renders.
    settings = Settings(
        data_dir=tmp / "data", database_url=url, allow_private_urls=True, run_worker=False
    )
    server = start_live_server(settings)
    yield server
    server.stop()
    for _ in urls:  # finish the generator: drops the PostgreSQL schema
        pass


@pytest.fixture
def make_image_server() -> Iterator[str]:
    """A plain image host on loopback (the server fetches from it: allow_private_urls=True)."""
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    from tests.images import scene_image
    from tests.support import ThreadedUvicorn

    png = scene_image(shift=120)

    async def scene(_request: object) -> Response:
        return Response(png, media_type="image/png")

    host = ThreadedUvicorn(Starlette(routes=[Route("/scene.png", scene)]), lifespan="off")
    yield host.url
    host.stop()
