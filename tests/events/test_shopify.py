import base64
import hashlib
import hmac
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailwright.catalog import service as catalog
from mailwright.catalog.models import ProductVariant
from mailwright.contacts import service as contacts
from mailwright.contacts.schemas import ContactOut
from mailwright.core.runtime import Runtime
from mailwright.core.settings import Settings
from mailwright.events import service as events
from mailwright.events.models import Event, WebhookReceipt
from mailwright.orders import service as orders
from mailwright.orders.models import Order
from mailwright.orders.schemas import OrderOut

SECRET = "shpss_0123456789abcdef"
SHOP = "mailwright-demo.myshopify.com"
FIXTURES = Path(__file__).parent / "fixtures" / "shopify"
ORDER_ID = "820982911946154508"
ANN = "ann.lee@example.com"
CLEO = "cleo.martin@example.com"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"shopify_webhook_secret": SecretStr(SECRET), "shop_currency": "EUR"})


def load(name: str) -> dict[str, Any]:
    payload: dict[str, Any] = orjson.loads((FIXTURES / f"{name}.json").read_bytes())
    return payload


def sign(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def deliver(
    client: TestClient,
    topic: str,
    payload: dict[str, Any] | None = None,
    *,
    raw: bytes | None = None,
    event_id: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    body = raw if raw is not None else orjson.dumps(payload)
    sent = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": sign(body),
        "X-Shopify-Shop-Domain": SHOP,
        "X-Shopify-API-Version": "2024-10",
        "X-Shopify-Webhook-Id": str(uuid.uuid4()),
        "X-Shopify-Event-Id": event_id or str(uuid.uuid4()),
        **(headers or {}),
    }
    return client.post("/webhooks/shopify", content=body, headers={k: v for k, v in sent.items() if v})


def accepted(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["status"] == "accepted", body
    return body


def profile_of(runtime: Runtime, email: str) -> ContactOut:
    with runtime.uow() as uow:
        profile = contacts.find_by_email(uow.session, email)
    assert profile is not None, f"no profile for {email}"
    return profile


def the_order(runtime: Runtime) -> OrderOut:
    with runtime.uow() as uow:
        found = [o for o in orders.list_orders(uow.session) if o.external_id == ORDER_ID]
    assert len(found) == 1
    return found[0]


def stored_counts(session: Session) -> tuple[int, int, int, int]:
    """Profiles, events, orders and webhook receipts in the database."""

    def count(model: Any) -> int:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)

    return (contacts.count_profiles(session), count(Event), count(Order), count(WebhookReceipt))


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def test_order_created_builds_profile_order_lines_and_catalog(
    client: TestClient, runtime: Runtime, session: Session
) -> None:
    body = accepted(deliver(client, "orders/create", load("orders_create"), event_id="evt-order-1"))
    assert body["events"] == 1

    ann = profile_of(runtime, ANN)
    assert ann.external_id == "207119551"
    assert (ann.first_name, ann.last_name, ann.phone) == ("Ann", "Lee", "+4915123456789")
    assert (ann.locale, ann.country, ann.city) == ("de-DE", "DE", "Berlin")
    assert ann.properties == {"tags": ["vip"]}
    assert ann.consent_status == "subscribed"
    assert ann.consent_updated_at == utc("2026-10-30T08:05:00+01:00")
    assert "bd5a8aa1ecd019dd3520ff791ee3a24c" in ann.anonymous_ids
    assert (ann.order_count, ann.revenue_minor) == (1, 14794)

    order = the_order(runtime)
    assert order.contact_id == ann.id
    assert (order.currency, order.total_minor, order.discount_minor, order.coupon) == (
        "EUR",
        14794,
        1324,
        "WELCOME10",
    )
    assert order.placed_at == utc("2026-11-01T12:31:00+01:00")
    assert [
        (line.product_external_id, line.sku, line.title, line.quantity, line.price_minor)
        for line in order.lines
    ] == [
        ("632910392", "SHOE-42", "Trail Shoe", 2, 5995),
        ("921728736", "SOCK-W", "Wool Socks", 1, 1250),
    ]
    row = session.scalars(select(Order).where(Order.external_id == ORDER_ID)).one()
    assert (row.subtotal_minor, row.tax_minor, row.shipping_minor) == (11916, 2383, 495)

    with runtime.uow() as uow:
        (event,) = events.list_events(uow.session, contact_id=ann.id)
        assert catalog.get_product(uow.session, "632910392").title == "Trail Shoe"
    assert (event.name, event.message_id, event.source) == (
        "Order Completed",
        "shopify:evt-order-1:0",
        "shopify",
    )
    assert event.occurred_at == utc("2026-11-01T12:31:00+01:00")
    assert event.properties["order_id"] == ORDER_ID
    assert event.properties["discount_codes"] == ["WELCOME10"]
    assert event.properties["products"][0]["variant_id"] == "808950810"


def test_order_updated_refreshes_the_order_and_rollups(client: TestClient, runtime: Runtime) -> None:
    accepted(deliver(client, "orders/create", load("orders_create")))
    accepted(deliver(client, "orders/updated", load("orders_updated")))

    order = the_order(runtime)
    assert order.total_minor == 13444
    assert [line.sku for line in order.lines] == ["SHOE-42"]
    ann = profile_of(runtime, ANN)
    assert (ann.order_count, ann.revenue_minor) == (1, 13444)
    with runtime.uow() as uow:
        names = sorted(e.name for e in events.list_events(uow.session, contact_id=ann.id))
    assert names == ["Order Completed", "Order Updated"]


def test_refund_then_cancellation_adjust_the_order_and_the_customer(
    client: TestClient, runtime: Runtime
) -> None:
    accepted(deliver(client, "orders/create", load("orders_create")))

    accepted(deliver(client, "refunds/create", load("refunds_create")))
    order = the_order(runtime)
    # One successful refund transaction of 50.00; the failed attempt does not count.
    assert (order.refunded_minor, order.status) == (5000, "partially_refunded")
    ann = profile_of(runtime, ANN)
    assert ann.revenue_minor == 14794 - 5000
    with runtime.uow() as uow:
        (refund,) = events.list_events(uow.session, contact_id=ann.id, name="Order Refunded")
    assert refund.properties["total"] == 50.0
    assert refund.occurred_at == utc("2026-11-03T10:00:00+01:00")

    accepted(deliver(client, "orders/cancelled", load("orders_cancelled")))
    assert the_order(runtime).status == "cancelled"
    ann = profile_of(runtime, ANN)
    assert (ann.order_count, ann.revenue_minor) == (0, 0)
    with runtime.uow() as uow:
        (cancel,) = events.list_events(uow.session, contact_id=ann.id, name="Order Cancelled")
    assert cancel.occurred_at == utc("2026-11-02T09:15:00+01:00")
    assert cancel.properties["cancel_reason"] == "customer"


def _only_line_items(refund: dict[str, Any]) -> None:
    refund["transactions"] = []


def _restock_only(refund: dict[str, Any]) -> None:
    refund["transactions"] = []
    refund["refund_line_items"] = []


@pytest.mark.parametrize(
    ("change", "refunded"),
    [
        (lambda refund: None, 5000),  # successful refund transactions win
        (_only_line_items, 5995),  # no money moved yet: the refunded lines' subtotal
        (_restock_only, 0),  # nothing refunded in money must not refund the whole order
    ],
    ids=["transactions", "line-items", "restock-only"],
)
def test_refund_amount(
    client: TestClient, runtime: Runtime, change: Callable[[dict[str, Any]], None], refunded: int
) -> None:
    accepted(deliver(client, "orders/create", load("orders_create")))
    refund = load("refunds_create")
    change(refund)
    accepted(deliver(client, "refunds/create", refund))
    assert the_order(runtime).refunded_minor == refunded


def test_refund_of_an_unknown_order_is_acknowledged_and_ignored(client: TestClient, session: Session) -> None:
    r = deliver(client, "refunds/create", load("refunds_create"))
    assert r.status_code == 200 and r.json()["status"] == "ignored"
    profiles, stored_events, stored_orders, _ = stored_counts(session)
    assert (profiles, stored_events, stored_orders) == (0, 0, 0)


def test_checkout_started_with_customer(client: TestClient, runtime: Runtime) -> None:
    accepted(deliver(client, "checkouts/create", load("checkouts_create")))
    bo = profile_of(runtime, "bo.berg@example.com")
    assert (bo.external_id, bo.first_name, bo.locale) == ("603851970716743426", "Bo", "sv-SE")
    # not_subscribed without a date is Shopify's default, not a decision.
    assert bo.consent_status == "never_subscribed" and bo.consent_updated_at is None
    with runtime.uow() as uow:
        (event,) = events.list_events(uow.session, contact_id=bo.id)
    assert event.name == "Checkout Started"
    assert event.properties["checkout_id"] == "b1946ac92492d2347c6235b4d2611184"
    assert event.properties["checkout_url"].endswith("/recover?key=a1b2c3")
    assert event.properties["products"][0]["product_id"] == "632910392"
    assert event.properties["value"] == 59.95


def test_anonymous_checkout_joins_the_customer_once_the_email_is_known(
    client: TestClient, runtime: Runtime, session: Session
) -> None:
    anonymous = load("checkouts_create")
    anonymous.update(email=None, customer=None)
    accepted(deliver(client, "checkouts/create", anonymous))
    with runtime.uow() as uow:
        (listed,) = contacts.list_profiles(uow.session)
        visitor = contacts.get_profile(uow.session, listed.id)
    assert visitor.email is None and visitor.anonymous_ids == ["b1946ac92492d2347c6235b4d2611184"]

    accepted(deliver(client, "checkouts/update", load("checkouts_create")))
    bo = profile_of(runtime, "bo.berg@example.com")
    assert contacts.count_profiles(session) == 1
    with runtime.uow() as uow:
        names = [e.name for e in events.list_events(uow.session, contact_id=bo.id)]
    assert names == ["Checkout Started", "Checkout Started"]


def test_completed_checkout_is_left_to_the_order(client: TestClient, session: Session) -> None:
    completed = load("checkouts_create")
    completed["completed_at"] = "2026-11-01T18:10:00+01:00"
    r = deliver(client, "checkouts/update", completed)
    assert r.status_code == 200 and r.json()["status"] == "ignored"
    assert stored_counts(session)[:2] == (0, 0)


@pytest.mark.parametrize(
    ("topic", "fixture", "status", "at"),
    [
        # Legacy accepts_marketing (API versions without email_marketing_consent).
        ("customers/create", "customers_create", "subscribed", "2026-10-20T09:00:00-04:00"),
        ("customers/update", "customers_update", "unsubscribed", "2026-11-02T08:00:00-04:00"),
        (
            "customers/email_marketing_consent_update",
            "customers_email_marketing_consent_update",
            "subscribed",
            "2026-11-03T12:00:00-04:00",
        ),
    ],
)
def test_customer_webhooks_set_consent_with_its_time(
    client: TestClient, runtime: Runtime, topic: str, fixture: str, status: str, at: str
) -> None:
    accepted(deliver(client, topic, load(fixture)))
    cleo = profile_of(runtime, CLEO)
    assert cleo.external_id == "706405506930370084"
    assert (cleo.consent_status, cleo.consent_updated_at, cleo.consent_source) == (status, utc(at), "shopify")


def test_customer_update_refreshes_the_profile(client: TestClient, runtime: Runtime) -> None:
    accepted(deliver(client, "customers/create", load("customers_create")))
    cleo = profile_of(runtime, CLEO)
    assert (cleo.first_name, cleo.last_name, cleo.phone) == ("Cleo", "Martin", "+15145550123")
    assert (cleo.country, cleo.city) == ("CA", "Montreal")
    assert cleo.properties == {"tags": ["newsletter", "pop-up"]}

    accepted(deliver(client, "customers/update", load("customers_update")))
    cleo = profile_of(runtime, CLEO)
    assert cleo.city == "Quebec City"
    assert cleo.properties == {"tags": ["newsletter", "pop-up", "wholesale"]}
    with runtime.uow() as uow:
        assert [e.name for e in events.list_events(uow.session, contact_id=cleo.id)] == [
            "Identify",
            "Identify",
        ]


def test_older_consent_never_overwrites_a_newer_one(client: TestClient, runtime: Runtime) -> None:
    accepted(deliver(client, "customers/update", load("customers_update")))
    accepted(deliver(client, "customers/create", load("customers_create")))  # arrives late, says subscribed
    assert profile_of(runtime, CLEO).consent_status == "unsubscribed"


def test_product_webhook_upserts_the_catalog_without_a_contact(
    client: TestClient, runtime: Runtime, session: Session
) -> None:
    accepted(deliver(client, "products/create", load("products_create")))
    with runtime.uow() as uow:
        product = catalog.get_product(uow.session, "632910392")
    assert product.title == "Trail Shoe"
    assert product.url == f"https://{SHOP}/products/trail-shoe"
    assert product.image_url == "https://cdn.shopify.com/s/files/1/0005/4838/0009/products/trail-shoe.jpg?v=1"
    assert product.categories == ["Shoes"]
    assert (product.price_minor, product.currency, product.in_stock) == (5495, "EUR", True)
    variants = {
        v.external_id: (v.sku, v.price_minor, v.in_stock) for v in session.scalars(select(ProductVariant))
    }
    assert variants == {"808950810": ("SHOE-42", 5995, False), "49148385": ("SHOE-43", 5495, True)}
    assert stored_counts(session)[:2] == (0, 0)

    archived = load("products_create")
    archived["status"] = "archived"
    accepted(deliver(client, "products/update", archived))
    with runtime.uow() as uow:
        assert catalog.get_product(uow.session, "632910392").in_stock is False


def test_product_link_only_uses_a_shopify_shop_domain(client: TestClient, runtime: Runtime) -> None:
    # The domain header is not covered by the signature; a replayed body must not carry links elsewhere.
    accepted(
        deliver(
            client,
            "products/create",
            load("products_create"),
            headers={"X-Shopify-Shop-Domain": "evil.example"},
        )
    )
    with runtime.uow() as uow:
        assert catalog.get_product(uow.session, "632910392").url is None


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Shopify-Hmac-Sha256": ""},
        {"X-Shopify-Hmac-Sha256": sign(b"{}")},
        {"X-Shopify-Hmac-Sha256": "not base64!"},
    ],
    ids=["missing", "other-body", "garbage"],
)
def test_bad_signature_is_401_and_stores_nothing(
    client: TestClient, session: Session, headers: dict[str, str]
) -> None:
    r = deliver(client, "orders/create", load("orders_create"), headers=headers)
    assert r.status_code == 401
    assert r.json()["field"] == "X-Shopify-Hmac-Sha256"
    assert "X-Shopify-Hmac-Sha256" in r.json()["detail"]
    assert stored_counts(session) == (0, 0, 0, 0)


