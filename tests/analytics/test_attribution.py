"""Orders are credited to the last clicked email within the window, and stored once."""

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from tests.conftest import START

from mailwright.analytics.attribution import attribute_orders
from mailwright.analytics.models import OrderAttribution
from mailwright.core.runtime import Runtime
from mailwright.delivery import service as delivery
from mailwright.events import service as events
from mailwright.events.schemas import ContactEvent, IncomingEvent, OrderDraft
from mailwright.templates import service as templates


def _customer(runtime: Runtime, email: str) -> int:
    with runtime.uow() as uow:
        result = events.ingest(
            uow,
            [IncomingEvent(f"id-{email}", "identify", "Identify", START, "api", email=email, user_id=email)],
        )
        uow.commit()
    return result.contact_ids[0]


def _message(runtime: Runtime, contact_id: int, key: str, source_id: str) -> str:
    with runtime.uow() as uow:
        templates.install_builtins(uow, runtime.settings)
        queued = delivery.enqueue(
            uow,
            contact_id=contact_id,
            template_name="newsletter",
            idempotency_key=key,
            source_kind="flow",
            source_id=source_id,
        )
        uow.commit()
    return queued.public_id


def _touch(
    runtime: Runtime, contact_id: int, name: str, public_id: str, at: datetime, **extra: object
) -> None:
    with runtime.uow() as uow:
        events.record_contact_events(
            uow,
            [
                ContactEvent(
                    contact_id,
                    name,
                    at,
                    f"{name}:{public_id}:{at.isoformat()}",
                    {"message_id": public_id, **extra},
                )
            ],
            notify=False,
        )
        uow.commit()


def _order(runtime: Runtime, email: str, order_id: str, at: datetime, total_minor: int) -> None:
    with runtime.uow() as uow:
        events.ingest(
            uow,
            [
                IncomingEvent(
                    f"order-{order_id}",
                    "track",
                    "Order Completed",
                    at,
                    "api",
                    user_id=email,
                    order=OrderDraft(external_id=order_id, currency="GBP", total_minor=total_minor),
                )
            ],
        )
        uow.commit()


def _attributions(runtime: Runtime) -> dict[int, OrderAttribution]:
    with runtime.uow() as uow:
        rows = uow.session.scalars(select(OrderAttribution)).all()
        return {row.revenue_minor: row for row in rows}


@pytest.mark.parametrize(
    ("clicks_before_order", "opens_before_order", "attribute_opens", "expected"),
    [
        # The last click inside the 5-day window wins, even when an earlier click came from another flow.
        ([("cart", 100), ("welcome", 30)], [], False, ("click", "welcome")),
        # A click 6 days before the order is outside the window: nothing is credited.
        ([("cart", 6 * 24)], [], False, ("none", None)),
        # Opens count only when switched on, and a click in its window beats a later open.
        ([], [("cart", 2)], False, ("none", None)),
        ([], [("cart", 2)], True, ("open", "cart")),
        ([("welcome", 48)], [("cart", 2)], True, ("click", "welcome")),
    ],
)
def test_last_touch_in_the_window_gets_the_order(
    runtime: Runtime,
    clicks_before_order: list[tuple[str, int]],
    opens_before_order: list[tuple[str, int]],
    attribute_opens: bool,
    expected: tuple[str, str | None],
) -> None:
    runtime.settings.attribute_opens = attribute_opens
    contact = _customer(runtime, "ann@example.com")
    placed = START + timedelta(days=10)
    messages = {flow: _message(runtime, contact, f"k-{flow}", f"{flow}:send") for flow in ("cart", "welcome")}
    for flow, hours in clicks_before_order:
        _touch(
            runtime,
            contact,
            "Email Clicked",
            messages[flow],
            placed - timedelta(hours=hours),
            url="https://s.test/",
        )
    for flow, hours in opens_before_order:
        _touch(
            runtime,
            contact,
            "Email Opened",
            messages[flow],
            placed - timedelta(hours=hours),
            machine_open=False,
        )
    _order(runtime, "ann@example.com", "o-1", placed, 4200)
    with runtime.uow() as uow:
        run = attribute_orders(uow, runtime.settings)
        uow.commit()
    assert run.orders == 1
    row = _attributions(runtime)[4200]
    touch, flow = expected
    assert row.touch == touch
    assert row.source_id == (f"{flow}:send" if flow else None)
    assert row.message_public_id == (messages[flow] if flow else None)


def test_machine_opens_and_bot_clicks_earn_nothing_and_a_second_run_changes_nothing(runtime: Runtime) -> None:
    runtime.settings.attribute_opens = True
    contact = _customer(runtime, "bo@example.com")
    placed = START + timedelta(days=3)
    public_id = _message(runtime, contact, "k-1", "cart:send")
    _touch(runtime, contact, "Email Opened", public_id, placed - timedelta(hours=1), machine_open=True)
    _touch(runtime, contact, "Email Clicked", public_id, placed - timedelta(hours=1), bot=True)
    _order(runtime, "bo@example.com", "o-2", placed, 1000)
    for _ in range(2):
        with runtime.uow() as uow:
            attribute_orders(uow, runtime.settings)
            uow.commit()
    rows = _attributions(runtime)
    assert list(rows) == [1000]
    assert rows[1000].touch == "none"
