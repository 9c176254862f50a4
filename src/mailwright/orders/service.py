"""Order logic: orders recorded from Order Completed, adjusted by refunds and cancellations."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import bindparam, case, delete, func, insert, select, update
from sqlalchemy.orm import Session

from mailwright.core.clock import ensure_utc
from mailwright.core.db import allocate_ids, table_of
from mailwright.orders.models import Order, OrderLine
from mailwright.orders.schemas import (
    ContactOrderTotals,
    OrderIn,
    OrderLineOut,
    OrderOut,
    OrdersSummary,
    TopProduct,
)


@dataclass(frozen=True)
class RecordedOrders:
    """Contacts whose order totals must be recomputed, and the plain additions of brand-new orders."""

    recompute: set[int]
    added: dict[int, ContactOrderTotals]


def _plus(totals: ContactOrderTotals | None, order: OrderIn) -> ContactOrderTotals:
    if totals is None:
        return ContactOrderTotals(
            contact_id=order.contact_id,
            order_count=1,
            revenue_minor=order.total_minor,
            first_order_at=order.placed_at,
            last_order_at=order.placed_at,
        )
    return ContactOrderTotals(
        contact_id=order.contact_id,
        order_count=totals.order_count + 1,
        revenue_minor=totals.revenue_minor + order.total_minor,
        first_order_at=min(d for d in (totals.first_order_at, order.placed_at) if d is not None),
        last_order_at=max(d for d in (totals.last_order_at, order.placed_at) if d is not None),
    )


def record_orders(session: Session, orders: Sequence[OrderIn], now: datetime) -> RecordedOrders:
    """Insert new orders and refresh known ones (same store id); says which contacts changed how."""
    if not orders:
        return RecordedOrders(recompute=set(), added={})
    table, lines_table = table_of(Order), table_of(OrderLine)
    latest: dict[str, OrderIn] = {o.external_id: o for o in orders}
    existing: dict[str, tuple[int, int]] = {}
    ids = list(latest)
    # Plain rows and executemany: this runs for every ingest batch with orders in it.
    for start in range(0, len(ids), 500):
        rows = session.execute(
            select(table.c.external_id, table.c.id, table.c.contact_id).where(
                table.c.external_id.in_(ids[start : start + 500])
            )
        )
        for external_id, order_id, contact_id in rows:
            existing[external_id] = (order_id, contact_id)
    touched: set[int] = set()
    added: dict[int, ContactOrderTotals] = {}
    fresh = [k for k in latest if k not in existing]
    order_ids = dict(zip(fresh, allocate_ids(session, table, len(fresh)), strict=True))
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for external_id, data in latest.items():
        values = {
            "contact_id": data.contact_id,
            "placed_at": data.placed_at,
            "currency": data.currency,
            "total_minor": data.total_minor,
            "subtotal_minor": data.subtotal_minor,
            "tax_minor": data.tax_minor,
            "shipping_minor": data.shipping_minor,
            "discount_minor": data.discount_minor,
            "coupon": data.coupon,
            "source": data.source,
            "updated_at": now,
        }
        if external_id in existing:
            order_id, previous_contact = existing[external_id]
            touched.update((previous_contact, data.contact_id))
            updates.append({"p_id": order_id, **{f"p_{k}": v for k, v in values.items()}})
        else:
            order_id = order_ids[external_id]
            added[data.contact_id] = _plus(added.get(data.contact_id), data)
            inserts.append(
                {
                    "id": order_id,
                    "external_id": external_id,
                    "status": "placed",
                    "refunded_minor": 0,
                    **values,
                }
            )
        order_ids[external_id] = order_id
    if inserts:
        session.execute(insert(table), inserts)
    if updates:
        # An updated order replaces its lines (the store sends the whole order again).
        session.execute(delete(lines_table).where(lines_table.c.order_id.in_([u["p_id"] for u in updates])))
        columns = [k[2:] for k in updates[0] if k != "p_id"]
        session.execute(
            update(table)
            .where(table.c.id == bindparam("p_id"))
            .values({c: bindparam(f"p_{c}", type_=table.c[c].type) for c in columns}),
            updates,
        )
    line_rows = [
        {"order_id": order_ids[data.external_id], **line.model_dump()}
        for data in latest.values()
        for line in data.lines
    ]
    if line_rows:
        session.execute(insert(lines_table), line_rows)
    # The ORM objects of these orders (if any were loaded) are stale now.
    session.expire_all()
    return RecordedOrders(recompute=touched, added=added)


def record_refund(session: Session, external_id: str, amount_minor: int | None, now: datetime) -> int | None:
    """Subtract a refund (the whole order when no amount is given); returns the contact, or None."""
    order = session.scalars(select(Order).where(Order.external_id == external_id)).first()
    if order is None:
        return None
    refund = order.total_minor if amount_minor is None else amount_minor
    order.refunded_minor = min(order.total_minor, order.refunded_minor + max(refund, 0))
    if order.status != "cancelled":
        order.status = "refunded" if order.refunded_minor >= order.total_minor else "partially_refunded"
    order.updated_at = now
    return order.contact_id


def record_cancellation(session: Session, external_id: str, now: datetime) -> int | None:
    """Mark an order cancelled so it no longer counts; returns the contact, or None."""
    order = session.scalars(select(Order).where(Order.external_id == external_id)).first()
    if order is None:
        return None
    order.status = "cancelled"
    order.updated_at = now
    return order.contact_id


def totals_for(session: Session, contact_ids: Iterable[int]) -> list[ContactOrderTotals]:
    """Order count, revenue net of refunds, first and last order time, per contact."""
    wanted = sorted(set(contact_ids))
    counted = Order.status != "cancelled"
    result: dict[int, ContactOrderTotals] = {
        cid: ContactOrderTotals(
            contact_id=cid, order_count=0, revenue_minor=0, first_order_at=None, last_order_at=None
        )
        for cid in wanted
    }
    for start in range(0, len(wanted), 500):
        rows = session.execute(
            select(
                Order.contact_id,
                func.count(Order.id),
                func.coalesce(func.sum(Order.total_minor - Order.refunded_minor), 0),
                func.min(Order.placed_at),
                func.max(Order.placed_at),
            )
            .where(Order.contact_id.in_(wanted[start : start + 500]), counted)
            .group_by(Order.contact_id)
        )
        for contact_id, count, revenue, first, last in rows:
            result[contact_id] = ContactOrderTotals(
                contact_id=contact_id,
                order_count=int(count),
                revenue_minor=int(revenue),
                first_order_at=_aware(first),
                last_order_at=_aware(last),
            )
    return list(result.values())


def reassign_contact(session: Session, source_id: int, target_id: int) -> None:
    """Move a merged profile's orders to the surviving profile."""
    session.execute(update(Order).where(Order.contact_id == source_id).values(contact_id=target_id))


