"""Scale-out on one PostgreSQL and one bucket (issue #11): 2 × `vgen serve --no-worker` and
3 × `vgen worker`, all real processes, run 200 relay tasks and 6 local renders while one worker
is SIGKILLed and another SIGTERMed midway. Every task completes exactly once, the upstream gets
one job per task, no task is ever held by two live workers, and every video is in the bucket
once and downloads through either API process, by presigned and by vgen-signed URL."""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg
import pytest
from psycopg.rows import dict_row

from tests.conftest import PG_URL, _pg_schema_url, wait_for
from tests.fakes.reseller import ResellerFake
from tests.s3 import REGION, Bucket
from tests.support import free_port, serving
from tests.video import decode_mp4

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(PG_URL is None, reason="scale-out runs on PostgreSQL only"),
]

RELAY_TASKS = 200
LOCAL_TASKS = 6
LEASE_S = 6
LOG_TAIL_LINES = 80

# Observes, inside PostgreSQL, every change of a task's state, lease owner or attempt count
# (claims, hand-backs, parks, completions) with the time it happened: the lease history that
# vgen itself keeps only as the current row.
_AUDIT_SQL = """
CREATE TABLE lease_audit (
    seq bigserial PRIMARY KEY,
    task_id text NOT NULL,
    at double precision NOT NULL,
    old_state text, new_state text,
    old_owner text, new_owner text,
    old_attempts integer, new_attempts integer
);
CREATE FUNCTION lease_audit_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO lease_audit (task_id, at, old_state, new_state, old_owner, new_owner,
                             old_attempts, new_attempts)
    VALUES (NEW.id, extract(epoch FROM clock_timestamp()), OLD.state, NEW.state,
            OLD.lease_owner, NEW.lease_owner, OLD.attempts, NEW.attempts);
    RETURN NULL;
END $$;
CREATE TRIGGER lease_audit AFTER UPDATE ON tasks FOR EACH ROW
WHEN (OLD.state IS DISTINCT FROM NEW.state OR OLD.lease_owner IS DISTINCT FROM NEW.lease_owner
      OR OLD.attempts IS DISTINCT FROM NEW.attempts)
EXECUTE FUNCTION lease_audit_row();
"""


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def json_lines(self) -> list[dict[str, Any]]:
        lines = self.log.read_bytes().splitlines()
        return [orjson.loads(line) for line in lines if line.startswith(b"{")]

    def claims(self) -> set[tuple[str, int]]:
        """(task id, attempt) of every claim this worker logged."""
        return {
            (line["task_id"], int(line["attempt"]))
            for line in self.json_lines()
            if line["message"] == "task claimed"
        }


@dataclass
class Cluster:
    """vgen processes sharing one database, one bucket and one signing secret."""

    tmp_path: Path
    env: dict[str, str]
    pg_url: str
    processes: list[Process] = field(default_factory=list)

    def start(self, name: str, *args: str, **env: str) -> Process:
        data_dir = self.tmp_path / name  # one per process: nothing is shared through disk
        log = self.tmp_path / f"{name}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(
                [sys.executable, "-m", "vgen", *args],
                env={**self.env, "VGEN_DATA_DIR": str(data_dir), **env},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        process = Process(name, popen, log)
        self.processes.append(process)
        return process

    def start_api(self, name: str, *, presigned: bool) -> str:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        api = self.start(
            name,
            "serve",
            "--no-worker",
            "--port",
            str(port),
            VGEN_PUBLIC_URL=url,
            VGEN_S3_PRESIGNED_URLS=str(presigned).lower(),
        )
        wait_for(lambda: _healthy(api, url), timeout_s=60, message=f"{name} to serve")
        return url

    def stop(self) -> None:
        for process in self.processes:
            if process.popen.poll() is None:
                process.popen.kill()
            process.popen.wait(timeout=30)

    @contextlib.contextmanager
    def logs_on_failure(self) -> Iterator[None]:
        """Print the tail of every process's log if the block fails (pytest shows it)."""
        try:
            yield
        except BaseException:
            self.print_logs()
            raise

    def print_logs(self) -> None:
        with contextlib.suppress(psycopg.Error):  # the schema is dropped after the test
            audit = self.tmp_path / "lease_audit.jsonl"
            audit.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in _audit(self.pg_url)))
            print(f"----- lease audit: {audit}")
        for process in self.processes:
            lines = process.log.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
            print(f"----- {process.name} (exit {process.popen.poll()}) {process.log}")
            print("\n".join(lines))


