"""Magento 2 / Adobe Commerce: an incremental pull of customers, products and orders by `updated_at`.

Each resource keeps its own cursor (the newest `updated_at` stored); the next run asks for records
updated at or after it (`gteq`, so nothing with the same second is missed; message ids dedupe).
Magento answers a page past the end with the last page again, so paging stops on `total_count`.
"""

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from mailwright.catalog.schemas import ProductIn
from mailwright.connectors import common as c
from mailwright.connectors import repository
from mailwright.connectors.http import ApiClient, HttpOptions, raise_for_status
from mailwright.connectors.schemas import SyncReport
from mailwright.connectors.service import ConnectionData, save_progress
from mailwright.contacts.identity import normalize_currency
from mailwright.core.errors import InvalidInput
from mailwright.core.jobs import UnitOfWorkFactory
from mailwright.core.money import to_minor
from mailwright.events import vocabulary as v
from mailwright.events.schemas import IncomingEvent, OrderDraft
from mailwright.orders.schemas import OrderLineIn

SOURCE = "magento"
PAGE_SIZE = 100
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Order states (not the shop-defined statuses) decide what an order means.
PLACED_STATES = frozenset({"new", "processing", "complete", "holded", "payment_review", "closed", "canceled"})
RESOURCES = (
    ("products", "/rest/V1/products"),
    ("customers", "/rest/V1/customers/search"),
    ("orders", "/rest/V1/orders"),
)


def _mid(data: ConnectionData, *parts: object) -> str:
    return ":".join([SOURCE, str(data.id), *map(str, parts)])[:200]


def _custom(record: dict[str, Any], code: str) -> Any:
    for item in record.get("custom_attributes") or []:
        if isinstance(item, dict) and item.get("attribute_code") == code:
            return item.get("value")
    return None


def customer_event(data: ConnectionData, record: dict[str, Any]) -> IncomingEvent:
    """A Magento customer as an Identify event (its newsletter flag is its consent)."""
    customer_id = c.ident(c.required(record, "id", "id"), "id")
    updated = c.when(c.required(record, "updated_at", "updated_at"), "updated_at")
    assert updated is not None
    profile: dict[str, Any] = {}
    for source, target in (("firstname", "first_name"), ("lastname", "last_name")):
        value = c.text(record.get(source))
        if value:
            profile[target] = value
    addresses = c.objects(record, "addresses", "addresses")
    billing = next((a for a in addresses if a.get("default_billing")), addresses[0] if addresses else {})
    profile.update(c.place(billing, "addresses[]", country_key="country_id"))
    extension = c.obj(record, "extension_attributes", "extension_attributes")
    subscribed = extension.get("is_subscribed")
    return IncomingEvent(
        message_id=_mid(data, "customer", customer_id, updated.isoformat()),
        type="identify",
        name=v.IDENTIFY,
        occurred_at=updated,
        source=SOURCE,
        user_id=customer_id,
        email=c.email(record.get("email"), "email"),
        properties={"customer_id": customer_id},
        profile=profile,
        consent=("subscribed" if subscribed else "unsubscribed") if isinstance(subscribed, bool) else None,
        consent_at=updated if isinstance(subscribed, bool) else None,
    )


def product_event(data: ConnectionData, record: dict[str, Any], currency: str) -> IncomingEvent:
    """A Magento product as a catalog change (URL and image built from the store's base URL)."""
    product_id = c.ident(c.required(record, "id", "id"), "id")
    base = str(data.config["url"])
    url_key = _custom(record, "url_key")
    image = _custom(record, "image")
    stock = c.obj(c.obj(record, "extension_attributes", "extension_attributes"), "stock_item", "stock_item")
    in_stock = stock.get("is_in_stock", True) is not False
    price = c.money(record.get("price"), currency, "price")
    updated = c.when(record.get("updated_at"), "updated_at")
    return IncomingEvent(
        message_id=_mid(data, "product", product_id, updated.isoformat() if updated else "-"),
        type="track",
        name="product.updated",
        occurred_at=updated or EPOCH,
        source=SOURCE,
        products=[
            ProductIn(
                external_id=product_id,
                sku=c.text(record.get("sku")),
                title=c.text(record.get("name"), 1000),
                url=f"{base}/{url_key}.html" if url_key else None,
                image_url=f"{base}/media/catalog/product{image}"
                if image and image != "no_selection"
                else None,
                price_minor=price,
                currency=currency if price is not None else None,
                # status 1 = enabled; a disabled product must not be recommended.
                in_stock=in_stock and int(record.get("status") or 1) == 1,
            )
        ],
        catalog_only=True,
    )


