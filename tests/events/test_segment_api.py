import base64
import gzip

import orjson
import pytest
from fastapi.testclient import TestClient

from mailwright.contacts import service as contacts
from mailwright.core.runtime import Runtime
from mailwright.events import service as events
from mailwright.orders import service as orders


def auth(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def test_identify_then_track_builds_one_profile_with_rollups(
    client: TestClient, write_key: str, runtime: Runtime
) -> None:
    r = client.post(
        "/v1/identify",
        headers=auth(write_key),
        json={
            "userId": "cust-1",
            "messageId": "m1",
            "timestamp": "2026-11-01T10:00:00Z",
            "traits": {
                "email": "Ann@Example.com",
                "firstName": "Ann",
                "locale": "pt-BR",
                "timezone": "America/Sao_Paulo",
                "favourite_colour": "teal",
                "subscribed": True,
            },
        },
    )
    assert r.status_code == 200, r.text
    order = {
        "userId": "cust-1",
        "messageId": "m2",
        "event": "Order Completed",
        "timestamp": "2026-11-01T11:00:00Z",
        "properties": {
            "order_id": "o-1",
            "total": 42.5,
            "currency": "EUR",
            "products": [
                {"product_id": "p-1", "name": "Shoe", "price": 20.25, "quantity": 2, "category": "Shoes"}
            ],
        },
    }
    r = client.post("/v1/track", headers=auth(write_key), json=order)
    assert r.status_code == 200, r.text
    with runtime.uow() as uow:
        profile = contacts.find_by_email(uow.session, "ann@example.com")
        assert profile is not None
        assert (profile.first_name, profile.locale, profile.timezone) == ("Ann", "pt-BR", "America/Sao_Paulo")
        assert profile.properties == {"favourite_colour": "teal"}
        assert profile.consent_status == "subscribed"
        assert (profile.order_count, profile.revenue_minor, profile.average_order_value_minor) == (
            1,
            4250,
            4250,
        )
        placed = orders.list_orders(uow.session, contact_id=profile.id)
        assert placed[0].lines[0].quantity == 2 and placed[0].lines[0].price_minor == 2025
        names = [e.name for e in events.list_events(uow.session, contact_id=profile.id)]
        assert names == ["Order Completed", "Identify"]


def test_same_batch_twice_is_stored_once(client: TestClient, write_key: str, runtime: Runtime) -> None:
    batch = {
        "batch": [
            {"type": "page", "anonymousId": "anon-1", "messageId": f"page-{i}", "name": "Home"}
            for i in range(5)
        ]
    }
    first = client.post("/v1/batch", headers=auth(write_key), json=batch).json()
    second = client.post("/v1/batch", headers=auth(write_key), json=batch).json()
    assert (first["accepted"], first["duplicates"]) == (5, 0)
    assert (second["accepted"], second["duplicates"]) == (0, 5)
    with runtime.uow() as uow:
        assert len(events.list_events(uow.session, name="Page Viewed")) == 5


def test_anonymous_visitor_is_merged_into_known_profile_with_events(
    client: TestClient, write_key: str, runtime: Runtime
) -> None:
    client.post(
        "/v1/batch",
        headers=auth(write_key),
        json={
            "batch": [
                {
                    "type": "track",
                    "anonymousId": "visitor-9",
                    "event": "Product Viewed",
                    "messageId": "v1",
                    "properties": {"product_id": "sku-9", "name": "Lamp", "price": 10},
                },
                {
                    "type": "identify",
                    "userId": "known-1",
                    "messageId": "i0",
                    "traits": {"email": "bo@example.com"},
                },
            ]
        },
    )
    r = client.post(
        "/v1/identify",
        headers=auth(write_key),
        json={"userId": "known-1", "anonymousId": "visitor-9", "messageId": "i1"},
    )
    assert r.status_code == 200
    with runtime.uow() as uow:
        profile = contacts.find_by_email(uow.session, "bo@example.com")
        assert profile is not None and "visitor-9" in profile.anonymous_ids
        assert profile.last_site_activity_at is not None
        names = sorted(e.name for e in events.list_events(uow.session, contact_id=profile.id))
        assert names == ["Identify", "Identify", "Product Viewed"]


def test_batch_with_bad_events_stores_good_ones_and_reports_bad_by_index(
    client: TestClient, write_key: str, runtime: Runtime
) -> None:
    r = client.post(
        "/v1/batch",
        headers=auth(write_key),
        json={
            "batch": [
                {"type": "track", "userId": "u1", "event": "Signed Up", "messageId": "ok-1"},
                {
                    "type": "identify",
                    "userId": "u2",
                    "messageId": "bad-1",
                    "traits": {"email": "not-an-email"},
                },
                {"type": "track", "event": "No Id", "messageId": "bad-2"},
                {"type": "launch", "userId": "u3", "messageId": "bad-3"},
                {
                    "type": "track",
                    "userId": "u4",
                    "event": "Order Completed",
                    "messageId": "bad-4",
                    "properties": {"total": "lots"},
                },
            ]
        },
    )
    assert r.status_code == 200
    body = r.json()
    assert body["accepted"] == 1
    by_index = {e["index"]: e for e in body["errors"]}
    assert sorted(by_index) == [1, 2, 3, 4]
    assert by_index[1]["field"] == "traits.email" and "not-an-email" in by_index[1]["message"]
    assert by_index[2]["field"] == "userId"
    assert by_index[3]["field"] == "type"
    assert by_index[4]["field"] == "properties.order_id"
    with runtime.uow() as uow:
        assert [e.message_id for e in events.list_events(uow.session)] == ["ok-1"]


@pytest.mark.parametrize(
    ("headers", "body", "status", "needle"),
    [
        ({}, b'{"userId": "u", "event": "x"}', 401, "write key"),
        (
            {"Authorization": "Basic " + base64.b64encode(b"wrong:").decode()},
            b'{"userId":"u","event":"x"}',
            401,
            "unknown",
        ),
        (None, b'{"userId": "u", "event": ', 400, "malformed JSON"),
        (None, b"[1, 2]", 400, "JSON object"),
        (
            None,
            b'{"userId": "u", "event": "x", "properties": {"blob": "' + b"x" * 40000 + b'"}}',
            413,
            "limit",
        ),
    ],
)
def test_bad_requests_get_clear_errors(
    client: TestClient, write_key: str, headers: dict[str, str] | None, body: bytes, status: int, needle: str
) -> None:
    r = client.post("/v1/track", headers=auth(write_key) if headers is None else headers, content=body)
    assert r.status_code == status
    assert needle in r.json()["detail"]


def test_gzip_body_and_write_key_in_body(client: TestClient, write_key: str, runtime: Runtime) -> None:
    payload = {
        "writeKey": write_key,
        "batch": [{"type": "track", "userId": "gz", "event": "Zipped", "messageId": "gz-1"}],
    }
    r = client.post(
        "/v1/batch",
        content=gzip.compress(orjson.dumps(payload)),
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
    )
    assert r.status_code == 200 and r.json()["accepted"] == 1


def test_batch_over_500kb_is_refused_whole(client: TestClient, write_key: str, runtime: Runtime) -> None:
    items = [
        {
            "type": "track",
            "userId": "big",
            "event": "Big",
            "messageId": f"b{i}",
            "properties": {"pad": "y" * 20000},
        }
        for i in range(30)
    ]
    r = client.post("/v1/batch", headers=auth(write_key), json={"batch": items})
    assert r.status_code == 413
    with runtime.uow() as uow:
        assert events.list_events(uow.session, name="Big") == []
