"""Email metrics per message, flow, flow node, campaign, template, variant and segment, by day.

Definitions (also in docs/metrics.md): a message counts on the day it was sent. Delivered = sent minus
bounced. Unique opens and clicks count messages, not events, and leave out machine opens (privacy proxies,
opens seconds after delivery) and bot clicks, which are reported separately. Click-to-open rate = unique
clicks / unique opens. Conversions and revenue come from the stored order attributions, so they match
every other report. A message counts in every segment its recipient was in when it was sent.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailwright.analytics.models import OrderAttribution
from mailwright.core.db import in_values
from mailwright.core.errors import InvalidInput
from mailwright.delivery.models import OutboxMessage
from mailwright.events.models import Event
from mailwright.segments.models import SegmentMembership, SegmentMembershipHistory

DIMENSIONS = ("message", "flow", "flow_node", "campaign", "variant", "template", "segment", "source")
ENGAGEMENT_EVENTS = ("Email Opened", "Email Clicked", "Email Bounced", "Unsubscribed", "Marked as Spam")
_SENT_STATUSES = ("sent", "bounced")


@dataclass
class MessageFacts:
    """What happened to one sent message."""

    public_id: str
    source_kind: str
    source_id: str | None
    template: str
    sent_at: datetime
    contact_id: int = 0
    # Ids of the segments the recipient was in at `sent_at`.
    segments: list[str] = field(default_factory=list)
    opened: bool = False
    machine_opened: bool = False
    clicked: bool = False
    bot_clicked: bool = False
    bounce: str | None = None
    unsubscribed: bool = False
    complained: bool = False
    conversions: int = 0
    revenue_minor: int = 0


@dataclass
class MetricRow:
    """One dimension value on one day (or over the whole period when `day` is None)."""

    dimension: str
    key: str
    day: str | None
    sent: int = 0
    delivered: int = 0
    bounced_hard: int = 0
    bounced_soft: int = 0
    unique_opens: int = 0
    machine_opens: int = 0
    unique_clicks: int = 0
    bot_clicks: int = 0
    unsubscribes: int = 0
    complaints: int = 0
    conversions: int = 0
    revenue_minor: int = 0
    rates: dict[str, float | None] = field(default_factory=dict)

    def add(self, facts: MessageFacts) -> None:
        """Count one message in this row."""
        self.sent += 1
        self.delivered += facts.bounce not in ("hard", "soft")
        self.bounced_hard += facts.bounce == "hard"
        self.bounced_soft += facts.bounce == "soft"
        self.unique_opens += facts.opened
        self.machine_opens += facts.machine_opened and not facts.opened
        self.unique_clicks += facts.clicked
        self.bot_clicks += facts.bot_clicked and not facts.clicked
        self.unsubscribes += facts.unsubscribed
        self.complaints += facts.complained
        self.conversions += facts.conversions
        self.revenue_minor += facts.revenue_minor

    def finish(self) -> "MetricRow":
        """Fill the rates from the counts."""

        def ratio(a: int, b: int) -> float | None:
            return round(a / b, 6) if b else None

        self.rates = {
            "open_rate": ratio(self.unique_opens, self.delivered),
            "click_rate": ratio(self.unique_clicks, self.delivered),
            "click_to_open_rate": ratio(self.unique_clicks, self.unique_opens),
            "bounce_rate": ratio(self.bounced_hard + self.bounced_soft, self.sent),
            "unsubscribe_rate": ratio(self.unsubscribes, self.delivered),
            "complaint_rate": ratio(self.complaints, self.delivered),
            "conversion_rate": ratio(self.conversions, self.delivered),
            "revenue_per_recipient_minor": ratio(self.revenue_minor, self.delivered),
        }
        return self


def _keys(facts: MessageFacts, dimension: str) -> list[str]:
    if dimension == "segment":
        return facts.segments
    key = _key(facts, dimension)
    return [] if key is None else [key]


def _key(facts: MessageFacts, dimension: str) -> str | None:
    source = facts.source_id or ""
    head, _, tail = source.partition(":")
    if dimension == "message":
        return facts.public_id
    if dimension == "template":
        return facts.template
    if dimension == "source":
        return facts.source_kind
    if dimension == "flow":
        return head if facts.source_kind == "flow" else None
    if dimension == "flow_node":
        return source if facts.source_kind == "flow" else None
    if dimension == "campaign":
        return head if facts.source_kind == "campaign" else None
    if dimension == "variant":
        return source if facts.source_kind == "campaign" and tail else None
    raise InvalidInput(f"dimension must be one of {', '.join(DIMENSIONS)}", field="dimension")


def message_facts(
    session: Session,
    since: datetime,
    until: datetime,
    *,
    source_kind: str | None = None,
    source_prefix: str | None = None,
) -> list[MessageFacts]:
    """Every message sent in [since, until) with its engagement and attributed orders."""
    stmt = select(
        OutboxMessage.public_id,
        OutboxMessage.source_kind,
        OutboxMessage.source_id,
        OutboxMessage.template_name,
        OutboxMessage.sent_at,
        OutboxMessage.contact_id,
    ).where(
        OutboxMessage.sent_at.is_not(None),
        OutboxMessage.sent_at >= since,
        OutboxMessage.sent_at < until,
        in_values(session, OutboxMessage.status, list(_SENT_STATUSES)),
    )
    if source_kind is not None:
        stmt = stmt.where(OutboxMessage.source_kind == source_kind)
    facts: dict[str, MessageFacts] = {}
    for row in session.execute(stmt):
        if source_prefix is not None and not (
            row.source_id == source_prefix or (row.source_id or "").startswith(source_prefix + ":")
        ):
            continue
        facts[row.public_id] = MessageFacts(
            row.public_id, row.source_kind, row.source_id, row.template_name, row.sent_at, row.contact_id
        )
    if not facts:
        return []
    _apply_events(session, facts, since)
    _apply_segments(session, facts)
    ids = list(facts)
    for chunk_start in range(0, len(ids), 5000):
        chunk = ids[chunk_start : chunk_start + 5000]
        attributed = select(OrderAttribution.message_public_id, OrderAttribution.revenue_minor).where(
            in_values(session, OrderAttribution.message_public_id, chunk)
        )
        for public_id, revenue in session.execute(attributed):
            if public_id is not None:
                facts[public_id].conversions += 1
                facts[public_id].revenue_minor += revenue
    return list(facts.values())


def _apply_segments(session: Session, facts: dict[str, MessageFacts]) -> None:
    """Each message's segments at send time: current stays that began before it, and finished stays around it."""
    by_contact: dict[int, list[MessageFacts]] = defaultdict(list)
    for item in facts.values():
        by_contact[item.contact_id].append(item)
    contacts = sorted(by_contact)
    for begin in range(0, len(contacts), 5000):
        chunk = contacts[begin : begin + 5000]
        current = select(
            SegmentMembership.contact_id, SegmentMembership.segment_id, SegmentMembership.entered_at
        ).where(in_values(session, SegmentMembership.contact_id, chunk))
        for contact_id, segment_id, entered in session.execute(current):
            for item in by_contact[contact_id]:
                if entered <= item.sent_at:
                    item.segments.append(str(segment_id))
        past = select(
            SegmentMembershipHistory.contact_id,
            SegmentMembershipHistory.segment_id,
            SegmentMembershipHistory.entered_at,
            SegmentMembershipHistory.exited_at,
        ).where(in_values(session, SegmentMembershipHistory.contact_id, chunk))
        for contact_id, segment_id, entered, exited in session.execute(past):
            for item in by_contact[contact_id]:
                if entered <= item.sent_at < exited and str(segment_id) not in item.segments:
                    item.segments.append(str(segment_id))