def order_events(
    data: ConnectionData, record: dict[str, Any], refunded_before: int = 0
) -> list[IncomingEvent]:
    """A Magento order: placed -> Order Completed; newly refunded money; a cancellation.

    `total_refunded` is a running total, so only its increase over what is stored becomes a refund.
    """
    order_id = c.ident(c.required(record, "increment_id", "increment_id"), "increment_id")
    state = str(record.get("state") or "new")
    if state not in PLACED_STATES:
        return []  # pending_payment: not an order yet
    currency = normalize_currency(
        str(c.required(record, "order_currency_code", "order_currency_code")), field="order_currency_code"
    )
    created = c.when(c.required(record, "created_at", "created_at"), "created_at")
    updated = c.when(record.get("updated_at"), "updated_at") or created
    assert created is not None and updated is not None
    customer_id = None if record.get("customer_is_guest") else record.get("customer_id")
    user_id = c.ident(customer_id, "customer_id") if customer_id else None
    email = c.email(record.get("customer_email"), "customer_email")
    billing = c.obj(record, "billing_address", "billing_address")
    profile: dict[str, Any] = {
        k: val
        for k, val in (
            ("first_name", c.text(record.get("customer_firstname"))),
            ("last_name", c.text(record.get("customer_lastname"))),
        )
        if val
    }
    profile.update(c.place(billing, "billing_address", country_key="country_id"))
    lines: list[OrderLineIn] = []
    props: list[dict[str, Any]] = []
    catalog: list[ProductIn] = []
    for i, item in enumerate(c.objects(record, "items", "items")):
        if item.get("parent_item_id"):
            continue  # a configurable product's child line repeats its parent
        path = f"items[{i}]"
        product_id = c.ident(item["product_id"], f"{path}.product_id") if item.get("product_id") else None
        quantity = int(float(item.get("qty_ordered") or 0))
        price = to_minor(item.get("price") or 0, currency, field=f"{path}.price")
        name = c.text(item.get("name"), 1000)
        lines.append(
            OrderLineIn(
                product_external_id=product_id,
                sku=c.text(item.get("sku")),
                title=name,
                quantity=quantity,
                price_minor=price,
            )
        )
        props.append(
            {
                "product_id": product_id,
                "sku": c.text(item.get("sku")),
                "name": name,
                "price": c.number(item.get("price")),
                "quantity": quantity,
            }
        )
        if product_id:
            catalog.append(ProductIn(external_id=product_id, title=name))
    total = to_minor(c.required(record, "grand_total", "grand_total"), currency, field="grand_total")
    discount = c.money(record.get("discount_amount"), currency, "discount_amount")
    base: dict[str, Any] = {
        "source": SOURCE,
        "user_id": user_id,
        "email": email,
        "anonymous_id": None if (user_id or email) else f"{SOURCE}-order:{order_id}",
    }
    found = [
        IncomingEvent(
            message_id=_mid(data, "order", order_id, "placed"),
            type="track",
            name=v.ORDER_COMPLETED,
            occurred_at=created,
            properties={
                "order_id": order_id,
                "total": c.number(record.get("grand_total")),
                "currency": currency,
                "coupon": c.text(record.get("coupon_code")),
                "products": props,
                "status": record.get("status"),
            },
            profile=profile,
            products=catalog,
            order=OrderDraft(
                external_id=order_id,
                currency=currency,
                total_minor=total,
                subtotal_minor=c.money(record.get("subtotal"), currency, "subtotal"),
                tax_minor=c.money(record.get("tax_amount"), currency, "tax_amount"),
                shipping_minor=c.money(record.get("shipping_amount"), currency, "shipping_amount"),
                discount_minor=abs(discount) if discount is not None else None,
                coupon=c.text(record.get("coupon_code"), 100),
                lines=lines,
            ),
            **base,
        )
    ]
    refunded = c.money(record.get("total_refunded"), currency, "total_refunded") or 0
    if refunded > refunded_before:
        found.append(
            IncomingEvent(
                message_id=_mid(data, "order", order_id, "refunded", refunded),
                type="track",
                name=v.ORDER_REFUNDED,
                occurred_at=updated,
                properties={
                    "order_id": order_id,
                    "total": (refunded - refunded_before) / 100,
                    "currency": currency,
                },
                refund_order_id=order_id,
                refund_minor=refunded - refunded_before,
                **base,
            )
        )
    if state == "canceled":
        found.append(
            IncomingEvent(
                message_id=_mid(data, "order", order_id, "cancelled"),
                type="track",
                name=v.ORDER_CANCELLED,
                occurred_at=updated,
                properties={"order_id": order_id},
                cancel_order_id=order_id,
                **base,
            )
        )
    return found


