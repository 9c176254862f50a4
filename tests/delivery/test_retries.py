"""SMTP answers through a real server: 4xx retries with backoff, 5xx bounces, 5.7.x pauses the sender."""

from datetime import timedelta

from sqlalchemy import select
from tests.delivery.conftest import MakeContact, RuntimeWith, message, queue
from tests.delivery.smtp_sink import running_sink
from tests.support.server import free_port

from mailwright.contacts import service as contacts
from mailwright.core.clock import ManualClock
from mailwright.core.runtime import Runtime
from mailwright.delivery import service
from mailwright.delivery.retry import classify
from mailwright.delivery.senders import SendResult, build_sender
from mailwright.events.models import Event


def _smtp(runtime_with: RuntimeWith, port: int, **more: object) -> Runtime:
    return runtime_with(sender="smtp", smtp_port=port, retry_backoff_seconds=60, **more)


def _bounces(rt: Runtime) -> list[dict[str, object]]:
    with rt.uow() as uow:
        return [e.properties for e in uow.session.scalars(select(Event).where(Event.name == "Email Bounced"))]


def test_a_4xx_reply_is_retried_with_backoff_then_delivered(
    runtime_with: RuntimeWith, installed: None, make_contact: MakeContact, clock: ManualClock
) -> None:
    port = free_port()
    rt = _smtp(runtime_with, port)
    cid = make_contact("grey@example.org")
    queued = queue(rt, cid, "r:1")

    def greylist(address: str, n: int) -> str | None:
        return "451 4.7.1 Greylisted, try again later" if n < 2 else None

    with running_sink(port, greylist) as sink:
        first = service.send_due(rt, worker_id="w")
        assert first.retried == 1 and sink.received == []
        got = message(rt, queued.public_id)
        assert got.status == "queued" and got.attempts == 1
        assert got.send_at == clock.now() + timedelta(seconds=60)
        assert got.attempts_log[0].outcome == "retry" and got.attempts_log[0].smtp_code == 451
        # Not due yet: nothing is tried.
        assert service.send_due(rt, worker_id="w").claimed == 0
        clock.advance(timedelta(seconds=60))
        assert service.send_due(rt, worker_id="w").retried == 1
        assert message(rt, queued.public_id).send_at == clock.now() + timedelta(seconds=120)  # doubled
        clock.advance(timedelta(seconds=120))
        assert service.send_due(rt, worker_id="w").sent == 1
        assert len(sink.received) == 1
    got = message(rt, queued.public_id)
    assert got.status == "sent" and got.attempts == 3
    assert [a.outcome for a in got.attempts_log] == ["retry", "retry", "sent"]
    assert _bounces(rt) == []


def test_retries_stop_at_the_limit(
    runtime_with: RuntimeWith, installed: None, make_contact: MakeContact, clock: ManualClock
) -> None:
    port = free_port()
    rt = _smtp(runtime_with, port, max_send_attempts=2)
    cid = make_contact("full@example.org")
    queued = queue(rt, cid, "r:limit")
    with running_sink(port, lambda a, n: "452 4.2.2 Mailbox full") as sink:
        service.send_due(rt, worker_id="w")
        clock.advance(timedelta(minutes=1))
        report = service.send_due(rt, worker_id="w")
        assert sink.received == []
    assert report.failed == 1
    got = message(rt, queued.public_id)
    assert got.status == "failed" and got.attempts == 2 and "Mailbox full" in (got.last_error or "")
    assert [b["bounce_type"] for b in _bounces(rt)] == ["soft"]
    with rt.uow() as uow:
        assert not contacts.is_suppressed(uow.session, "full@example.org")


def test_connection_refused_is_retried(
    runtime_with: RuntimeWith, installed: None, make_contact: MakeContact, clock: ManualClock
) -> None:
    port = free_port()  # nothing listens there yet
    rt = _smtp(runtime_with, port, smtp_timeout=5)
    cid = make_contact("later@example.org")
    queued = queue(rt, cid, "r:conn")
    assert service.send_due(rt, worker_id="w").retried == 1
    assert message(rt, queued.public_id).status == "queued"
    clock.advance(timedelta(minutes=1))
    with running_sink(port) as sink:
        assert service.send_due(rt, worker_id="w").sent == 1
        assert len(sink.received) == 1


