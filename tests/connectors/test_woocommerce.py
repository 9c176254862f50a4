"""WooCommerce: signed webhooks and the REST API backfill land as the same profiles, catalog and orders."""

import base64
import hashlib
import hmac
import json
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from tests.connectors import payloads

from mailwright.catalog.models import Product
from mailwright.connectors import service
from mailwright.connectors.http import HttpOptions
from mailwright.connectors.schemas import ConnectionIn
from mailwright.contacts import service as contacts
from mailwright.core.runtime import Runtime
from mailwright.events import service as events
from mailwright.orders import service as orders
from mailwright.orders.models import Order

SECRET = "wc-webhook-secret-0123456789"


def sign(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@pytest.fixture
def shop(runtime: Runtime) -> str:
    with runtime.uow() as uow:
        service.create_connection(
            uow.session,
            ConnectionIn(
                name="shop",
                kind="woocommerce",
                config={
                    "url": "https://shop.example.com/",
                    "consumer_key": "ck_0123456789abcdef",
                    "consumer_secret": "cs_0123456789abcdef",
                    "webhook_secret": SECRET,
                    "currency": "USD",
                },
            ),
            uow.now(),
        )
    return "shop"


def deliver(
    client: TestClient, topic: str, payload: dict[str, Any], delivery: str, *, secret: str = SECRET
) -> httpx.Response:
    body = json.dumps(payload).encode()
    return client.post(
        "/webhooks/woocommerce/shop",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-WC-Webhook-Source": "https://shop.example.com/",
            "X-WC-Webhook-Topic": topic,
            "X-WC-Webhook-Resource": topic.split(".")[0],
            "X-WC-Webhook-Event": topic.split(".")[1],
            "X-WC-Webhook-Signature": sign(body, secret),
            "X-WC-Webhook-ID": "12",
            "X-WC-Webhook-Delivery-ID": delivery,
        },
    )


