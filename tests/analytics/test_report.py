"""The report's numbers on a small shop with known answers: sends, engagement, bounces, orders, revenue."""

from datetime import timedelta
from itertools import count
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mailwright.analytics.service import build_report
from mailwright.core.clock import ManualClock
from mailwright.core.runtime import Runtime
from mailwright.core.settings import Settings
from mailwright.delivery import service as delivery
from mailwright.delivery.senders.fake import FakeSender
from mailwright.events import service as events
from mailwright.events.schemas import ContactEvent, IncomingEvent, OrderDraft
from mailwright.templates import service as templates
from mailwright.templates.library import builtin_templates

_n = count(1)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "sender": "fake",
            "quiet_hours_start": 0,
            "quiet_hours_end": 0,
            "public_url": "https://shop.test",
        }
    )


def _contact(runtime: Runtime, email: str) -> int:
    with runtime.uow() as uow:
        result = events.ingest(
            uow,
            [
                IncomingEvent(
                    f"id-{email}",
                    "identify",
                    "Identify",
                    uow.now(),
                    "api",
                    user_id=email,
                    email=email,
                    profile={"email": email},
                    consent="subscribed",
                    consent_at=uow.now(),
                )
            ],
        )
    return result.contact_ids[0]


def _event(runtime: Runtime, contact: int, name: str, public_id: str, **props: object) -> None:
    with runtime.uow() as uow:
        events.record_contact_events(
            uow, [ContactEvent(contact, name, uow.now(), f"t-{next(_n)}", {"message_id": public_id, **props})]
        )


def _order(runtime: Runtime, email: str, total_minor: int) -> None:
    with runtime.uow() as uow:
        events.ingest(
            uow,
            [
                IncomingEvent(
                    f"o-{next(_n)}",
                    "track",
                    "Order Completed",
                    uow.now(),
                    "api",
                    user_id=email,
                    order=OrderDraft(
                        external_id=f"order-{next(_n)}", currency="GBP", total_minor=total_minor
                    ),
                )
            ],
        )


def test_report_counts_what_each_flow_and_campaign_earned(
    runtime: Runtime, clock: ManualClock, client: TestClient, admin_token: str
) -> None:
    with runtime.uow() as uow:
        for template in builtin_templates():
            if template.name in ("welcome_1", "newsletter"):
                templates.save_template(uow, template, runtime.settings, builtin=True)
    people = {name: _contact(runtime, f"{name}@example.com") for name in ("ann", "bob", "cat", "dan")}
    public: dict[str, str] = {}
    with runtime.uow() as uow:
        for name in ("ann", "bob", "cat"):
            public[name] = delivery.enqueue(
                uow,
                contact_id=people[name],
                template_name="welcome_1",
                idempotency_key=f"flow-{name}",
                source_kind="flow",
                source_id="7:cart_1",
            ).public_id
        public["dan"] = delivery.enqueue(
            uow,
            contact_id=people["dan"],
            template_name="newsletter",
            idempotency_key="campaign-dan",
            source_kind="campaign",
            source_id="3:a",
        ).public_id
    sent = delivery.send_due(runtime, worker_id="test", sender=FakeSender())
    assert sent.sent == 4
    clock.advance(timedelta(hours=1))
    _event(runtime, people["ann"], "Email Opened", public["ann"], machine_open=True)
    _event(runtime, people["bob"], "Email Opened", public["bob"], machine_open=False)
    _event(runtime, people["bob"], "Email Clicked", public["bob"], url="https://shop.test/cart")
    _event(runtime, people["bob"], "Email Clicked", public["bob"], url="https://shop.test/cart")
    _event(runtime, people["cat"], "Email Bounced", public["cat"], bounce_type="hard", status="5.1.1")
    _event(runtime, people["dan"], "Email Opened", public["dan"], machine_open=False)
    _event(runtime, people["dan"], "Unsubscribed", public["dan"], method="one_click")
    clock.advance(timedelta(days=1))
    _order(runtime, "bob@example.com", 5000)  # a day after his click: the cart flow earns it
    _order(runtime, "ann@example.com", 3000)  # no click: nobody earns it
    clock.advance(timedelta(days=1))

    with runtime.uow() as uow:
        report = build_report(uow, runtime.settings)
    flow = {r.key: r for r in report.by_flow}["7"]
    assert (flow.sent, flow.delivered, flow.bounced_hard) == (3, 2, 1)
    assert (flow.unique_opens, flow.machine_opens, flow.unique_clicks) == (1, 1, 1)
    assert (flow.conversions, flow.revenue_minor) == (1, 5000)
    assert flow.rates["click_to_open_rate"] == 1.0
    assert flow.rates["revenue_per_recipient_minor"] == 2500.0
    campaign = {r.key: r for r in report.by_campaign}["3"]
    assert (campaign.sent, campaign.unique_opens, campaign.unsubscribes, campaign.conversions) == (1, 1, 1, 0)
    assert [r.key for r in report.by_variant] == ["3:a"]
    assert {r.key: r.sent for r in report.by_template} == {"welcome_1": 3, "newsletter": 1}
    totals = {r.key: r for r in report.totals}
    assert totals["flow"].revenue_minor + totals["campaign"].revenue_minor == 5000

    # The API answers with the same numbers.
    response = client.get("/api/v1/analytics/report", headers={"Authorization": f"Bearer {admin_token}"})
    assert response.status_code == 200
    by_flow = {r["key"]: r for r in response.json()["by_flow"]}
    assert by_flow["7"]["revenue_minor"] == 5000 and by_flow["7"]["unique_clicks"] == 1
    per_day = client.get(
        "/api/v1/analytics/metrics?dimension=template&by_day=true",
        headers={"Authorization": f"Bearer {admin_token}"},
    )
    assert per_day.status_code == 200
    assert {(r["key"], r["sent"]) for r in per_day.json()} == {("welcome_1", 3), ("newsletter", 1)}
    assert all(r["day"] == "2026-11-02" for r in per_day.json())


