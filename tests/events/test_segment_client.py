"""The official Segment Python client sends to a real `mailwright serve` process."""

import json

import httpx
import segment.analytics as analytics_module
from tests.support.server import mailwright, running_server


def test_official_segment_client_gets_identify_track_and_page_in(fresh_database_url: str) -> None:
    env = {"MAILWRIGHT_DATABASE_URL": fresh_database_url, "MAILWRIGHT_ADMIN_TOKEN": "admin-secret"}
    write_key = json.loads(mailwright(["keys", "create", "--json"], env).stdout)["key"]
    with running_server(env) as base:
        client = analytics_module.Client(write_key, host=base, sync_mode=True, max_retries=2)
        client.identify(
            "user-77",
            {"email": "Zoe@Example.org", "firstName": "Zoe", "city": "Leeds", "plan": "gold"},
            anonymous_id="anon-77",
        )
        client.page("user-77", category="Docs", name="Shipping", properties={"url": "https://shop.test/ship"})
        client.track(
            "user-77",
            "Order Completed",
            {
                "order_id": "A-1001",
                "total": 59.9,
                "currency": "GBP",
                "products": [{"product_id": "mug-1", "name": "Mug", "price": 29.95, "quantity": 2}],
            },
        )
        client.track("user-77", "Product Viewed", {"product_id": "mug-2", "name": "Big mug", "price": 12})
        client.flush()

        admin = {"Authorization": "Bearer admin-secret"}
        found = httpx.get(
            f"{base}/api/v1/contacts", params={"email": "zoe@example.org"}, headers=admin
        ).json()
        assert len(found) == 1
        contact = found[0]
        assert (contact["first_name"], contact["city"], contact["properties"]) == (
            "Zoe",
            "Leeds",
            {"plan": "gold"},
        )
        assert (contact["order_count"], contact["revenue_minor"]) == (1, 5990)
        names = {
            e["name"]
            for e in httpx.get(
                f"{base}/api/v1/events", params={"contact_id": contact["id"]}, headers=admin
            ).json()
        }
        assert names == {"Identify", "Page Viewed", "Order Completed", "Product Viewed"}
        orders = httpx.get(
            f"{base}/api/v1/orders", params={"contact_id": contact["id"]}, headers=admin
        ).json()
        assert orders[0]["external_id"] == "A-1001" and orders[0]["lines"][0]["quantity"] == 2
        products = {p["external_id"] for p in httpx.get(f"{base}/api/v1/products", headers=admin).json()}
        assert products == {"mug-1", "mug-2"}
        assert (
            httpx.get(f"{base}/api/v1/contacts", headers={"Authorization": "Bearer nope"}).status_code == 401
        )

    shown = json.loads(mailwright(["contacts", "show", "zoe@example.org", "--json"], env).stdout)
    assert shown["contact"]["external_id"] == "user-77"
    assert "anon-77" in shown["contact"]["anonymous_ids"]
