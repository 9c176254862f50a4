"""Acting on inbound mail: bounces, complaints and mailto unsubscribes, from SMTP, a Maildir or IMAP.

Each message is processed in its own unit of work (commit per message), and processing is idempotent
(a report is recorded once per recipient, events have stable ids), so a Maildir re-scan or an SMTP
client that retries after a lost reply changes nothing twice.

Suppression rules (settings): a hard bounce `hard_bounce_limit` times -> suppressed; soft bounces
`soft_bounce_limit` times within `soft_bounce_window_days` -> suppressed; a complaint -> suppressed and
unsubscribed from all marketing. A 5.7.x ("sender") bounce never suppresses the recipient.
"""

import asyncio
import contextlib
import hashlib
import imaplib
import logging
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from mailwright.contacts import service as contacts
from mailwright.core.errors import DomainError, InvalidInput, NotFound
from mailwright.core.runtime import Runtime
from mailwright.core.settings import Settings
from mailwright.core.uow import UnitOfWork
from mailwright.events import service as events
from mailwright.events import vocabulary as v
from mailwright.events.schemas import ContactEvent
from mailwright.tracking import bounces, repository
from mailwright.tracking import service as tracking
from mailwright.tracking.models import BounceRecord
from mailwright.tracking.repository import SentMessage

log = logging.getLogger(__name__)


@dataclass
class InboundOutcome:
    """What one inbound message did."""

    kind: str  # dsn | arf | unsubscribe | other
    public_id: str | None = None
    actions: list[str] = field(default_factory=list)


def _find_message(uow: UnitOfWork, candidates: tuple[str, ...]) -> SentMessage | None:
    for public_id in candidates:
        message = repository.message_by_public_id(uow.session, public_id)
        if message is not None:
            return message
    return None


def _key(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:64]


def process_message(
    uow: UnitOfWork, raw: bytes, *, settings: Settings, envelope_recipients: tuple[str, ...] = ()
) -> InboundOutcome:
    """Classify one inbound message and apply what it means (events, outbox status, suppression)."""
    report = bounces.parse(raw, envelope_recipients=envelope_recipients)
    message = _find_message(uow, report.public_ids)
    outcome = InboundOutcome(kind=report.kind, public_id=message.public_id if message else None)
    if report.kind == "unsubscribe":
        if message is None:
            outcome.actions.append("unknown message")
            return outcome
        changed = tracking.unsubscribe(uow, message.contact_id, method="mailto", message=message)
        outcome.actions.append("unsubscribed" if changed else "already unsubscribed")
        return outcome
    if report.kind == "arf":
        _complaint(uow, report, message, settings, outcome)
        return outcome
    if report.kind == "dsn":
        for failure in report.failures:
            _bounce(uow, report, failure, message, settings, outcome)
        return outcome
    outcome.actions.append("not a report: ignored")
    return outcome


