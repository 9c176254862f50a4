"""The engine: versioning, pause/resume, splits, waits in local time, awaited events, webhooks, the API."""

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.flows.conftest import Shop

from mailwright.contacts.models import Contact
from mailwright.core.errors import Conflict
from mailwright.flows import service
from mailwright.flows.engine import held_out, next_local_time, pick_weighted
from mailwright.flows.schemas import StartIn
from mailwright.templates import coupons

ADDED = {"type": "event", "event": "Product Added"}


def two_step(template_1: str = "abandoned_cart_1", template_2: str = "abandoned_cart_2") -> dict[str, Any]:
    return {
        "trigger": ADDED,
        "entry": {"mode": "again_after", "again_after_days": 0.01},
        "start": "first",
        "nodes": [
            {"id": "first", "type": "send_email", "template": template_1, "next": "wait"},
            {"id": "wait", "type": "wait", "hours": 2, "next": "second"},
            {"id": "second", "type": "send_email", "template": template_2},
        ],
    }


def test_runs_in_flight_stay_on_their_version_and_new_runs_get_the_new_one(shop: Shop) -> None:
    shop.save("Two step", two_step())
    ann = shop.customer("ann")
    bob = shop.customer("bob")
    shop.track("ann", "Product Added", product_id="p1")
    shop.tick()
    shop.save("Two step", two_step(template_2="win_back_2"))
    assert shop.flow("Two step").version == 2
    shop.track("bob", "Product Added", product_id="p1")
    shop.tick()
    shop.later(hours=2, minutes=1)
    assert shop.templates_sent(ann) == ["abandoned_cart_1", "abandoned_cart_2"]
    assert shop.templates_sent(bob) == ["abandoned_cart_1", "win_back_2"]
    assert [r.version for r in shop.runs(ann)] == [1] and [r.version for r in shop.runs(bob)] == [2]
    # Saving the same definition again adds no version.
    shop.save("Two step", two_step(template_2="win_back_2"))
    assert shop.flow("Two step").version == 2


def test_pausing_holds_runs_where_they_are_and_resuming_continues_them(shop: Shop) -> None:
    shop.save("Two step", two_step())
    cat = shop.customer("cat")
    dan = shop.customer("dan")
    shop.track("cat", "Product Added", product_id="p1")
    shop.tick()
    shop.runtime_pause("Two step")
    shop.track("dan", "Product Added", product_id="p1")  # no new run while paused
    shop.later(hours=5)
    assert shop.templates_sent(cat) == ["abandoned_cart_1"]
    (run,) = shop.runs(cat)
    assert (run.status, run.current_node) == ("active", "wait")
    assert shop.runs(dan) == []
    with shop.runtime.uow() as uow:
        service.activate(uow, "Two step")
    shop.tick()
    assert shop.templates_sent(cat) == ["abandoned_cart_1", "abandoned_cart_2"]


@pytest.mark.parametrize(
    ("nodes", "field", "node", "message"),
    [
        (
            [{"id": "a", "type": "send_email", "template": "welcome_1", "next": "nowhere"}],
            "definition.nodes[0].next",
            "a",
            "dangling edge",
        ),
        (
            [
                {"id": "a", "type": "send_email", "template": "welcome_1"},
                {"id": "lost", "type": "send_email", "template": "welcome_2"},
            ],
            "definition.nodes[1]",
            "lost",
            "unreachable",
        ),
        ([{"id": "a", "type": "send_email"}], "definition.nodes[0].template", "a", "has no template"),
        (
            [{"id": "a", "type": "send_email", "template": "no_such_template"}],
            "definition.nodes[0].template",
            "a",
            "unknown template 'no_such_template'",
        ),
        (
            [
                {"id": "a", "type": "send_email", "template": "welcome_1", "next": "b"},
                {"id": "b", "type": "update_profile", "add_tags": ["x"], "next": "a"},
            ],
            "definition.nodes[0]",
            "a",
            "loop without a wait: a -> b -> a",
        ),
        (
            [{"id": "a", "type": "wait", "hours": 1, "nxt": "b"}],
            "definition.nodes[0].next",
            "a",
            "Field required",
        ),
    ],
)
def test_invalid_definitions_are_refused_naming_the_node(
    client: TestClient,
    admin_token: str,
    shop: Shop,
    nodes: list[dict[str, Any]],
    field: str,
    node: str,
    message: str,
) -> None:
    with shop.runtime.uow() as uow:
        from mailwright.templates import service as templates

        templates.install_builtins(uow, shop.runtime.settings)
    definition = {"trigger": ADDED, "start": "a", "nodes": nodes}
    response = client.post(
        "/api/v1/flows",
        headers={"Authorization": f"Bearer {admin_token}"},
        json={"name": "Broken", "definition": definition},
    )
    assert response.status_code == 400, response.text
    problem = response.json()
    assert problem["field"] == field
    assert message in problem["detail"] and f"node {node}" in problem["detail"]
    assert (
        client.get("/api/v1/flows/Broken", headers={"Authorization": f"Bearer {admin_token}"}).status_code
        == 404
    )


