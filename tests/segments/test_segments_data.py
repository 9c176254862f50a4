"""The segment benchmark's shop generator, on a tiny shop: counts, and roll-ups consistent with the rows."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from bench.segments_data import MAX_LINES, generate
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from mailwright.contacts.models import Contact, ContactIdentity
from mailwright.core.clock import ManualClock
from mailwright.core.db import Database, make_engine, table_of
from mailwright.core.uow import open_unit_of_work
from mailwright.events.models import Event
from mailwright.orders.models import Order, OrderLine
from mailwright.segments import rfm

NOW = datetime(2026, 11, 2, 9, tzinfo=UTC)


def test_a_tiny_generated_shop_is_consistent(fresh_database_url: str, shared_data: Path) -> None:
    report = generate(fresh_database_url, contacts=150, seed=3, now=NOW, data=shared_data / "online_retail")
    assert report["contacts"] == 150
    assert 0 < report["customers"] < 150
    assert report["events"] == sum(report["events_by_name"].values())
    assert report["events_by_name"]["Order Completed"] == report["orders"]
    for name in (
        "Product Viewed",
        "Product Added",
        "Checkout Started",
        "Page Viewed",
        "Email Sent",
        "Email Opened",
    ):
        assert report["events_by_name"][name] > 0, name
    database = Database(make_engine(fresh_database_url))
    try:
        with open_unit_of_work(database, ManualClock(NOW)) as uow:
            s = uow.session
            assert s.scalar(select(func.count()).select_from(Contact)) == 150
            assert s.scalar(select(func.count()).select_from(ContactIdentity)) == 300
            assert s.scalar(select(func.count()).select_from(Order)) == report["orders"]
            assert s.scalar(select(func.count()).select_from(OrderLine)) == report["order_lines"]
            assert s.scalar(select(func.count()).select_from(Event)) == report["events"]
            assert s.scalar(select(func.max(Event.occurred_at))) <= NOW
            # Every order's total is the sum of its lines, and no order has more than MAX_LINES lines.
            lines = (
                select(
                    OrderLine.order_id,
                    func.sum(OrderLine.quantity * OrderLine.price_minor).label("total"),
                    func.count().label("n"),
                )
                .group_by(OrderLine.order_id)
                .subquery()
            )
            for total, line_sum, n in s.execute(
                select(Order.total_minor, lines.c.total, lines.c.n).join(lines, lines.c.order_id == Order.id)
            ):
                assert total == line_sum and 1 <= n <= MAX_LINES
            # The roll-ups agree with the orders and events written.
            per_contact = {
                cid: (n, revenue, first, last)
                for cid, n, revenue, first, last in s.execute(
                    select(
                        Order.contact_id,
                        func.count(),
                        func.sum(Order.total_minor),
                        func.min(Order.placed_at),
                        func.max(Order.placed_at),
                    ).group_by(Order.contact_id)
                )
            }
            last_event = dict(
                s.execute(
                    select(Event.contact_id, func.max(Event.occurred_at)).group_by(Event.contact_id)
                ).all()
            )
            for c in s.scalars(select(Contact)):
                n, revenue, first, last = per_contact.get(c.id, (0, 0, None, None))
                assert (c.order_count, c.revenue_minor, c.first_order_at, c.last_order_at) == (
                    n,
                    revenue,
                    first,
                    last,
                )
                assert c.average_order_value_minor == (revenue // n if n else 0)
                assert c.last_event_at == last_event.get(c.id)
                assert c.consent_status in ("subscribed", "unsubscribed", "pending", "never_subscribed")
            machine = s.scalar(
                select(func.count())
                .select_from(Event)
                .where(Event.name == "Email Opened", Event.properties["machine_open"].as_boolean())
            )
            assert machine is not None and machine > 0
            run = rfm.recompute(s, NOW)
        assert run.customers_scored == report["customers"]
        # The unique and foreign-key constraints (rebuilt after the load on PostgreSQL) hold again.
        with database.engine.connect() as connection:
            row = connection.execute(select(table_of(Event)).limit(1)).one()._asdict()
            del row["id"]  # a new key from the table's own sequence: only the constraints can refuse the row
            with pytest.raises(IntegrityError):
                connection.execute(insert(table_of(Event)).values(row))
            connection.rollback()
            with pytest.raises(IntegrityError):
                connection.execute(
                    insert(table_of(Event)).values({**row, "message_id": "x", "contact_id": 10**9})
                )
            connection.rollback()
        with pytest.raises(ValueError, match="seed 3"):
            generate(fresh_database_url, contacts=5, seed=3, now=NOW, data=shared_data / "online_retail")
        more = generate(fresh_database_url, contacts=5, seed=4, now=NOW, data=shared_data / "online_retail")
        assert more["contacts"] == 5
        with open_unit_of_work(database, ManualClock(NOW)) as uow:
            assert uow.session.scalar(select(func.count()).select_from(Contact)) == 155
    finally:
        database.engine.dispose()