def list_orders(
    session: Session, *, contact_id: int | None = None, limit: int = 50, offset: int = 0
) -> list[OrderOut]:
    """Orders newest first, with their lines."""
    stmt = select(Order).order_by(Order.placed_at.desc(), Order.id.desc()).limit(limit).offset(offset)
    if contact_id is not None:
        stmt = stmt.where(Order.contact_id == contact_id)
    orders = list(session.scalars(stmt))
    lines: dict[int, list[OrderLineOut]] = {o.id: [] for o in orders}
    if orders:
        for line in session.scalars(
            select(OrderLine).where(OrderLine.order_id.in_(list(lines))).order_by(OrderLine.id)
        ):
            lines[line.order_id].append(OrderLineOut.model_validate(line))
    return [OrderOut.model_validate(o).model_copy(update={"lines": lines[o.id]}) for o in orders]


def best_selling(session: Session, *, since: datetime, until: datetime, top: int) -> list[str]:
    """Store ids of the products sold most (by units) in orders placed in [since, until), best first."""
    units = func.sum(OrderLine.quantity)
    placed = select(Order.id).where(
        Order.status != "cancelled", Order.placed_at >= since, Order.placed_at < until
    )
    rows = session.execute(
        select(OrderLine.product_external_id, units)
        .where(OrderLine.order_id.in_(placed), OrderLine.product_external_id.is_not(None))
        .group_by(OrderLine.product_external_id)
        .order_by(units.desc(), OrderLine.product_external_id)
        .limit(top)
    )
    return [str(external_id) for external_id, _ in rows]


def summary(session: Session, *, top: int = 10) -> OrdersSummary:
    """Orders, buying and repeat customers, revenue and best sellers, for the shop owner's first look."""
    counted = Order.status != "cancelled"
    orders, revenue, first, last = session.execute(
        select(
            func.count(Order.id),
            func.coalesce(func.sum(Order.total_minor - Order.refunded_minor), 0),
            func.min(Order.placed_at),
            func.max(Order.placed_at),
        ).where(counted)
    ).one()
    per_contact = (
        select(Order.contact_id, func.count(Order.id).label("n")).where(counted).group_by(Order.contact_id)
    ).subquery()
    buyers, repeaters = session.execute(
        select(func.count(), func.coalesce(func.sum(case((per_contact.c.n > 1, 1), else_=0)), 0))
    ).one()
    currency = session.scalar(
        select(Order.currency).group_by(Order.currency).order_by(func.count().desc()).limit(1)
    )
    units = func.sum(OrderLine.quantity)
    best = session.execute(
        select(
            OrderLine.product_external_id,
            func.max(OrderLine.title),
            units,
            func.sum(OrderLine.quantity * OrderLine.price_minor),
        )
        .join(Order, Order.id == OrderLine.order_id)
        .where(counted)
        .group_by(OrderLine.product_external_id)
        .order_by(units.desc())
        .limit(top)
    )
    return OrdersSummary(
        orders=int(orders),
        customers_with_orders=int(buyers),
        repeat_customers=int(repeaters),
        revenue_minor=int(revenue),
        currency=currency,
        first_order_at=_aware(first),
        last_order_at=_aware(last),
        top_products=[
            TopProduct(product_external_id=pid, title=title, units=int(u), revenue_minor=int(r))
            for pid, title, u, r in best
        ],
    )


def top_products(
    session: Session, *, by: Literal["units", "revenue"] = "revenue", limit: int = 10
) -> list[TopProduct]:
    """Best sellers by units or by revenue (cancelled orders excluded)."""
    units = func.sum(OrderLine.quantity)
    revenue = func.sum(OrderLine.quantity * OrderLine.price_minor)
    ranked = (revenue, units) if by == "revenue" else (units, revenue)
    rows = session.execute(
        select(OrderLine.product_external_id, func.max(OrderLine.title), units, revenue)
        .join(Order, Order.id == OrderLine.order_id)
        .where(Order.status != "cancelled")
        .group_by(OrderLine.product_external_id)
        .order_by(ranked[0].desc(), ranked[1].desc(), OrderLine.product_external_id)
        .limit(limit)
    )
    return [
        TopProduct(product_external_id=pid, title=title, units=int(u), revenue_minor=int(r))
        for pid, title, u, r in rows
    ]


def _aware(value: datetime | None) -> datetime | None:
    # Aggregates bypass the column type on SQLite, so min/max come back naive (or as text).
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return ensure_utc(value)