def _bounce(
    uow: UnitOfWork,
    report: bounces.Report,
    failure: bounces.Failure,
    message: SentMessage | None,
    settings: Settings,
    outcome: InboundOutcome,
) -> None:
    now = uow.now()
    session = uow.session
    if message is None and failure.recipient:
        message = repository.latest_message_to(session, failure.recipient.lower())
        if message is not None:
            outcome.public_id = outcome.public_id or message.public_id
    report_key = _key(
        "bounce", report.report_id, (failure.recipient or "").lower(), message.public_id if message else ""
    )
    if repository.bounce_seen(session, report_key):
        outcome.actions.append("duplicate report")
        return
    contact_id = message.contact_id if message else None
    address = _address_of(uow, message, failure.recipient)
    if contact_id is None and address is not None:
        found = contacts.find_by_email(session, address)
        contact_id = found.id if found else None
    repository.add_bounce(
        session,
        BounceRecord(
            report_key=report_key,
            contact_id=contact_id,
            message_public_id=message.public_id if message else None,
            kind=failure.kind,
            status=failure.status,
            diagnostic=(failure.diagnostic or "")[:2000] or None,
            received_at=now,
        ),
    )
    outcome.actions.append(f"{failure.kind} bounce {failure.status or ''}".strip())
    if contact_id is not None:
        properties: dict[str, Any] = message.event_properties() if message else {}
        properties.update(
            {"bounce_type": failure.kind, "status": failure.status, "diagnostic": failure.diagnostic}
        )
        events.record_contact_events(
            uow,
            [
                ContactEvent(
                    contact_id=contact_id,
                    name=v.EMAIL_BOUNCED,
                    occurred_at=now,
                    message_id=f"bounce:{report_key[:48]}",
                    properties=properties,
                    source=tracking.SOURCE,
                )
            ],
        )
    if failure.kind == "hard" and message is not None:
        repository.mark_bounced(
            session, message.id, f"bounced {failure.status}: {failure.diagnostic or ''}"[:2000], now
        )
    if address is None or contact_id is None or failure.kind == "sender":
        return
    if failure.kind == "hard":
        since = now - timedelta(days=3650)
        if repository.count_bounces(session, contact_id, "hard", since) >= settings.hard_bounce_limit:
            contacts.suppress(session, address, reason="hard_bounce", source=f"dsn:{failure.status}", now=now)
            outcome.actions.append("suppressed (hard bounce)")
    elif failure.kind == "soft":
        since = now - timedelta(days=settings.soft_bounce_window_days)
        if repository.count_bounces(session, contact_id, "soft", since) >= settings.soft_bounce_limit:
            contacts.suppress(session, address, reason="soft_bounce", source=f"dsn:{failure.status}", now=now)
            outcome.actions.append("suppressed (soft bounces)")


def _address_of(uow: UnitOfWork, message: SentMessage | None, fallback: str | None) -> str | None:
    if message is not None:
        try:
            state = contacts.consent_state(uow.session, message.contact_id)
        except NotFound:
            state = None
        if state is not None and state.email:
            return state.email
        if message.to_address:
            return message.to_address
    return fallback.lower() if fallback else None


def _complaint(
    uow: UnitOfWork,
    report: bounces.Report,
    message: SentMessage | None,
    settings: Settings,
    outcome: InboundOutcome,
) -> None:
    session = uow.session
    now = uow.now()
    if report.feedback_type not in bounces.COMPLAINT_TYPES:
        outcome.actions.append(f"feedback type {report.feedback_type}: ignored")
        return
    if message is None and report.complainant:
        message = repository.latest_message_to(session, report.complainant.lower())
        outcome.public_id = message.public_id if message else None
    if message is None:
        outcome.actions.append("complaint about an unknown message")
        return
    report_key = _key("complaint", message.public_id)
    if repository.bounce_seen(session, report_key):
        outcome.actions.append("duplicate complaint")
        return
    repository.add_bounce(
        session,
        BounceRecord(
            report_key=report_key,
            contact_id=message.contact_id,
            message_public_id=message.public_id,
            kind="complaint",
            status=None,
            diagnostic=report.feedback_type,
            received_at=now,
        ),
    )
    events.record_contact_events(
        uow,
        [
            ContactEvent(
                contact_id=message.contact_id,
                name=v.MARKED_AS_SPAM,
                occurred_at=now,
                message_id=f"spam:{message.public_id}",
                properties={**message.event_properties(), "feedback_type": report.feedback_type},
                source=tracking.SOURCE,
            )
        ],
    )
    outcome.actions.append("complaint")
    if not settings.suppress_on_complaint:
        return
    tracking.unsubscribe(uow, message.contact_id, method="complaint", message=message)
    address = _address_of(uow, message, report.complainant)
    if address:
        contacts.suppress(session, address, reason="complaint", source=f"arf:{report.feedback_type}", now=now)
    outcome.actions.append("unsubscribed and suppressed")


def process_in_own_uow(
    runtime: Runtime, raw: bytes, envelope_recipients: tuple[str, ...] = ()
) -> InboundOutcome:
    """Process one message in its own committed transaction."""
    with runtime.uow() as uow:
        return process_message(uow, raw, settings=runtime.settings, envelope_recipients=envelope_recipients)


