"""Bounces and complaints: real DSN and ARF messages classified, and the suppression rules applied."""

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from tests.tracking.conftest import FIXTURES, MakeContact, MakeMessage

from mailwright.contacts import service as contacts
from mailwright.core.clock import ManualClock
from mailwright.core.runtime import Runtime
from mailwright.delivery.models import OutboxMessage
from mailwright.events import service as events
from mailwright.tracking import bounces, inbound
from mailwright.tracking.models import BounceRecord


def fixture(
    name: str, public_id: str = "01jcdummy0000000000000000a", recipient: str = "ann@example.com"
) -> bytes:
    """A fixture with the message's public id and recipient filled in (RFC examples have none)."""
    text = (FIXTURES / name).read_text(encoding="utf-8")
    return text.replace("%PUBLIC_ID%", public_id).replace("%RECIPIENT%", recipient).encode("utf-8")


# (fixture, report kind, [(recipient, kind, status)])
TABLE = [
    ("rfc3464_simple.eml", "dsn", [("louisl@larry.slip.umd.edu", "soft", "4.0.0")]),
    (
        "rfc3464_multi_recipient.eml",
        "dsn",
        # johnh's entry is `Action: delayed`: a notice, not a bounce.
        [("arathib@vnet.ibm.com", "hard", "5.0.0"), ("wsnell@sdcc13.ucsd.edu", "hard", "5.0.0")],
    ),
    ("postfix_user_unknown.eml", "dsn", [("ann@example.com", "hard", "5.1.1")]),
    ("postfix_mailbox_full.eml", "dsn", [("ann@example.com", "soft", "5.2.2")]),
    ("postfix_expired.eml", "dsn", [("ann@example.com", "soft", "4.4.1")]),
    ("postfix_blocked_5_7_1.eml", "dsn", [("ann@example.com", "sender", "5.7.26")]),
    ("exim_user_unknown.eml", "dsn", [("ann@example.com", "hard", "5.1.1")]),
    # Exim writes Status: 5.0.0; the diagnostic's 5.2.2 (mailbox full) decides.
    ("exim_mailbox_full.eml", "dsn", [("ann@example.com", "soft", "5.2.2")]),
    ("exim_legacy_text.eml", "dsn", [("ann@example.com", "hard", "5.1.1")]),
    ("rfc5965_example.eml", "arf", []),
    ("arf_complaint.eml", "arf", []),
    ("mailto_unsubscribe.eml", "unsubscribe", []),
]


@pytest.mark.nodb
@pytest.mark.parametrize(("name", "kind", "expected"), TABLE, ids=[row[0] for row in TABLE])
def test_real_reports_are_classified(name: str, kind: str, expected: list[tuple[str, str, str]]) -> None:
    report = bounces.parse(fixture(name))
    assert report.kind == kind
    assert [(f.recipient, f.kind, f.status) for f in report.failures] == expected


@pytest.mark.nodb
def test_public_id_comes_from_verp_then_the_original_headers() -> None:
    verp = bounces.parse(fixture("postfix_user_unknown.eml", public_id="01jcverp000000000000000000"))
    assert verp.public_ids[0] == "01jcverp000000000000000000"
    # The same report forwarded by hand to another address: the original's Return-Path/Message-ID still tell.
    forwarded = (
        fixture("postfix_user_unknown.eml", public_id="01jcfwd0000000000000000000")
        .replace(b"X-Original-To: bounce+01jcfwd0000000000000000000@", b"X-Original-To: postmaster@")
        .replace(b"Delivered-To: bounce+01jcfwd0000000000000000000@", b"Delivered-To: postmaster@")
        .replace(b"To: bounce+01jcfwd0000000000000000000@", b"To: postmaster@")
    )
    report = bounces.parse(forwarded)
    assert "01jcfwd0000000000000000000" in report.public_ids
    arf = bounces.parse(fixture("arf_complaint.eml", public_id="01jcarf0000000000000000000"))
    assert arf.public_ids[0] == "01jcarf0000000000000000000" and arf.feedback_type == "abuse"
    rfc = bounces.parse(fixture("rfc5965_example.eml"))
    assert rfc.feedback_type == "abuse" and rfc.complainant == "user@example.com"


@pytest.mark.nodb
@pytest.mark.parametrize(
    ("status", "kind"),
    [
        ("5.1.1", "hard"),
        ("5.0.0", "hard"),
        ("5.2.2", "soft"),
        ("5.2.1", "hard"),
        ("4.2.2", "soft"),
        ("4.4.7", "soft"),
        ("5.7.1", "sender"),
        ("5.7.26", "sender"),
        (None, "hard"),
    ],
)
def test_status_code_classification(status: str | None, kind: str) -> None:
    assert bounces.classify(status) == kind


def _process(runtime: Runtime, raw: bytes) -> inbound.InboundOutcome:
    return inbound.process_in_own_uow(runtime, raw)


def test_hard_bounce_marks_the_message_bounced_and_suppresses_at_once(
    runtime: Runtime, make_contact: MakeContact, make_message: MakeMessage, session: Session
) -> None:
    contact = make_contact("ann@example.com")
    message = make_message(contact)
    outcome = _process(runtime, fixture("postfix_user_unknown.eml", message.public_id))
    assert outcome.public_id == message.public_id and "suppressed (hard bounce)" in outcome.actions
    assert session.get(OutboxMessage, message.id).status == "bounced"  # type: ignore[union-attr]
    assert contacts.suppression_reason(session, "ann@example.com") == "hard_bounce"
    (bounced,) = events.list_events(session, contact_id=contact, name="Email Bounced")
    assert bounced.properties["bounce_type"] == "hard" and bounced.properties["status"] == "5.1.1"
    assert bounced.properties["message_id"] == message.public_id
    assert bounced.properties["template"] == "newsletter"
    # The same report again (an MTA retry, a Maildir re-scan) changes nothing.
    again = _process(runtime, fixture("postfix_user_unknown.eml", message.public_id))
    assert again.actions == ["duplicate report"]
    assert len(events.list_events(session, contact_id=contact, name="Email Bounced")) == 1


