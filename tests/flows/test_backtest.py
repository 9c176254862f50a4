"""The backtest replays stored history through a flow without sending anything."""

from datetime import timedelta

from sqlalchemy import func, select
from tests.flows.conftest import Shop

from mailwright.delivery.models import OutboxMessage
from mailwright.flows import backtest
from mailwright.flows.models import FlowRun


def test_backtest_counts_entries_emails_goals_and_collisions_and_sends_nothing(shop: Shop) -> None:
    start = shop.runtime.clock.now()
    for user in ("ann", "bob", "cat", "dan"):
        shop.customer(user)
    # History recorded while no flow was on.
    shop.track("ann", "Product Added", product_id="tent-1", name="Tent", price=120)
    shop.track("bob", "Product Added", product_id="tent-1", name="Tent", price=120)
    shop.runtime.clock.advance(timedelta(hours=2))
    shop.order("bob", "b-1")
    shop.track("cat", "Product Added", product_id="tent-1", name="Tent", price=120)
    shop.runtime.clock.advance(timedelta(minutes=5))
    shop.track("cat", "Checkout Started", checkout_url="https://shop.example.com/c/1")
    shop.runtime.clock.advance(timedelta(days=3))
    shop.install("abandoned_cart", "abandoned_checkout")
    shop.runtime_pause("Abandoned cart")
    report = backtest.backtest(shop.runtime, "Abandoned cart", start, start + timedelta(days=2))
    assert report.contacts_entered == 3
    assert report.goal_exits == 1  # bob ordered after two hours
    assert report.collisions == 1  # cat went on to the checkout flow
    per_node = {n.node_id: n.count for n in report.emails_per_node}
    # Ann only: the first reminder from one arm of the flow's A/B test (every send node is listed), then the second.
    assert per_node["cart_1"] + per_node["cart_1_discount"] == 1 and per_node["cart_2"] == 1
    assert sum(per_node.values()) == 2
    with shop.runtime.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
        assert uow.session.scalar(select(func.count()).select_from(FlowRun)) == 0
    assert shop.flow("Abandoned cart").status == "paused"