def test_ping_is_answered_and_unsigned_bodies_store_nothing(
    client: TestClient, session: Session, shop: str
) -> None:
    ping = client.post(
        "/webhooks/woocommerce/shop",
        content=b"webhook_id=12",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert ping.status_code == 200 and ping.json()["ping"] is True
    forged = deliver(client, "order.created", payloads.wc_order(), "d-1", secret="not-the-secret")
    assert forged.status_code == 401 and forged.json()["field"] == "X-WC-Webhook-Signature"
    assert session.scalar(select(func.count()).select_from(Order)) == 0
    missing = client.post(
        "/webhooks/woocommerce/nope", content=b"{}", headers={"X-WC-Webhook-Topic": "order.created"}
    )
    assert missing.status_code == 404


def test_order_customer_and_product_webhooks_become_profile_order_and_catalog(
    client: TestClient, runtime: Runtime, session: Session, shop: str
) -> None:
    assert deliver(client, "customer.created", payloads.wc_customer(), "d-c").json()["status"] == "accepted"
    created = deliver(client, "order.created", payloads.wc_order(), "d-1")
    assert created.status_code == 200, created.text
    assert created.json() == {"topic": "order.created", "status": "accepted", "events": 1}
    # WooCommerce retries a delivery it thinks failed: the same delivery id is stored once.
    assert deliver(client, "order.created", payloads.wc_order(), "d-1").json()["status"] == "duplicate"
    # A later update of the same paid order does not count it twice.
    deliver(client, "order.updated", payloads.wc_order(status="completed"), "d-2")
    product = deliver(client, "product.updated", payloads.wc_product(), "d-p")
    assert product.status_code == 200

    profile = contacts.find_by_email(session, "john.doe@example.com")
    assert profile is not None
    assert (profile.first_name, profile.last_name, profile.country, profile.external_id) == (
        "John",
        "Doe",
        "US",
        "25",
    )
    assert profile.order_count == 1 and profile.revenue_minor == 2935
    [order] = orders.list_orders(session, contact_id=profile.id)
    assert order.external_id == "727" and order.currency == "USD"
    assert sorted((line.product_external_id, line.quantity, line.price_minor) for line in order.lines) == [
        ("22", 1, 1200),
        ("93", 2, 300),
    ]
    names = [e.name for e in events.list_events(session, contact_id=profile.id)]
    assert names.count("Order Completed") == 1 and "Identify" in names
    catalog = session.scalars(select(Product).where(Product.external_id == "794")).one()
    assert (catalog.title, catalog.price_minor, catalog.currency) == ("Premium Quality", 2199, "USD")
    assert catalog.categories == ["Clothing", "T-shirts"] and catalog.in_stock

    # A refund, then the cancellation, as order.updated deliveries.
    refunded = payloads.wc_order(status="processing", refunds=[{"id": 726, "reason": "", "total": "-10.00"}])
    deliver(client, "order.updated", refunded, "d-3")
    session.expire_all()
    assert contacts.get_profile(session, profile.id).revenue_minor == 1935
    deliver(client, "order.updated", payloads.wc_order(status="cancelled"), "d-4")
    session.expire_all()
    assert contacts.get_profile(session, profile.id).order_count == 0


def test_bad_payload_names_the_field(client: TestClient, shop: str) -> None:
    order = payloads.wc_order()
    order["line_items"][0]["quantity"] = "two"
    response = deliver(client, "order.created", order, "d-bad")
    assert response.status_code == 400
    assert response.json()["field"] == "line_items[0].quantity"


def _wc_api(pages: dict[str, list[list[dict[str, Any]]]], seen: list[httpx.Request]) -> httpx.MockTransport:
    throttled = {"done": False}

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        assert request.url.host == "shop.example.com"
        expected = "Basic " + base64.b64encode(b"ck_0123456789abcdef:cs_0123456789abcdef").decode()
        if request.headers.get("authorization") != expected:
            return httpx.Response(
                401,
                json={
                    "code": "woocommerce_rest_cannot_view",
                    "message": "Sorry, you cannot list resources.",
                    "data": {"status": 401},
                },
            )
        resource = request.url.path.rsplit("/", 1)[1]
        if resource == "orders" and not throttled["done"]:
            throttled["done"] = True
            return httpx.Response(429, headers={"Retry-After": "7"}, json={"code": "too_many_requests"})
        page = int(request.url.params.get("page", "1"))
        chunks = pages.get(resource, [[]])
        items = chunks[page - 1] if page <= len(chunks) else []
        return httpx.Response(
            200,
            json=items,
            headers={"X-WP-Total": str(sum(map(len, chunks))), "X-WP-TotalPages": str(len(chunks))},
        )

    return httpx.MockTransport(handler)


def test_backfill_reads_every_page_waits_out_a_429_and_meets_webhooks_without_duplicates(
    client: TestClient, runtime: Runtime, session: Session, shop: str
) -> None:
    deliver(client, "order.created", payloads.wc_order(727), "d-1")
    pages = {
        "products": [[payloads.wc_product(794)], [payloads.wc_product(795, stock_status="outofstock")]],
        "customers": [[payloads.wc_customer(25), payloads.wc_customer(26, "mary@example.com")]],
        "orders": [
            [payloads.wc_order(727), payloads.wc_order(728, email="mary@example.com", customer_id=26)],
            [payloads.wc_order(729, status="pending", email="guest@example.com", customer_id=0)],
        ],
    }
    seen: list[httpx.Request] = []
    slept: list[float] = []
    options = HttpOptions(transport=_wc_api(pages, seen), sleep=slept.append)
    report = service.sync_connection(runtime.uow, "shop", options=options)
    assert report.error is None, report.error
    assert report.pulled == {"products": 2, "customers": 2, "orders": 3}
    assert slept == [7.0]  # the Retry-After of the 429, through the injected sleep
    assert session.scalar(select(func.count()).select_from(Order)) == 2  # 727 once; 729 is unpaid
    assert session.scalar(select(Product.in_stock).where(Product.external_id == "795")) is False
    guest = contacts.find_by_email(session, "guest@example.com")
    assert guest is not None
    guest_events = [e.name for e in events.list_events(session, contact_id=guest.id)]
    assert "Checkout Started" in guest_events and "Order Completed" not in guest_events

    # The next run asks only for what changed since this one started.
    seen.clear()
    again = service.sync_connection(runtime.uow, "shop", options=options)
    assert again.events_stored == 0
    assert all(r.url.params.get("modified_after") for r in seen)


def test_backfill_with_wrong_keys_reports_the_error_and_keeps_the_cursor(runtime: Runtime, shop: str) -> None:
    with runtime.uow() as uow:
        service.update_connection(
            uow.session, "shop", service.ConnectionPatch(config={"consumer_secret": "cs_wrong"}), uow.now()
        )
    report = service.sync_connection(
        runtime.uow, "shop", options=HttpOptions(transport=_wc_api({}, []), sleep=lambda _s: None)
    )
    assert report.error is not None and "401" in report.error
    with runtime.uow() as uow:
        stored = service.get_connection(uow.session, "shop")
    assert stored.last_error == report.error and stored.cursor == {}
    assert stored.config["consumer_secret"] == "****"