def _apply_events(session: Session, facts: dict[str, MessageFacts], since: datetime) -> None:
    stmt = select(Event.name, Event.properties).where(
        in_values(session, Event.name, list(ENGAGEMENT_EVENTS)), Event.occurred_at >= since
    )
    for name, properties in session.execute(stmt):
        props: dict[str, Any] = properties or {}
        target = facts.get(str(props.get("message_id")))
        if target is None:
            continue
        if name == "Email Opened":
            if props.get("machine_open"):
                target.machine_opened = True
            else:
                target.opened = True
        elif name == "Email Clicked":
            if props.get("bot"):
                target.bot_clicked = True
            else:
                target.clicked = True
                # A click implies the message was opened, even when the pixel was blocked.
                target.opened = True
        elif name == "Email Bounced":
            kind = props.get("bounce_type")
            if kind in ("hard", "soft") and target.bounce != "hard":
                target.bounce = str(kind)
        elif name == "Unsubscribed":
            target.unsubscribed = True
        elif name == "Marked as Spam":
            target.complained = True


def aggregate(facts: Iterable[MessageFacts], dimension: str, *, by_day: bool = False) -> list[MetricRow]:
    """Roll message facts up to one dimension, per day or over the whole period."""
    if dimension not in DIMENSIONS:
        raise InvalidInput(f"dimension must be one of {', '.join(DIMENSIONS)}", field="dimension")
    rows: dict[tuple[str, str | None], MetricRow] = defaultdict(lambda: MetricRow(dimension, "", None))
    for item in facts:
        day = item.sent_at.date().isoformat() if by_day else None
        for key in _keys(item, dimension):
            row = rows[(key, day)]
            row.key, row.day = key, day
            row.add(item)
    return [rows[k].finish() for k in sorted(rows, key=lambda k: (k[0], k[1] or ""))]
