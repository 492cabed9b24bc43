"""Request-scoped access to what the lifespan put on `app.state` (never module globals)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from vgen.api.auth import Authenticator
from vgen.config import Settings
from vgen.domain.keys import ApiKey
from vgen.service.artifacts import TaskArtifacts
from vgen.service.intake import ImageIntake
from vgen.service.keys import KeyService
from vgen.service.models import ModelDirectory
from vgen.service.queue_view import QueueView
from vgen.service.tasks import TaskService
from vgen.storage.base import ArchiveStorage
from vgen.storage.signing import UrlSigner
from vgen.store.store import Store
from vgen.wire.veo_task_body import TaskBodies


@dataclass
class Services:
    """Everything a route may need, built once per app in the lifespan."""

    settings: Settings
    store: Store
    storage: ArchiveStorage
    signer: UrlSigner
    task_bodies: TaskBodies
    auth: Authenticator
    tasks: TaskService
    intake: ImageIntake
    artifacts: TaskArtifacts
    keys: KeyService
    queue: QueueView
    models: ModelDirectory
    currency: str
    """The price table's currency (usage costs are in it)."""


async def get_services(request: Request) -> Services:
    # async on purpose: a plain `def` dependency would cost a thread hop on every request.
    services: Services = request.app.state.services
    return services


async def current_key(request: Request) -> ApiKey:
    services: Services = request.app.state.services
    return await services.auth.authenticate(request.headers.get("authorization"))


async def get_clock(request: Request) -> Callable[[], float]:
    """The app's clock (`create_app(clock=...)`): every wall-clock reading of the API."""
    clock: Callable[[], float] = request.app.state.clock
    return clock


ServicesDep = Annotated[Services, Depends(get_services)]
KeyDep = Annotated[ApiKey, Depends(current_key)]
ClockDep = Annotated[Callable[[], float], Depends(get_clock)]