def _search(
    api: ApiClient, path: str, since: str | None, report: SyncReport
) -> Iterator[list[dict[str, Any]]]:
    page = 1
    while True:
        params: dict[str, Any] = {
            "searchCriteria[sortOrders][0][field]": "updated_at",
            "searchCriteria[sortOrders][0][direction]": "ASC",
            "searchCriteria[pageSize]": PAGE_SIZE,
            "searchCriteria[currentPage]": page,
        }
        if since:
            params.update(
                {
                    "searchCriteria[filterGroups][0][filters][0][field]": "updated_at",
                    "searchCriteria[filterGroups][0][filters][0][value]": since,
                    "searchCriteria[filterGroups][0][filters][0][conditionType]": "gteq",
                }
            )
        response = api.request("GET", path, params=params)
        report.requests += 1
        raise_for_status(response, "Magento")
        body = response.json()
        if not isinstance(body, dict):
            raise InvalidInput(f"Magento {path} did not return a search result", field=path)
        items = c.objects(body, "items", "items")
        yield items
        total = int(body.get("total_count") or 0)
        if not items or page * PAGE_SIZE >= total:
            return
        page += 1


def sync(open_uow: UnitOfWorkFactory, data: ConnectionData, options: HttpOptions, report: SyncReport) -> None:
    """Pull products, customers and orders updated since each resource's cursor, a page per transaction."""
    currency = normalize_currency(str(data.config.get("currency") or "GBP"), field="config.currency")
    cursor = dict(data.cursor)
    with ApiClient(
        str(data.config["url"]),
        options=options,
        headers={"Authorization": f"Bearer {data.config['token']}"},
        service="Magento",
    ) as api:
        for resource, path in RESOURCES:
            for items in _search(api, path, cursor.get(resource), report):
                batch: list[IncomingEvent] = []
                refunded: dict[str, int] = {}
                if resource == "orders":
                    with open_uow() as uow:
                        refunded = repository.refunded_minor(
                            uow.session, [str(r.get("increment_id")) for r in items]
                        )
                for i, record in enumerate(items):
                    try:
                        if resource == "customers":
                            batch.append(customer_event(data, record))
                        elif resource == "products":
                            batch.append(product_event(data, record, currency))
                        else:
                            batch.extend(
                                order_events(data, record, refunded.get(str(record.get("increment_id")), 0))
                            )
                    except InvalidInput as exc:
                        raise InvalidInput(
                            f"Magento {resource} item {i}: {exc.message}", field=exc.field
                        ) from exc
                c.store_events(open_uow, batch, report)
                report.pulled[resource] = report.pulled.get(resource, 0) + len(items)
                stamps = [str(r["updated_at"]) for r in items if r.get("updated_at")]
                if stamps:
                    cursor[resource] = max(stamps)
                    with open_uow() as uow:
                        save_progress(
                            uow.session, data.id, {resource: cursor[resource]}, error=None, now=uow.now()
                        )
        report.waited_seconds += sum(api.waits)
    report.cursor = cursor
