"""Materialized membership: diff a compiled definition against the stored members, in SQL.

Entries are one INSERT ... SELECT, exits one DELETE ... RETURNING (both engines support RETURNING), and
the finished stays go to the history table. Each change is also a `Segment Entered` / `Segment Exited`
event whose message id names the stay, so a retried refresh never records it twice. A segment's very
first computation is a backfill: it records no events (flows must not greet a whole shop at once).
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, literal, select
from sqlalchemy.orm import Session

from mailwright.core.db import UtcDateTime, lock_keys, table_of
from mailwright.core.uow import UnitOfWork
from mailwright.events import service as events
from mailwright.events.schemas import ContactEvent
from mailwright.segments import repository
from mailwright.segments.compiler import compile_segment
from mailwright.segments.dependencies import SEGMENT_ENTERED, SEGMENT_EXITED
from mailwright.segments.models import Segment, SegmentMembership, SegmentMembershipHistory
from mailwright.segments.schemas import SegmentChange, SegmentDefinition

M = table_of(SegmentMembership)
H = table_of(SegmentMembershipHistory)


def entered_message_id(segment_id: int, contact_id: int, entered_at: datetime) -> str:
    """The stable event id of one entry (one stay has one entry and at most one exit)."""
    return f"segment:{segment_id}:{contact_id}:{entered_at.isoformat()}:entered"


def exited_message_id(segment_id: int, contact_id: int, entered_at: datetime) -> str:
    """The stable event id of the exit ending the stay that began at `entered_at`."""
    return f"segment:{segment_id}:{contact_id}:{entered_at.isoformat()}:exited"


def refresh_segment(
    uow: UnitOfWork,
    segment: Segment,
    definition: SegmentDefinition,
    *,
    contact_ids: Sequence[int] | None = None,
) -> SegmentChange:
    """Bring one segment's stored members in line with its definition now (for some contacts, or all)."""
    session = uow.session
    now = uow.now()
    # Two workers refreshing the same segment on PostgreSQL take turns (SQLite has one writer anyway).
    lock_keys(session, [f"segment:{segment.id}"])
    dialect = repository.prepare(session)
    backfill = segment.refreshed_at is None
    if backfill:
        # Never computed: compute it for everyone, whoever's event asked.
        contact_ids = None
    target = compile_segment(definition, dialect=dialect, now=now, contact_ids=contact_ids)
    stored = select(M.c.contact_id).where(M.c.segment_id == segment.id)
    if contact_ids is not None:
        stored = stored.where(M.c.contact_id.in_(list(contact_ids)))

    # The definition is evaluated once; the diff against the stored members runs in SQL on that set.
    found: list[Any] = list(session.scalars(target))
    matched = [int(i) for i in found]
    fresh = repository.id_rows(session, matched).subquery("target")
    entered_rows = session.execute(
        insert(M)
        .from_select(
            ["segment_id", "contact_id", "entered_at"],
            select(literal(segment.id), fresh.c.id, literal(now, UtcDateTime())).where(
                fresh.c.id.not_in(stored)
            ),
        )
        .returning(M.c.contact_id)
    )
    entered = sorted(int(r[0]) for r in entered_rows)

    gone = M.delete().where(M.c.segment_id == segment.id, M.c.contact_id.not_in(select(fresh.c.id)))
    if contact_ids is not None:
        gone = gone.where(M.c.contact_id.in_(list(contact_ids)))
    exited = [(int(cid), at) for cid, at in session.execute(gone.returning(M.c.contact_id, M.c.entered_at))]
    if exited:
        session.execute(
            insert(H),
            [
                {"segment_id": segment.id, "contact_id": cid, "entered_at": at, "exited_at": now}
                for cid, at in exited
            ],
        )
    if not backfill:
        _record_events(uow, segment, entered, exited, now)
    segment.member_count = (
        len(matched) if contact_ids is None else repository.member_count(session, segment.id)
    )
    if contact_ids is None:
        segment.refreshed_at = now
    return SegmentChange(
        segment_id=segment.id,
        name=segment.name,
        entered=len(entered),
        exited=len(exited),
        members=segment.member_count,
    )


def _record_events(
    uow: UnitOfWork,
    segment: Segment,
    entered: list[int],
    exited: list[tuple[int, datetime]],
    now: datetime,
) -> None:
    properties = {"segment_id": segment.id, "segment": segment.name}
    rows = [
        ContactEvent(cid, SEGMENT_ENTERED, now, entered_message_id(segment.id, cid, now), properties)
        for cid in entered
    ]
    rows += [
        ContactEvent(cid, SEGMENT_EXITED, now, exited_message_id(segment.id, cid, at), properties)
        for cid, at in exited
    ]
    if rows:
        events.record_contact_events(uow, rows)


def clear_members(session: Session, segment_id: int) -> None:
    """Forget a segment's members (its definition changed beyond comparison)."""
    session.execute(M.delete().where(M.c.segment_id == segment_id))