def test_report_refuses_a_flow_and_a_campaign_at_once(client: TestClient, admin_token: str) -> None:
    response = client.get(
        "/api/v1/analytics/report?flow_id=1&campaign_id=2", headers={"Authorization": f"Bearer {admin_token}"}
    )
    assert response.status_code == 400
    assert response.json()["field"] == "campaign"


def test_metrics_refuse_an_unknown_dimension(client: TestClient, admin_token: str) -> None:
    response = client.get(
        "/api/v1/analytics/metrics?dimension=colour", headers={"Authorization": f"Bearer {admin_token}"}
    )
    assert response.status_code == 400
    assert response.json()["field"] == "dimension"


def test_cli_checks_the_estimators_on_hillstrom(shared_data) -> None:  # type: ignore[no-untyped-def]
    import json

    from typer.testing import CliRunner

    from mailwright.cli.app import app

    result = CliRunner().invoke(
        app, ["report", "hillstrom", str(shared_data / "hillstrom" / "hillstrom.csv"), "--json"]
    )
    assert result.exit_code == 0, result.output
    rows = {(r["arm"], r["outcome"]): r for r in json.loads(result.output)}
    women = rows[("Womens E-Mail", "visit")]
    assert round(women["emailed"], 4) == 0.1514 and round(women["no_email"], 4) == 0.1062
    assert women["low"] < women["difference"] < women["high"]


def test_segment_metrics_count_the_recipients_segments_when_sent(
    runtime: Runtime, clock: ManualClock
) -> None:
    from mailwright.segments.models import Segment, SegmentMembership, SegmentMembershipHistory

    with runtime.uow() as uow:
        templates.save_template(
            uow,
            next(t for t in builtin_templates() if t.name == "newsletter"),
            runtime.settings,
            builtin=True,
        )
    people = {name: _contact(runtime, f"{name}@example.com") for name in ("eli", "fay", "gus")}
    now = clock.now()
    with runtime.uow() as uow:
        vip = Segment(name="VIP", definition={}, created_at=now, updated_at=now)
        uow.session.add(vip)
        uow.session.flush()
        # eli: a VIP now, since before the send; fay: was a VIP, left before the send; gus: joins after it.
        uow.session.add(SegmentMembership(segment_id=vip.id, contact_id=people["eli"], entered_at=now))
        uow.session.add(
            SegmentMembershipHistory(
                segment_id=vip.id,
                contact_id=people["fay"],
                entered_at=now - timedelta(days=9),
                exited_at=now - timedelta(days=2),
            )
        )
        uow.session.add(
            SegmentMembership(
                segment_id=vip.id, contact_id=people["gus"], entered_at=now + timedelta(hours=5)
            )
        )
        for name, contact in people.items():
            delivery.enqueue(
                uow,
                contact_id=contact,
                template_name="newsletter",
                idempotency_key=f"seg-{name}",
                source_kind="campaign",
                source_id="9:a",
            )
    clock.advance(timedelta(hours=1))
    assert delivery.send_due(runtime, worker_id="test", sender=FakeSender()).sent == 3
    clock.advance(timedelta(days=1))
    with runtime.uow() as uow:
        report = build_report(uow, runtime.settings)
    assert [(row.name, row.sent) for row in report.by_segment] == [("VIP", 1)]


def test_the_html_report_from_the_cli_has_the_customer_pictures(
    fresh_database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from mailwright.cli.app import app
    from mailwright.cli.imports import open_runtime

    monkeypatch.setenv("MAILWRIGHT_DATABASE_URL", fresh_database_url)
    with open_runtime(Settings(database_url=fresh_database_url)) as runtime:
        for email in ("ivy@example.com", "jon@example.com"):
            _contact(runtime, email)
            _order(runtime, email, 2500)
    path = tmp_path / "report.html"
    result = CliRunner().invoke(app, ["report", "--html", str(path)])
    assert result.exit_code == 0, result.output
    html = path.read_text()
    assert "Retention by monthly cohort" in html and "Revenue per customer by monthly cohort" in html
    assert (tmp_path / "report_charts" / "cohorts_retention.png").stat().st_size > 1000
    assert "<h2>Segments</h2>" in html and "<h2>Holdout lift</h2>" in html
