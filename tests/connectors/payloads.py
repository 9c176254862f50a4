"""Payloads written from the vendors' published API documentation (shapes and field names as documented).

WooCommerce REST API v3: https://woocommerce.github.io/woocommerce-rest-api-docs/ (order, customer,
product examples). Magento 2 REST: searchCriteria results (items, search_criteria, total_count).
HubSpot CRM v3 contacts search; Zoho CRM v2 GET /Contacts (data, info.more_records).
"""

from typing import Any


def wc_order(
    order_id: int = 727,
    *,
    status: str = "processing",
    refunds: list[dict[str, Any]] | None = None,
    email: str = "john.doe@example.com",
    customer_id: int = 25,
) -> dict[str, Any]:
    return {
        "id": order_id,
        "parent_id": 0,
        "number": str(order_id),
        "order_key": f"wc_order_58d2d042d1d{order_id}",
        "created_via": "rest-api",
        "version": "3.0.0",
        "status": status,
        "currency": "USD",
        "date_created": "2026-10-22T16:28:02",
        "date_created_gmt": "2026-10-22T19:28:02",
        "date_modified": "2026-10-22T16:28:08",
        "date_modified_gmt": "2026-10-22T19:28:08",
        "discount_total": "0.00",
        "discount_tax": "0.00",
        "shipping_total": "10.00",
        "shipping_tax": "0.00",
        "cart_tax": "1.35",
        "total": "29.35",
        "total_tax": "1.35",
        "prices_include_tax": False,
        "customer_id": customer_id,
        "customer_ip_address": "",
        "customer_user_agent": "",
        "customer_note": "",
        "billing": {
            "first_name": "John",
            "last_name": "Doe",
            "company": "",
            "address_1": "969 Market",
            "address_2": "",
            "city": "San Francisco",
            "state": "CA",
            "postcode": "94103",
            "country": "US",
            "email": email,
            "phone": "(555) 555-5555",
        },
        "shipping": {"first_name": "John", "last_name": "Doe", "city": "San Francisco", "country": "US"},
        "payment_method": "bacs",
        "payment_method_title": "Direct Bank Transfer",
        "transaction_id": "",
        "date_paid": "2026-10-22T16:28:08",
        "date_paid_gmt": "2026-10-22T19:28:08",
        "date_completed": None,
        "date_completed_gmt": None,
        "cart_hash": "",
        "meta_data": [{"id": 13106, "key": "_download_permissions_granted", "value": "yes"}],
        "line_items": [
            {
                "id": 315,
                "name": "Woo Single #1",
                "product_id": 93,
                "variation_id": 0,
                "quantity": 2,
                "tax_class": "",
                "subtotal": "6.00",
                "subtotal_tax": "0.45",
                "total": "6.00",
                "total_tax": "0.45",
                "taxes": [{"id": 75, "total": "0.45", "subtotal": "0.45"}],
                "meta_data": [],
                "sku": "",
                "price": 3,
            },
            {
                "id": 316,
                "name": "Ship Your Idea &ndash; Color: Black, Size: M Test",
                "product_id": 22,
                "variation_id": 23,
                "quantity": 1,
                "tax_class": "",
                "subtotal": "12.00",
                "subtotal_tax": "0.90",
                "total": "12.00",
                "total_tax": "0.90",
                "taxes": [{"id": 75, "total": "0.9", "subtotal": "0.9"}],
                "meta_data": [{"id": 2095, "key": "pa_color", "value": "black"}],
                "sku": "Bar3",
                "price": 12,
            },
        ],
        "tax_lines": [
            {
                "id": 318,
                "rate_code": "US-CA-STATE TAX",
                "rate_id": 75,
                "label": "State Tax",
                "compound": False,
                "tax_total": "1.35",
                "shipping_tax_total": "0.00",
                "meta_data": [],
            }
        ],
        "shipping_lines": [
            {
                "id": 317,
                "method_title": "Flat Rate",
                "method_id": "flat_rate",
                "total": "10.00",
                "total_tax": "0.00",
                "taxes": [],
                "meta_data": [],
            }
        ],
        "fee_lines": [],
        "coupon_lines": [],
        "refunds": refunds or [],
    }


def wc_customer(customer_id: int = 25, email: str = "john.doe@example.com") -> dict[str, Any]:
    return {
        "id": customer_id,
        "date_created": "2026-03-21T16:09:28",
        "date_created_gmt": "2026-03-21T19:09:28",
        "date_modified": "2026-10-21T16:09:30",
        "date_modified_gmt": "2026-10-21T19:09:30",
        "email": email,
        "first_name": "John",
        "last_name": "Doe",
        "role": "customer",
        "username": "john.doe",
        "billing": {
            "first_name": "John",
            "last_name": "Doe",
            "city": "San Francisco",
            "country": "US",
            "email": email,
            "phone": "(555) 555-5555",
        },
        "shipping": {"first_name": "John", "last_name": "Doe", "city": "San Francisco", "country": "US"},
        "is_paying_customer": False,
        "avatar_url": "https://secure.gravatar.com/avatar/8eb1b522f60d11fa897de1dc6351b7e8?s=96",
        "meta_data": [],
    }