def _healthy(process: Process, url: str) -> bool:
    if process.popen.poll() is not None:
        pytest.fail(f"{process.name} exited: {process.log.read_text(errors='replace')}")
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL schema of this test's own."""
    assert PG_URL is not None
    yield from _pg_schema_url(PG_URL)


@pytest.fixture
def reseller(upstream_mp4: bytes) -> Iterator[ResellerFake]:
    """A reseller that finishes each job at its second poll (a few hundred ms here)."""
    with serving(ResellerFake(video=upstream_mp4, polls_until_done=2)) as fake:
        yield fake


@pytest.fixture
def cluster(
    tmp_path: Path, pg_url: str, bucket: Bucket, reseller: ResellerFake
) -> Iterator[Cluster]:
    config = tmp_path / "vgen.toml"
    config.write_text(
        f"""
[targets.reseller]
type = "relay"
base_url = "{reseller.base_url}"
poll_interval_seconds = 0.2
first_poll_seconds = 0.2

[routes]
veo_3_1_fast = ["reseller"]
"*" = ["local"]
"""
    )
    env = {
        **os.environ,  # the bucket fixture put fake AWS credentials here
        "VGEN_DATABASE_URL": pg_url,
        "VGEN_STORAGE_URL": f"s3://{bucket.name}",
        "VGEN_S3_ENDPOINT_URL": bucket.endpoint_url,
        "VGEN_S3_REGION": REGION,
        "VGEN_SIGNING_SECRET": secrets.token_hex(32),
        "VGEN_CONFIG": str(config),
        "VGEN_LEASE_SECONDS": str(LEASE_S),
        "VGEN_ALLOW_PRIVATE_URLS": "true",
        "VGEN_LOG_FORMAT": "json",
        "VGEN_LOCAL_PROCESSES": "1",
    }
    made = Cluster(tmp_path, env, pg_url)
    try:
        yield made
    finally:
        made.stop()


def _db(pg_url: str) -> psycopg.Connection[dict[str, Any]]:
    return psycopg.connect(pg_url, autocommit=True, row_factory=dict_row)


def _rows(pg_url: str, sql: str, *params: object) -> list[dict[str, Any]]:
    with _db(pg_url) as conn:
        return conn.execute(sql, params).fetchall()


def _completed(pg_url: str) -> int:
    return int(_rows(pg_url, "SELECT count(*) AS n FROM tasks WHERE state = 'completed'")[0]["n"])


