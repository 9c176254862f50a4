"""Delivery: queue a message once per idempotency key, and send what is due, guarded, signed and tracked.

Sending takes short transactions and none while talking to the server: claim (rows -> `sending`,
committed, so other workers skip them), prepare (guards, render; skipped, postponed and failed rows are
settled here), then build, sign and hand the messages to the courier thread, which sends them while
this thread records the batch before and claims and prepares the next; every answer of a batch (sent,
retry, bounce, paused) is written in one transaction of its own, which also claims the next batch.
At most two batches are in flight, so a worker killed anywhere leaves at most two batches in
`sending`; the sweep marks those rows `review` after the lock timeout instead of sending them again
(DESIGN.md invariant 4).
"""

import functools
import logging
from collections import defaultdict, deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from mailwright.contacts import service as contacts
from mailwright.core.errors import Conflict, InvalidInput, NotFound
from mailwright.core.ids import new_ulid
from mailwright.core.runtime import Runtime
from mailwright.core.settings import Settings
from mailwright.core.uow import UnitOfWork
from mailwright.delivery import guards, repository, signing, tokens
from mailwright.delivery.compose import (
    LinkCollector,
    add_pixel,
    build_message,
    message_links,
    track_links,
)
from mailwright.delivery.courier import Batch, Courier, Ready
from mailwright.delivery.models import DeliveryAttempt, OutboxMessage, SenderState
from mailwright.delivery.retry import classify, next_attempt_delay
from mailwright.delivery.schemas import (
    AttemptOut,
    DeliveryStatus,
    MessageIn,
    OutboxDetail,
    OutboxOut,
    QueuedMessage,
    SendReport,
)
from mailwright.delivery.senders import Sender, SendResult, build_sender
from mailwright.events import service as events
from mailwright.events import vocabulary
from mailwright.events.schemas import ContactEvent
from mailwright.templates import service as templates
from mailwright.templates.schemas import RenderFailure

log = logging.getLogger(__name__)

SOURCE_KINDS = ("flow", "campaign", "system", "manual")
# Batches a worker has claimed and not yet recorded: one on the wire while the next is claimed,
# rendered and signed (the wait for the server's replies overlaps that work; with 1 the courier idles
# while each batch is recorded and the next prepared, about a third fewer messages per second). A
# worker killed at any moment leaves at most this many batches in `sending`, to review.
_BATCHES_IN_FLIGHT = 2
UowFactory = Callable[[], AbstractContextManager[UnitOfWork]]


# --- queueing -----------------------------------------------------------------------------------------


def enqueue(
    uow: UnitOfWork,
    *,
    contact_id: int,
    template_name: str,
    idempotency_key: str,
    source_kind: str,
    source_id: str | None = None,
    category: str = "marketing",
    topic: str | None = None,
    send_at: datetime | None = None,
    context: dict[str, Any] | None = None,
) -> QueuedMessage:
    """Queue one email; the same idempotency key returns the row already queued and never adds a second.

    `context` may carry "event" (the trigger event the template sees as `event`) and "message" (extra
    fields of the template's `message` variable, e.g. a confirmation URL).
    """
    item = MessageIn(
        contact_id=contact_id,
        template_name=template_name,
        idempotency_key=idempotency_key,
        source_kind=source_kind,
        source_id=source_id,
        category=category,
        topic=topic,
        send_at=send_at,
        context=context,
    )
    return enqueue_many(uow, [item])[0]


