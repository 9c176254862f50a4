"""Segments: stored definitions, current membership, and the history of finished stays."""

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mailwright.core.db import Base, BigId, JsonType, UtcDateTime
from mailwright.events.models import Event


class Segment(Base):
    """A named definition (a typed tree, see schemas.py) and what its last refresh found."""

    __tablename__ = "segments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    definition: Mapped[dict[str, Any]] = mapped_column(JsonType)
    definition_version: Mapped[int] = mapped_column(Integer, default=1)
    # The built-in this segment was installed from (its key), or None for a shop's own segment.
    builtin: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # A parameterized built-in's inputs (a category, a page); its definition is rebuilt from them.
    parameters: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    member_count: Mapped[int] = mapped_column(Integer, default=0)
    refreshed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class SegmentMembership(Base):
    """A contact currently in a segment, since when."""

    __tablename__ = "segment_memberships"

    segment_id: Mapped[int] = mapped_column(ForeignKey("segments.id", ondelete="CASCADE"), primary_key=True)
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    entered_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_segment_memberships_contact_id", "contact_id"),)


class SegmentMembershipHistory(Base):
    """A finished stay of a contact in a segment (current stays are in segment_memberships)."""

    __tablename__ = "segment_membership_history"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    segment_id: Mapped[int] = mapped_column(ForeignKey("segments.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    entered_at: Mapped[datetime] = mapped_column(UtcDateTime)
    exited_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        Index("ix_segment_membership_history_segment_contact", "segment_id", "contact_id"),
        Index("ix_segment_membership_history_contact_id", "contact_id"),
    )


# Segment conditions count a contact's events of some names: this index answers them from the index
# alone (no table lookups), for one contact (event-driven updates) or for everyone (recomputes).
EVENTS_NAME_CONTACT_INDEX = Index(
    "ix_events_name_contact_occurred", Event.name, Event.contact_id, Event.occurred_at
)
