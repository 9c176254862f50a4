"""Send-time guards: every reason to skip, quiet hours postponing, the frequency cap, transactional mail."""

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import update
from tests.delivery.conftest import MakeContact, RuntimeWith, message, queue

from mailwright.contacts import service as contacts
from mailwright.contacts.models import Contact
from mailwright.core.clock import ManualClock
from mailwright.core.runtime import Runtime
from mailwright.delivery import service
from mailwright.delivery.senders import FakeSender

Setup = Callable[[Runtime, int, MakeContact], None]


def _unsubscribe(rt: Runtime, cid: int, make: MakeContact) -> None:
    with rt.uow() as uow:
        contacts.set_consent(uow.session, cid, "unsubscribed", source="test", now=uow.now())


def _pending(rt: Runtime, cid: int, make: MakeContact) -> None:
    with rt.uow() as uow:
        contacts.set_consent(uow.session, cid, "pending", source="test", now=uow.now())


def _never(rt: Runtime, cid: int, make: MakeContact) -> None:
    with rt.uow() as uow:
        contacts.set_consent(uow.session, cid, "never_subscribed", source="test", now=uow.now())


def _suppress(reason: str) -> Setup:
    def setup(rt: Runtime, cid: int, make: MakeContact) -> None:
        with rt.uow() as uow:
            email = contacts.get_profile(uow.session, cid).email
            assert email is not None
            contacts.suppress(uow.session, email.upper(), reason=reason, source="test", now=uow.now())

    return setup


def _pause(rt: Runtime, cid: int, make: MakeContact) -> None:
    with rt.uow() as uow:
        contacts.pause_marketing(uow.session, cid, uow.now() + timedelta(days=30), now=uow.now())


def _pause_over(rt: Runtime, cid: int, make: MakeContact) -> None:
    with rt.uow() as uow:
        contacts.pause_marketing(uow.session, cid, uow.now() - timedelta(minutes=1), now=uow.now())


def _leave_topic(rt: Runtime, cid: int, make: MakeContact) -> None:
    with rt.uow() as uow:
        contacts.set_unsubscribed_topics(uow.session, cid, ["offers"], now=uow.now())


def _leave_other_topic(rt: Runtime, cid: int, make: MakeContact) -> None:
    with rt.uow() as uow:
        contacts.set_unsubscribed_topics(uow.session, cid, ["newsletter"], now=uow.now())


def _merge_away(rt: Runtime, cid: int, make: MakeContact) -> None:
    survivor = make(f"survivor-{cid}@example.org")
    # Identity merges happen inside ingestion; the guard only needs the merged-away mark.
    with rt.uow() as uow:
        uow.session.execute(update(Contact).where(Contact.id == cid).values(merged_into_id=survivor))


def _nothing(rt: Runtime, cid: int, make: MakeContact) -> None:
    return None


# (what happened to the contact, category, expected status, expected skip reason)
CASES: list[tuple[str, Setup, str, str, str | None]] = [
    ("subscribed", _nothing, "marketing", "sent", None),
    ("unsubscribed", _unsubscribe, "marketing", "skipped", "unsubscribed"),
    ("double opt-in not confirmed", _pending, "marketing", "skipped", "pending_confirmation"),
    ("never subscribed", _never, "marketing", "skipped", "no_consent"),
    ("hard bounce", _suppress("hard_bounce"), "marketing", "skipped", "suppressed"),
    ("complaint", _suppress("complaint"), "marketing", "skipped", "suppressed"),
    ("manual suppression", _suppress("manual"), "marketing", "skipped", "suppressed"),
    ("erased address", _suppress("erased"), "marketing", "skipped", "suppressed"),
    ("paused for 30 days", _pause, "marketing", "skipped", "paused"),
    ("pause over", _pause_over, "marketing", "sent", None),
    ("left the message's topic", _leave_topic, "marketing", "skipped", "topic_unsubscribed"),
    ("left another topic", _leave_other_topic, "marketing", "sent", None),
    ("merged into another profile", _merge_away, "marketing", "skipped", "contact_merged"),
    # Transactional mail ignores consent, pause and topics, never suppression.
    ("unsubscribed, transactional", _unsubscribe, "transactional", "sent", None),
    ("pending, transactional", _pending, "transactional", "sent", None),
    ("paused, transactional", _pause, "transactional", "sent", None),
    ("suppressed, transactional", _suppress("hard_bounce"), "transactional", "skipped", "suppressed"),
    ("complaint, transactional", _suppress("complaint"), "transactional", "skipped", "suppressed"),
]


