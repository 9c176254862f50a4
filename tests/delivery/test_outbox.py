"""The outbox: idempotent queueing, bad input, render failures, the crash sweep and review, API and worker."""

import threading
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import func, select
from tests.conftest import PG_URL
from tests.delivery.conftest import PLAIN, MakeContact, RuntimeWith, message, queue

from mailwright.contacts import service as contacts
from mailwright.core.clock import ManualClock
from mailwright.core.errors import Conflict, InvalidInput, NotFound
from mailwright.core.runtime import Runtime
from mailwright.core.settings import Settings
from mailwright.delivery import repository, service
from mailwright.delivery.models import OutboxMessage
from mailwright.delivery.senders import FakeSender
from mailwright.templates import service as templates
from mailwright.worker.loop import run_worker
from mailwright.worker.registry import build_registry


def _rows(rt: Runtime) -> int:
    with rt.uow() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(OutboxMessage)) or 0)


def test_the_same_idempotency_key_queues_one_message(
    runtime: Runtime, installed: None, make_contact: MakeContact, fake_sender: FakeSender
) -> None:
    cid = make_contact("once@example.org")
    first = queue(runtime, cid, "flow:1:node:2:run:3")
    again = queue(runtime, cid, "flow:1:node:2:run:3", template_name="welcome_1")
    assert first.created and not again.created
    assert (again.id, again.public_id) == (first.id, first.public_id)
    assert _rows(runtime) == 1
    service.send_due(runtime, worker_id="w", sender=fake_sender)
    # Queued again after it went: still the one row, and no second email.
    assert queue(runtime, cid, "flow:1:node:2:run:3").status == "sent"
    service.send_due(runtime, worker_id="w", sender=fake_sender)
    assert len(fake_sender.sent) == 1 and _rows(runtime) == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"category": "promo"}, "category"),
        ({"source_kind": "api"}, "source_kind"),
        ({"template_name": "no_such_template"}, "template_name"),
        ({"context": {"event": "not an object"}}, "context.event"),
        ({"context": {"other": {}}}, "context.other"),
        ({"idempotency_key": ""}, "idempotency_key"),
        ({"contact_id": 987654}, "contact_id"),
    ],
)
def test_bad_input_names_the_field_and_queues_nothing(
    changes: dict[str, object], field: str, runtime: Runtime, installed: None, make_contact: MakeContact
) -> None:
    cid = make_contact("bad@example.org")
    options: dict[str, object] = {
        "contact_id": cid,
        "template_name": "plain_test",
        "idempotency_key": "bad:1",
        "source_kind": "flow",
        **changes,
    }
    with pytest.raises((InvalidInput, NotFound)) as caught, runtime.uow() as uow:
        service.enqueue(uow, **options)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert _rows(runtime) == 0


def test_one_recipients_render_error_fails_only_that_message(
    runtime: Runtime, installed: None, make_contact: MakeContact, fake_sender: FakeSender
) -> None:
    ids = [make_contact(f"r{i}@example.org") for i in range(4)]
    queued = [
        queue(runtime, cid, f"render:{cid}", context={"event": {"divisor": 0 if i == 1 else 4}})
        for i, cid in enumerate(ids)
    ]
    report = service.send_due(runtime, worker_id="w", sender=fake_sender)
    assert (report.sent, report.failed) == (3, 1)
    broken = message(runtime, queued[1].public_id)
    assert broken.status == "failed" and "ZeroDivisionError" in (broken.last_error or "")
    assert broken.attempts_log[0].outcome == "error"
    assert [message(runtime, q.public_id).status for q in queued] == ["sent", "failed", "sent", "sent"]
    assert all(b"costs 25" in m.data for m in fake_sender.sent)


def test_a_message_left_sending_by_a_dead_worker_goes_to_review_not_out_again(
    runtime: Runtime, installed: None, make_contact: MakeContact, clock: ManualClock, fake_sender: FakeSender
) -> None:
    cid = make_contact("crash@example.org")
    queued = queue(runtime, cid, "crash:1")
    # A worker claims it and dies before recording the answer.
    with runtime.uow() as uow:
        assert repository.claim_due(uow.session, uow.now(), 10, "dead-worker") == [queued.id]
    assert service.send_due(runtime, worker_id="w", sender=fake_sender).claimed == 0
    timeout = timedelta(seconds=runtime.settings.delivery_lock_timeout_seconds)
    with runtime.uow() as uow:
        assert service.sweep_stale(uow, timeout) == []  # still within its lock
    clock.advance(timeout + timedelta(seconds=1))
    with runtime.uow() as uow:
        assert service.sweep_stale(uow, timeout) == [queued.id]
        assert service.status(uow, runtime.settings).review == 1
    got = message(runtime, queued.public_id)
    assert got.status == "review" and got.locked_by == "dead-worker"
    assert service.send_due(runtime, worker_id="w", sender=fake_sender).claimed == 0
    assert fake_sender.sent == []
    # An operator decides: requeue sends it; drop gives it up.
    with runtime.uow() as uow:
        assert service.decide_review(uow, queued.public_id, requeue=True).status == "queued"
    assert service.send_due(runtime, worker_id="w", sender=fake_sender).sent == 1
    with pytest.raises(Conflict), runtime.uow() as uow:
        service.decide_review(uow, queued.public_id, requeue=False)