def enqueue_many(uow: UnitOfWork, items: Sequence[MessageIn]) -> list[QueuedMessage]:
    """Queue many emails in a few statements (a campaign's batch); one result per item, in order.

    Idempotent like `enqueue`: a key already queued (or repeated in `items`) returns the existing row.
    Bad input raises before anything is written, naming the field (and the item's index when several).
    """
    session = uow.session
    now = uow.now()
    many = len(items) > 1
    for index, item in enumerate(items):
        _check_enqueue(session, item, f"items[{index}]." if many else "")
    emails = repository.contact_emails(session, [i.contact_id for i in items])
    for index, item in enumerate(items):
        if item.contact_id not in emails:
            where = f"items[{index}]." if many else ""
            raise NotFound(f"no contact with id {item.contact_id}", field=f"{where}contact_id")
    keys = list(dict.fromkeys(i.idempotency_key for i in items))
    before = repository.public_ids_by_key(session, keys)
    fresh: dict[str, dict[str, Any]] = {}
    for item in items:
        key = item.idempotency_key
        if key in before or key in fresh:
            continue
        fresh[key] = {
            "public_id": new_ulid(now).lower(),
            "idempotency_key": key,
            "contact_id": item.contact_id,
            "to_address": emails[item.contact_id],
            "template_name": item.template_name,
            "category": item.category,
            "source_kind": item.source_kind,
            "source_id": item.source_id,
            "topic": item.topic,
            "context": {k: dict(v) for k, v in (item.context or {}).items()},
            "status": "queued",
            "send_at": item.send_at or now,
            "attempts": 0,
            "links": [],
            "created_at": now,
            "updated_at": now,
        }
    repository.insert_if_absent(session, list(fresh.values()))
    after = repository.queued_by_key(session, keys)
    results = []
    for item in items:
        found = after.get(item.idempotency_key)
        if found is None:  # pragma: no cover - the row exists once the insert or a conflicting one committed
            raise Conflict(f"message {item.idempotency_key!r} could not be queued", field="idempotency_key")
        row_id, public_id, status = found
        mine = fresh.get(item.idempotency_key)
        created = mine is not None and mine["public_id"] == public_id
        results.append(QueuedMessage(id=row_id, public_id=public_id, status=status, created=created))
    return results


def _check_enqueue(session: Session, item: MessageIn, where: str) -> None:
    key = item.idempotency_key
    if not key or len(key) > 200:
        raise InvalidInput("idempotency_key must be 1 to 200 characters", field=f"{where}idempotency_key")
    if item.category not in guards.CATEGORIES:
        raise InvalidInput(
            f"category must be one of {', '.join(guards.CATEGORIES)}", field=f"{where}category"
        )
    if item.source_kind not in SOURCE_KINDS:
        raise InvalidInput(
            f"source_kind must be one of {', '.join(SOURCE_KINDS)}", field=f"{where}source_kind"
        )
    if item.send_at is not None and item.send_at.tzinfo is None:
        raise InvalidInput("send_at must be timezone-aware", field=f"{where}send_at")
    if item.context is not None:
        if not isinstance(item.context, dict):
            raise InvalidInput("context must be an object", field=f"{where}context")
        for name, value in item.context.items():
            if name not in ("event", "message"):
                raise InvalidInput(
                    f"context may hold 'event' and 'message', not {name!r}", field=f"{where}context.{name}"
                )
            if not isinstance(value, dict):
                raise InvalidInput(f"context.{name} must be an object", field=f"{where}context.{name}")
    known: set[str] = session.info.setdefault("delivery_known_templates", set())
    if item.template_name not in known:
        try:
            templates.get_template(session, item.template_name)
        except NotFound as exc:
            raise NotFound(
                f"no template named {item.template_name!r}", field=f"{where}template_name"
            ) from exc
        known.add(item.template_name)


# --- sending ------------------------------------------------------------------------------------------


def _factory(source: Runtime | UowFactory, settings: Settings | None) -> tuple[UowFactory, Settings]:
    if isinstance(source, Runtime):
        return source.uow, settings or source.settings
    if settings is None:
        raise ValueError("send_due needs settings when given a unit-of-work factory")
    return source, settings