def test_a_loop_through_a_wait_is_a_valid_reminder(shop: Shop) -> None:
    definition = {
        "trigger": ADDED,
        "start": "a",
        "goals": [{"event": "Order Completed"}],
        "nodes": [
            {"id": "a", "type": "send_email", "template": "abandoned_cart_1", "next": "w"},
            {"id": "w", "type": "wait", "days": 1, "next": "a"},
        ],
    }
    shop.save("Reminder loop", definition)
    eve = shop.customer("eve")
    shop.track("eve", "Product Added", product_id="p1")
    shop.tick()
    shop.later(days=1, minutes=1)
    shop.later(days=1, minutes=1)
    assert shop.templates_sent(eve) == ["abandoned_cart_1"] * 3
    shop.order("eve", "o-1")
    shop.later(days=3)
    assert len(shop.templates_sent(eve)) == 3


def test_random_split_follows_the_weights_and_keeps_a_holdout(shop: Shop) -> None:
    counts = [0, 0]
    for run_id in range(1, 4001):
        counts[pick_weighted(run_id, "split", [9, 1])] += 1
    assert 3500 < counts[0] < 3700 and 300 < counts[1] < 500
    # Stable: the same run and node always take the same branch.
    assert pick_weighted(17, "split", [1, 1]) == pick_weighted(17, "split", [1, 1])
    definition = {
        "trigger": ADDED,
        "start": "split",
        "nodes": [
            {
                "id": "split",
                "type": "random_split",
                "branches": [
                    {"weight": 1, "next": "mail", "label": "treatment"},
                    {"weight": 1, "next": "holdout", "label": "holdout", "holdout": True},
                ],
            },
            {"id": "mail", "type": "send_email", "template": "abandoned_cart_1"},
            {"id": "holdout", "type": "exit", "reason": "holdout"},
        ],
    }
    shop.save("Split", definition)
    users = [f"s{i}" for i in range(30)]
    ids = [shop.customer(u) for u in users]
    for user in users:
        shop.track(user, "Product Added", product_id="p1")
    shop.tick()
    mailed = sum(1 for c in ids if shop.templates_sent(c))
    held = [r for c in ids for r in shop.runs(c) if r.exit_reason == "holdout"]
    assert mailed + len(held) == 30 and 5 <= mailed <= 25
    assert shop.history(held[0].id)[1].outcome == "holdout"


def test_the_flow_holdout_goes_through_the_flow_but_is_sent_nothing(shop: Shop) -> None:
    # The share held out follows the setting over many runs, and stays put for a run.
    share = sum(held_out(3, contact_id, 10) for contact_id in range(1, 20_001)) / 20_000
    assert 0.09 < share < 0.11
    assert not any(held_out(3, contact_id, 0) for contact_id in range(1, 1000))
    # Another flow draws its own holdout: not the same contacts.
    assert {c for c in range(1, 2001) if held_out(3, c, 10)} != {
        c for c in range(1, 2001) if held_out(4, c, 10)
    }
    definition = {
        "trigger": ADDED,
        "holdout_percent": 30,
        "start": "mail",
        "nodes": [
            {"id": "mail", "type": "send_email", "template": "abandoned_cart_1", "next": "tag"},
            {"id": "tag", "type": "update_profile", "add_tags": ["reminded"]},
        ],
    }
    shop.save("Held", definition)
    users = [f"h{i}" for i in range(40)]
    ids = [shop.customer(u) for u in users]
    for user in users:
        shop.track(user, "Product Added", product_id="p1")
    shop.tick()
    runs = [r for c in ids for r in shop.runs(c)]
    flow_id = shop.flow("Held").id
    held = [r for r in runs if held_out(flow_id, r.contact_id, 30)]
    assert 3 <= len(held) <= 25
    for run in runs:
        steps = shop.history(run.id)
        group = next(s.outcome for s in steps if s.action == "holdout")
        send = next(s.outcome for s in steps if s.action == "send_email")
        # Both groups finish the flow (the tag is set); only the send group gets the email.
        assert run.status == "completed"
        assert (group, send) == (("holdout", "held_out") if run in held else ("branch", "queued"))
        assert bool(shop.templates_sent(run.contact_id)) == (run not in held)
    with shop.runtime.uow() as uow:
        tagged = {
            c.id: (c.properties or {}).get("tags", [])
            for c in uow.session.scalars(select(Contact).where(Contact.id.in_(ids)))
        }
    assert all(tags == ["reminded"] for tags in tagged.values())


