"""`TaskService`: the use cases behind every dialect — create (idempotent), get, list."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from vgen.domain.catalog import ModelCatalog
from vgen.domain.errors import InvalidRequest, NotFound
from vgen.domain.ids import IdFactory, is_task_id
from vgen.domain.requests import VideoRequest, check_against_model
from vgen.domain.routing import Routing
from vgen.domain.tasks import Task, TaskStatus
from vgen.service.intake import ImageIntake
from vgen.store.store import Store
from vgen.store.tasks import NewTask


class TaskService:
    def __init__(
        self,
        *,
        store: Store,
        catalog: ModelCatalog,
        intake: ImageIntake,
        routing: Routing,
        deadline_s: float,
        clock: Callable[[], float],
        id_factory: IdFactory,
        on_enqueue: Callable[[], None] = lambda: None,
    ) -> None:
        self._store = store
        self._catalog = catalog
        self._intake = intake
        self._routing = routing
        self._deadline_s = deadline_s
        self._clock = clock
        self._new_id = id_factory
        self._on_enqueue = on_enqueue

    def validate(self, request: VideoRequest) -> None:
        """Check `request` against its model; raises InvalidRequest naming the param."""
        check_against_model(request, self._catalog.get(request.model))

    async def create(
        self,
        tenant_id: str,
        request: VideoRequest,
        *,
        idempotency_key: str | None = None,
        request_hash: str | None = None,
    ) -> Task:
        """Validate, take in the images, and enqueue a task (or return the idempotent original).

        Nothing is stored when validation fails.
        """
        self.validate(request)
        now = self._clock()
        if idempotency_key is not None and request_hash is not None:
            original = await self._store.tasks.find_idempotent(
                tenant_id, idempotency_key, request_hash, now=now
            )
            if original is not None:
                return original
        resolved = await self._intake.resolve_refs(tenant_id, request.image_refs())
        target = self._routing.first_target(request.model)
        task = await self._store.tasks.create(
            NewTask(
                id=self._new_id(),
                tenant_id=tenant_id,
                engine=target,
                request=request.with_images(resolved),
                created_at=now,
                deadline_at=now + self._routing.deadlines_s.get(target, self._deadline_s),
                idempotency_key=idempotency_key,
                request_hash=request_hash,
            )
        )
        self._on_enqueue()
        return task

    async def get(self, tenant_id: str, task_id: str) -> Task:
        """Raises NotFound for unknown ids and for other tenants' ids alike (API.md §0)."""
        # A malformed id cannot exist; answering without a query also keeps odd bytes (NUL)
        # away from the database.
        task = await self._store.tasks.get(tenant_id, task_id) if is_task_id(task_id) else None
        if task is None:
            raise NotFound(f"No task with id '{task_id}'.")
        return task

    async def get_status(self, tenant_id: str, task_id: str) -> TaskStatus:
        """The status view of a task; NotFound exactly as `get`."""
        found = (
            await self._store.tasks.get_status(tenant_id, task_id) if is_task_id(task_id) else None
        )
        if found is None:
            raise NotFound(f"No task with id '{task_id}'.")
        return found

    async def list(
        self, tenant_id: str, *, limit: int, after: str | None
    ) -> tuple[Sequence[Task], bool]:
        if after is not None and not is_task_id(after):
            raise InvalidRequest("after must be the id of a task (vgen_…).", param="after")
        return await self._store.tasks.list(tenant_id, limit=limit, after=after)
