"""Builds contacts, events and orders through the real ingestion services, for segment scenarios."""

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import update
from tests.conftest import START

from mailwright.catalog.schemas import ProductIn
from mailwright.contacts import service as contacts
from mailwright.contacts.models import Contact
from mailwright.contacts.schemas import ContactPredictionData
from mailwright.core.runtime import Runtime
from mailwright.events import service as events
from mailwright.events.schemas import ContactEvent, IncomingEvent, OrderDraft
from mailwright.orders.schemas import OrderLineIn
from mailwright.segments import service
from mailwright.segments.schemas import SegmentIn


class Shop:
    """A little shop: people by key, their events and orders, and segment membership by key."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.ids: dict[str, int] = {}
        self._n = 0

    def _message_id(self) -> str:
        self._n += 1
        return f"scenario-{self._n}"

    def _ingest(self, event: IncomingEvent) -> int:
        with self.runtime.uow() as uow:
            result = events.ingest(uow, [event], notify=True)
        return result.contact_ids[0]

    def person(
        self,
        key: str,
        *,
        at: datetime | None = None,
        consent: str | None = None,
        consent_at: datetime | None = None,
        email: bool = True,
        **profile: Any,
    ) -> int:
        """Identify a contact (user id = key) with profile columns and `properties` (custom)."""
        event = IncomingEvent(
            message_id=self._message_id(),
            type="identify",
            name="Identify",
            occurred_at=at or self.runtime.clock.now(),
            source="test",
            user_id=key,
            email=f"{key}@example.com" if email else None,
            profile=profile,
            consent=consent,
            consent_at=consent_at,
        )
        self.ids[key] = self._ingest(event)
        return self.ids[key]

    def track(self, key: str, name: str, at: datetime, **properties: Any) -> None:
        """A site event of a known contact."""
        self._ingest(
            IncomingEvent(
                message_id=self._message_id(),
                type="track",
                name=name,
                occurred_at=at,
                source="test",
                user_id=key,
                properties=properties,
            )
        )

    def order(
        self,
        key: str,
        order_id: str,
        at: datetime,
        total: float,
        lines: list[tuple[str, str | None]] = (),  # type: ignore[assignment]
    ) -> None:
        """An Order Completed with (product id, category) lines; total in major units."""
        total_minor = round(total * 100)
        draft = OrderDraft(
            external_id=order_id,
            currency="GBP",
            total_minor=total_minor,
            lines=[
                OrderLineIn(product_external_id=p, category=c, price_minor=total_minor // max(len(lines), 1))
                for p, c in lines
            ],
        )
        self._ingest(
            IncomingEvent(
                message_id=self._message_id(),
                type="track",
                name="Order Completed",
                occurred_at=at,
                source="test",
                user_id=key,
                properties={"order_id": order_id, "total": total},
                order=draft,
            )
        )

    def email_event(self, key: str, name: str, at: datetime, **properties: Any) -> None:
        """Mailwright's own event (Email Opened / Clicked) about a known contact."""
        with self.runtime.uow() as uow:
            events.record_contact_events(
                uow, [ContactEvent(self.ids[key], name, at, self._message_id(), properties)]
            )

    def keys(self, contact_ids: set[int]) -> set[str]:
        """Contact ids back to keys."""
        names = {v: k for k, v in self.ids.items()}
        return {names[i] for i in contact_ids if i in names}

    def matching(self, definition: dict[str, Any]) -> set[str]:
        """Create a segment with this definition (root node or whole definition); its members' keys."""
        whole = definition if "root" in definition else {"version": 1, "root": definition}
        self._n += 1
        with self.runtime.uow() as uow:
            saved = service.create_segment(
                uow, SegmentIn(name=f"scenario segment {self._n}", definition=whole), self.runtime.settings
            )
            ids = service.member_ids(uow.session, [saved.segment.id])
        return self.keys(ids)

    def members_of(self, segment_id: int) -> set[str]:
        """Current members of a stored segment, by key."""
        with self.runtime.uow() as uow:
            return self.keys(service.member_ids(uow.session, [segment_id]))


def day(year: int, month: int, d: int) -> date:
    """A date (birthdays)."""
    return date(year, month, d)


EVERYONE = {"ann", "bob", "cat", "dan", "eve"}