def test_body_signed_with_another_secret_is_refused(client: TestClient, session: Session) -> None:
    body = orjson.dumps(load("orders_create"))
    r = deliver(
        client, "orders/create", raw=body, headers={"X-Shopify-Hmac-Sha256": sign(body, "other-secret")}
    )
    assert r.status_code == 401
    assert stored_counts(session) == (0, 0, 0, 0)


def test_tampered_body_is_refused(client: TestClient, session: Session) -> None:
    body = orjson.dumps(load("orders_create"))
    tampered = body.replace(b'"147.94"', b'"1.00"')
    r = deliver(client, "orders/create", raw=tampered, headers={"X-Shopify-Hmac-Sha256": sign(body)})
    assert r.status_code == 401
    assert stored_counts(session) == (0, 0, 0, 0)


def test_without_a_secret_the_endpoint_says_what_to_configure(
    client: TestClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        runtime, "settings", runtime.settings.model_copy(update={"shopify_webhook_secret": None})
    )
    r = deliver(client, "orders/create", load("orders_create"))
    assert r.status_code == 503
    assert "MAILWRIGHT_SHOPIFY_WEBHOOK_SECRET" in r.json()["detail"]


def test_redelivery_is_acknowledged_and_stored_once(client: TestClient, session: Session) -> None:
    payload = load("orders_create")
    accepted(deliver(client, "orders/create", payload, event_id="evt-42"))
    again = deliver(client, "orders/create", payload, event_id="evt-42")
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert stored_counts(session) == (1, 1, 1, 1)


