"""Flows, their immutable versions, runs (the durable queue of the engine) and run history."""

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mailwright.core.db import Base, BigId, JsonType, UtcDateTime

FLOW_STATUSES = ("draft", "active", "paused")
# active: waiting at `current_node` until `wake_at` (or an awaited event); the others are final.
# skipped: refused at entry by a collision rule or a filter, kept so the history explains why.
RUN_STATUSES = ("active", "completed", "exited", "skipped")


class Flow(Base):
    """A named flow; its graph lives in immutable versions, `current_version` is what new runs get."""

    __tablename__ = "flows"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="draft")
    # The library entry this flow was installed from ("abandoned_cart"), or None for a user's own.
    builtin: Mapped[str | None] = mapped_column(String(50), default=None)
    # Collision rules: the priority group and the rank within it (copied from the current version).
    group: Mapped[str | None] = mapped_column(String(50), default=None)
    priority: Mapped[int] = mapped_column(default=0)
    current_version: Mapped[int] = mapped_column(default=0)
    # Event triggers only react to events received after this moment (no flood of old events on switch-on).
    activated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    # When the periodic scan (date, condition and lifecycle triggers) last looked at this flow.
    last_scan_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class FlowVersion(Base):
    """One saved definition of a flow; never updated, an edit adds a version."""

    __tablename__ = "flow_versions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    flow_id: Mapped[int] = mapped_column(ForeignKey("flows.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column()
    definition: Mapped[dict[str, Any]] = mapped_column(JsonType)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (UniqueConstraint("flow_id", "version", name="uq_flow_versions_flow_version"),)


class FlowRun(Base):
    """One contact's pass through one version of a flow: where it is, and when it next needs the engine."""

    __tablename__ = "flow_runs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    flow_id: Mapped[int] = mapped_column(ForeignKey("flows.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column()
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    current_node: Mapped[str | None] = mapped_column(String(40), default=None)
    status: Mapped[str] = mapped_column(String(16), default="active")
    wake_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    # A wait-for-event node: the event awaited, and since when it counts.
    waiting_for: Mapped[str | None] = mapped_column(String(200), default=None)
    waiting_since: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    trigger_event_id: Mapped[int | None] = mapped_column(BigId, default=None)
    # The trigger event's name and properties, handed to every template the run sends.
    trigger: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    # What started this run ("event:123", "date:2026-11-02", "api:..."): one run per flow, contact and key.
    entry_key: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    exit_reason: Mapped[str | None] = mapped_column(String(300), default=None)
    converted: Mapped[bool] = mapped_column(default=False)
    steps: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        UniqueConstraint("flow_id", "contact_id", "entry_key", name="uq_flow_runs_flow_contact_entry"),
        # The engine's claim: due active runs, oldest first.
        Index("ix_flow_runs_status_wake_at", "status", "wake_at"),
        Index("ix_flow_runs_contact_status", "contact_id", "status"),
        Index("ix_flow_runs_flow_status", "flow_id", "status"),
    )


class FlowRunStep(Base):
    """One line of a run's history: the node, what was done, and why ("skipped: in higher-priority ...")."""

    __tablename__ = "flow_run_history"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("flow_runs.id", ondelete="CASCADE"), index=True)
    node_id: Mapped[str | None] = mapped_column(String(40), default=None)
    action: Mapped[str] = mapped_column(String(30))
    outcome: Mapped[str] = mapped_column(String(30))
    explanation: Mapped[str | None] = mapped_column(Text, default=None)
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class FlowMark(Base):
    """A value a trigger last saw for a contact (the lifecycle stage), to start runs on changes only."""

    __tablename__ = "flow_marks"

    flow_id: Mapped[int] = mapped_column(ForeignKey("flows.id", ondelete="CASCADE"), primary_key=True)
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    value: Mapped[str | None] = mapped_column(String(100), default=None)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
