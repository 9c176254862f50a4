"""Queries over the events table."""

from collections.abc import Iterable

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mailwright.core.db import in_values
from mailwright.events.models import Event


def existing_message_ids(session: Session, message_ids: Iterable[str]) -> set[str]:
    """Which of these message ids are already stored."""
    wanted = list(set(message_ids))
    if not wanted:
        return set()
    return set(session.scalars(select(Event.message_id).where(in_values(session, Event.message_id, wanted))))


def reassign_contact(session: Session, source_id: int, target_id: int) -> None:
    """Move a merged profile's events to the surviving profile."""
    session.execute(update(Event).where(Event.contact_id == source_id).values(contact_id=target_id))


def list_events(
    session: Session,
    *,
    contact_id: int | None = None,
    name: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[Event]:
    """Events newest first, filtered by contact and name."""
    stmt = select(Event).order_by(Event.occurred_at.desc(), Event.id.desc()).limit(limit).offset(offset)
    if contact_id is not None:
        stmt = stmt.where(Event.contact_id == contact_id)
    if name is not None:
        stmt = stmt.where(Event.name == name)
    return list(session.scalars(stmt))