def test_the_sweep_runs_as_a_periodic_job(
    runtime: Runtime, installed: None, make_contact: MakeContact, clock: ManualClock
) -> None:
    cid = make_contact("swept@example.org")
    queued = queue(runtime, cid, "sweep:1")
    with runtime.uow() as uow:
        repository.claim_due(uow.session, uow.now(), 10, "gone")
    clock.advance(timedelta(hours=1))
    runtime.runner.tick(clock.now())
    assert message(runtime, queued.public_id).status == "review"


def test_the_worker_loop_sends_due_mail(
    runtime_with: RuntimeWith, installed: None, make_contact: MakeContact, tmp_path: Path
) -> None:
    rt = runtime_with(sender="maildir", maildir_path=tmp_path / "md")
    cid = make_contact("loop@example.org")
    queued = queue(rt, cid, "loop:1")
    run_worker(rt, threading.Event(), once=True)
    assert message(rt, queued.public_id).status == "sent"
    assert len(list((tmp_path / "md" / "new").iterdir())) == 1


def test_outbox_api(
    client: TestClient,
    admin_token: str,
    runtime: Runtime,
    installed: None,
    make_contact: MakeContact,
    fake_sender: FakeSender,
) -> None:
    a, b = make_contact("api-a@example.org"), make_contact("api-b@example.org")
    qa, qb = queue(runtime, a, "api:a"), queue(runtime, b, "api:b")
    with runtime.uow() as uow:
        contacts.suppress(uow.session, "api-b@example.org", reason="manual", source="test", now=uow.now())
    service.send_due(runtime, worker_id="w", sender=fake_sender)
    auth = {"Authorization": f"Bearer {admin_token}"}
    assert client.get("/api/v1/outbox").status_code == 401
    listed = client.get("/api/v1/outbox", headers=auth).json()
    assert {m["public_id"]: m["status"] for m in listed} == {qa.public_id: "sent", qb.public_id: "skipped"}
    skipped = client.get("/api/v1/outbox", params={"status": "skipped"}, headers=auth).json()
    assert [(m["public_id"], m["skip_reason"]) for m in skipped] == [(qb.public_id, "suppressed")]
    by_contact = client.get("/api/v1/outbox", params={"contact_id": a}, headers=auth).json()
    assert [m["public_id"] for m in by_contact] == [qa.public_id]
    detail = client.get(f"/api/v1/outbox/{qa.public_id}", headers=auth).json()
    assert detail["status"] == "sent" and detail["attempts_log"][0]["outcome"] == "sent"
    assert detail["links"] == [
        "https://shop.test/products/1?size=m&color=red",
        "https://blog.example.org/story",
    ]
    missing = client.get("/api/v1/outbox/nope", headers=auth)
    assert missing.status_code == 404 and missing.json()["field"] == "id"
    bad = client.get("/api/v1/outbox", params={"status": "lost"}, headers=auth)
    assert bad.status_code == 400 and bad.json()["field"] == "status"
    status = client.get("/api/v1/delivery/status", headers=auth).json()
    assert status["counts"] == {"sent": 1, "skipped": 1} and status["paused"] is False


def _race(rt: Runtime, contact_id: int, key: str, *, threads: int) -> tuple[list[str], list[BaseException]]:
    """Enqueue one key from several threads at once, each in its own transaction."""
    barrier = threading.Barrier(threads)
    results: list[str] = []
    errors: list[BaseException] = []

    def enqueue() -> None:
        try:
            with rt.uow() as uow:
                barrier.wait()
                queued = service.enqueue(
                    uow,
                    contact_id=contact_id,
                    template_name="plain_test",
                    idempotency_key=key,
                    source_kind="campaign",
                )
                results.append(queued.public_id)
        except BaseException as exc:
            errors.append(exc)

    running = [threading.Thread(target=enqueue) for _ in range(threads)]
    for t in running:
        t.start()
    for t in running:
        t.join()
    return results, errors


@pytest.mark.skipif(not PG_URL, reason="concurrent transactions need PostgreSQL (SQLite has one writer)")
def test_concurrent_enqueue_of_one_key_makes_one_row_on_postgresql(fresh_database_url: str) -> None:
    settings = Settings(  # type: ignore[call-arg]
        database_url=fresh_database_url, signing_key=SecretStr("k"), _env_file=None
    )
    rt = Runtime(settings, registry=build_registry())
    try:
        with rt.uow() as uow:
            templates.save_template(uow, PLAIN, settings)
        with rt.uow() as uow:
            from mailwright.events import service as events
            from mailwright.events.schemas import IncomingEvent

            events.ingest(
                uow,
                [
                    IncomingEvent(
                        message_id="c1",
                        type="identify",
                        name="Identify",
                        occurred_at=uow.now(),
                        source="test",
                        user_id="c1",
                        email="race@example.org",
                        profile={"email": "race@example.org"},
                        consent="subscribed",
                    )
                ],
            )
        with rt.uow() as uow:
            profile = contacts.find_by_email(uow.session, "race@example.org")
            assert profile is not None
        for round_ in range(5):
            results, errors = _race(rt, profile.id, f"race:{round_}:{uuid.uuid4().hex}", threads=6)
            assert errors == []
            assert len(results) == 6 and len(set(results)) == 1
        assert _rows(rt) == 5
    finally:
        rt.database.engine.dispose()