def ago(**kwargs: float) -> datetime:
    """START minus a duration."""
    return START - timedelta(**kwargs)


def build_scenario_shop(runtime: Runtime) -> Shop:
    """Five people (ann, bob, cat, dan, eve) with profiles, events, orders, scores and a suppression."""
    s = Shop(runtime)
    s.person(
        "ann",
        consent="subscribed",
        consent_at=ago(days=10),
        first_name="Ann",
        country="GB",
        city="London",
        birthday=day(1990, 11, 5),
        properties={"tier": "gold", "score": 42, "vip": True, "tags": ["a", "b"], "signup_day": "2026-10-30"},
    )
    s.person(
        "bob",
        consent="unsubscribed",
        consent_at=ago(days=3),
        first_name="Bob",
        country="DE",
        city="Berlin",
        birthday=day(1985, 3, 1),
        properties={"tier": "silver", "score": 7, "vip": False},
    )
    s.person(
        "cat",
        consent="pending",
        consent_at=ago(days=1),
        country="FR",
        city="Paris",
        properties={"score": "42"},
    )
    s.person("dan")
    s.person("eve", consent="subscribed", consent_at=ago(days=400))

    s.track("ann", "Product Viewed", ago(days=1), product_id="shoe-1", category="Shoes")
    s.track("ann", "Product Viewed", ago(days=2), product_id="shoe-2", category="Shoes")
    s.track("ann", "Product Viewed", ago(days=20), product_id="hat-1", category="Hats")
    s.order("ann", "o-1", ago(days=60), 50.0, [("shoe-1", "Shoes")])
    s.order("ann", "o-2", ago(days=5), 150.0, [("hat-1", "Hats")])
    s.email_event("ann", "Email Clicked", ago(days=10), message_id="m1", template="welcome")

    s.track("bob", "Product Viewed", ago(days=1), product_id="shoe-3", category="Shoes")
    s.track("bob", "Product Added", ago(hours=3), product_id="shoe-3")
    s.order("bob", "o-3", ago(days=200), 20.0, [("mug-1", "Kitchen")])
    s.email_event("bob", "Email Opened", ago(days=2), message_id="m1", machine_open=True)

    s.track("cat", "Page Viewed", ago(days=1), path="/pricing", url="https://shop.test/pricing")
    s.track("cat", "Checkout Started", ago(days=2), products=[{"product_id": "hat-1", "category": "Hats"}])
    s.email_event("cat", "Email Opened", ago(days=100), message_id="m2")

    # A checkout whose payload has no products array: array filters must skip it, not fail on it.
    s.track("dan", "Checkout Started", ago(days=20), cart_id="c-0")
    s.track("dan", "Product Added", ago(days=10), product_id="boot-1")
    s.track(
        "dan",
        "Checkout Started",
        ago(days=9, hours=1),
        products=[{"product_id": "boot-1", "category": "Shoes"}],
    )
    with runtime.uow() as uow:
        # The catalog knows boot-1 as a Boots product; the order line itself names no category.
        events.ingest(
            uow,
            [
                IncomingEvent(
                    message_id="catalog-boot",
                    type="track",
                    name="Product Viewed",
                    occurred_at=ago(days=30),
                    source="test",
                    user_id="dan",
                    properties={"product_id": "boot-1"},
                    products=[ProductIn(external_id="boot-1", title="Boot", categories=["Boots", "Outdoor"])],
                )
            ],
        )
    s.order("dan", "o-4", ago(days=9), 30.0, [("boot-1", None)])

    with runtime.uow() as uow:
        contacts.suppress(uow.session, "dan@example.com", reason="manual", source="test", now=START)
        uow.session.execute(update(Contact).where(Contact.id == s.ids["ann"]).values(rfm_segment="Champions"))
        uow.session.execute(
            update(Contact)
            .where(Contact.id == s.ids["bob"])
            .values(rfm_segment="At risk", lifecycle_stage="at_risk")
        )
        contacts.replace_predictions(
            uow.session,
            [
                ContactPredictionData(
                    contact_id=s.ids[key],
                    computed_at=START,
                    version="t",
                    horizon_days=365,
                    status="ok",
                    churn_risk=risk,
                    expected_next_order_at=START + timedelta(days=days),
                )
                for key, risk, days in (("ann", 0.1, 3), ("bob", 0.8, 40))
            ],
        )
    return s