def test_wait_until_a_time_and_weekday_in_the_contacts_zone() -> None:
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    monday_9_utc = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    tokyo = next_local_time(monday_9_utc, ZoneInfo("Asia/Tokyo"), "10:00", [])
    assert tokyo == datetime(2026, 11, 3, 1, 0, tzinfo=UTC)  # 18:00 in Tokyo now: tomorrow 10:00
    ny_friday = next_local_time(monday_9_utc, ZoneInfo("America/New_York"), "08:30", [4])
    assert ny_friday == datetime(2026, 11, 6, 13, 30, tzinfo=UTC)


def test_wait_for_event_takes_the_event_branch_or_the_timeout_branch(shop: Shop) -> None:
    definition = {
        "trigger": {"type": "event", "event": "Product Viewed"},
        "start": "w",
        "nodes": [
            {
                "id": "w",
                "type": "wait_for_event",
                "event": "Product Added",
                "where": [{"property": "price", "operator": "gt", "value": 50}],
                "timeout_hours": 2,
                "on_event": "thanks",
                "on_timeout": "nudge",
            },
            {"id": "thanks", "type": "send_email", "template": "cross_sell"},
            {"id": "nudge", "type": "send_email", "template": "browse_abandonment"},
        ],
    }
    shop.save("Wait for add", definition)
    fay, gil, hal = shop.customer("fay"), shop.customer("gil"), shop.customer("hal")
    for user in ("fay", "gil", "hal"):
        shop.track(user, "Product Viewed", product_id="p1", name="Tent", price=120)
    shop.tick()
    shop.later(minutes=30)
    shop.track("fay", "Product Added", product_id="p1", name="Tent", price=120)
    shop.track("gil", "Product Added", product_id="p2", name="Pegs", price=5)  # does not match `where`
    shop.tick()
    assert shop.templates_sent(fay) == ["cross_sell"]
    shop.later(hours=2)
    assert shop.templates_sent(gil) == ["browse_abandonment"]
    assert shop.templates_sent(hal) == ["browse_abandonment"]


def test_flow_filters_are_checked_on_entry_and_before_every_send(shop: Shop) -> None:
    definition = two_step()
    definition["filters"] = {"type": "consent", "statuses": ["subscribed"]}
    shop.save("Filtered", definition)
    ivy = shop.customer("ivy")
    jon = shop.customer("jon", subscribed=False)
    shop.track("ivy", "Product Added", product_id="p1")
    shop.track("jon", "Product Added", product_id="p1")
    shop.tick()
    assert shop.runs(jon) == []
    shop.customer("ivy", subscribed=False)
    shop.later(hours=3)
    assert shop.templates_sent(ivy) == ["abandoned_cart_1"]
    (run,) = shop.runs(ivy)
    assert run.exit_reason == "exited: no longer matches the flow filters"


