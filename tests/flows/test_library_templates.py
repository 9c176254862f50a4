"""Every email of the library flows renders with the trigger its flow really gets (stores say little)."""

from typing import Any

import pytest

from mailwright.core.runtime import Runtime
from mailwright.flows.engine import event_context
from mailwright.flows.library import builtin_flows
from mailwright.flows.schemas import EventTrigger, FlowDefinition, SendEmailNode
from mailwright.templates import service as templates

# What a store's events carry at the least (an Online Retail order has no subtotal, shipping, tax or discount).
SPARSE: dict[str, dict[str, Any]] = {
    "Order Completed": {
        "order_id": "541431",
        "total": 77.5,
        "currency": "GBP",
        "products": [{"product_id": "23166", "name": "Storage jar", "price": 1.04, "quantity": 3}],
    },
    "Product Added": {"product_id": "23166", "name": "Storage jar", "price": 1.04},
    "Product Viewed": {"product_id": "23166", "name": "Storage jar", "price": 1.04},
    "Checkout Started": {"checkout_url": "https://shop.test/checkout/1", "products": []},
}


def _sends() -> list[tuple[str, str, dict[str, Any]]]:
    cases = []
    for key, flow in builtin_flows({"win_back_days": 90, "win_back_until_days": 270}):
        definition = FlowDefinition.model_validate(flow.definition)
        trigger = definition.trigger
        # Date, segment and lifecycle triggers carry no product or order: an empty event.
        name = trigger.event if isinstance(trigger, EventTrigger) else "Date Reached"
        trigger_event = {"name": name, "properties": SPARSE.get(name, {})}
        for node in definition.nodes:
            if isinstance(node, SendEmailNode):
                for template in [node.template] + [v.template for v in node.variants]:
                    if template:
                        cases.append((key, template, {"trigger": trigger_event, "message": node.message}))
    return cases


@pytest.mark.parametrize(
    ("flow", "template", "event"), _sends(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_each_library_email_renders_with_its_flows_sparse_trigger(
    runtime: Runtime, flow: str, template: str, event: dict[str, Any]
) -> None:
    with runtime.uow() as uow:
        templates.install_builtins(uow, runtime.settings)
        from mailwright.contacts.models import Contact

        now = uow.now()
        uow.session.add(Contact(email="lib@example.com", created_at=now, updated_at=now))
        uow.session.flush()
        # As the flow's sink builds it: the trigger's lines completed from the catalog (unknown here: None).
        context = {**event_context(uow.session, event["trigger"], {}), **event["message"]}
        rendered = templates.preview(uow, template, "lib@example.com", runtime.settings, event=context)
    assert rendered.subject and "<html" in rendered.html.lower()