def send_due(
    source: Runtime | UowFactory,
    *,
    worker_id: str,
    limit: int | None = None,
    settings: Settings | None = None,
    sender: Sender | None = None,
) -> SendReport:
    """Claim and send due queued messages (at most `limit`, default one batch); returns what happened."""
    open_uow, settings = _factory(source, settings)
    own_sender = sender is None
    active = sender or build_sender(settings)
    key = tokens.signing_key(settings)
    dkim_key = _dkim_key(settings)
    report = SendReport()
    remaining = limit if limit is not None else settings.send_batch_size
    size = max(1, settings.send_batch_size)
    depth = _BATCHES_IN_FLIGHT
    in_flight: deque[Batch] = deque()
    courier = Courier(active)
    finished = False  # nothing more to claim: record what is in flight and stop
    try:
        while True:
            finished = finished or remaining <= 0
            oldest = None
            if in_flight and (len(in_flight) >= depth or finished):
                oldest = in_flight.popleft()
                courier.wait(oldest)
            claim = not finished
            if oldest is None and not claim:
                break
            ids: list[int] = []
            with open_uow() as uow:
                # One transaction records a batch's answers (in its own commit, before any later batch's)
                # and claims the next one.
                if oldest is not None:
                    _record(uow, settings, oldest.ready, oldest.results, worker_id, oldest.report)
                    report.add(oldest.report)
                    if oldest.report.paused or oldest.report.claimed < oldest.size:
                        claim = False
                if claim and courier.blocked.is_set():
                    claim = False  # the batch that met the refusal pauses sending when it is recorded
                if claim and is_paused(uow.session):
                    report.paused, claim = True, False
                if claim:
                    ids = repository.claim_due(uow.session, uow.now(), min(remaining, size), worker_id)
            if not ids:
                finished = True
                continue
            remaining -= len(ids)
            batch = Batch(size=min(remaining + len(ids), size), report=SendReport(claimed=len(ids)))
            # A contact with marketing mail on the wire has not got it recorded yet, so the frequency cap
            # cannot see it in the database: the next batch treats it as just sent.
            busy = {item.contact_id for b in in_flight for item in b.ready if item.marketing}
            with open_uow() as uow:
                batch.ready = _prepare(uow, settings, ids, worker_id, key, dkim_key, batch.report, busy)
            courier.hand_over(batch)
            in_flight.append(batch)
    finally:
        courier.close(abandon=bool(in_flight))
        if own_sender:
            active.close()
    return report


def _dkim_key(settings: Settings) -> signing.DkimKey | None:
    if not (settings.dkim_selector and settings.dkim_domain and settings.dkim_private_key_file):
        return None
    return signing.load_key(settings.dkim_selector, settings.dkim_domain, settings.dkim_private_key_file)


def _prepare(
    uow: UnitOfWork,
    settings: Settings,
    ids: Sequence[int],
    worker_id: str,
    key: bytes,
    dkim_key: signing.DkimKey | None,
    report: SendReport,
    busy: set[int],
) -> list[Ready]:
    """Guards and render; settles skipped, postponed and failed rows in this transaction.

    `busy`: contacts with marketing mail sent but not recorded yet (the frequency cap counts it).
    """
    session, now = uow.session, uow.now()
    rows = repository.held(session, ids, worker_id)
    cap = timedelta(hours=settings.frequency_cap_hours)
    facts = repository.contact_facts(session, [r.contact_id for r in rows], now, now - cap)
    capped_now: set[int] = set(busy)
    # Grouped by template and subject variant (an A/B test's arm): render_many takes one of each per call.
    to_render: dict[tuple[str, int], list[OutboxMessage]] = defaultdict(list)
    for row in rows:
        fact = facts.get(row.contact_id)
        verdict = guards.check(fact, category=row.category, topic=row.topic, now=now, settings=settings)
        if verdict.send and row.category == guards.MARKETING and cap > timedelta(0):
            # Two marketing messages to one contact in one batch (or one on the wire): only the first goes.
            if row.contact_id in capped_now:
                verdict = guards.Verdict(guards.FREQUENCY_CAP)
            capped_now.add(row.contact_id)
        if verdict.skip_reason is not None:
            _settle(row, now, status="skipped", skip_reason=verdict.skip_reason)
            report.skipped += 1
        elif verdict.postpone_until is not None:
            _settle(row, now, status="queued", send_at=verdict.postpone_until)
            report.postponed += 1
        else:
            assert fact is not None and fact.email
            row.to_address = fact.email
            to_render[(row.template_name, _subject_variant(row))].append(row)
    ready: list[Ready] = []
    for (template_name, subject_variant), group in to_render.items():
        for round_rows in _rounds(group):
            ready += _render_round(
                uow, settings, template_name, subject_variant, round_rows, key, dkim_key, report
            )
    return ready


def _subject_variant(row: OutboxMessage) -> int:
    """The subject line to use: `message.subject_variant` in the queued context (campaign A/B tests)."""
    chosen = (row.context.get("message") or {}).get("subject_variant")
    return chosen if isinstance(chosen, int) and chosen >= 0 else 0