@pytest.mark.parametrize(("case", "setup", "category", "status", "reason"), CASES, ids=[c[0] for c in CASES])
def test_guard(
    case: str,
    setup: Setup,
    category: str,
    status: str,
    reason: str | None,
    runtime: Runtime,
    installed: None,
    make_contact: MakeContact,
    fake_sender: FakeSender,
) -> None:
    cid = make_contact("guarded@example.org")
    queued = queue(runtime, cid, "g:1", category=category, topic="offers")
    # The guard runs at send time: the change happens after the message was queued.
    setup(runtime, cid, make_contact)
    report = service.send_due(runtime, worker_id="w", sender=fake_sender)
    got = message(runtime, queued.public_id)
    assert (got.status, got.skip_reason) == (status, reason)
    assert len(fake_sender.sent) == (1 if status == "sent" else 0)
    assert report.sent + report.skipped == 1


def test_quiet_hours_postpone_to_the_end_of_the_night_in_the_contacts_zone(
    runtime_with: RuntimeWith,
    installed: None,
    make_contact: MakeContact,
    clock: ManualClock,
    fake_sender: FakeSender,
) -> None:
    rt = runtime_with(quiet_hours_start=21, quiet_hours_end=8)
    # 09:00 UTC on 2 November: 04:00 in New York (quiet), 18:00 in Tokyo, 10:00 in Berlin.
    ny = make_contact("ny@example.org", timezone="America/New_York")
    tokyo = make_contact("tokyo@example.org", timezone="Asia/Tokyo")
    nowhere = make_contact("nozone@example.org")  # the shop's default zone (UTC): 09:00
    q_ny, q_tokyo, q_none = (queue(rt, c, f"q:{c}") for c in (ny, tokyo, nowhere))
    first = service.send_due(rt, worker_id="w", sender=fake_sender)
    assert (first.sent, first.postponed) == (2, 1)
    held = message(rt, q_ny.public_id)
    assert held.status == "queued" and held.skip_reason is None
    assert held.send_at == clock.now().replace(hour=13)  # 08:00 in New York (EST, UTC-5)
    assert message(rt, q_tokyo.public_id).status == message(rt, q_none.public_id).status == "sent"
    clock.advance(timedelta(hours=3, minutes=59))
    assert service.send_due(rt, worker_id="w", sender=fake_sender).claimed == 0
    clock.advance(timedelta(minutes=1))
    assert service.send_due(rt, worker_id="w", sender=fake_sender).sent == 1
    assert message(rt, q_ny.public_id).status == "sent"


def test_transactional_mail_ignores_quiet_hours(
    runtime_with: RuntimeWith, installed: None, make_contact: MakeContact, fake_sender: FakeSender
) -> None:
    rt = runtime_with(quiet_hours_start=21, quiet_hours_end=8)
    ny = make_contact("night@example.org", timezone="America/New_York")
    queued = queue(rt, ny, "t:1", category="transactional", source_kind="system")
    assert service.send_due(rt, worker_id="w", sender=fake_sender).sent == 1
    assert message(rt, queued.public_id).status == "sent"


def test_frequency_cap_lets_one_marketing_email_through_per_window(
    runtime: Runtime, installed: None, make_contact: MakeContact, clock: ManualClock, fake_sender: FakeSender
) -> None:
    cid = make_contact("busy@example.org")
    # Two due together: only one goes.
    a, b = queue(runtime, cid, "fc:a"), queue(runtime, cid, "fc:b")
    service.send_due(runtime, worker_id="w", sender=fake_sender)
    assert [message(runtime, q.public_id).status for q in (a, b)] == ["sent", "skipped"]
    assert message(runtime, b.public_id).skip_reason == "frequency_cap"
    clock.advance(timedelta(hours=15))
    c = queue(runtime, cid, "fc:c")
    # Transactional mail is exempt and does not count.
    t = queue(runtime, cid, "fc:t", category="transactional", source_kind="system")
    service.send_due(runtime, worker_id="w", sender=fake_sender)
    assert message(runtime, c.public_id).skip_reason == "frequency_cap"
    assert message(runtime, t.public_id).status == "sent"
    clock.advance(timedelta(hours=1, seconds=1))  # 16 hours after the first send
    d = queue(runtime, cid, "fc:d")
    service.send_due(runtime, worker_id="w", sender=fake_sender)
    assert message(runtime, d.public_id).status == "sent"
    assert len(fake_sender.sent) == 3


def test_frequency_cap_is_a_setting(
    runtime_with: RuntimeWith, installed: None, make_contact: MakeContact, fake_sender: FakeSender
) -> None:
    rt = runtime_with(frequency_cap_hours=0)
    cid = make_contact("fan@example.org")
    queued = [queue(rt, cid, f"nocap:{i}") for i in range(3)]
    assert service.send_due(rt, worker_id="w", sender=fake_sender).sent == 3
    assert {message(rt, q.public_id).status for q in queued} == {"sent"}