def _create_tasks(api_urls: list[str], admin_key: str) -> tuple[list[str], list[str]]:
    """Relay and local tasks, created alternately through each API process."""
    headers = {"Authorization": f"Bearer {admin_key}"}
    clients = [httpx.Client(base_url=u, headers=headers, timeout=30) for u in api_urls]
    relay: list[str] = []
    local: list[str] = []
    total = RELAY_TASKS + LOCAL_TASKS
    local_at = set(range(total // LOCAL_TASKS // 2, total, total // LOCAL_TASKS))
    try:
        for i in range(total):
            body = (
                {"model": "veo_3_1_pro", "prompt": f"a lighthouse, take {i}", "resolution": "720p"}
                if i in local_at
                else {"model": "veo_3_1_fast", "prompt": f"a kite over dunes, take {i}"}
            )
            created = clients[i % len(clients)].post("/v1/veo/videos", json=body)
            assert created.status_code == 200, created.text
            (local if body["model"] == "veo_3_1_pro" else relay).append(created.json()["id"])
    finally:
        for client in clients:
            client.close()
    return relay, local


def _owner_of(worker: Process, pg_url: str) -> str:
    """The lease owner id a worker process claims as: its logged claims, found in the audit
    (read after the log, so it holds every claim logged)."""
    claims = worker.claims()
    audit = _audit(pg_url)
    by_claim = {(r["task_id"], r["new_attempts"]): r["new_owner"] for r in audit if _is_claim(r)}
    owners = {by_claim.get(claim) for claim in claims}
    assert len(owners) == 1 and None not in owners, (worker.name, owners)
    return str(owners.pop())


def _is_claim(row: dict[str, Any]) -> bool:
    return bool(row["new_attempts"] != row["old_attempts"])


def _audit(pg_url: str) -> list[dict[str, Any]]:
    return _rows(pg_url, "SELECT * FROM lease_audit ORDER BY seq")


def _busiest(pg_url: str) -> str | None:
    """The worker holding the most leases now, if it holds at least two."""
    rows = _rows(pg_url, "SELECT lease_owner FROM tasks WHERE lease_owner IS NOT NULL")
    held = Counter(r["lease_owner"] for r in rows).most_common(1)
    return str(held[0][0]) if held and held[0][1] >= 2 else None


def _held_by(pg_url: str, owner: str) -> list[str]:
    rows = _rows(pg_url, "SELECT id FROM tasks WHERE lease_owner = %s", owner)
    return [r["id"] for r in rows]


@pytest.mark.timeout(600)
def test_two_apis_and_three_workers_complete_every_task_once_through_kills(
    cluster: Cluster,
    pg_url: str,
    bucket: Bucket,
    reseller: ResellerFake,
    upstream_mp4: bytes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="werkzeug")  # moto logs every S3 request
    with cluster.logs_on_failure():
        presigning = cluster.start_api("api-presigned", presigned=True)
        admin_key = (cluster.tmp_path / "api-presigned" / "admin.key").read_text().strip()
        with _db(pg_url) as conn:  # migrated by the first API process: watch its leases from now
            conn.execute(_AUDIT_SQL)
        signing = cluster.start_api("api-signed", presigned=False)
        workers = [cluster.start(f"worker-{n}", "worker") for n in range(3)]

        relay_ids, local_ids = _create_tasks([presigning, signing], admin_key)
        all_ids = relay_ids + local_ids
        assert (len(relay_ids), len(local_ids)) == (RELAY_TASKS, LOCAL_TASKS)

        wait_for(
            lambda: _completed(pg_url) >= len(all_ids) // 3,
            timeout_s=180,
            message="a third of the tasks to complete",
        )
        owners = {_owner_of(w, pg_url): w for w in workers}
        assert len(owners) == len(workers), "each worker process claims under an id of its own"
        # Kill the worker holding the most leases: the others must take them over.
        killed_owner = str(wait_for(lambda: _busiest(pg_url), timeout_s=60, message="leases"))
        killed = owners.pop(killed_owner)
        killed.popen.send_signal(signal.SIGKILL)
        killed.popen.wait(timeout=30)
        killed_at = time.time()
        (terminated_owner, terminated), (_, survivor) = owners.items()
        terminated.popen.send_signal(signal.SIGTERM)
        assert terminated.popen.wait(timeout=LEASE_S * 5) == 0, "SIGTERM must exit 0"
        assert _held_by(pg_url, terminated_owner) == [], "SIGTERM hands every running task back"

        wait_for(
            lambda: _completed(pg_url) == len(all_ids),
            timeout_s=300,
            message="every task to complete",
        )
        assert survivor.popen.poll() is None, "the last worker is still running"

        _assert_completed_once(pg_url, all_ids)
        _assert_one_job_per_task(reseller, relay_ids, pg_url, killed_owner)
        _assert_never_held_by_two_live_workers(
            pg_url, workers, killed_owner=killed_owner, killed_at=killed_at
        )
        _assert_taken_over(_audit(pg_url), killed_owner, killed_at)
        _assert_one_object_per_task(bucket, pg_url, all_ids)
        _assert_every_video_downloads(
            presigning=presigning,
            signing=signing,
            admin_key=admin_key,
            bucket=bucket,
            relay_ids=relay_ids,
            local_ids=local_ids,
            upstream_mp4=upstream_mp4,
        )


def _assert_completed_once(pg_url: str, task_ids: list[str]) -> None:
    rows = _rows(pg_url, "SELECT id, state FROM tasks")
    assert {r["id"]: r["state"] for r in rows} == dict.fromkeys(task_ids, "completed")
    completions = Counter(r["task_id"] for r in _audit(pg_url) if r["new_state"] == "completed")
    assert completions == Counter(task_ids), "every task moved to `completed` exactly once"
    events = Counter(
        r["task_id"]
        for r in _rows(
            pg_url, "SELECT task_id FROM webhook_events WHERE event_type = 'video.completed'"
        )
    )
    assert events == Counter(task_ids), "one `video.completed` event per task"
    usage = _rows(pg_url, "SELECT sum(completed) AS n, sum(failed) AS f FROM usage_daily")[0]
    assert (usage["n"], usage["f"]) == (len(task_ids), 0), "usage counts each completion once"


def _assert_one_job_per_task(
    reseller: ResellerFake, relay_ids: list[str], pg_url: str, killed_owner: str
) -> None:
    assert sorted(reseller.idempotency_keys) == sorted(relay_ids), "one upstream job per task"
    assert len(reseller.creates) == len(relay_ids)
    # A repeated submit (same Idempotency-Key, so the same job) is only right for a task whose
    # submitting worker lost it before it could record the job's id: killed, or so starved of
    # CPU that its lease lapsed and another worker took the task over. Never after SIGTERM:
    # a submit in flight finishes and is recorded before the task is handed back.
    audit = _audit(pg_url)
    touched_by_killed = {r["task_id"] for r in audit if r["new_owner"] == killed_owner}
    taken_over = {r["task_id"] for r in audit if _is_claim(r) and r["old_owner"] is not None}
    repeated = {k for k, n in Counter(reseller.submitted_keys).items() if n > 1}
    assert repeated <= touched_by_killed | taken_over, repeated - touched_by_killed - taken_over
    upstream_ids = _rows(pg_url, "SELECT upstream_id FROM tasks WHERE engine = 'reseller'")
    assert sorted(r["upstream_id"] for r in upstream_ids) == sorted(reseller.jobs)


def _assert_never_held_by_two_live_workers(
    pg_url: str, workers: list[Process], *, killed_owner: str, killed_at: float
) -> None:
    """A claim takes a task that nobody holds (queued, parked, handed back: no owner) or takes
    over a lapsed lease; the latter is right only when its holder is dead. Every claim also
    counts one attempt, so two claims can never have won the same row."""
    owners = {_owner_of(w, pg_url) for w in workers}
    audit = _audit(pg_url)
    assert len(owners) == len(workers), "each worker process claims under an id of its own"
    logged = {claim for w in workers for claim in w.claims()}
    claims = [r for r in audit if _is_claim(r)]
    assert logged <= {(r["task_id"], r["new_attempts"]) for r in claims}
    assert {r["new_owner"] for r in claims} <= owners
    overlaps = [
        r
        for r in claims
        if r["old_owner"] is not None
        and not (r["old_owner"] == killed_owner and r["at"] >= killed_at)
    ]
    assert overlaps == [], "taken from a live holder"
    assert all(r["new_attempts"] == r["old_attempts"] + 1 for r in claims)
    attempts: dict[str, list[int]] = defaultdict(list)
    for r in claims:
        attempts[r["task_id"]].append(r["new_attempts"])
    assert all(seq == list(range(1, len(seq) + 1)) for seq in attempts.values())


def _assert_taken_over(audit: list[dict[str, Any]], killed_owner: str, killed_at: float) -> None:
    """Leases the killed worker held were taken over by live workers after its death."""
    takeovers = [r for r in audit if _is_claim(r) and r["old_owner"] == killed_owner]
    assert takeovers, "the killed worker held no lease"
    assert all(r["at"] >= killed_at and r["new_owner"] != killed_owner for r in takeovers)


def _assert_one_object_per_task(bucket: Bucket, pg_url: str, task_ids: list[str]) -> None:
    s3 = bucket.client()
    keys = [
        obj["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket.name)
        for obj in page.get("Contents", [])
    ]
    artifacts = {r["id"]: r["artifact_key"] for r in _rows(pg_url, "SELECT * FROM tasks")}
    assert sorted(keys) == sorted(artifacts.values()), "one object per task, nothing else"
    assert all(artifacts[t].startswith(f"videos/{t}/") for t in task_ids)


def _assert_every_video_downloads(
    *,
    presigning: str,
    signing: str,
    admin_key: str,
    bucket: Bucket,
    relay_ids: list[str],
    local_ids: list[str],
    upstream_mp4: bytes,
) -> None:
    """Relay videos are the upstream's bytes (a decodable MP4, decoded here once, plus a
    sample of the downloads); local renders are each decoded."""
    assert decode_mp4(upstream_mp4).frames > 0
    headers = {"Authorization": f"Bearer {admin_key}"}
    with httpx.Client(headers=headers, timeout=30) as api, httpx.Client(timeout=30) as anon:
        for n, task_id in enumerate(relay_ids + local_ids):
            presigned = api.get(f"{presigning}/v1/result/{task_id}").json()["video_url"]
            signed = api.get(f"{signing}/v1/result/{task_id}").json()["video_url"]
            assert presigned.startswith(f"{bucket.endpoint_url}/"), presigned
            assert signed.startswith(f"{signing}/"), signed
            urls = [presigned, signed, signed.replace(signing, presigning, 1)]
            videos = []
            for url in urls:
                got = anon.get(url)
                assert got.status_code == 200, (url, got.status_code, got.text[:200])
                videos.append(got.content)
            assert videos[0] == videos[1] == videos[2], task_id
            if task_id in local_ids:
                assert decode_mp4(videos[0]).frames > 0, task_id
            else:
                assert videos[0] == upstream_mp4, task_id
                if n % 25 == 0:
                    assert decode_mp4(videos[0]).frames > 0, task_id
