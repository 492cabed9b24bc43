"""`TaskService`: the use cases behind every dialect — create (idempotent), get, list, delete."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from vgen.domain.catalog import ModelCatalog
from vgen.domain.errors import InvalidRequest, NotFound, TaskFinished
from vgen.domain.ids import IdFactory, is_task_id
from vgen.domain.keys import ApiKey
from vgen.domain.prices import NO_PRICES, PriceTable
from vgen.domain.requests import VideoRequest, check_against_model
from vgen.domain.routing import Routing
from vgen.domain.tasks import Task, TaskStatus
from vgen.service.artifacts import TaskArtifacts
from vgen.service.intake import ImageIntake
from vgen.service.quotas import TaskQuotas
from vgen.store.store import Store
from vgen.store.tasks import NewTask

log = logging.getLogger(__name__)

# How long after a create an SDK's automatic retry of it may still arrive: the OpenAI SDK waits
# up to its 600 s default timeout for an answer before retrying, plus its back-off.
RETRY_MATCH_WINDOW_S = 15 * 60


class TaskService:
    def __init__(
        self,
        *,
        store: Store,
        catalog: ModelCatalog,
        intake: ImageIntake,
        artifacts: TaskArtifacts,
        routing: Routing,
        deadline_s: float,
        clock: Callable[[], float],
        id_factory: IdFactory,
        on_enqueue: Callable[[], None] = lambda: None,
        prices: PriceTable = NO_PRICES,
    ) -> None:
        self._store = store
        self._catalog = catalog
        self._intake = intake
        self._artifacts = artifacts
        self._routing = routing
        self._deadline_s = deadline_s
        self._clock = clock
        self._new_id = id_factory
        self._on_enqueue = on_enqueue
        self._prices = prices
        self._quotas = TaskQuotas(store.usage)

    @property
    def catalog(self) -> ModelCatalog:
        return self._catalog

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
        is_retry: bool = False,
        key: ApiKey | None = None,
    ) -> Task:
        """Validate, take in the images, and enqueue a task (or return the idempotent original).

        `is_retry` marks a request its client says is an automatic retry of an earlier attempt
        (`x-stainless-retry-count`); without an Idempotency-Key, a task made from the same
        `request_hash` within `RETRY_MATCH_WINDOW_S` is taken to be that attempt's and returned.
        Nothing is stored when validation fails.
        """
        self.validate(request)
        now = self._clock()
        original = await self._original(
            tenant_id, idempotency_key, request_hash, is_retry=is_retry, now=now
        )
        if original is not None:
            return original
        target = self._routing.first_target(request.model)
        expected_cost = self._expected_cost(request, target)
        if key is not None:
            await self._quotas.admit(
                key, requested_seconds=request.duration_s, now=now, expected_cost=expected_cost
            )
        resolved = await self._intake.resolve_refs(tenant_id, request.image_refs())
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
                api_key_id=key.id if key is not None else None,
                reserved_cost=expected_cost,
            )
        )
        log.info(
            "task created",
            extra={"task_id": task.id, "model": task.model, "engine": task.engine},
        )
        self._on_enqueue()
        return task

    def _expected_cost(self, request: VideoRequest, target: str) -> float:
        """What the task will likely cost (0 when not priced): reserved against the key's
        budgets until it ends (service/quotas.py)."""
        cost = self._prices.cost(
            request.model, target, video_seconds=request.duration_s, resolution=request.resolution
        )
        return cost or 0.0

    async def _original(
        self,
        tenant_id: str,
        idempotency_key: str | None,
        request_hash: str | None,
        *,
        is_retry: bool,
        now: float,
    ) -> Task | None:
        if request_hash is None:
            return None
        if idempotency_key is not None:
            return await self._store.tasks.find_idempotent(
                tenant_id, idempotency_key, request_hash, now=now
            )
        if is_retry:
            return await self._store.tasks.find_recent_duplicate(
                tenant_id, request_hash, since=now - RETRY_MATCH_WINDOW_S
            )
        return None

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
        self, tenant_id: str, *, limit: int, after: str | None, newest_first: bool = True
    ) -> tuple[Sequence[Task], bool]:
        if after is not None and not is_task_id(after):
            raise InvalidRequest("after must be the id of a task (vgen_…).", param="after")
        return await self._store.tasks.list(
            tenant_id, limit=limit, after=after, newest_first=newest_first
        )

    async def delete(self, tenant_id: str, task_id: str) -> Task:
        """Delete a task in any state, and its archived video and thumbnail.

        A queued task is never started; a running one is dropped by its worker at the worker's
        next lease renewal (an upstream job it submitted is not cancelled). Input images stay:
        an uploaded file may serve other tasks.

        Raises:
            NotFound: exactly as `get`.
        """
        deleted = (
            await self._store.tasks.delete(tenant_id, task_id) if is_task_id(task_id) else None
        )
        if deleted is None:
            raise NotFound(f"No task with id '{task_id}'.")
        await self._artifacts.delete(deleted)
        return deleted

    async def cancel(self, tenant_id: str, task_id: str) -> Task:
        """End a queued task at once, a processing one as soon as its worker next writes (a
        local render stops at its next progress step; an upstream that accepted the job is
        asked to stop it, best effort, by the worker's `UpstreamCanceller`).

        Raises:
            NotFound: exactly as `get`.
            TaskFinished: the task had already completed, failed or been cancelled.
        """
        task = await self.get(tenant_id, task_id)
        if task.is_terminal or not await self._store.queue.cancel(
            task_id, tenant_id, now=self._clock()
        ):
            raise TaskFinished(f"Task '{task_id}' has already ended; it cannot be cancelled.")
        return await self.get(tenant_id, task_id)
