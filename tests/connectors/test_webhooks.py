"""Outbound webhooks against a real receiver on loopback: signed, retried, logged, disabled when dead."""

import json
from collections.abc import Iterator
from datetime import timedelta
from itertools import pairwise

import pytest
from fastapi.testclient import TestClient
from tests.conftest import START
from tests.connectors.receiver import Receiver, running_receiver

from mailwright.connectors.http import override_http
from mailwright.connectors.schemas import EndpointIn
from mailwright.connectors.webhooks import service as webhooks
from mailwright.connectors.webhooks import signing
from mailwright.core.clock import ManualClock
from mailwright.core.errors import Unauthorized
from mailwright.core.runtime import Runtime
from mailwright.events import service as events
from mailwright.events.schemas import ContactEvent, IncomingEvent


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as state, override_http(timeout_seconds=0.5):
        yield state


def _contact(runtime: Runtime, email: str = "ada@example.com") -> int:
    with runtime.uow() as uow:
        result = events.ingest(
            uow,
            [
                IncomingEvent(
                    message_id=f"identify:{email}",
                    type="identify",
                    name="Identify",
                    occurred_at=START,
                    source="api",
                    email=email,
                    profile={"first_name": "Ada"},
                )
            ],
        )
    return result.contact_ids[0]


def _endpoint(runtime: Runtime, url: str, names: list[str]) -> tuple[int, str]:
    with runtime.uow() as uow:
        out = webhooks.create_endpoint(uow.session, EndpointIn(url=url, events=names), uow.now())
    assert out.secret is not None
    return out.id, out.secret


def _record(runtime: Runtime, contact_id: int, name: str, key: str) -> None:
    with runtime.uow() as uow:
        events.record_contact_events(
            uow,
            [
                ContactEvent(
                    contact_id,
                    name,
                    runtime.clock.now(),
                    key,
                    {"message_id": "m-1", "url": "https://shop.example/p"},
                )
            ],
        )


def _log(runtime: Runtime, endpoint_id: int) -> list[webhooks.DeliveryOut]:
    with runtime.uow() as uow:
        return webhooks.list_deliveries(uow.session, endpoint_id)


def test_subscribed_event_arrives_signed_and_others_do_not(runtime: Runtime, receiver: Receiver) -> None:
    contact_id = _contact(runtime)
    endpoint_id, secret = _endpoint(runtime, receiver.url, ["Email Clicked"])
    _record(runtime, contact_id, "Email Opened", "open:m-1:0")
    _record(runtime, contact_id, "Email Clicked", "click:m-1:0")
    # The same occurrence reported again is one event, so one delivery.
    _record(runtime, contact_id, "Email Clicked", "click:m-1:0")

    assert len(receiver.requests) == 1
    got = receiver.requests[0]
    now = int(runtime.clock.now().timestamp())
    signing.verify(got.body, got.headers["Mailwright-Signature"], secret, now=now)
    with pytest.raises(Unauthorized):
        signing.verify(got.body + b" ", got.headers["Mailwright-Signature"], secret, now=now)
    with pytest.raises(Unauthorized):  # a replay an hour later is refused by a receiver checking the time
        signing.verify(got.body, got.headers["Mailwright-Signature"], secret, now=now + 3600)
    payload = json.loads(got.body)
    assert payload["type"] == "Email Clicked"
    assert payload["data"]["contact"]["email"] == "ada@example.com"
    assert payload["data"]["event"]["properties"]["url"] == "https://shop.example/p"
    assert got.headers["Mailwright-Event"] == "Email Clicked"
    assert got.headers["Mailwright-Delivery"] == payload["id"]
    [delivery] = _log(runtime, endpoint_id)
    assert delivery.status == "delivered"
    assert [a.status_code for a in delivery.log] == [200]


def test_failing_then_hanging_receiver_is_retried_with_backoff_until_it_recovers(
    runtime: Runtime, clock: ManualClock, receiver: Receiver
) -> None:
    contact_id = _contact(runtime)
    endpoint_id, _ = _endpoint(runtime, receiver.url, ["Email Clicked", "Unsubscribed"])
    receiver.mode = "fail"
    _record(runtime, contact_id, "Email Clicked", "click:m-1:0")
    [delivery] = _log(runtime, endpoint_id)
    assert delivery.status == "pending"
    assert delivery.next_attempt_at == START + timedelta(minutes=1)

    # Not due yet: nothing is sent.
    clock.advance(timedelta(seconds=30))
    runtime.runner.tick()
    assert len(receiver.requests) == 1

    receiver.mode = "slow"
    clock.advance(timedelta(seconds=30))
    runtime.runner.tick()
    [delivery] = _log(runtime, endpoint_id)
    assert delivery.attempts == 2
    assert delivery.log[1].status_code is None and "timed out" in (delivery.log[1].error or "")
    assert delivery.next_attempt_at == clock.now() + timedelta(minutes=2)

    receiver.mode = "ok"
    clock.advance(timedelta(minutes=2))
    runtime.runner.tick()
    [delivery] = _log(runtime, endpoint_id)
    assert delivery.status == "delivered"
    assert [a.status_code for a in delivery.log] == [500, None, 200]
    assert delivery.log[0].error is not None and "500" in delivery.log[0].error
    # Every attempt carried the same delivery id, so the receiver can dedupe the one it half-received.
    assert len({r.headers["Mailwright-Delivery"] for r in receiver.requests}) == 1
    with runtime.uow() as uow:
        endpoint = webhooks.get_endpoint(uow.session, endpoint_id)
    assert endpoint.enabled and endpoint.consecutive_failures == 0 and endpoint.failing_since is None


