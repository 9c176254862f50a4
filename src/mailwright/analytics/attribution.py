"""Attribution: each order is credited to the last email the customer clicked within a window before it.

Last click, not last open, by default: Apple Mail Privacy Protection and image proxies open every message
they receive, so an open says little about who bought. Opens can be switched on (`attribute_opens`, with
their own shorter window); a click in its window always wins over an open. The result is stored per
order (`order_attributions`), so every report, API and chart uses the same numbers, and the settings in
force are kept with it (`window_days`).
"""

import bisect
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import insert

from mailwright.analytics import repository
from mailwright.analytics.models import OrderAttribution
from mailwright.analytics.repository import OrderRow, Touch
from mailwright.core.db import table_of
from mailwright.core.settings import Settings
from mailwright.core.uow import UnitOfWork

CLICKED = "Email Clicked"
OPENED = "Email Opened"


@dataclass(frozen=True)
class AttributionRun:
    """How many orders were looked at and how many were credited to an email."""

    orders: int
    attributed: int


def _last_before(
    touch_list: Sequence[Touch], times: Sequence[float], at: float, window: float
) -> Touch | None:
    # The latest touch at or before the order, if it is inside the window.
    index = bisect.bisect_right(times, at) - 1
    if index < 0 or at - times[index] > window:
        return None
    return touch_list[index]


def attribute_orders(
    uow: UnitOfWork, settings: Settings, *, contact_ids: Sequence[int] | None = None, batch: int = 5000
) -> AttributionRun:
    """Attribute every order that has no attribution yet (of these contacts, or all); idempotent."""
    click_window = timedelta(days=settings.attribution_window_days)
    open_window = timedelta(days=settings.attribution_open_window_days)
    names = [CLICKED, OPENED] if settings.attribute_opens else [CLICKED]
    longest = max(click_window, open_window) if settings.attribute_opens else click_window
    total = credited = 0
    while True:
        orders = repository.unattributed_orders(uow.session, contact_ids=contact_ids, limit=batch)
        if not orders:
            break
        start = min(o.placed_at for o in orders) - longest
        end = max(o.placed_at for o in orders)
        by_contact: dict[tuple[int, str], list[Touch]] = defaultdict(list)
        for touch in repository.touches(
            uow.session, sorted({o.contact_id for o in orders}), names, start, end
        ):
            by_contact[(touch.contact_id, touch.kind)].append(touch)
        times = {key: [t.at.timestamp() for t in value] for key, value in by_contact.items()}
        winners: dict[int, Touch | None] = {}
        for order in orders:
            at = order.placed_at.timestamp()
            key = (order.contact_id, "click")
            winner = _last_before(by_contact[key], times.get(key, []), at, click_window.total_seconds())
            if winner is None and settings.attribute_opens:
                key = (order.contact_id, "open")
                winner = _last_before(by_contact[key], times.get(key, []), at, open_window.total_seconds())
            winners[order.id] = winner
        sources = repository.message_sources(
            uow.session, sorted({w.message_public_id for w in winners.values() if w is not None})
        )
        uow.session.execute(
            insert(table_of(OrderAttribution)),
            [_row(order, winners[order.id], sources, settings, uow) for order in orders],
        )
        total += len(orders)
        credited += sum(1 for o in orders if winners[o.id] is not None)
        if len(orders) < batch:
            break
    return AttributionRun(total, credited)


def _row(
    order: OrderRow,
    touch: Touch | None,
    sources: dict[str, repository.MessageSource],
    settings: Settings,
    uow: UnitOfWork,
) -> dict[str, object]:
    source = sources.get(touch.message_public_id) if touch is not None else None
    return {
        "order_id": order.id,
        "contact_id": order.contact_id,
        "placed_at": order.placed_at,
        "revenue_minor": order.revenue_minor,
        "currency": order.currency,
        "touch": touch.kind if touch is not None else "none",
        "message_public_id": touch.message_public_id if touch is not None else None,
        "source_kind": source.source_kind if source else None,
        "source_id": source.source_id if source else None,
        "template_name": source.template_name if source else None,
        "touched_at": touch.at if touch is not None else None,
        "window_days": settings.attribution_window_days,
        "attributed_at": uow.now(),
    }