def _rounds(rows: list[OutboxMessage]) -> Iterator[list[OutboxMessage]]:
    """Split rows so that a contact appears once per render call (render_many is keyed by contact)."""
    pending = list(rows)
    while pending:
        seen: set[int] = set()
        this: list[OutboxMessage] = []
        later: list[OutboxMessage] = []
        for row in pending:
            (later if row.contact_id in seen else this).append(row)
            seen.add(row.contact_id)
        yield this
        pending = later


def _render_round(
    uow: UnitOfWork,
    settings: Settings,
    template_name: str,
    subject_variant: int,
    rows: list[OutboxMessage],
    key: bytes,
    dkim_key: signing.DkimKey | None,
    report: SendReport,
) -> list[Ready]:
    now = uow.now()
    links = {r.contact_id: message_links(key, settings, r.public_id, r.contact_id) for r in rows}
    collector = LinkCollector()
    try:
        results = templates.render_many(
            uow,
            template_name,
            [r.contact_id for r in rows],
            settings,
            events={r.contact_id: dict(r.context.get("event") or {}) for r in rows},
            messages={
                r.contact_id: collector.keep(links[r.contact_id].template_message(r.context.get("message")))
                for r in rows
            },
            link_rewriter=collector,
            subject_variant=subject_variant,
        )
    except Exception as exc:  # the template itself is gone or broken: every message of it fails
        reason = f"{type(exc).__name__}: {getattr(exc, 'message', exc)}"
        for row in rows:
            _fail(uow.session, row, now, reason)
            report.failed += 1
        return []
    ready: list[Ready] = []
    for row, result in zip(rows, results, strict=True):
        if isinstance(result, RenderFailure):
            _fail(uow.session, row, now, f"render: {result.reason}")
            report.failed += 1
            continue
        rendered = result.message
        body, tracked = track_links(rendered.html, collector, key, settings, row.public_id, template_name)
        link_set = links[row.contact_id]
        # Built and signed after this transaction commits (DKIM is the costliest step of a message):
        # on SQLite the write lock is not held meanwhile.
        build = functools.partial(
            build_message,
            settings=settings,
            public_id=row.public_id,
            to_address=row.to_address or "",
            to_name=None,
            subject=rendered.subject,
            text=rendered.text,
            body_html=add_pixel(body, link_set.open_url),
            links=link_set,
            now=now,
            template_name=template_name,
            category=row.category,
            source_id=row.source_id,
            dkim_key=dkim_key,
        )
        row.subject, row.html, row.links = rendered.subject[:500], body, tracked
        row.template_version, row.updated_at = rendered.version, now
        ready.append(
            Ready(
                id=row.id,
                public_id=row.public_id,
                contact_id=row.contact_id,
                build=build,
                marketing=row.category == guards.MARKETING,
                event={
                    "message_id": row.public_id,
                    "template": template_name,
                    "subject": rendered.subject,
                    "source_kind": row.source_kind,
                    "source_id": row.source_id,
                    "category": row.category,
                    "topic": row.topic,
                },
            )
        )
    return ready


def _settle(
    row: OutboxMessage,
    now: datetime,
    *,
    status: str,
    skip_reason: str | None = None,
    send_at: datetime | None = None,
) -> None:
    row.status, row.locked_by, row.locked_at, row.updated_at = status, None, None, now
    if skip_reason is not None:
        row.skip_reason = skip_reason
    if send_at is not None:
        row.send_at = send_at


def _fail(session: Session, row: OutboxMessage, now: datetime, reason: str) -> None:
    _settle(row, now, status="failed")
    row.last_error = reason[:4000]
    row.attempts += 1
    session.add(DeliveryAttempt(message_id=row.id, attempted_at=now, outcome="error", detail=reason[:4000]))


