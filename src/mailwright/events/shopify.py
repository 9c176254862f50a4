"""Shopify webhooks (REST Admin API payloads) turned into Mailwright events.

Every topic maps onto the same event names as the Segment path, so segments, flows and reports never
need to know which way an order came in. This module is pure: signature check and payload mapping,
no database; `shopify_router` stores what it returns.
"""

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mailwright.catalog.schemas import ProductIn, VariantIn
from mailwright.contacts.identity import (
    normalize_country,
    normalize_currency,
    normalize_locale,
)
from mailwright.core.errors import InvalidInput
from mailwright.core.money import from_minor, to_minor
from mailwright.events import payload as p
from mailwright.events import vocabulary as v
from mailwright.events.schemas import IncomingEvent, OrderDraft
from mailwright.orders.schemas import OrderLineIn

SOURCE = "shopify"

HMAC_HEADER = "X-Shopify-Hmac-Sha256"
TOPIC_HEADER = "X-Shopify-Topic"
EVENT_ID_HEADER = "X-Shopify-Event-Id"
WEBHOOK_ID_HEADER = "X-Shopify-Webhook-Id"
SHOP_DOMAIN_HEADER = "X-Shopify-Shop-Domain"

ORDERS_CREATE = "orders/create"
ORDERS_UPDATED = "orders/updated"
ORDERS_CANCELLED = "orders/cancelled"
REFUNDS_CREATE = "refunds/create"
CHECKOUTS_CREATE = "checkouts/create"
CHECKOUTS_UPDATE = "checkouts/update"
CUSTOMERS_CREATE = "customers/create"
CUSTOMERS_UPDATE = "customers/update"
CUSTOMERS_CONSENT_UPDATE = "customers/email_marketing_consent_update"
CUSTOMERS_REDACT = "customers/redact"
PRODUCTS_CREATE = "products/create"
PRODUCTS_UPDATE = "products/update"

# Shopify's email_marketing_consent.state -> Mailwright's consent status. `invalid` and `redacted` are
# Shopify's own bookkeeping, not a choice the person made, so they leave the consent as it is.
_CONSENT_STATES = {
    "subscribed": "subscribed",
    "unsubscribed": "unsubscribed",
    "not_subscribed": "never_subscribed",
    "pending": "pending",
}

# The header is not covered by the signature, so only a real shop host may end up in product links.
_SHOP_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}\.myshopify\.com$")


@dataclass(frozen=True)
class Delivery:
    """One webhook delivery as its headers describe it."""

    topic: str
    event_id: str
    received_at: datetime
    shop_domain: str | None
    shop_currency: str

    def message_id(self, n: int = 0) -> str:
        """The dedupe id of the n-th event derived from this delivery."""
        return f"{SOURCE}:{self.event_id}:{n}"


def verify_signature(raw: bytes, header: str | None, secret: str) -> None:
    """Check the base64 HMAC-SHA256 of the raw body against the app secret; Unauthorized if it differs."""
    p.verify_base64_hmac(raw, header, secret, HMAC_HEADER)


def is_supported(topic: str) -> bool:
    """Whether Mailwright maps this webhook topic (others are acknowledged and ignored)."""
    return topic in _MAPPERS


def events_for(delivery: Delivery, payload: dict[str, Any]) -> list[IncomingEvent]:
    """The events one delivery means; InvalidInput names the payload field that is missing or wrong.

    An empty list means the delivery is valid but says nothing Mailwright records.
    """
    return _MAPPERS[delivery.topic](delivery, payload)


def needs_order_owner(event: IncomingEvent) -> bool:
    """Whether the event names an order but not its customer (refund payloads carry no customer)."""
    return bool(event.refund_order_id) and not (event.user_id or event.email or event.anonymous_id)


# --- reading payload fields, each error naming its path -------------------------------------------


def _object(payload: dict[str, Any], key: str, path: str) -> dict[str, Any] | None:
    value = payload.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidInput(f"{path} must be an object", field=path)
    return value