def test_endpoint_failing_for_a_day_is_disabled_with_the_reason(
    runtime: Runtime, clock: ManualClock, receiver: Receiver
) -> None:
    contact_id = _contact(runtime)
    endpoint_id, _ = _endpoint(runtime, receiver.url, ["Email Clicked"])
    receiver.mode = "fail"
    _record(runtime, contact_id, "Email Clicked", "click:m-1:0")
    for _ in range(40):
        clock.advance(timedelta(hours=1))
        runtime.runner.tick()
    with runtime.uow() as uow:
        endpoint = webhooks.get_endpoint(uow.session, endpoint_id)
    assert not endpoint.enabled
    assert endpoint.disabled_reason is not None
    assert "every delivery failed for 24 h" in endpoint.disabled_reason
    assert "HTTP 500" in endpoint.disabled_reason
    [delivery] = _log(runtime, endpoint_id)
    assert delivery.status in ("failed", "cancelled")
    # Retried over the whole day, with waits growing to at most an hour.
    times = [a.attempted_at for a in delivery.log]
    assert times[-1] - times[0] >= timedelta(hours=23)
    assert max(b - a for a, b in pairwise(times)) <= timedelta(hours=1, minutes=1)
    sent = len(receiver.requests)

    # A disabled endpoint gets nothing more, until it is enabled again.
    receiver.mode = "ok"
    _record(runtime, contact_id, "Email Clicked", "click:m-2:0")
    assert len(receiver.requests) == sent
    clock.advance(timedelta(minutes=5))
    with runtime.uow() as uow:
        webhooks.update_endpoint(uow.session, endpoint_id, webhooks.EndpointPatch(enabled=True), uow.now())
    _record(runtime, contact_id, "Email Clicked", "click:m-3:0")
    assert len(receiver.requests) == sent + 1
    assert json.loads(receiver.requests[-1].body)["data"]["event"]["id"] == "click:m-3:0"


def test_management_api_creates_lists_and_shows_the_log(
    runtime: Runtime, client: TestClient, admin_token: str, receiver: Receiver
) -> None:
    auth = {"Authorization": f"Bearer {admin_token}"}
    bad = client.post(
        "/api/v1/webhook-endpoints", json={"url": receiver.url, "events": ["Email Exploded"]}, headers=auth
    )
    assert bad.status_code == 400 and bad.json()["field"] == "events"
    created = client.post(
        "/api/v1/webhook-endpoints", json={"url": receiver.url, "events": ["Unsubscribed"]}, headers=auth
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["secret"].startswith("whsec_")
    listed = client.get("/api/v1/webhook-endpoints", headers=auth).json()
    assert [e["id"] for e in listed] == [body["id"]] and listed[0]["secret"] is None
    contact_id = _contact(runtime)
    _record(runtime, contact_id, "Unsubscribed", "unsub:1")
    log = client.get(f"/api/v1/webhook-endpoints/{body['id']}/deliveries", headers=auth).json()
    assert log[0]["status"] == "delivered" and log[0]["log"][0]["status_code"] == 200
    assert client.get("/api/v1/webhook-endpoints").status_code == 401


def test_erasing_a_contact_cancels_its_pending_deliveries_and_blanks_their_payloads(
    runtime: Runtime, clock: ManualClock, receiver: Receiver
) -> None:
    from sqlalchemy import select

    from mailwright.connectors.models import WebhookDelivery
    from mailwright.tracking import privacy

    contact_id = _contact(runtime, "gone@example.com")
    other_id = _contact(runtime, "stays@example.com")
    endpoint_id, _ = _endpoint(runtime, receiver.url, ["Email Clicked"])
    receiver.mode = "fail"
    _record(runtime, contact_id, "Email Clicked", "click:gone:0")
    _record(runtime, other_id, "Email Clicked", "click:stays:0")
    assert [d.status for d in _log(runtime, endpoint_id)] == ["pending", "pending"]
    with runtime.uow() as uow:
        privacy.erase(uow, contact_id, source="test")
    with runtime.uow() as uow:
        rows = {r.payload.get("erased", False): r for r in uow.session.scalars(select(WebhookDelivery))}
    assert rows[True].status == "cancelled" and rows[True].payload == {"erased": True}
    assert "gone@example.com" not in json.dumps(rows[True].payload)
    # The other contact's delivery is untouched and still goes out when the receiver recovers.
    assert rows[False].status == "pending"
    receiver.mode = "ok"
    clock.advance(timedelta(minutes=2))
    runtime.runner.tick()
    assert sorted(d.status for d in _log(runtime, endpoint_id)) == ["cancelled", "delivered"]
