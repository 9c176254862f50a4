"""Several requests at once naming the same new customers and products: no errors, one profile each."""

import threading

from sqlalchemy import func, select
from tests.conftest import START

from mailwright.contacts.models import Contact
from mailwright.core.clock import ManualClock
from mailwright.core.runtime import Runtime
from mailwright.core.settings import Settings
from mailwright.events import segment, service
from mailwright.events.models import Event
from mailwright.orders.models import Order


def test_concurrent_batches_for_the_same_new_customers_do_not_collide(fresh_database_url: str) -> None:
    runtime = Runtime(Settings(database_url=fresh_database_url, _env_file=None), clock=ManualClock(START))  # type: ignore[call-arg]
    errors: list[BaseException] = []

    def send(worker: int) -> None:
        for b in range(8):
            items = [
                {
                    "type": "track",
                    "userId": f"shared-{i}",
                    "event": "Order Completed",
                    "messageId": f"w{worker}-{b}-{i}",
                    "properties": {
                        "order_id": f"o-{worker}-{b}-{i}",
                        "total": 5,
                        "products": [{"product_id": f"p-{i}", "price": 5}],
                    },
                }
                for i in range(20)
            ]
            events, rejected = segment.parse_batch(
                items, received_at=START, default_currency="GBP", max_event_bytes=32768
            )
            try:
                with runtime.uow() as uow:
                    service.ingest(uow, events, rejected=rejected)
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=send, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    with runtime.uow() as uow:
        contacts = uow.session.scalar(select(func.count()).select_from(Contact))
        events = uow.session.scalar(select(func.count()).select_from(Event))
        orders_of_first = uow.session.scalar(
            select(Contact.order_count).where(Contact.external_id == "shared-0")
        )
        orders = uow.session.scalar(select(func.count()).select_from(Order))
    runtime.database.engine.dispose()
    assert errors == []
    assert (contacts, events, orders) == (20, 4 * 8 * 20, 4 * 8 * 20)
    assert orders_of_first == 32