def _first_time(payload: dict[str, Any], keys: tuple[str, ...], fallback: datetime) -> datetime:
    for key in keys:
        moment = p.when(payload.get(key), key)
        if moment is not None:
            return moment
    return fallback


def _quantity(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput(f"{path} must be a whole number >= 0, got {value!r}", field=path)
    return value


def _currency(payload: dict[str, Any], fallback: str, *, required: bool = False) -> str:
    raw = payload.get("currency")
    if not p.present(raw):
        if required:
            raise InvalidInput("currency is required", field="currency")
        return fallback
    return normalize_currency(str(raw), field="currency")


def _at(path: str, key: str) -> str:
    """A field path inside `path` ("" is the payload's top level)."""
    return f"{path}.{key}" if path else key


# --- customers ------------------------------------------------------------------------------------


def _address(customer: dict[str, Any] | None, fallback: dict[str, Any] | None, path: str) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    address, where = None, path
    if customer is not None:
        where = _at(path, "default_address")
        address = _object(customer, "default_address", where)
    if address is None and fallback is not None:
        address, where = fallback, "billing_address"
    if address is None:
        return fields
    country = address.get("country_code") or address.get("country")
    if p.present(country):
        fields["country"] = normalize_country(str(country), field=f"{where}.country_code")
    city = p.text(address.get("city"))
    if city:
        fields["city"] = city
    return fields


def _profile(
    customer: dict[str, Any] | None,
    path: str,
    *,
    locale: Any = None,
    billing: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Validated profile columns from a Shopify customer (and an order's locale and billing address)."""
    fields: dict[str, Any] = {}
    if customer is not None:
        for key in ("first_name", "last_name"):
            value = p.text(customer.get(key))
            if value:
                fields[key] = value
        phone = p.text(customer.get("phone"), 50)
        if phone:
            fields["phone"] = phone
        locale = customer.get("locale") or locale
        tags = customer.get("tags")
        if isinstance(tags, str) and tags.strip():
            # Shopify sends tags as one comma-separated string; segments want a list to test membership.
            fields["properties"] = {"tags": [t.strip() for t in tags.split(",") if t.strip()]}
    if p.present(locale):
        where = _at(path, "locale") if customer is not None and customer.get("locale") else "customer_locale"
        fields["locale"] = normalize_locale(str(locale), field=where)
    fields.update(_address(customer, billing, path))
    return fields


def _consent(
    customer: dict[str, Any] | None, path: str, fallback_at: datetime
) -> tuple[str | None, datetime | None]:
    """The consent a customer object states, with when it was given or withdrawn."""
    if customer is None:
        return None, None
    state = _object(customer, "email_marketing_consent", _at(path, "email_marketing_consent"))
    if state is not None:
        status = _CONSENT_STATES.get(str(state.get("state") or "").lower())
        at = p.when(state.get("consent_updated_at"), _at(path, "email_marketing_consent.consent_updated_at"))
        if status is None:
            return None, None
        if status == "never_subscribed" and at is None:
            # Shopify's default for someone who never decided: it must not undo a sign-up made elsewhere.
            return None, None
        return status, at or fallback_at
    legacy = customer.get("accepts_marketing")
    if isinstance(legacy, bool):
        at = p.when(customer.get("accepts_marketing_updated_at"), _at(path, "accepts_marketing_updated_at"))
        return ("subscribed" if legacy else "unsubscribed"), at or fallback_at
    return None, None


def _customer_event(delivery: Delivery, payload: dict[str, Any]) -> list[IncomingEvent]:
    customer_id = p.ident(p.required(payload, "id", "id"), "id")
    occurred = _first_time(payload, ("updated_at", "created_at"), delivery.received_at)
    consent, consent_at = _consent(payload, "", occurred)
    profile = _profile(payload, "")
    return [
        IncomingEvent(
            message_id=delivery.message_id(),
            type="identify",
            name=v.IDENTIFY,
            occurred_at=occurred,
            source=SOURCE,
            user_id=customer_id,
            email=p.email(payload.get("email"), "email"),
            properties={"shopify_topic": delivery.topic, "customer_id": customer_id},
            profile=profile,
            consent=consent,
            consent_at=consent_at,
        )
    ]


def _consent_event(delivery: Delivery, payload: dict[str, Any]) -> list[IncomingEvent]:
    customer_id = p.ident(p.required(payload, "customer_id", "customer_id"), "customer_id")
    state = _object(payload, "email_marketing_consent", "email_marketing_consent")
    if state is None:
        raise InvalidInput("email_marketing_consent is required", field="email_marketing_consent")
    consent, consent_at = _consent({"email_marketing_consent": state}, "", delivery.received_at)
    return [
        IncomingEvent(
            message_id=delivery.message_id(),
            type="identify",
            name=v.IDENTIFY,
            occurred_at=consent_at or delivery.received_at,
            source=SOURCE,
            user_id=customer_id,
            email=p.email(payload.get("email_address"), "email_address"),
            properties={"shopify_topic": delivery.topic, "customer_id": customer_id},
            consent=consent,
            consent_at=consent_at,
        )
    ]


def _redact_event(delivery: Delivery, payload: dict[str, Any]) -> list[IncomingEvent]:
    customer = _object(payload, "customer", "customer")
    if customer is None:
        raise InvalidInput("customer is required", field="customer")
    customer_id = p.optional_ident(customer.get("id"), "customer.id")
    email = p.email(customer.get("email"), "customer.email")
    if customer_id is None and email is None:
        raise InvalidInput("customer.id or customer.email is required", field="customer.id")
    return [
        IncomingEvent(
            message_id=delivery.message_id(),
            type="track",
            name=v.CUSTOMER_REDACTED,
            occurred_at=delivery.received_at,
            source=SOURCE,
            user_id=customer_id,
            email=email,
            # Nothing personal here: the event is deleted with the profile, and the receipt outlives it.
            properties={"shopify_topic": delivery.topic},
            erase=True,
        )
    ]


# --- orders, refunds, checkouts -------------------------------------------------------------------


@dataclass
class _Lines:
    lines: list[OrderLineIn]
    properties: list[dict[str, Any]]
    catalog: list[ProductIn]


def _line_items(payload: dict[str, Any], currency: str) -> _Lines:
    found = _Lines([], [], [])
    for i, item in enumerate(p.objects(payload, "line_items", "line_items", required=True)):
        path = f"line_items[{i}]"
        product_id = p.optional_ident(item.get("product_id"), f"{path}.product_id")
        variant_id = p.optional_ident(item.get("variant_id"), f"{path}.variant_id")
        quantity = _quantity(item.get("quantity"), f"{path}.quantity")
        price = p.required(item, "price", f"{path}.price")
        price_minor = to_minor(price, currency, field=f"{path}.price")
        sku, title = p.text(item.get("sku")), p.text(item.get("title"), 1000)
        found.lines.append(
            OrderLineIn(
                product_external_id=product_id,
                sku=sku,
                title=title,
                category=p.text(item.get("product_type")),
                quantity=quantity,
                price_minor=price_minor,
            )
        )
        found.properties.append(
            {
                "product_id": product_id,
                "variant_id": variant_id,
                "sku": sku,
                "name": title,
                "variant": p.text(item.get("variant_title")),
                "brand": p.text(item.get("vendor")),
                "price": p.number(price),
                "quantity": quantity,
            }
        )
        if product_id is not None:
            # Only id and title: a line's price is a variant's (maybe discounted) price at that time,
            # while products/update is the source of truth for what the shop charges now.
            found.catalog.append(ProductIn(external_id=product_id, title=title))
    return found


def _discount_codes(payload: dict[str, Any]) -> list[str]:
    return [
        str(code["code"]).strip()
        for code in p.objects(payload, "discount_codes", "discount_codes")
        if p.present(code.get("code"))
    ]


def _shipping(payload: dict[str, Any], currency: str) -> int | None:
    shipping_set = _object(payload, "total_shipping_price_set", "total_shipping_price_set")
    shop_money = (
        _object(shipping_set, "shop_money", "total_shipping_price_set.shop_money") if shipping_set else None
    )
    if shop_money is not None and p.present(shop_money.get("amount")):
        return to_minor(shop_money["amount"], currency, field="total_shipping_price_set.shop_money.amount")
    lines = p.objects(payload, "shipping_lines", "shipping_lines")
    if not lines:
        return None
    return sum(
        p.money(line.get("price"), currency, f"shipping_lines[{i}].price") or 0
        for i, line in enumerate(lines)
    )


def _buyer(
    payload: dict[str, Any], occurred: datetime
) -> tuple[str | None, str | None, dict[str, Any], str | None, datetime | None]:
    """user id, email, profile fields and consent of the customer an order or checkout belongs to."""
    customer = _object(payload, "customer", "customer")
    user_id = p.optional_ident(customer.get("id"), "customer.id") if customer else None
    email = p.email(payload.get("email"), "email")
    if email is None and customer is not None:
        email = p.email(customer.get("email"), "customer.email")
    billing = _object(payload, "billing_address", "billing_address")
    profile = _profile(customer, "customer", locale=payload.get("customer_locale"), billing=billing)
    consent, consent_at = _consent(customer, "customer", occurred)
    return user_id, email, profile, consent, consent_at


def _order_event(delivery: Delivery, payload: dict[str, Any], name: str) -> IncomingEvent:
    order_id = p.ident(p.required(payload, "id", "id"), "id")
    currency = _currency(payload, delivery.shop_currency, required=True)
    total = to_minor(p.required(payload, "total_price", "total_price"), currency, field="total_price")
    items = _line_items(payload, currency)
    codes = _discount_codes(payload)
    # The order's placement time, also for updates: it becomes the order's placed_at.
    placed = _first_time(payload, ("processed_at", "created_at"), delivery.received_at)
    user_id, email, profile, consent, consent_at = _buyer(payload, placed)
    checkout_token = p.optional_ident(payload.get("checkout_token"), "checkout_token")
    anonymous_id = checkout_token
    if user_id is None and email is None and anonymous_id is None:
        # A point-of-sale order with no customer still counts in shop revenue; it gets a profile of its own.
        anonymous_id = f"{SOURCE}-order:{order_id}"
    draft = OrderDraft(
        external_id=order_id,
        currency=currency,
        total_minor=total,
        subtotal_minor=p.money(payload.get("subtotal_price"), currency, "subtotal_price"),
        tax_minor=p.money(payload.get("total_tax"), currency, "total_tax"),
        shipping_minor=_shipping(payload, currency),
        discount_minor=p.money(payload.get("total_discounts"), currency, "total_discounts"),
        coupon=", ".join(codes)[:100] or None,
        lines=items.lines,
    )
    properties: dict[str, Any] = {
        "shopify_topic": delivery.topic,
        "order_id": order_id,
        "order_number": p.text(payload.get("name")),
        "checkout_id": checkout_token,
        "total": p.number(payload.get("total_price")),
        "subtotal": p.number(payload.get("subtotal_price")),
        "tax": p.number(payload.get("total_tax")),
        "discount": p.number(payload.get("total_discounts")),
        "coupon": draft.coupon,
        "discount_codes": codes,
        "currency": currency,
        "products": items.properties,
    }
    return IncomingEvent(
        message_id=delivery.message_id(),
        type="track",
        name=name,
        occurred_at=placed,
        source=SOURCE,
        user_id=user_id,
        anonymous_id=anonymous_id,
        email=email,
        properties=properties,
        profile=profile,
        consent=consent,
        consent_at=consent_at,
        products=items.catalog,
        order=draft,
    )


def _order_created(delivery: Delivery, payload: dict[str, Any]) -> list[IncomingEvent]:
    return [_order_event(delivery, payload, v.ORDER_COMPLETED)]


def _order_updated(delivery: Delivery, payload: dict[str, Any]) -> list[IncomingEvent]:
    event = _order_event(delivery, payload, v.ORDER_UPDATED)
    if p.present(payload.get("cancelled_at")):
        # Shopify does not order deliveries: an update may be the first word of a cancellation.
        event.cancel_order_id = event.order.external_id if event.order else None
    return [event]


def _order_cancelled(delivery: Delivery, payload: dict[str, Any]) -> list[IncomingEvent]:
    event = _order_event(delivery, payload, v.ORDER_CANCELLED)
    order_id = event.order.external_id if event.order else None
    event.occurred_at = _first_time(payload, ("cancelled_at", "updated_at"), delivery.received_at)
    event.properties["cancel_reason"] = p.text(payload.get("cancel_reason"))
    # The cancellation carries the whole order, but refreshing it here would date it at cancelled_at.
    event.order = None
    event.products = []
    event.cancel_order_id = order_id
    return [event]


def _refund_amount(payload: dict[str, Any], currency: str) -> int:
    transactions = p.objects(payload, "transactions", "transactions")
    refunds = [
        (i, t)
        for i, t in enumerate(transactions)
        if t.get("kind") == "refund" and t.get("status") in (None, "success")
    ]
    if refunds:
        return sum(
            to_minor(
                p.required(t, "amount", f"transactions[{i}].amount"),
                currency,
                field=f"transactions[{i}].amount",
            )
            for i, t in refunds
        )
    items = p.objects(payload, "refund_line_items", "refund_line_items")
    # Nothing refunded in money (a restock-only refund) is 0, never "the whole order".
    return sum(
        p.money(item.get("subtotal"), currency, f"refund_line_items[{i}].subtotal") or 0
        for i, item in enumerate(items)
    )


def _refund_created(delivery: Delivery, payload: dict[str, Any]) -> list[IncomingEvent]:
    order_id = p.ident(p.required(payload, "order_id", "order_id"), "order_id")
    refund_id = p.optional_ident(payload.get("id"), "id")
    transactions = p.objects(payload, "transactions", "transactions")
    currency = delivery.shop_currency
    for i, transaction in enumerate(transactions):
        if p.present(transaction.get("currency")):
            currency = normalize_currency(str(transaction["currency"]), field=f"transactions[{i}].currency")
            break
    amount = _refund_amount(payload, currency)
    return [
        IncomingEvent(
            message_id=delivery.message_id(),
            type="track",
            name=v.ORDER_REFUNDED,
            occurred_at=_first_time(payload, ("processed_at", "created_at"), delivery.received_at),
            source=SOURCE,
            properties={
                "shopify_topic": delivery.topic,
                "order_id": order_id,
                "refund_id": refund_id,
                "total": float(from_minor(amount, currency)),
                "currency": currency,
            },
            refund_order_id=order_id,
            refund_minor=amount,
        )
    ]


def _checkout(delivery: Delivery, payload: dict[str, Any]) -> list[IncomingEvent]:
    token = p.ident(p.required(payload, "token", "token"), "token")
    if p.present(payload.get("completed_at")):
        # A completed checkout is an order now, and orders/create reports it; no abandoned cart here.
        return []
    currency = _currency(payload, delivery.shop_currency)
    items = _line_items(payload, currency)
    occurred = _first_time(payload, ("updated_at", "created_at"), delivery.received_at)
    user_id, email, profile, consent, consent_at = _buyer(payload, occurred)
    codes = _discount_codes(payload)
    properties: dict[str, Any] = {
        "shopify_topic": delivery.topic,
        "checkout_id": token,
        "checkout_url": p.text(payload.get("abandoned_checkout_url"), 2000),
        "value": p.number(payload.get("total_price")),
        "total": p.number(payload.get("total_price")),
        "subtotal": p.number(payload.get("subtotal_price")),
        "tax": p.number(payload.get("total_tax")),
        "discount": p.number(payload.get("total_discounts")),
        "coupon": ", ".join(codes) or None,
        "currency": currency,
        "products": items.properties,
    }
    return [
        IncomingEvent(
            message_id=delivery.message_id(),
            type="track",
            name=v.CHECKOUT_STARTED,
            occurred_at=occurred,
            source=SOURCE,
            user_id=user_id,
            # Always the token too: when an anonymous checkout later gets an email, the two profiles merge.
            anonymous_id=token,
            email=email,
            properties=properties,
            profile=profile,
            consent=consent,
            consent_at=consent_at,
            products=items.catalog,
        )
    ]


# --- products -------------------------------------------------------------------------------------


def _variant_in_stock(variant: dict[str, Any]) -> bool:
    # Untracked inventory and "continue selling when out of stock" can always be bought.
    if not variant.get("inventory_management") or variant.get("inventory_policy") == "continue":
        return True
    quantity = variant.get("inventory_quantity")
    return not isinstance(quantity, int) or quantity > 0


def _product(delivery: Delivery, payload: dict[str, Any]) -> list[IncomingEvent]:
    product_id = p.ident(p.required(payload, "id", "id"), "id")
    currency = delivery.shop_currency
    variants: list[VariantIn] = []
    for i, item in enumerate(p.objects(payload, "variants", "variants")):
        path = f"variants[{i}]"
        variants.append(
            VariantIn(
                external_id=p.ident(p.required(item, "id", f"{path}.id"), f"{path}.id"),
                sku=p.text(item.get("sku")),
                title=p.text(item.get("title")) or "",
                price_minor=p.money(item.get("price"), currency, f"{path}.price"),
                in_stock=_variant_in_stock(item),
            )
        )
    images = p.objects(payload, "images", "images")
    image = _object(payload, "image", "image")
    image_url = p.text(images[0].get("src"), 2000) if images else None
    if image_url is None and image is not None:
        image_url = p.text(image.get("src"), 2000)
    handle = p.text(payload.get("handle"))
    domain = (delivery.shop_domain or "").strip().lower()
    url = f"https://{domain}/products/{handle}" if handle and _SHOP_DOMAIN.match(domain) else None
    prices = [variant.price_minor for variant in variants if variant.price_minor is not None]
    category = p.text(payload.get("product_type"))
    # Drafts and archived products cannot be bought, so emails must not recommend them.
    active = str(payload.get("status") or "active") == "active"
    product = ProductIn(
        external_id=product_id,
        sku=variants[0].sku if len(variants) == 1 else None,
        title=p.text(payload.get("title"), 1000),
        url=url,
        image_url=image_url,
        price_minor=min(prices) if prices else None,
        currency=currency if prices else None,
        categories=[category] if category else None,
        in_stock=active and (any(variant.in_stock for variant in variants) if variants else True),
        variants=variants,
    )
    return [
        IncomingEvent(
            message_id=delivery.message_id(),
            type="track",
            name=delivery.topic,
            occurred_at=_first_time(payload, ("updated_at", "created_at"), delivery.received_at),
            source=SOURCE,
            products=[product],
            catalog_only=True,
        )
    ]


_MAPPERS = {
    ORDERS_CREATE: _order_created,
    ORDERS_UPDATED: _order_updated,
    ORDERS_CANCELLED: _order_cancelled,
    REFUNDS_CREATE: _refund_created,
    CHECKOUTS_CREATE: _checkout,
    CHECKOUTS_UPDATE: _checkout,
    CUSTOMERS_CREATE: _customer_event,
    CUSTOMERS_UPDATE: _customer_event,
    CUSTOMERS_CONSENT_UPDATE: _consent_event,
    CUSTOMERS_REDACT: _redact_event,
    PRODUCTS_CREATE: _product,
    PRODUCTS_UPDATE: _product,
}
