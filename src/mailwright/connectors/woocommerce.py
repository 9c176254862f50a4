"""WooCommerce: webhook payloads and the REST API v3 backfill turned into Mailwright events.

Both ways produce the same message ids (`woocommerce:<connection>:order:<id>:placed` ...), so an order
that arrives by webhook and again by a backfill is stored once.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mailwright.catalog.schemas import ProductIn
from mailwright.connectors import common as c
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

SOURCE = "woocommerce"
SIGNATURE_HEADER = "X-WC-Webhook-Signature"
TOPIC_HEADER = "X-WC-Webhook-Topic"
DELIVERY_HEADER = "X-WC-Webhook-Delivery-ID"
WEBHOOK_ID_HEADER = "X-WC-Webhook-ID"
SOURCE_HEADER = "X-WC-Webhook-Source"

TOPICS = (
    "order.created",
    "order.updated",
    "customer.created",
    "customer.updated",
    "product.created",
    "product.updated",
)
# Paid or about to ship: the order counts. pending / failed / checkout-draft are carts not yet paid.
PAID_STATUSES = frozenset({"processing", "completed", "on-hold"})
UNPAID_STATUSES = frozenset({"pending", "checkout-draft"})
PER_PAGE = 100
# Catalog changes are not stored as events; a product without dates still needs an aware time.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Shop:
    """The connection an event belongs to, and the currency of its prices."""

    connection_id: int
    currency: str

    def message_id(self, *parts: object) -> str:
        """A dedupe id shared by the webhook and the backfill paths."""
        return ":".join([SOURCE, str(self.connection_id), *map(str, parts)])[:200]


def shop_of(data: ConnectionData, default_currency: str) -> Shop:
    """The shop a connection describes."""
    currency = str(data.config.get("currency") or default_currency)
    return Shop(data.id, normalize_currency(currency, field="config.currency"))


def is_ping(raw: bytes, topic: str | None) -> bool:
    """The request WooCommerce sends when a webhook is saved: `webhook_id=<n>`, no topic, no signature."""
    return not topic and raw.startswith(b"webhook_id=") and raw[11:].strip().isdigit()


def events_for(topic: str, payload: dict[str, Any], shop: Shop) -> list[IncomingEvent]:
    """The events one webhook (or one backfilled record) means; [] for records that mean nothing yet."""
    if topic.startswith("order."):
        return order_events(payload, shop)
    if topic.startswith("customer."):
        return [customer_event(payload, shop)]
    if topic.startswith("product."):
        return [product_event(payload, shop)]
    raise InvalidInput(f"unsupported WooCommerce topic {topic!r}", field=TOPIC_HEADER)


def _profile(customer: dict[str, Any], billing: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for key in ("first_name", "last_name"):
        value = c.text(customer.get(key)) or c.text(billing.get(key))
        if value:
            fields[key] = value
    phone = c.text(billing.get("phone"), 50)
    if phone:
        fields["phone"] = phone
    fields.update(c.place(billing, "billing"))
    return fields


def customer_event(payload: dict[str, Any], shop: Shop) -> IncomingEvent:
    """A customer record as an Identify event."""
    customer_id = c.ident(c.required(payload, "id", "id"), "id")
    billing = c.obj(payload, "billing", "billing")
    modified = c.when(payload.get("date_modified_gmt"), "date_modified_gmt")
    created = c.when(payload.get("date_created_gmt"), "date_created_gmt")
    occurred = modified or created
    if occurred is None:
        raise InvalidInput("date_modified_gmt or date_created_gmt is required", field="date_modified_gmt")
    return IncomingEvent(
        message_id=shop.message_id("customer", customer_id, occurred.isoformat()),
        type="identify",
        name=v.IDENTIFY,
        occurred_at=occurred,
        source=SOURCE,
        user_id=customer_id,
        email=c.email(payload.get("email"), "email") or c.email(billing.get("email"), "billing.email"),
        properties={"customer_id": customer_id, "woocommerce_role": c.text(payload.get("role"))},
        profile=_profile(payload, billing),
    )


def _lines(
    payload: dict[str, Any], currency: str
) -> tuple[list[OrderLineIn], list[dict[str, Any]], list[ProductIn]]:
    lines: list[OrderLineIn] = []
    props: list[dict[str, Any]] = []
    catalog: list[ProductIn] = []
    for i, item in enumerate(c.objects(payload, "line_items", "line_items")):
        path = f"line_items[{i}]"
        product_id = c.ident(item["product_id"], f"{path}.product_id") if item.get("product_id") else None
        quantity = item.get("quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
            raise InvalidInput(f"{path}.quantity must be a whole number >= 0", field=f"{path}.quantity")
        total = to_minor(c.required(item, "total", f"{path}.total"), currency, field=f"{path}.total")
        unit = total // quantity if quantity else total
        name = c.text(item.get("name"), 1000)
        sku = c.text(item.get("sku"))
        lines.append(
            OrderLineIn(
                product_external_id=product_id, sku=sku, title=name, quantity=quantity, price_minor=unit
            )
        )
        props.append(
            {
                "product_id": product_id,
                "variant_id": c.text(item.get("variation_id")) if item.get("variation_id") else None,
                "sku": sku,
                "name": name,
                "price": c.number(item.get("price")),
                "quantity": quantity,
            }
        )
        if product_id is not None:
            catalog.append(ProductIn(external_id=product_id, title=name))
    return lines, props, catalog


def order_events(payload: dict[str, Any], shop: Shop) -> list[IncomingEvent]:
    """An order by its status: paid -> Order Completed; cancelled; each refund; unpaid -> Checkout Started."""
    order_id = c.ident(c.required(payload, "id", "id"), "id")
    status = str(c.required(payload, "status", "status")).lower()
    currency = normalize_currency(str(payload.get("currency") or shop.currency), field="currency")
    created = c.when(payload.get("date_created_gmt"), "date_created_gmt")
    modified = c.when(payload.get("date_modified_gmt"), "date_modified_gmt") or created
    if created is None or modified is None:
        raise InvalidInput("date_created_gmt is required", field="date_created_gmt")
    billing = c.obj(payload, "billing", "billing")
    customer_id = payload.get("customer_id")
    user_id = c.ident(customer_id, "customer_id") if customer_id not in (None, 0, "0", "") else None
    email = c.email(billing.get("email"), "billing.email")
    anonymous_id = None if (user_id or email) else f"{SOURCE}-order:{order_id}"
    lines, props, catalog = _lines(payload, currency)
    codes = [
        str(x["code"]) for x in c.objects(payload, "coupon_lines", "coupon_lines") if c.present(x.get("code"))
    ]
    total = to_minor(c.required(payload, "total", "total"), currency, field="total")
    properties: dict[str, Any] = {
        "order_id": order_id,
        "order_number": c.text(payload.get("number")),
        "status": status,
        "total": c.number(payload.get("total")),
        "tax": c.number(payload.get("total_tax")),
        "shipping": c.number(payload.get("shipping_total")),
        "discount": c.number(payload.get("discount_total")),
        "coupon": ", ".join(codes) or None,
        "currency": currency,
        "products": props,
    }
    base: dict[str, Any] = {
        "source": SOURCE,
        "user_id": user_id,
        "email": email,
        "anonymous_id": anonymous_id,
        "profile": _profile({}, billing),
    }
    found: list[IncomingEvent] = []
    if status in UNPAID_STATUSES:
        order_key = c.text(payload.get("order_key")) or order_id
        found.append(
            IncomingEvent(
                message_id=shop.message_id("order", order_id, "checkout", modified.isoformat()),
                type="track",
                name=v.CHECKOUT_STARTED,
                occurred_at=modified,
                properties={**properties, "checkout_id": order_key, "value": properties["total"]},
                products=catalog,
                **{**base, "anonymous_id": anonymous_id or f"{SOURCE}-checkout:{order_key}"},
            )
        )
        return found
    if status in PAID_STATUSES or status in ("refunded", "cancelled", "completed"):
        subtotal = sum(line.price_minor * line.quantity for line in lines) if lines else None
        found.append(
            IncomingEvent(
                message_id=shop.message_id("order", order_id, "placed"),
                type="track",
                name=v.ORDER_COMPLETED,
                occurred_at=created,
                properties=properties,
                products=catalog,
                order=OrderDraft(
                    external_id=order_id,
                    currency=currency,
                    total_minor=total,
                    subtotal_minor=subtotal,
                    tax_minor=c.money(payload.get("total_tax"), currency, "total_tax"),
                    shipping_minor=c.money(payload.get("shipping_total"), currency, "shipping_total"),
                    discount_minor=c.money(payload.get("discount_total"), currency, "discount_total"),
                    coupon=", ".join(codes)[:100] or None,
                    lines=lines,
                ),
                **base,
            )
        )
    for i, refund in enumerate(c.objects(payload, "refunds", "refunds")):
        refund_id = c.ident(c.required(refund, "id", f"refunds[{i}].id"), f"refunds[{i}].id")
        amount = abs(
            to_minor(
                c.required(refund, "total", f"refunds[{i}].total"), currency, field=f"refunds[{i}].total"
            )
        )
        found.append(
            IncomingEvent(
                message_id=shop.message_id("order", order_id, "refund", refund_id),
                type="track",
                name=v.ORDER_REFUNDED,
                occurred_at=modified,
                properties={
                    "order_id": order_id,
                    "refund_id": refund_id,
                    "total": amount / 100,
                    "currency": currency,
                },
                refund_order_id=order_id,
                refund_minor=amount,
                **base,
            )
        )
    if status == "cancelled":
        found.append(
            IncomingEvent(
                message_id=shop.message_id("order", order_id, "cancelled"),
                type="track",
                name=v.ORDER_CANCELLED,
                occurred_at=modified,
                properties={"order_id": order_id},
                cancel_order_id=order_id,
                **base,
            )
        )
    return found


def product_event(payload: dict[str, Any], shop: Shop) -> IncomingEvent:
    """A product record as a catalog change."""
    product_id = c.ident(c.required(payload, "id", "id"), "id")
    images = c.objects(payload, "images", "images")
    categories = [
        str(x["name"]) for x in c.objects(payload, "categories", "categories") if c.present(x.get("name"))
    ]
    published = str(payload.get("status") or "publish") == "publish"
    stock = str(payload.get("stock_status") or "instock")
    occurred = c.when(payload.get("date_modified_gmt"), "date_modified_gmt") or c.when(
        payload.get("date_created_gmt"), "date_created_gmt"
    )
    price = c.money(payload.get("price"), shop.currency, "price")
    product = ProductIn(
        external_id=product_id,
        sku=c.text(payload.get("sku")),
        title=c.text(payload.get("name"), 1000),
        url=c.text(payload.get("permalink"), 2000),
        image_url=c.text(images[0].get("src"), 2000) if images else None,
        price_minor=price,
        currency=shop.currency if price is not None else None,
        categories=categories or None,
        # Backorders can still be bought; drafts and private products cannot.
        in_stock=published and stock in ("instock", "onbackorder"),
    )
    return IncomingEvent(
        message_id=shop.message_id("product", product_id, occurred.isoformat() if occurred else "-"),
        type="track",
        name="product.updated",
        occurred_at=occurred or EPOCH,
        source=SOURCE,
        products=[product],
        catalog_only=True,
    )


# --- backfill through the REST API -----------------------------------------------------------------

RESOURCES = (("products", "product.updated"), ("customers", "customer.updated"), ("orders", "order.updated"))


def client(data: ConnectionData, options: HttpOptions) -> ApiClient:
    """A REST API v3 client authenticated with the consumer key and secret (HTTP Basic over HTTPS)."""
    return ApiClient(
        f"{data.config['url']}/wp-json/wc/v3",
        options=options,
        auth=(str(data.config["consumer_key"]), str(data.config["consumer_secret"])),
        service="WooCommerce",
    )


def backfill(
    open_uow: UnitOfWorkFactory, data: ConnectionData, options: HttpOptions, report: SyncReport
) -> None:
    """Read products, customers and orders page by page (modified after the last run's start) and ingest them."""
    shop = shop_of(data, str(data.config.get("default_currency") or "GBP"))
    with client(data, options) as api:
        for resource, topic in RESOURCES:
            since = data.cursor.get(resource)
            started = report.started_at
            page = 1
            while True:
                params: dict[str, Any] = {"page": page, "per_page": PER_PAGE, "orderby": "id", "order": "asc"}
                if since:
                    # The cursor is UTC; without dates_are_gmt WooCommerce reads it in the site's zone.
                    params["modified_after"] = since
                    params["dates_are_gmt"] = "true"
                if resource == "customers":
                    params["role"] = "all"
                response = api.request("GET", f"/{resource}", params=params)
                report.requests += 1
                raise_for_status(response, "WooCommerce")
                records = response.json()
                if not isinstance(records, list):
                    raise InvalidInput(f"WooCommerce /{resource} did not return a list", field=resource)
                batch: list[IncomingEvent] = []
                for i, record in enumerate(records):
                    try:
                        batch.extend(events_for(topic, record, shop))
                    except InvalidInput as exc:
                        raise InvalidInput(
                            f"WooCommerce {resource} page {page} record {i}: {exc.message}", field=exc.field
                        ) from exc
                c.store_events(open_uow, batch, report)
                report.pulled[resource] = report.pulled.get(resource, 0) + len(records)
                total_pages = int(response.headers.get("X-WP-TotalPages") or 0)
                if not records or page >= total_pages:
                    break
                page += 1
            with open_uow() as uow:
                # The next run asks only for what changed since this one started (minus nothing: ids dedupe).
                save_progress(
                    uow.session,
                    data.id,
                    {resource: started.replace(tzinfo=None).isoformat()},
                    error=None,
                    now=uow.now(),
                )
        report.waited_seconds += sum(api.waits)