class _Receiver(BaseHTTPRequestHandler):
    answers: list[int] = []
    seen: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).seen.append((dict(self.headers), body))
        self.send_response(type(self).answers.pop(0) if type(self).answers else 200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def receiver() -> Iterator[tuple[str, type[_Receiver]]]:
    handler = type("Receiver", (_Receiver,), {"answers": [503], "seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", handler
    server.shutdown()
    server.server_close()


def test_webhook_node_posts_a_signed_body_and_retries_until_accepted(
    shop: Shop, receiver: tuple[str, type[_Receiver]]
) -> None:
    url, handler = receiver
    secret = "s3cret-for-tests"
    definition = {
        "trigger": ADDED,
        "start": "hook",
        "nodes": [{"id": "hook", "type": "webhook", "url": url, "secret": secret}],
    }
    shop.save("Hook", definition)
    kai = shop.customer("kai")
    shop.track("kai", "Product Added", product_id="p1")
    shop.tick()
    assert len(handler.seen) == 1  # answered 503: the job is queued again with backoff
    shop.runtime.clock.advance(timedelta(minutes=5))
    shop.runtime.runner.tick(shop.runtime.clock.now())
    assert len(handler.seen) == 2
    (first_headers, _first_body), (headers, body) = handler.seen
    assert headers["X-Mailwright-Delivery"] == first_headers["X-Mailwright-Delivery"]
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Mailwright-Signature"] == expected
    payload = json.loads(body)
    assert payload["contact"]["email"] == "kai@example.com" and payload["trigger"]["name"] == "Product Added"
    (run,) = shop.runs(kai)
    assert [h.outcome for h in shop.history(run.id)][-1] == "delivered"


def test_api_started_flow_and_the_run_history_over_http(
    client: TestClient, admin_token: str, shop: Shop
) -> None:
    auth = {"Authorization": f"Bearer {admin_token}"}
    definition = {
        "trigger": {"type": "api"},
        "start": "mail",
        "nodes": [{"id": "mail", "type": "send_email", "template": "newsletter"}],
    }
    with shop.runtime.uow() as uow:
        from mailwright.templates import service as templates

        templates.install_builtins(uow, shop.runtime.settings)
    assert (
        client.post(
            "/api/v1/flows", headers=auth, json={"name": "Manual", "definition": definition}
        ).status_code
        == 201
    )
    assert client.post("/api/v1/flows/Manual/activate", headers=auth).json()["status"] == "active"
    lia = shop.customer("lia")
    started = client.post(
        "/api/v1/flows/Manual/start", headers={**auth, "Idempotency-Key": "k1"}, json={"contact_ids": [lia]}
    )
    assert started.json() == {"started": 1, "refused": {}}
    again = client.post(
        "/api/v1/flows/Manual/start", headers={**auth, "Idempotency-Key": "k1"}, json={"contact_ids": [lia]}
    )
    assert again.json()["started"] == 0
    shop.tick()
    runs = client.get("/api/v1/flows/Manual/runs", headers=auth).json()
    assert [r["status"] for r in runs] == ["completed"]
    history = client.get(f"/api/v1/flows/runs/{runs[0]['id']}", headers=auth).json()["history"]
    # A flow saved without a holdout share keeps 10 % of runs as the control group, shown in the history.
    assert [h["action"] for h in history] == ["entry", "holdout", "send_email"]
    group, send = history[1]["outcome"], history[2]["outcome"]
    assert (group, send) in {("branch", "queued"), ("holdout", "held_out")}
    assert client.get("/api/v1/flows", headers=auth).json()[0]["runs"]["completed"] == 1
    shop.runtime_pause("Manual")
    with shop.runtime.uow() as uow, pytest.raises(Conflict, match="is paused, not active"):
        service.start(uow, "Manual", StartIn(contact_ids=[lia]), request_key="k2")


def test_entering_a_segment_and_a_sign_up_anniversary_start_their_flows(shop: Shop) -> None:
    from mailwright.events import service as events
    from mailwright.events.schemas import ContactEvent

    shop.save(
        "VIP welcome",
        {
            "trigger": {"type": "segment_entered", "segment_id": 7},
            "start": "m",
            "nodes": [{"id": "m", "type": "send_email", "template": "cross_sell"}],
        },
    )
    shop.save(
        "Anniversary",
        {
            "trigger": {"type": "date", "field": "signup_anniversary", "at": "09:00"},
            "entry": {"mode": "again_after", "again_after_days": 300},
            "start": "m",
            "nodes": [{"id": "m", "type": "send_email", "template": "birthday"}],
        },
    )
    max_ = shop.customer("max")
    ned = shop.customer("ned")
    with shop.runtime.uow() as uow:
        events.record_contact_events(
            uow,
            [
                ContactEvent(
                    max_, "Segment Entered", uow.now(), "seg-7-max", {"segment_id": 7, "segment": "VIP"}
                ),
                ContactEvent(
                    ned, "Segment Entered", uow.now(), "seg-8-ned", {"segment_id": 8, "segment": "Other"}
                ),
            ],
        )
    shop.tick()
    assert shop.templates_sent(max_) == ["cross_sell"] and shop.templates_sent(ned) == []
    shop.later(days=364)
    assert shop.templates_sent(ned) == []
    shop.later(days=1)  # a year after sign-up, 09:00 UTC
    assert shop.templates_sent(ned) == ["birthday"]
    assert shop.templates_sent(max_) == ["cross_sell", "birthday"]


def test_activation_warns_about_an_email_whose_coupon_pool_is_empty(shop: Shop) -> None:
    definition = {
        "trigger": ADDED,
        "start": "mail",
        "nodes": [{"id": "mail", "type": "send_email", "template": "abandoned_cart_2"}],
    }
    shop.save("Discount", definition, activate=False)
    with shop.runtime.uow() as uow:
        warned = service.activate(uow, "Discount").warnings
    assert len(warned) == 1 and "coupon pool 'cart', which is empty" in warned[0]
    with shop.runtime.uow() as uow:
        coupons.upload_codes(uow.session, "cart", ["C-1"], uow.now())
        assert service.activate(uow, "Discount").warnings == []
