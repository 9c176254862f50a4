"""Cart recovery flows of the library (cart, checkout, browse) and their collision rules, simulated clock."""

from tests.flows.conftest import Shop

from mailwright.delivery import service as delivery
from mailwright.delivery.senders import FakeSender

# The first reminder is an A/B test (a bandit, still splitting at random in its warm-up): either arm.
FIRST = {"abandoned_cart_1": "cart_1", "abandoned_cart_2": "cart_1_discount"}


def test_a_customer_who_abandons_a_cart_and_then_buys_gets_exactly_the_first_email(shop: Shop) -> None:
    shop.install("abandoned_cart")
    ann = shop.customer("ann")
    shop.track("ann", "Product Added", product_id="tent-1", name="Tent", price=120)
    shop.later(hours=3)
    assert shop.templates_sent(ann) == []
    shop.later(hours=1, minutes=1)
    first = shop.templates_sent(ann)
    assert len(first) == 1 and first[0] in FIRST
    shop.later(hours=2)
    shop.order("ann", "o-1")
    shop.later(hours=30)
    assert shop.templates_sent(ann) == first
    (run,) = shop.runs(ann)
    assert run.status == "completed" and run.converted and run.exit_reason == "goal: Order Completed"
    # The history says which arm of the test the run took, and the email matches it.
    (split,) = [h for h in shop.history(run.id) if h.action == "split"]
    arm = "plain reminder" if first[0] == "abandoned_cart_1" else "discount at once"
    assert split.explanation is not None and split.explanation.startswith(f"branch {arm}")


def test_a_customer_who_never_buys_gets_both_emails(shop: Shop) -> None:
    shop.install("abandoned_cart")
    bob = shop.customer("bob")
    shop.track("bob", "Product Added", product_id="tent-1", name="Tent", price=120)
    shop.later(hours=4, minutes=1)
    shop.later(hours=24)
    first, second = shop.templates_sent(bob)
    assert first in FIRST and second == "abandoned_cart_2"
    (run,) = shop.runs(bob)
    assert run.status == "completed" and not run.converted
    message = shop.outbox(bob)[0]
    node = FIRST[first]
    assert message.source_kind == "flow" and message.source_id == f"{run.flow_id}:{node}"
    assert message.idempotency_key == f"flow:{run.flow_id}:v1:run:{run.id}:node:{node}"
    assert message.context["event"]["product_id"] == "tent-1"


def test_a_customer_who_unsubscribes_in_between_gets_no_more_email(shop: Shop) -> None:
    shop.install("abandoned_cart")
    cem = shop.customer("cem")
    sender = FakeSender()
    shop.track("cem", "Product Added", product_id="tent-1", name="Tent", price=120)
    shop.later(hours=4, minutes=1)
    delivery.send_due(shop.runtime, worker_id="test", sender=sender)
    shop.customer("cem", subscribed=False)
    shop.later(hours=24)
    delivery.send_due(shop.runtime, worker_id="test", sender=sender)
    first, second = shop.outbox(cem)
    assert first.template_name in FIRST and first.status == "sent", first.last_error
    assert (second.template_name, second.status, second.skip_reason) == (
        "abandoned_cart_2",
        "skipped",
        "unsubscribed",
    )
    assert len(sender.sent) == 1


def test_abandoned_checkout_takes_over_from_the_cart_flow_with_the_recovery_link(shop: Shop) -> None:
    shop.install("abandoned_checkout", "abandoned_cart", "browse_abandonment")
    dee = shop.customer("dee")
    shop.track("dee", "Product Viewed", product_id="tent-1", name="Tent", price=120)
    shop.track("dee", "Product Added", product_id="tent-1", name="Tent", price=120)
    shop.tick()
    shop.later(minutes=10)
    shop.track(
        "dee",
        "Checkout Started",
        checkout_url="https://shop.example.com/checkout/recover/abc",
        products=[{"product_id": "tent-1", "name": "Tent", "price": 120, "quantity": 1}],
    )
    shop.tick()
    shop.later(hours=1, minutes=1)
    shop.later(hours=24)
    assert shop.templates_sent(dee) == ["abandoned_checkout", "abandoned_cart_2"]
    checkout_mail = shop.outbox(dee)[0]
    assert checkout_mail.context["event"]["checkout_url"] == "https://shop.example.com/checkout/recover/abc"
    runs = {r.flow_id: r for r in shop.runs(dee)}
    reasons = sorted(r.exit_reason or "" for r in runs.values())
    assert "exited: entered higher-priority flow Abandoned checkout" in reasons
    # The cart add moved the contact from browse abandonment to the cart flow, which outranks it.
    assert "exited: entered higher-priority flow Abandoned cart" in reasons
    # A cart add while in the checkout flow is refused at entry, and the history says why.
    shop.track("dee", "Product Added", product_id="stake-1", name="Stakes", price=9)
    shop.tick()
    shop.track("dee", "Checkout Started", checkout_url="https://shop.example.com/checkout/recover/def")
    shop.tick()
    shop.later(days=4)
    shop.track("dee", "Checkout Started", checkout_url="https://shop.example.com/checkout/recover/ghi")
    shop.track("dee", "Product Added", product_id="bag-1", name="Sleeping bag", price=60)
    shop.tick()
    skipped = [r for r in shop.runs(dee) if r.status == "skipped"]
    assert skipped and skipped[-1].exit_reason == "skipped: in higher-priority flow Abandoned checkout"
    assert [h.explanation for h in shop.history(skipped[-1].id)] == [
        "skipped: in higher-priority flow Abandoned checkout"
    ]


def test_browse_abandonment_needs_no_cart_add_within_an_hour(shop: Shop) -> None:
    shop.install("browse_abandonment")
    eve = shop.customer("eve")
    fay = shop.customer("fay")
    shop.track("eve", "Product Viewed", product_id="tent-1", name="Tent", price=120)
    shop.track("fay", "Product Viewed", product_id="tent-1", name="Tent", price=120)
    shop.tick()
    shop.later(minutes=30)
    shop.track("fay", "Product Added", product_id="tent-1", name="Tent", price=120)
    shop.later(minutes=31)
    assert shop.templates_sent(eve) == ["browse_abandonment"]
    assert shop.templates_sent(fay) == []
    (fay_run,) = shop.runs(fay)
    assert fay_run.exit_reason == "added to cart"


def test_a_customer_who_just_ordered_leaves_browse_and_cart_flows(shop: Shop) -> None:
    shop.install("abandoned_cart", "browse_abandonment")
    gus = shop.customer("gus")
    hal = shop.customer("hal")
    shop.track("gus", "Product Viewed", product_id="tent-1", name="Tent", price=120)
    shop.track("hal", "Product Added", product_id="tent-1", name="Tent", price=120)
    shop.tick()
    shop.later(minutes=20)
    shop.order("gus", "o-9")
    shop.order("hal", "o-10")
    shop.later(days=3)
    assert shop.templates_sent(gus) == [] and shop.templates_sent(hal) == []
    for contact in (gus, hal):
        assert [(r.status, r.converted, r.exit_reason) for r in shop.runs(contact)] == [
            ("completed", True, "goal: Order Completed")
        ]