def _record(
    uow: UnitOfWork,
    settings: Settings,
    ready: list[Ready],
    results: dict[int, SendResult | str],
    worker_id: str,
    report: SendReport,
) -> None:
    """Write every answer of the batch: sent, retry, hard bounce, or pause the sender."""
    session, now = uow.session, uow.now()
    rows = {r.id: r for r in repository.held(session, [i.id for i in ready], worker_id, bodies=False)}
    contact_events: list[ContactEvent] = []
    not_tried: list[int] = []
    for item in ready:
        row = rows.get(item.id)
        if row is None:  # someone (an operator) took it out of `sending` meanwhile
            continue
        result = results.get(item.id)
        if result is None:
            not_tried.append(item.id)
            continue
        if isinstance(result, str):  # the message could not be built
            _fail(session, row, now, result)
            report.failed += 1
            continue
        outcome = classify(result)
        row.attempts += 1
        session.add(
            DeliveryAttempt(
                message_id=row.id,
                attempted_at=now,
                outcome=outcome,
                smtp_code=result.code,
                enhanced_status=result.enhanced_status,
                detail=result.detail[:4000],
                worker=worker_id,
            )
        )
        if outcome == "sent":
            _settle(row, now, status="sent")
            row.sent_at, row.last_error = now, None
            report.sent += 1
            contact_events.append(
                ContactEvent(
                    row.contact_id, vocabulary.EMAIL_SENT, now, f"email-sent:{row.public_id}", item.event
                )
            )
        elif outcome == "retry":
            row.last_error = _describe(result)
            if row.attempts >= settings.max_send_attempts:
                _settle(row, now, status="failed")
                report.failed += 1
                contact_events.append(_bounce_event(row, result, now, "soft"))
            else:
                _settle(
                    row,
                    now,
                    status="queued",
                    send_at=now + next_attempt_delay(row.attempts, settings.retry_backoff_seconds),
                )
                report.retried += 1
        elif outcome == "hard_bounce":
            _settle(row, now, status="bounced")
            row.last_error = _describe(result)
            report.bounced += 1
            if row.to_address:
                contacts.suppress(
                    session, row.to_address, reason="hard_bounce", source=f"smtp:{row.public_id}", now=now
                )
            contact_events.append(_bounce_event(row, result, now, "hard"))
        else:  # sender_blocked: not the recipient's fault; the message waits for `delivery resume`
            row.attempts -= 1  # it never had a fair try
            _settle(row, now, status="queued")
            row.last_error = _describe(result)
            report.blocked += 1
            report.paused = True
            reason = f"{_describe(result)} (message {row.public_id})"
            pause(session, reason, now)
            log.error("delivery paused: the server refused our mail as the sender's problem: %s", reason)
            contact_events.append(_bounce_event(row, result, now, "sender"))
    repository.release(session, not_tried, now)
    if contact_events:
        events.record_contact_events(uow, contact_events)


def _describe(result: SendResult) -> str:
    code = f"{result.code} " if result.code is not None else ""
    return f"{code}{result.detail}".strip()[:4000]


def _bounce_event(row: OutboxMessage, result: SendResult, now: datetime, kind: str) -> ContactEvent:
    status = result.enhanced_status or (f"{str(result.code)[0]}.0.0" if result.code else "4.4.1")
    return ContactEvent(
        row.contact_id,
        vocabulary.EMAIL_BOUNCED,
        now,
        f"email-bounced:{row.public_id}:smtp",
        {
            "message_id": row.public_id,
            "bounce_type": kind,
            "status": status,
            "smtp_code": result.code,
            "diagnostic": result.detail[:1000],
        },
    )


# --- the sender's pause switch, the sweep and review -------------------------------------------------


def is_paused(session: Session) -> bool:
    """Whether sending is paused (a 5.7.x reply until an operator resumes)."""
    state = repository.sender_state(session)
    return bool(state and state.paused)


def pause(session: Session, reason: str, now: datetime) -> None:
    """Stop all sending, with the reason the status command shows."""
    state = repository.sender_state(session, for_update=True)
    if state is None:
        session.add(SenderState(name=repository.SENDER_NAME, paused=True, reason=reason, changed_at=now))
        session.flush()
        return
    if not state.paused:
        state.paused, state.reason, state.changed_at = True, reason, now


def resume(uow: UnitOfWork) -> bool:
    """Clear the pause; True when sending was paused."""
    state = repository.sender_state(uow.session, for_update=True)
    if state is None or not state.paused:
        return False
    state.paused, state.changed_at = False, uow.now()
    log.warning("delivery resumed (was paused: %s)", state.reason)
    return True


def sweep_stale(uow: UnitOfWork, timeout: timedelta) -> list[int]:
    """Mark rows left `sending` longer than `timeout` as `review`; returns their ids."""
    now = uow.now()
    ids = repository.mark_stale_for_review(uow.session, now - timeout, now)
    if ids:
        log.error("%d message(s) left in sending by a stopped worker are marked for review", len(ids))
    return ids


