import base64

from fastapi.testclient import TestClient


def test_management_api_needs_a_bearer_admin_token(
    client: TestClient, write_key: str, admin_token: str
) -> None:
    assert client.get("/api/v1/contacts").status_code == 401
    assert client.get("/api/v1/contacts", headers={"Authorization": "Bearer wrong"}).status_code == 401
    # A write key is for ingestion only.
    assert client.get("/api/v1/contacts", headers={"Authorization": f"Bearer {write_key}"}).status_code == 401
    assert (
        client.get("/api/v1/contacts", headers={"Authorization": f"Bearer {admin_token}"}).status_code == 200
    )


def test_contact_detail_has_profile_orders_and_recent_events(
    client: TestClient, write_key: str, admin_token: str
) -> None:
    basic = {"Authorization": "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()}
    client.post(
        "/v1/batch",
        headers=basic,
        json={
            "batch": [
                {
                    "type": "identify",
                    "userId": "c9",
                    "messageId": "d1",
                    "traits": {"email": "dee@example.com"},
                    "timestamp": "2026-10-01T08:00:00Z",
                },
                {
                    "type": "track",
                    "userId": "c9",
                    "messageId": "d2",
                    "event": "Order Completed",
                    "timestamp": "2026-10-02T08:00:00Z",
                    "properties": {
                        "order_id": "X1",
                        "total": 10,
                        "products": [{"product_id": "a", "price": 10}],
                    },
                },
                {
                    "type": "track",
                    "userId": "c9",
                    "messageId": "d3",
                    "event": "Order Refunded",
                    "timestamp": "2026-10-03T08:00:00Z",
                    "properties": {"order_id": "X1", "total": 4},
                },
            ]
        },
    )
    admin = {"Authorization": f"Bearer {admin_token}"}
    found = client.get("/api/v1/contacts", params={"email": "DEE@example.com"}, headers=admin).json()
    detail = client.get(f"/api/v1/contacts/{found[0]['id']}", headers=admin).json()
    assert detail["contact"]["revenue_minor"] == 600  # 10.00 less the 4.00 refund
    assert [o["status"] for o in detail["recent_orders"]] == ["partially_refunded"]
    assert [e["name"] for e in detail["recent_events"]] == ["Order Refunded", "Order Completed", "Identify"]
    missing = client.get("/api/v1/contacts/999999", headers=admin)
    assert missing.status_code == 404 and missing.headers["content-type"].startswith(
        "application/problem+json"
    )
    events = client.get("/api/v1/events", params={"name": "Order Completed"}, headers=admin).json()
    assert [e["message_id"] for e in events] == ["d2"]


def test_openapi_document_lists_the_ingest_and_management_paths(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/v1/batch",
        "/v1/identify",
        "/webhooks/shopify",
        "/api/v1/contacts/{contact_id}",
        "/api/v1/events",
        "/api/v1/products",
        "/api/v1/orders",
    ):
        assert path in paths