def test_webhook_id_is_the_dedupe_key_without_an_event_id(client: TestClient, session: Session) -> None:
    payload = load("customers_create")
    headers = {"X-Shopify-Event-Id": "", "X-Shopify-Webhook-Id": "wh-7"}
    accepted(deliver(client, "customers/create", payload, headers=headers))
    assert deliver(client, "customers/create", payload, headers=headers).json()["status"] == "duplicate"
    receipt = session.scalars(select(WebhookReceipt)).one()
    assert (receipt.source, receipt.delivery_id, receipt.topic) == ("shopify", "wh-7", "customers/create")
    assert stored_counts(session)[1] == 1


def test_customer_redact_erases_and_keeps_the_address_suppressed(
    client: TestClient, runtime: Runtime, session: Session
) -> None:
    accepted(deliver(client, "orders/create", load("orders_create")))
    accepted(deliver(client, "customers/redact", load("customers_redact")))
    with runtime.uow() as uow:
        assert contacts.find_by_email(uow.session, ANN) is None
        assert contacts.is_suppressed(uow.session, ANN)
        assert orders.list_orders(uow.session) == []
    profiles, stored_events, stored_orders, _ = stored_counts(session)
    assert (profiles, stored_events, stored_orders) == (0, 0, 0)

    # A late order webhook for the erased customer must not bring the address back into mailing.
    accepted(deliver(client, "orders/create", load("orders_create")))
    with runtime.uow() as uow:
        assert contacts.is_suppressed(uow.session, ANN)