def wc_product(
    product_id: int = 794, *, stock_status: str = "instock", price: str = "21.99"
) -> dict[str, Any]:
    return {
        "id": product_id,
        "name": "Premium Quality",
        "slug": "premium-quality-19",
        "permalink": "https://example.com/product/premium-quality-19/",
        "date_created": "2026-03-23T17:01:14",
        "date_created_gmt": "2026-03-23T20:01:14",
        "date_modified": "2026-10-23T17:01:14",
        "date_modified_gmt": "2026-10-23T20:01:14",
        "type": "simple",
        "status": "publish",
        "featured": False,
        "catalog_visibility": "visible",
        "sku": "PQ-19",
        "price": price,
        "regular_price": price,
        "sale_price": "",
        "stock_quantity": None,
        "stock_status": stock_status,
        "categories": [
            {"id": 9, "name": "Clothing", "slug": "clothing"},
            {"id": 14, "name": "T-shirts", "slug": "t-shirts"},
        ],
        "images": [
            {
                "id": 792,
                "src": "https://example.com/wp-content/uploads/2026/03/T_2_front-4.jpg",
                "name": "",
                "alt": "",
            }
        ],
        "variations": [],
    }


def magento_customer(
    customer_id: int, email: str, updated_at: str, *, subscribed: bool | None = None
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": customer_id,
        "group_id": 1,
        "default_billing": "1",
        "created_at": "2026-01-05 10:00:00",
        "updated_at": updated_at,
        "created_in": "Default Store View",
        "email": email,
        "firstname": "Veronica",
        "lastname": "Costello",
        "store_id": 1,
        "website_id": 1,
        "addresses": [
            {
                "id": 1,
                "customer_id": customer_id,
                "region": {"region_code": "MI", "region": "Michigan", "region_id": 33},
                "country_id": "US",
                "street": ["6146 Honey Bluff Parkway"],
                "telephone": "(555) 229-3326",
                "postcode": "49628-7978",
                "city": "Calder",
                "firstname": "Veronica",
                "lastname": "Costello",
                "default_billing": True,
                "default_shipping": True,
            }
        ],
        "disable_auto_group_change": 0,
    }
    if subscribed is not None:
        record["extension_attributes"] = {"is_subscribed": subscribed}
    return record


def magento_product(
    product_id: int, sku: str, updated_at: str, *, price: float = 34.0, in_stock: bool = True
) -> dict[str, Any]:
    return {
        "id": product_id,
        "sku": sku,
        "name": "Joust Duffle Bag",
        "attribute_set_id": 15,
        "price": price,
        "status": 1,
        "visibility": 4,
        "type_id": "simple",
        "created_at": "2026-01-05 10:00:00",
        "updated_at": updated_at,
        "extension_attributes": {
            "website_ids": [1],
            "stock_item": {"item_id": product_id, "qty": 100, "is_in_stock": in_stock},
        },
        "custom_attributes": [
            {"attribute_code": "image", "value": "/m/b/mb01-blue-0.jpg"},
            {"attribute_code": "url_key", "value": "joust-duffle-bag"},
        ],
    }


def magento_order(
    entity_id: int,
    increment_id: str,
    email: str,
    updated_at: str,
    *,
    state: str = "processing",
    total_refunded: float | None = None,
    customer_id: int | None = 1,
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "entity_id": entity_id,
        "increment_id": increment_id,
        "state": state,
        "status": state,
        "created_at": "2026-10-30 14:21:05",
        "updated_at": updated_at,
        "customer_email": email,
        "customer_firstname": "Veronica",
        "customer_lastname": "Costello",
        "customer_id": customer_id,
        "customer_is_guest": 0 if customer_id else 1,
        "order_currency_code": "USD",
        "base_currency_code": "USD",
        "grand_total": 39.0,
        "subtotal": 34.0,
        "tax_amount": 0.0,
        "shipping_amount": 5.0,
        "discount_amount": 0.0,
        "total_qty_ordered": 1,
        "items": [
            {
                "item_id": 1,
                "order_id": entity_id,
                "product_id": 1,
                "sku": "24-MB01",
                "name": "Joust Duffle Bag",
                "qty_ordered": 1,
                "price": 34.0,
                "row_total": 34.0,
                "product_type": "simple",
            },
        ],
        "billing_address": {
            "address_type": "billing",
            "city": "Calder",
            "country_id": "US",
            "email": email,
            "firstname": "Veronica",
            "lastname": "Costello",
            "postcode": "49628-7978",
        },
        "payment": {"method": "checkmo"},
    }
    if total_refunded is not None:
        record["total_refunded"] = total_refunded
    return record