def decide_review(uow: UnitOfWork, public_id_or_id: str, *, requeue: bool) -> OutboxOut:
    """An operator's decision on a `review` message: queue it again (may send twice) or drop it."""
    row = _find(uow.session, public_id_or_id)
    if row.status != "review":
        raise Conflict(f"message {row.public_id} is {row.status}, not in review", field="id")
    now = uow.now()
    if requeue:
        _settle(row, now, status="queued", send_at=now)
    else:
        _settle(row, now, status="failed")
        row.last_error = "dropped after review"
    return OutboxOut.model_validate(row)


def _find(session: Session, public_id_or_id: str) -> OutboxMessage:
    row = repository.by_public_id(session, public_id_or_id)
    if row is None and public_id_or_id.isdecimal():
        row = session.get(OutboxMessage, int(public_id_or_id))
    if row is None:
        raise NotFound(f"no outbox message {public_id_or_id!r}", field="id")
    return row


# --- reading -------------------------------------------------------------------------------------------


def status(uow: UnitOfWork, settings: Settings) -> DeliveryStatus:
    """The outbox by status, what is due, and whether the sender is paused."""
    session = uow.session
    counts = repository.status_counts(session)
    state = repository.sender_state(session)
    return DeliveryStatus(
        counts=counts,
        due=repository.due_count(session, uow.now()),
        paused=bool(state and state.paused),
        pause_reason=state.reason if state and state.paused else None,
        paused_at=state.changed_at if state and state.paused else None,
        review=counts.get("review", 0),
        sender=settings.sender,
    )


def list_outbox(
    session: Session,
    *,
    status: str | None = None,
    contact_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[OutboxOut]:
    """Outbox rows newest first."""
    if status is not None and status not in (
        "queued",
        "sending",
        "sent",
        "failed",
        "skipped",
        "bounced",
        "review",
    ):
        raise InvalidInput(f"unknown status {status!r}", field="status")
    rows = repository.list_messages(session, status=status, contact_id=contact_id, limit=limit, offset=offset)
    return [OutboxOut.model_validate(r) for r in rows]


def get_message(session: Session, public_id_or_id: str) -> OutboxDetail:
    """One outbox row with its links and attempts."""
    row = _find(session, public_id_or_id)
    out = OutboxOut.model_validate(row).model_dump()
    return OutboxDetail(
        **out,
        links=list(row.links or []),
        context=dict(row.context or {}),
        attempts_log=[AttemptOut.model_validate(a) for a in repository.attempts_of(session, row.id)],
    )


# --- the worker's side -----------------------------------------------------------------------------------


class Dispatcher:
    """Sends due mail on every worker tick with one long-lived sender (SMTP connections stay open)."""

    def __init__(self, runtime: Runtime, worker_id: str) -> None:
        self.runtime = runtime
        self.worker_id = worker_id
        self.sender: Sender | None = None
        self._next_sweep: datetime | None = None

    def tick(self) -> int:
        """Sweep stale locks when due, then send one round of due messages; returns how many were claimed."""
        settings = self.runtime.settings
        now = self.runtime.clock.now()
        timeout = timedelta(seconds=settings.delivery_lock_timeout_seconds)
        if self._next_sweep is None or now >= self._next_sweep:
            with self.runtime.uow() as uow:
                sweep_stale(uow, timeout)
            self._next_sweep = now + min(timeout / 4, timedelta(minutes=1))
        if self.sender is None:
            self.sender = build_sender(settings)
        report = send_due(
            self.runtime,
            worker_id=self.worker_id,
            limit=settings.send_batch_size * 4,
            sender=self.sender,
        )
        return report.claimed

    def close(self) -> None:
        """Close the sender's connections."""
        if self.sender is not None:
            self.sender.close()
            self.sender = None


def message_statuses(session: Session, public_ids: Sequence[str]) -> dict[str, str]:
    """The outbox status of each of these messages (public id -> status); unknown ids are left out."""
    return repository.statuses(session, list(public_ids))


def skip_queued(uow: UnitOfWork, public_ids: Sequence[str], *, reason: str) -> int:
    """Withdraw messages no worker has claimed yet (queued -> skipped with the reason); returns how many."""
    if not reason or len(reason) > 64:
        raise InvalidInput("reason must be 1 to 64 characters", field="reason")
    return repository.skip_queued(uow.session, list(public_ids), reason=reason, now=uow.now())
