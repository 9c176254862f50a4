"""Magento 2: incremental pulls by updated_at with a stored cursor, on the worker's schedule."""

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from tests.connectors import payloads

from mailwright.catalog.models import Product
from mailwright.connectors import service
from mailwright.connectors.http import HttpOptions, override_http
from mailwright.connectors.schemas import ConnectionIn
from mailwright.contacts import service as contacts
from mailwright.core.clock import ManualClock
from mailwright.core.runtime import Runtime
from mailwright.orders import service as orders

TOKEN = "integration-token-0123456789"


class FakeMagento:
    """Serves /rest/V1 search results the way Magento does, including its page-past-the-end quirk."""

    def __init__(self) -> None:
        self.data: dict[str, list[dict[str, Any]]] = {"products": [], "customers/search": [], "orders": []}
        self.requests: list[httpx.Request] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return httpx.Response(
                401, json={"message": "The consumer isn't authorized to access %resources."}
            )
        resource = request.url.path.removeprefix("/rest/V1/")
        params = request.url.params
        items = sorted(self.data[resource], key=lambda r: str(r["updated_at"]))
        since = params.get("searchCriteria[filterGroups][0][filters][0][value]")
        if since is not None:
            assert params.get("searchCriteria[filterGroups][0][filters][0][conditionType]") == "gteq"
            items = [r for r in items if str(r["updated_at"]) >= since]
        size = int(params["searchCriteria[pageSize]"])
        page = int(params["searchCriteria[currentPage]"])
        pages = max((len(items) + size - 1) // size, 1)
        # Magento answers a page past the end with the last page again.
        page = min(page, pages)
        chunk = items[(page - 1) * size : page * size]
        return httpx.Response(200, json={"items": chunk, "search_criteria": {}, "total_count": len(items)})


@pytest.fixture
def magento(runtime: Runtime) -> FakeMagento:
    with runtime.uow() as uow:
        service.create_connection(
            uow.session,
            ConnectionIn(
                name="m2",
                kind="magento",
                config={"url": "https://m2.example.com", "token": TOKEN, "currency": "USD"},
            ),
            uow.now(),
        )
    return FakeMagento()


def test_incremental_pull_with_cursor_refunds_and_cancellations(
    runtime: Runtime, session: Session, magento: FakeMagento, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("mailwright.connectors.magento.PAGE_SIZE", 2)
    magento.data["products"] = [payloads.magento_product(1, "24-MB01", "2026-10-01 10:00:00")]
    magento.data["customers/search"] = [
        payloads.magento_customer(i, f"c{i}@example.com", f"2026-10-0{i} 09:00:00", subscribed=i == 1)
        for i in range(1, 6)
    ]
    magento.data["orders"] = [payloads.magento_order(1, "000000001", "c1@example.com", "2026-10-30 14:21:05")]
    options = HttpOptions(transport=httpx.MockTransport(magento.handler), sleep=lambda _s: None)

    first = service.sync_connection(runtime.uow, "m2", options=options)
    assert first.error is None, first.error
    assert first.pulled == {"products": 1, "customers": 5, "orders": 1}
    assert first.cursor["customers"] == "2026-10-05 09:00:00"
    c1 = contacts.find_by_email(session, "c1@example.com")
    assert c1 is not None and (c1.first_name, c1.city, c1.country, c1.consent_status) == (
        "Veronica",
        "Calder",
        "US",
        "subscribed",
    )
    assert contacts.find_by_email(session, "c2@example.com").consent_status == "unsubscribed"  # type: ignore[union-attr]
    assert c1.order_count == 1 and c1.revenue_minor == 3900
    product = session.scalars(select(Product).where(Product.external_id == "1")).one()
    assert product.url == "https://m2.example.com/joust-duffle-bag.html"
    assert product.image_url == "https://m2.example.com/media/catalog/product/m/b/mb01-blue-0.jpg"

    # Next run: only what changed since the cursor; a partial refund, then more of it, then the cancel.
    magento.requests.clear()
    magento.data["orders"] = [
        payloads.magento_order(1, "000000001", "c1@example.com", "2026-11-01 08:00:00", total_refunded=10.0)
    ]
    second = service.sync_connection(runtime.uow, "m2", options=options)
    assert second.pulled == {"products": 1, "customers": 1, "orders": 1}  # gteq: the boundary record again
    session.expire_all()
    assert contacts.get_profile(session, c1.id).revenue_minor == 2900
    magento.data["orders"] = [
        payloads.magento_order(1, "000000001", "c1@example.com", "2026-11-02 08:00:00", total_refunded=15.0)
    ]
    service.sync_connection(runtime.uow, "m2", options=options)
    session.expire_all()
    assert contacts.get_profile(session, c1.id).revenue_minor == 2400  # only the 5.00 more, not 15 again
    magento.data["orders"] = [
        payloads.magento_order(
            1, "000000001", "c1@example.com", "2026-11-03 08:00:00", state="canceled", total_refunded=15.0
        )
    ]
    service.sync_connection(runtime.uow, "m2", options=options)
    session.expire_all()
    assert contacts.get_profile(session, c1.id).order_count == 0
    [order] = orders.list_orders(session, contact_id=c1.id)
    assert order.status == "cancelled"


def test_scheduled_job_pulls_and_a_bad_token_is_reported(
    runtime: Runtime, clock: ManualClock, session: Session, magento: FakeMagento
) -> None:
    magento.data["customers/search"] = [
        payloads.magento_customer(7, "seven@example.com", "2026-10-07 09:00:00")
    ]
    with override_http(transport=httpx.MockTransport(magento.handler), sleep=lambda _s: None):
        runtime.runner.tick()
        # Never synced by hand yet: the schedule leaves it alone.
        assert magento.requests == []
        service.sync_connection(runtime.uow, "m2")
        assert contacts.find_by_email(session, "seven@example.com") is not None
        magento.data["customers/search"].append(
            payloads.magento_customer(8, "eight@example.com", "2026-10-08 09:00:00")
        )
        clock.advance(timedelta(minutes=15))
        runtime.runner.tick()
        assert contacts.find_by_email(session, "eight@example.com") is not None
        count = len(magento.requests)
        clock.advance(timedelta(minutes=5))
        runtime.runner.tick()
        assert len(magento.requests) == count  # not due yet
        with runtime.uow() as uow:
            service.update_connection(
                uow.session, "m2", service.ConnectionPatch(config={"token": "revoked"}), uow.now()
            )
        clock.advance(timedelta(minutes=15))
        runtime.runner.tick()
    with runtime.uow() as uow:
        stored = service.get_connection(uow.session, "m2")
    assert stored.last_error is not None and "refused the credentials (401)" in stored.last_error
    assert stored.cursor["customers"] == "2026-10-08 09:00:00"  # kept for the next run
