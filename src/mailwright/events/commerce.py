"""Reading products, orders and refunds out of Segment e-commerce event properties."""

from typing import Any

from mailwright.catalog.schemas import ProductIn
from mailwright.core.errors import InvalidInput
from mailwright.core.money import to_minor
from mailwright.events import vocabulary as v
from mailwright.events.schemas import OrderDraft
from mailwright.orders.schemas import OrderLineIn


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def _product(props: dict[str, Any], currency: str, path: str) -> ProductIn | None:
    external_id = _text(props.get("product_id")) or _text(props.get("sku"))
    if external_id is None:
        return None
    price = props.get("price")
    category = _text(props.get("category"))
    return ProductIn(
        external_id=external_id[:200],
        sku=_text(props.get("sku")),
        title=_text(props.get("name")),
        url=_text(props.get("url")),
        image_url=_text(props.get("image_url")),
        price_minor=None if price is None else to_minor(price, currency, field=f"{path}.price"),
        currency=currency if price is not None else None,
        categories=[category] if category else None,
    )


def _quantity(value: Any, path: str) -> int:
    if value is None:
        return 1
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidInput(f"{path} must be a whole number", field=path)
    try:
        number = float(value)
    except ValueError as exc:
        raise InvalidInput(f"{path} must be a whole number, got {value!r}", field=path) from exc
    if number < 0 or number != int(number):
        raise InvalidInput(f"{path} must be a whole number >= 0, got {value!r}", field=path)
    return int(number)


def products_in(name: str, props: dict[str, Any], currency: str) -> list[ProductIn]:
    """The catalog facts an e-commerce event states (one product, or a `products` array)."""
    if name in v.SINGLE_PRODUCT_EVENTS:
        product = _product(props, currency, "properties")
        return [product] if product else []
    if name in v.PRODUCT_LIST_EVENTS:
        items = props.get("products") or []
        if not isinstance(items, list):
            raise InvalidInput("properties.products must be a list", field="properties.products")
        found = []
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise InvalidInput(
                    f"properties.products[{i}] must be an object", field=f"properties.products[{i}]"
                )
            product = _product(item, currency, f"properties.products[{i}]")
            if product is not None:
                found.append(product)
        return found
    return []


def order_in(props: dict[str, Any], currency: str) -> OrderDraft:
    """The order an Order Completed / Order Updated event describes."""
    order_id = _text(props.get("order_id")) or _text(props.get("checkout_id"))
    if order_id is None:
        raise InvalidInput("properties.order_id is required for an order event", field="properties.order_id")
    lines = []
    for i, item in enumerate(props.get("products") or []):
        path = f"properties.products[{i}]"
        if not isinstance(item, dict):
            raise InvalidInput(f"{path} must be an object", field=path)
        price = item.get("price", 0) or 0
        lines.append(
            OrderLineIn(
                product_external_id=(_text(item.get("product_id")) or _text(item.get("sku"))),
                sku=_text(item.get("sku")),
                title=_text(item.get("name")),
                category=_text(item.get("category")),
                quantity=_quantity(item.get("quantity"), f"{path}.quantity"),
                price_minor=to_minor(price, currency, field=f"{path}.price"),
            )
        )

    def money(key: str) -> int | None:
        value = props.get(key)
        return None if value is None else to_minor(value, currency, field=f"properties.{key}")

    total = money("total")
    if total is None:
        total = money("revenue")
    if total is None:
        total = sum(line.price_minor * line.quantity for line in lines)
    return OrderDraft(
        external_id=order_id[:200],
        currency=currency,
        total_minor=total,
        subtotal_minor=money("subtotal"),
        tax_minor=money("tax"),
        shipping_minor=money("shipping"),
        discount_minor=money("discount"),
        coupon=_text(props.get("coupon")),
        lines=lines,
    )
