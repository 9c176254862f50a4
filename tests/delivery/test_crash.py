"""SIGKILL one of three workers mid-batch: the sink gets every message at most once, and all are accounted for."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select
from tests.conftest import PG_URL
from tests.delivery.conftest import PLAIN
from tests.support.server import free_port

from mailwright.contacts.models import Contact
from mailwright.core.runtime import Runtime
from mailwright.core.settings import Settings
from mailwright.delivery import service
from mailwright.delivery.models import DeliveryAttempt, OutboxMessage
from mailwright.delivery.schemas import MessageIn
from mailwright.events import service as events
from mailwright.events.schemas import IncomingEvent
from mailwright.templates import service as templates
from mailwright.worker.registry import build_registry

MESSAGES = 10_000
SINK = Path(__file__).with_name("smtp_sink.py")

pytestmark = [
    pytest.mark.timeout(900),
    pytest.mark.skipif(not PG_URL, reason="several worker processes sharing the outbox need PostgreSQL"),
]


def _fill(url: str) -> None:
    """10,000 subscribed contacts and one queued message each, through the real services."""
    settings = Settings(database_url=url, _env_file=None)  # type: ignore[call-arg]
    rt = Runtime(settings, registry=build_registry())
    try:
        with rt.uow() as uow:
            templates.save_template(uow, PLAIN, settings)
        for start in range(0, MESSAGES, 1000):
            with rt.uow() as uow:
                events.ingest(
                    uow,
                    [
                        IncomingEvent(
                            message_id=f"crash-{i}",
                            type="identify",
                            name="Identify",
                            occurred_at=uow.now(),
                            source="test",
                            user_id=f"crash-{i}",
                            email=f"c{i}@example.org",
                            profile={"email": f"c{i}@example.org"},
                            consent="subscribed",
                        )
                        for i in range(start, start + 1000)
                    ],
                )
        with rt.uow() as uow:
            ids = list(uow.session.scalars(select(Contact.id).order_by(Contact.id)))
        assert len(ids) == MESSAGES
        for start in range(0, MESSAGES, 1000):
            with rt.uow() as uow:
                queued = service.enqueue_many(
                    uow,
                    [
                        MessageIn(
                            contact_id=cid,
                            template_name="plain_test",
                            idempotency_key=f"crash-campaign:{cid}",
                            source_kind="campaign",
                            source_id="crash",
                        )
                        for cid in ids[start : start + 1000]
                    ],
                )
                assert all(q.created for q in queued)
    finally:
        rt.database.engine.dispose()


def _statuses(url: str) -> dict[str, int]:
    settings = Settings(database_url=url, _env_file=None)  # type: ignore[call-arg]
    rt = Runtime(settings)
    try:
        with rt.uow() as uow:
            return dict(
                uow.session.execute(
                    select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
                ).all()
            )
    finally:
        rt.database.engine.dispose()


def _public_ids(url: str, status: str) -> set[str]:
    settings = Settings(database_url=url, _env_file=None)  # type: ignore[call-arg]
    rt = Runtime(settings)
    try:
        with rt.uow() as uow:
            return set(
                uow.session.scalars(select(OutboxMessage.public_id).where(OutboxMessage.status == status))
            )
    finally:
        rt.database.engine.dispose()


def _held_by(url: str, pid: int) -> int:
    """How many rows the worker process `pid` holds in `sending` (worker ids are host:pid:thread)."""
    settings = Settings(database_url=url, _env_file=None)  # type: ignore[call-arg]
    rt = Runtime(settings)
    try:
        with rt.uow() as uow:
            return int(
                uow.session.scalar(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(OutboxMessage.status == "sending", OutboxMessage.locked_by.like(f"%:{pid}:%"))
                )
                or 0
            )
    finally:
        rt.database.engine.dispose()


def _attempts_by(url: str, pid: int) -> int:
    """How many send attempts the worker process `pid` recorded."""
    settings = Settings(database_url=url, _env_file=None)  # type: ignore[call-arg]
    rt = Runtime(settings)
    try:
        with rt.uow() as uow:
            return int(
                uow.session.scalar(
                    select(func.count())
                    .select_from(DeliveryAttempt)
                    .where(DeliveryAttempt.worker.like(f"%:{pid}:%"))
                )
                or 0
            )
    finally:
        rt.database.engine.dispose()


def _lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def test_three_workers_one_killed_send_each_message_at_most_once(
    fresh_database_url: str, tmp_path: Path
) -> None:
    _fill(fresh_database_url)
    port = free_port()
    received = tmp_path / "received.txt"
    sink = subprocess.Popen(
        [sys.executable, str(SINK), str(port), str(received)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    env = {
        **os.environ,
        "MAILWRIGHT_DATABASE_URL": fresh_database_url,
        "MAILWRIGHT_SENDER": "smtp",
        "MAILWRIGHT_SMTP_HOST": "127.0.0.1",
        "MAILWRIGHT_SMTP_PORT": str(port),
        "MAILWRIGHT_SIGNING_KEY": "crash-test",
        "MAILWRIGHT_FROM_ADDRESS": "news@shop.test",
        "MAILWRIGHT_QUIET_HOURS_START": "0",
        "MAILWRIGHT_QUIET_HOURS_END": "0",
        "MAILWRIGHT_WORKER_POLL_SECONDS": "0.2",
        # Short, so the killed worker's rows are found within the test; live batches take well under it.
        "MAILWRIGHT_DELIVERY_LOCK_TIMEOUT_SECONDS": "8",
    }
    workers: list[subprocess.Popen[bytes]] = []

    def start_worker() -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mailwright", "worker"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        workers.append(proc)
        return proc

    try:
        assert sink.stdout is not None and sink.stdout.readline().strip() == b"ready"
        victim, *_ = [start_worker() for _ in range(3)]
        # Generous: this machine class runs the batch in one to two minutes; a loaded one needs more.
        started = time.monotonic()
        deadline = started + 900
        while len(_lines(received)) < MESSAGES // 3:
            assert time.monotonic() < deadline, "the workers did not get going"
            time.sleep(0.05)
        # Kill it while it holds a claimed batch (not while it runs some other job), mid-send.
        while _held_by(fresh_database_url, victim.pid) == 0:
            assert time.monotonic() < deadline, "the victim never claimed a batch"
            time.sleep(0.01)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        killed_at = len(_lines(received))
        held_at_kill = _held_by(fresh_database_url, victim.pid)
        start_worker()
        while True:
            counts = _statuses(fresh_database_url)
            if counts.get("queued", 0) == 0 and counts.get("sending", 0) == 0:
                break
            assert time.monotonic() < deadline, f"not finished: {counts}"
            time.sleep(0.5)
    finally:
        for proc in workers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in workers:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        sink.send_signal(signal.SIGTERM)
        sink.wait(timeout=10)
        if sink.stdout is not None:
            sink.stdout.close()

    got = _lines(received)
    sent = _public_ids(fresh_database_url, "sent")
    review = _public_ids(fresh_database_url, "review")
    counts = _statuses(fresh_database_url)
    received_ids = [g.split("@", 1)[0] for g in got]
    # The figures for the record (pytest -s shows them).
    print(
        f"crash test: {counts}, {len(received_ids)} received, {len(set(received_ids))} distinct Message-IDs"
    )
    # At most once: no Message-ID arrived twice.
    assert len(received_ids) == len(set(received_ids))
    # Accounted for: every row is sent, or in review (the killed worker's batch); nothing else.
    assert set(counts) <= {"sent", "review"} and sum(counts.values()) == MESSAGES, counts
    # A worker has at most two batches of 25 claimed: one on the wire while the next is prepared.
    assert len(review) <= 2 * 25, f"{len(review)} rows in review: more than two claimed batches"
    # What the database calls sent was received; what was received is sent or in review.
    assert sent <= set(received_ids)
    assert set(received_ids) <= sent | review
    # The victim really sent before it died, and what it held then is exactly what went to review.
    assert _attempts_by(fresh_database_url, victim.pid) > 0
    assert len(review) == held_at_kill
    print(
        f"\ncrash test: {MESSAGES} messages in {time.monotonic() - started:.0f} s; worker killed holding"
        f" {held_at_kill} after {killed_at} received; {len(sent)} sent, {len(review)} in review,"
        f" {len(got)} received, no duplicates"
    )
