"""The §1.2 body served from the per-second memo is byte for byte the body rendered afresh, at
every instant: around URL-lifetime edges, when retention caps the URL, once retention ended."""

from __future__ import annotations

import orjson
import pytest

from vgen.domain.states import TaskState
from vgen.domain.tasks import TaskStatus
from vgen.storage.signing import UrlSigner
from vgen.wire.veo_task_body import TaskBodies

T0 = 1_800_000_000.0


def status(state: TaskState, *, archive_expires_at: float | None) -> TaskStatus:
    completed = state is TaskState.COMPLETED
    return TaskStatus(
        id="vgen_" + "a" * 24,
        model="veo_3_1_fast",
        engine="local",
        state=state,
        progress=100 if completed else 40,
        created_at=T0 - 100,
        completed_at=T0 - 10 if completed else None,
        error=None,
        artifact_key="videos/x/w-1.mp4" if completed else None,
        video_seconds=8.0 if completed else None,
        archive_expires_at=archive_expires_at,
    )


@pytest.mark.parametrize("ttl_s", [3600.0, 86_400.0, 59.75])
@pytest.mark.parametrize(
    "task",
    [
        status(TaskState.COMPLETED, archive_expires_at=T0 + 1_000_000),  # URL lifetime decides
        status(TaskState.COMPLETED, archive_expires_at=T0 + 30.5),  # retention caps the URL
        status(TaskState.COMPLETED, archive_expires_at=T0 - 5),  # retention ended
        status(TaskState.PROCESSING, archive_expires_at=None),
    ],
)
def test_the_memoised_body_is_the_fresh_body_at_every_instant(
    task: TaskStatus, ttl_s: float
) -> None:
    bodies = TaskBodies(signer=UrlSigner(b"k" * 32, public_url="http://vgen.test"), ttl_s=ttl_s)
    for step in range(-40, 120):
        now = T0 + step * 0.37
        assert bodies.encoded(task, now) == orjson.dumps(bodies(task, now)), now