def test_a_5xx_on_the_recipient_is_a_hard_bounce_and_suppresses_the_address(
    runtime_with: RuntimeWith, installed: None, make_contact: MakeContact
) -> None:
    port = free_port()
    rt = _smtp(runtime_with, port)
    gone = make_contact("gone@example.org")
    fine = make_contact("fine@example.org")
    q_gone, q_fine = queue(rt, gone, "b:1"), queue(rt, fine, "b:2")

    def unknown(address: str, n: int) -> str | None:
        return (
            "550 5.1.1 <gone@example.org>: Recipient address rejected: User unknown"
            if "gone" in address
            else None
        )

    with running_sink(port, unknown) as sink:
        report = service.send_due(rt, worker_id="w")
        assert [r.rcpt_tos for r in sink.received] == [["fine@example.org"]]
    assert (report.bounced, report.sent) == (1, 1)
    got = message(rt, q_gone.public_id)
    assert got.status == "bounced" and got.attempts_log[0].enhanced_status == "5.1.1"
    assert message(rt, q_fine.public_id).status == "sent"
    with rt.uow() as uow:
        assert contacts.is_suppressed(uow.session, "gone@example.org")
        assert not contacts.is_suppressed(uow.session, "fine@example.org")
    (bounce,) = _bounces(rt)
    assert bounce == {
        "message_id": q_gone.public_id,
        "bounce_type": "hard",
        "status": "5.1.1",
        "smtp_code": 550,
        "diagnostic": "5.1.1 <gone@example.org>: Recipient address rejected: User unknown",
    }
    # The next message to that address is not even tried.
    later = queue(rt, gone, "b:3")
    with running_sink(port) as sink:
        service.send_due(rt, worker_id="w")
        assert sink.received == []
    assert message(rt, later.public_id).skip_reason == "suppressed"


def test_a_5_7_x_reply_pauses_sending_without_blaming_the_recipient(
    runtime_with: RuntimeWith, installed: None, make_contact: MakeContact, caplog: object
) -> None:
    port = free_port()
    rt = _smtp(runtime_with, port)
    ids = [make_contact(f"p{i}@example.org") for i in range(3)]
    queued = [queue(rt, cid, f"p:{cid}") for cid in ids]
    blocked = "550 5.7.1 Service unavailable; client host blocked using Spamhaus"
    with running_sink(port, lambda a, n: blocked) as sink:
        report = service.send_due(rt, worker_id="w", limit=10)
        assert sink.received == []
        # Stopped at the first refusal: the others were not even offered.
        assert sum(sink.rcpt_counts.values()) == 1
    assert report.paused and report.blocked == 1
    with rt.uow() as uow:
        status = service.status(uow, rt.settings)
        for i in range(3):
            assert not contacts.is_suppressed(uow.session, f"p{i}@example.org")
    assert status.paused and "5.7.1" in (status.pause_reason or "")
    assert {message(rt, q.public_id).status for q in queued} == {"queued"}
    assert [b["bounce_type"] for b in _bounces(rt)] == ["sender"]
    # While paused nothing is claimed.
    with running_sink(port) as sink:
        assert service.send_due(rt, worker_id="w").claimed == 0
        with rt.uow() as uow:
            assert service.resume(uow)
        assert service.send_due(rt, worker_id="w", limit=10).sent == 3
        assert len(sink.received) == 3


def test_classification_of_replies() -> None:
    cases = {
        SendResult.accepted(): "sent",
        SendResult.unreachable("timed out"): "retry",
        SendResult.refused(421, "4.3.2 Service shutting down", stage="mail"): "retry",
        SendResult.refused(450, "4.2.1 Try later"): "retry",
        SendResult.refused(552, "5.2.2 Mailbox full"): "retry",
        SendResult.refused(550, "5.1.1 User unknown"): "hard_bounce",
        SendResult.refused(550, "No such user"): "hard_bounce",
        SendResult.refused(554, "5.7.1 Rejected by policy", stage="data"): "sender_blocked",
        SendResult.refused(535, "Authentication failed", stage="mail"): "sender_blocked",
        SendResult.refused(553, "5.1.8 Sender address rejected", stage="mail"): "sender_blocked",
    }
    assert {r.detail: classify(r) for r in cases} == {r.detail: o for r, o in cases.items()}


def test_build_sender_follows_the_settings(runtime_with: RuntimeWith) -> None:
    for name, kind in (("smtp", "SmtpSender"), ("fake", "FakeSender"), ("maildir", "MaildirSender")):
        sender = build_sender(runtime_with(sender=name).settings)
        assert type(sender).__name__ == kind
        sender.close()