def test_unknown_topic_is_acknowledged_and_ignored(client: TestClient, session: Session) -> None:
    r = deliver(client, "inventory_levels/update", {"inventory_item_id": 1, "available": 3})
    assert r.status_code == 200
    assert r.json() == {
        "status": "ignored",
        "topic": "inventory_levels/update",
        "reason": "topic not handled",
    }
    assert stored_counts(session) == (0, 0, 0, 0)


def test_malformed_json_is_400(client: TestClient, session: Session) -> None:
    r = deliver(client, "orders/create", raw=b'{"id": 1, "line_items": [')
    assert r.status_code == 400
    assert "malformed JSON" in r.json()["detail"]
    assert stored_counts(session) == (0, 0, 0, 0)


def _drop(*path: str | int) -> Callable[[dict[str, Any]], None]:
    def change(payload: dict[str, Any]) -> None:
        node: Any = payload
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]

    return change


def _set(*path: str | int, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(payload: dict[str, Any]) -> None:
        node: Any = payload
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return change


@pytest.mark.parametrize(
    ("topic", "fixture", "change", "field"),
    [
        ("orders/create", "orders_create", _drop("id"), "id"),
        ("orders/create", "orders_create", _drop("total_price"), "total_price"),
        ("orders/create", "orders_create", _set("total_price", value="lots"), "total_price"),
        ("orders/create", "orders_create", _drop("line_items"), "line_items"),
        ("orders/create", "orders_create", _drop("line_items", 1, "price"), "line_items[1].price"),
        ("orders/create", "orders_create", _set("email", value="not-an-email"), "email"),
        (
            "orders/create",
            "orders_create",
            _set("customer", "default_address", "country_code", value="Narnia"),
            "customer.default_address.country_code",
        ),
        (
            "orders/create",
            "orders_create",
            _set("line_items", 0, "quantity", value=-1),
            "line_items[0].quantity",
        ),
        ("refunds/create", "refunds_create", _drop("order_id"), "order_id"),
        (
            "refunds/create",
            "refunds_create",
            _set("transactions", 0, "amount", value="x"),
            "transactions[0].amount",
        ),
        ("checkouts/create", "checkouts_create", _drop("token"), "token"),
        ("customers/update", "customers_update", _drop("id"), "id"),
        (
            "customers/update",
            "customers_update",
            _set("email_marketing_consent", "consent_updated_at", value="yesterday"),
            "email_marketing_consent.consent_updated_at",
        ),
        ("products/create", "products_create", _drop("variants", 0, "id"), "variants[0].id"),
        ("customers/redact", "customers_redact", _drop("customer"), "customer"),
    ],
)
def test_payload_missing_a_required_field_is_400_naming_it(
    client: TestClient,
    session: Session,
    topic: str,
    fixture: str,
    change: Callable[[dict[str, Any]], None],
    field: str,
) -> None:
    payload = load(fixture)
    change(payload)
    r = deliver(client, topic, payload, event_id="evt-bad")
    assert r.status_code == 400, r.text
    assert r.json()["field"] == field
    assert stored_counts(session) == (0, 0, 0, 0)
    # Nothing was recorded for the event id, so Shopify's retry with a good payload is processed.
    retry = deliver(client, topic, load(fixture), event_id="evt-bad")
    assert retry.status_code == 200 and retry.json()["status"] != "duplicate", retry.text


def test_missing_topic_header_is_400(client: TestClient) -> None:
    r = deliver(client, "", load("orders_create"))
    assert r.status_code == 400
    assert r.json()["field"] == "X-Shopify-Topic"
