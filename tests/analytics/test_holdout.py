"""Holdout lift of a flow: who is compared, which orders count, the revenue cap; known answers."""

from datetime import timedelta

import pytest
from tests.analytics.test_splits import orders
from tests.flows.test_bandit import add_contacts

from mailwright.analytics import holdout
from mailwright.analytics.stats import mean_difference, rate_difference
from mailwright.core.clock import ManualClock
from mailwright.core.runtime import Runtime
from mailwright.flows import service
from mailwright.flows.engine import held_out
from mailwright.flows.schemas import FlowIn, StartIn
from mailwright.templates import service as templates

DEFINITION = {
    "trigger": {"type": "api"},
    "holdout_percent": 40,
    "start": "mail",
    "nodes": [{"id": "mail", "type": "send_email", "template": "newsletter"}],
}


def test_the_lift_compares_sent_and_held_out_contacts_over_their_window(
    runtime: Runtime, clock: ManualClock
) -> None:
    with runtime.uow() as uow:
        templates.install_builtins(uow, runtime.settings)
        flow_id = service.save_flow(uow, FlowIn(name="Lift", definition=DEFINITION)).id
        service.activate(uow, "Lift")
    people = add_contacts(runtime, 60, "lift")
    entered = clock.now()
    with runtime.uow() as uow:
        service.start(uow, "Lift", StartIn(contact_ids=people), request_key="first")
    service.tick(runtime.uow, clock.now())
    held = [c for c in people if held_out(flow_id, c, 40)]
    sent = [c for c in people if c not in held]
    assert 10 <= len(held) <= 40
    # Each contact enters again 3 days later: still one unit per contact, measured from the first entry.
    clock.advance(timedelta(days=3))
    with runtime.uow() as uow:
        service.start(uow, "Lift", StartIn(contact_ids=people), request_key="again")
    service.tick(runtime.uow, clock.now())

    day = timedelta(days=1)
    rows = [
        # Counted: inside 14 days of the first entry.
        (sent[0], entered + 2 * day, 5000, 0, "placed"),
        (sent[1], entered + 5 * day, 3000, 1000, "placed"),  # net of the refund: 2000
        (held[0], entered + 13 * day, 4000, 0, "placed"),
        # Not counted: before the entry, after 14 days of the first entry (though within 14 days of the
        # second), cancelled.
        (sent[2], entered - day, 9000, 0, "placed"),
        (sent[3], entered + 15 * day, 9000, 0, "placed"),
        (held[1], entered + 3 * day, 7000, 0, "cancelled"),
    ]
    orders(runtime, rows)
    with runtime.uow() as uow:
        lift = holdout.flow_lift(uow.session, flow_id, since=entered, until=clock.now() + day)
    assert (lift.n_sent, lift.n_holdout) == (len(sent), len(held))
    assert lift.conversion == rate_difference(2, len(sent), 1, len(held))
    revenue_sent = [5000, 2000] + [0] * (len(sent) - 2)
    revenue_held = [4000] + [0] * (len(held) - 1)
    cap = holdout.revenue_cap(revenue_sent + revenue_held)
    assert lift.revenue_cap_minor == pytest.approx(cap)
    expected = mean_difference([min(v, cap) for v in revenue_sent], [min(v, cap) for v in revenue_held])
    assert lift.revenue_per_recipient_minor == expected
    assert lift.incremental_revenue_minor is not None
    assert lift.incremental_revenue_minor[0] == pytest.approx(expected.difference * len(sent))


def test_the_cap_keeps_one_huge_order_from_deciding_the_comparison() -> None:
    values = [0.0] * 180 + [30.0] * 19 + [1_000_000.0]
    cap = holdout.revenue_cap(values)
    assert 30.0 <= cap < 1_000_000.0
    assert holdout.revenue_cap([]) == 0.0


def test_a_flow_without_a_holdout_says_why_there_is_no_lift(runtime: Runtime, clock: ManualClock) -> None:
    with runtime.uow() as uow:
        templates.install_builtins(uow, runtime.settings)
        flow_id = service.save_flow(
            uow, FlowIn(name="All", definition={**DEFINITION, "holdout_percent": 0})
        ).id
        service.activate(uow, "All")
    people = add_contacts(runtime, 5, "all")
    with runtime.uow() as uow:
        service.start(uow, "All", StartIn(contact_ids=people), request_key="k")
    service.tick(runtime.uow, clock.now())
    with runtime.uow() as uow:
        lift = holdout.flow_lift(
            uow.session, flow_id, since=clock.now() - timedelta(days=1), until=clock.now() + timedelta(days=1)
        )
    assert lift.conversion is None and lift.reason == "no holdout in this period"
