"""Who a campaign reaches and what they did: segments, contacts and events, through their services.

The snapshot is taken when the campaign starts: the segments are refreshed first, so a contact who
joined after the last refresh is in and one who left is out; then members of any target segment,
minus members of any exclusion segment, minus contacts who cannot get marketing mail anyway (not
subscribed, suppressed, merged away). Delivery's guards still run when each message is sent.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from mailwright.campaigns.scheduling import RecipientTiming, zone_of
from mailwright.contacts import service as contacts
from mailwright.core.errors import NotFound
from mailwright.core.uow import UnitOfWork
from mailwright.events import service as events
from mailwright.events.vocabulary import EMAIL_CLICKED, EMAIL_OPENED, ORDER_COMPLETED
from mailwright.segments import service as segments

# The shop-wide best hour looks at this many of the most recent clicks.
SHOP_CLICKS_SAMPLE = 20_000
_PAGE = 2_000


@dataclass(frozen=True)
class Audience:
    """The snapshot's contact ids (sorted) and how many were left out, by reason."""

    contact_ids: list[int]
    counts: dict[str, int]


def check_segments(session: Session, segment_ids: Sequence[int], field_name: str) -> None:
    """NotFound naming the field when one of the segments does not exist."""
    for index, segment_id in enumerate(segment_ids):
        try:
            segments.get_segment(session, segment_id)
        except NotFound as exc:
            raise NotFound(f"no segment with id {segment_id}", field=f"{field_name}[{index}]") from exc


def snapshot(uow: UnitOfWork, include: Sequence[int], exclude: Sequence[int]) -> Audience:
    """The recipients as of now: refreshed target segments minus exclusions minus the unmailable."""
    wanted = sorted(set(include) | set(exclude))
    segments.refresh_segments(uow, segment_ids=wanted)
    targeted = segments.member_ids(uow.session, list(include))
    excluded = segments.member_ids(uow.session, list(exclude)) if exclude else set()
    candidates = sorted(targeted - excluded)
    marketable = segments.marketable_ids(uow, candidates)
    return Audience(
        contact_ids=sorted(marketable),
        counts={
            "segment_members": len(targeted),
            "excluded_by_segment": len(targeted & excluded),
            "not_marketable": len(candidates) - len(marketable),
        },
    )


def timings(session: Session, contact_ids: Sequence[int], *, with_predictions: bool) -> list[RecipientTiming]:
    """Each recipient's time zone and, when asked, predicted best hour of the week."""
    zones = contacts.contact_timezones(session) if contact_ids else {}
    out = []
    for contact_id in contact_ids:
        hour = None
        if with_predictions:
            predictions = contacts.get_predictions(session, contact_id)
            hour = predictions.best_send_hour if predictions is not None else None
        out.append(RecipientTiming(contact_id, zones.get(contact_id), hour))
    return out


def shop_click_hours(session: Session, default_timezone: str) -> list[int]:
    """The local hour of the day (in each clicker's zone) of the shop's most recent email clicks."""
    zones = contacts.contact_timezones(session)
    hours: list[int] = []
    offset = 0
    while offset < SHOP_CLICKS_SAMPLE:
        page = events.list_events(session, name=EMAIL_CLICKED, limit=_PAGE, offset=offset)
        for event in page:
            zone = zone_of(zones.get(event.contact_id), default_timezone)
            hours.append(event.occurred_at.astimezone(zone).hour)
        if len(page) < _PAGE:
            break
        offset += _PAGE
    return hours


@dataclass
class Activity:
    """Who opened (machine opens left out; a click counts as an open) or clicked their campaign message, and who ordered after it."""

    openers: set[int] = field(default_factory=set)
    clickers: set[int] = field(default_factory=set)
    # Order revenue (major units) per contact who ordered after its message's send time.
    revenue: dict[int, float] = field(default_factory=dict)


def _amount(properties: dict[str, Any]) -> float:
    for key in ("total", "revenue", "value"):
        value = properties.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return 0.0


def activity(
    session: Session, messages: Sequence[tuple[int, str, datetime]], *, since: datetime, until: datetime
) -> Activity:
    """Opens, clicks and orders of these recipients (contact id, message public id, send time)."""
    result = Activity()
    if not messages:
        return result
    message_of = {contact_id: public_id for contact_id, public_id, _ in messages}
    sent_at = {contact_id: moment for contact_id, _, moment in messages}
    contact_ids = sorted(message_of)
    revenue: dict[int, float] = defaultdict(float)
    for start in range(0, len(contact_ids), 5000):
        chunk = contact_ids[start : start + 5000]
        found = events.events_received_since(
            session, chunk, [EMAIL_OPENED, EMAIL_CLICKED, ORDER_COMPLETED], since=since
        )
        for event in found:
            if event.occurred_at > until:
                continue
            props = event.properties or {}
            if event.name == ORDER_COMPLETED:
                if event.occurred_at >= sent_at[event.contact_id]:
                    revenue[event.contact_id] += _amount(props)
                continue
            if props.get("message_id") != message_of[event.contact_id]:
                continue
            if event.name == EMAIL_OPENED and not props.get("machine_open"):
                result.openers.add(event.contact_id)
            elif event.name == EMAIL_CLICKED:
                # A click means the email was opened, even when its images (the pixel) were blocked.
                result.clickers.add(event.contact_id)
                result.openers.add(event.contact_id)
    result.revenue = dict(revenue)
    return result