# --- SMTP endpoint -----------------------------------------------------------------------------------


class InboundHandler:
    """aiosmtpd handler: every message received is processed and committed before the 250 reply."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.processed = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Process the message; a failure answers 451 so the sending MTA retries later."""
        raw = envelope.original_content or envelope.content
        data = raw if isinstance(raw, bytes) else str(raw).encode("utf-8")
        recipients = tuple(envelope.rcpt_tos or ())
        try:
            await asyncio.get_running_loop().run_in_executor(
                None, process_in_own_uow, self.runtime, data, recipients
            )
        except DomainError as exc:
            log.warning("inbound message refused: %s", exc.message)
            return f"550 5.6.0 {exc.message}"[:500]
        except Exception:
            log.exception("inbound message failed")
            return "451 4.3.0 temporary failure, try again later"
        self.processed += 1
        return "250 2.0.0 OK"


def start_smtp(runtime: Runtime, *, host: str, port: int) -> Controller:
    """Start the inbound SMTP endpoint in a background thread; call `.stop()` on the result to end it."""
    controller = Controller(InboundHandler(runtime), hostname=host, port=port)
    controller.start()
    return controller


# --- Maildir and IMAP pollers ------------------------------------------------------------------------


def poll_maildir(runtime: Runtime, path: Path) -> int:
    """Process every message in `path/new` and move it to `path/cur` (Maildir protocol); returns how many."""
    new, cur = path / "new", path / "cur"
    if not new.is_dir():
        raise NotFound(f"{path} is not a Maildir (no new/ folder)", field="maildir")
    cur.mkdir(exist_ok=True)
    done = 0
    for source in sorted(new.iterdir()):
        name = source.name
        if not source.is_file():
            continue
        try:
            process_in_own_uow(runtime, source.read_bytes())
        except DomainError as exc:
            log.warning("maildir message %s refused: %s", name, exc.message)
        # Moved only after the commit: a crash in between re-reads it, and processing is idempotent.
        base = name.split(":", 1)[0]
        source.replace(cur / f"{base}:2,S")
        done += 1
    return done


def poll_imap(runtime: Runtime) -> int:
    """Process unseen messages of the configured IMAP folder and flag them seen; returns how many."""
    settings = runtime.settings
    if not settings.imap_host or not settings.imap_user or settings.imap_password is None:
        raise InvalidInput("set imap_host, imap_user and imap_password to poll IMAP", field="imap_host")
    client: imaplib.IMAP4 = (
        imaplib.IMAP4_SSL(settings.imap_host, settings.imap_port)
        if settings.imap_ssl
        else imaplib.IMAP4(settings.imap_host, settings.imap_port)
    )
    done = 0
    try:
        client.login(settings.imap_user, settings.imap_password.get_secret_value())
        client.select(settings.imap_folder)
        _, data = client.uid("search", "UNSEEN")
        for uid_bytes in (data[0] or b"").split():
            uid = uid_bytes.decode("ascii")
            _, fetched = client.uid("fetch", uid, "(BODY.PEEK[])")
            raw = next((item[1] for item in fetched if isinstance(item, tuple)), None)
            if not isinstance(raw, bytes):
                continue
            try:
                process_in_own_uow(runtime, raw)
            except DomainError as exc:
                log.warning("imap message %s refused: %s", uid, exc.message)
            client.uid("store", uid, "+FLAGS", "(\\Seen)")
            done += 1
    finally:
        with contextlib.suppress(imaplib.IMAP4.error, OSError):
            client.logout()
    return done


def run_poller(
    runtime: Runtime, stop: threading.Event, *, maildir: Path | None, imap: bool, every: float
) -> int:
    """Poll the Maildir and/or IMAP every `every` seconds until `stop` is set; returns messages processed."""
    total = 0
    while not stop.is_set():
        if maildir is not None:
            total += poll_maildir(runtime, maildir)
        if imap:
            total += poll_imap(runtime)
        stop.wait(every)
    return total