def test_three_soft_bounces_in_fourteen_days_suppress(
    runtime: Runtime,
    make_contact: MakeContact,
    make_message: MakeMessage,
    session: Session,
    clock: ManualClock,
) -> None:
    contact = make_contact("bea@example.com")
    sent = []
    for name in ("postfix_mailbox_full.eml", "exim_mailbox_full.eml"):
        message = make_message(contact)
        sent.append(message)
        _process(runtime, fixture(name, message.public_id, "bea@example.com"))
        clock.advance(timedelta(days=6))
    assert not contacts.is_suppressed(session, "bea@example.com")
    # The third soft bounce comes 12 days after the first: within the window.
    third = make_message(contact)
    outcome = _process(runtime, fixture("postfix_expired.eml", third.public_id, "bea@example.com"))
    assert "suppressed (soft bounces)" in outcome.actions
    assert contacts.suppression_reason(session, "bea@example.com") == "soft_bounce"
    assert session.get(OutboxMessage, third.id).status == "sent"  # type: ignore[union-attr]  # soft: not bounced


def test_soft_bounces_spread_over_more_than_fourteen_days_do_not_suppress(
    runtime: Runtime,
    make_contact: MakeContact,
    make_message: MakeMessage,
    session: Session,
    clock: ManualClock,
) -> None:
    contact = make_contact("cid@example.com")
    for _ in range(3):
        message = make_message(contact)
        _process(runtime, fixture("postfix_mailbox_full.eml", message.public_id, "cid@example.com"))
        clock.advance(timedelta(days=8))
    assert not contacts.is_suppressed(session, "cid@example.com")
    kinds = [r.kind for r in session.scalars(select(BounceRecord).where(BounceRecord.contact_id == contact))]
    assert kinds == ["soft", "soft", "soft"]


def test_sender_side_5_7_x_never_suppresses_the_recipient(
    runtime: Runtime, make_contact: MakeContact, make_message: MakeMessage, session: Session
) -> None:
    contact = make_contact("dan@example.com")
    message = make_message(contact)
    _process(runtime, fixture("postfix_blocked_5_7_1.eml", message.public_id, "dan@example.com"))
    assert not contacts.is_suppressed(session, "dan@example.com")
    assert session.get(OutboxMessage, message.id).status == "sent"  # type: ignore[union-attr]
    (bounced,) = events.list_events(session, contact_id=contact, name="Email Bounced")
    assert bounced.properties["bounce_type"] == "sender"


def test_complaint_suppresses_and_unsubscribes(
    runtime: Runtime, make_contact: MakeContact, make_message: MakeMessage, session: Session
) -> None:
    contact = make_contact("eli@example.com")
    message = make_message(contact)
    outcome = _process(runtime, fixture("arf_complaint.eml", message.public_id, "eli@example.com"))
    assert "unsubscribed and suppressed" in outcome.actions
    assert contacts.suppression_reason(session, "eli@example.com") == "complaint"
    assert contacts.consent_state(session, contact).consent_status == "unsubscribed"
    (spam,) = events.list_events(session, contact_id=contact, name="Marked as Spam")
    assert spam.properties["feedback_type"] == "abuse" and spam.properties["message_id"] == message.public_id
    (unsub,) = events.list_events(session, contact_id=contact, name="Unsubscribed")
    assert unsub.properties["method"] == "complaint"


def test_mailto_unsubscribe(
    runtime: Runtime, make_contact: MakeContact, make_message: MakeMessage, session: Session
) -> None:
    contact = make_contact("fay@example.com")
    message = make_message(contact)
    _process(runtime, fixture("mailto_unsubscribe.eml", message.public_id, "fay@example.com"))
    assert contacts.consent_state(session, contact).consent_status == "unsubscribed"
    (unsub,) = events.list_events(session, contact_id=contact, name="Unsubscribed")
    assert unsub.properties["method"] == "mailto" and unsub.properties["message_id"] == message.public_id


def test_a_bounce_naming_only_the_recipient_finds_the_latest_message(
    runtime: Runtime, make_contact: MakeContact, make_message: MakeMessage, session: Session
) -> None:
    contact = make_contact("gus@example.com")
    make_message(contact)
    latest = make_message(contact)
    # The RFC 3464 example has no VERP and no original headers: only its recipient address.
    raw = fixture("rfc3464_multi_recipient.eml").replace(b"wsnell@sdcc13.ucsd.edu", b"gus@example.com")
    outcome = _process(runtime, raw)
    assert outcome.public_id == latest.public_id
    assert contacts.suppression_reason(session, "gus@example.com") == "hard_bounce"


def test_unrelated_mail_is_ignored(runtime: Runtime, session: Session) -> None:
    raw = b"From: someone@example.com\r\nTo: bounce+zzzz@bounces.shop.test\r\nSubject: hi\r\n\r\nhello\r\n"
    outcome = _process(runtime, raw)
    assert outcome.kind == "other" and outcome.actions == ["not a report: ignored"]
