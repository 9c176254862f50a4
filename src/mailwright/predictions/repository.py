"""Read-only queries that turn the shop's orders and engagement events into the models' input frames."""

from __future__ import annotations

from collections import Counter

import pandas as pd
from babel.numbers import get_currency_precision
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailwright.core.db import table_of
from mailwright.events import vocabulary
from mailwright.events.models import Event
from mailwright.orders.models import Order, OrderLine
from mailwright.predictions.frames import TRANSACTION_COLUMNS

# Orders that did not stand (cancelled, refunded in full) teach nothing about what a customer buys.
NOT_COUNTED = ("cancelled", "refunded")
# The product id of an order stored without lines: it still counts as a purchase, never as an item.
NO_PRODUCT = ""
ENGAGEMENT_KINDS = {vocabulary.EMAIL_OPENED: "open", vocabulary.EMAIL_CLICKED: "click"}


def shop_currency(session: Session, default: str) -> str:
    """The currency most orders are in (the models read every amount as this one)."""
    orders = table_of(Order)
    counts = Counter(
        {
            str(currency): int(n)
            for currency, n in session.execute(
                select(orders.c.currency, func.count()).group_by(orders.c.currency)
            )
        }
    )
    return counts.most_common(1)[0][0] if counts else default


def transactions(session: Session, currency: str) -> pd.DataFrame:
    """One row per order line of every standing order (see `frames.TRANSACTION_COLUMNS`), in major units.

    Customer ids are contact ids as text, product ids are store product ids. An order stored without
    lines becomes one row with an empty product id so its revenue and timing still count.
    """
    orders, lines = table_of(Order), table_of(OrderLine)
    stmt = (
        select(
            orders.c.contact_id,
            orders.c.id,
            orders.c.placed_at,
            orders.c.total_minor,
            lines.c.product_external_id,
            lines.c.category,
            lines.c.quantity,
            lines.c.price_minor,
        )
        .select_from(orders.outerjoin(lines, lines.c.order_id == orders.c.id))
        .where(orders.c.status.not_in(NOT_COUNTED))
    )
    rows = session.execute(stmt).all()
    columns = [
        "customer_id",
        "order_id",
        "ordered_at",
        "total",
        "product_id",
        "category",
        "quantity",
        "price",
    ]
    frame = pd.DataFrame(rows, columns=columns)
    if frame.empty:
        return pd.DataFrame(
            {
                "customer_id": pd.Series(dtype=str),
                "order_id": pd.Series(dtype=str),
                "ordered_at": pd.Series(dtype="datetime64[ns, UTC]"),
                "revenue": pd.Series(dtype=float),
                "product_id": pd.Series(dtype=str),
                "category": pd.Series(dtype=str),
                "quantity": pd.Series(dtype=float),
            }
        )
    scale = float(10 ** get_currency_precision(currency))
    no_lines = frame["quantity"].isna()
    quantity = frame["quantity"].fillna(1.0).astype(float)
    line_revenue = quantity * frame["price"].fillna(0.0).astype(float)
    frame["revenue"] = line_revenue.where(~no_lines, frame["total"].astype(float)) / scale
    frame["quantity"] = quantity
    frame["product_id"] = frame["product_id"].fillna(NO_PRODUCT).astype(str)
    frame["category"] = frame["category"].fillna("").astype(str)
    frame["customer_id"] = frame["customer_id"].astype(str)
    frame["order_id"] = frame["order_id"].astype(str)
    frame["ordered_at"] = pd.to_datetime(frame["ordered_at"], utc=True)
    return frame.loc[:, list(TRANSACTION_COLUMNS)]


def engagement_events(session: Session) -> pd.DataFrame:
    """Email opens and clicks as (contact_id, occurred_at, kind) rows for the send-time model."""
    events = table_of(Event)
    rows = session.execute(
        select(events.c.contact_id, events.c.occurred_at, events.c.name).where(
            events.c.name.in_(list(ENGAGEMENT_KINDS))
        )
    ).all()
    frame = pd.DataFrame(rows, columns=["contact_id", "occurred_at", "kind"])
    frame["contact_id"] = frame["contact_id"].astype(str)
    frame["occurred_at"] = pd.to_datetime(frame["occurred_at"], utc=True)
    frame["kind"] = frame["kind"].map(ENGAGEMENT_KINDS)
    return frame
