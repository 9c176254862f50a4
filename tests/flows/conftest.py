"""Flow test helpers: a shop driven through the real ingest API, the engine ticked with the test clock."""

import base64
import itertools
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from mailwright.contacts import service as contacts
from mailwright.core.runtime import Runtime
from mailwright.core.settings import Settings
from mailwright.delivery.models import OutboxMessage
from mailwright.flows import library, service
from mailwright.flows.engine import BatchReport
from mailwright.flows.models import FlowRun, FlowRunStep
from mailwright.flows.schemas import FlowIn, FlowOut
from mailwright.templates import coupons
from mailwright.templates import service as templates

_ids = itertools.count(1)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Fake sender, no quiet hours, no frequency cap unless a test asks (flows, not delivery, are tested)."""
    return settings.model_copy(
        update={
            "sender": "fake",
            "quiet_hours_start": 0,
            "quiet_hours_end": 0,
            "frequency_cap_hours": 0.0,
            "double_opt_in": False,
        }
    )


class Shop:
    """A shop seen from outside: identify and track through the Segment API, then tick the engine."""

    def __init__(self, runtime: Runtime, client: TestClient, write_key: str) -> None:
        self.runtime = runtime
        self.client = client
        self.auth = {"Authorization": "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()}

    def post(self, path: str, body: dict[str, Any]) -> None:
        """Send one Segment call; it must be accepted."""
        body.setdefault("messageId", f"t-{next(_ids)}")
        body.setdefault("timestamp", self.runtime.clock.now().isoformat())
        response = self.client.post(path, headers=self.auth, json=body)
        assert response.status_code == 200, response.text

    def customer(self, user: str, *, subscribed: bool = True, **traits: Any) -> int:
        """A known, subscribed customer; returns the contact id."""
        self.post(
            "/v1/identify",
            {"userId": user, "traits": {"email": f"{user}@example.com", "subscribed": subscribed, **traits}},
        )
        with self.runtime.uow() as uow:
            found = contacts.find_by_email(uow.session, f"{user}@example.com")
            assert found is not None
            return found.id

    def track(self, user: str, event: str, **properties: Any) -> None:
        """One track call."""
        self.post("/v1/track", {"userId": user, "event": event, "properties": properties})

    def order(self, user: str, order_id: str, total: float = 40.0) -> None:
        """An Order Completed with one line."""
        self.track(
            user,
            "Order Completed",
            order_id=order_id,
            total=total,
            currency="EUR",
            products=[{"product_id": "tent-1", "name": "Tent", "price": total, "quantity": 1}],
        )

    def tick(self) -> BatchReport:
        """Run everything the flows have due now."""
        return service.tick(self.runtime.uow, self.runtime.clock.now())

    def later(self, **delta: float) -> BatchReport:
        """Move the clock forward (hours=, days=, minutes=) and tick."""
        self.runtime.clock.advance(timedelta(**delta))  # type: ignore[attr-defined]
        return self.tick()

    def install(self, *keys: str, holdout_percent: float = 0) -> None:
        """Switch on some library flows (no holdout unless asked: the scenarios follow every run's mail)."""
        with self.runtime.uow() as uow:
            # The cart emails' discount codes come from the shop's pool, as a real shop uploads them.
            coupons.upload_codes(uow.session, "cart", [f"CART-{n:04d}" for n in range(50)], uow.now())
            library.install(
                uow, self.runtime.settings, keys=list(keys), activate=True, holdout_percent=holdout_percent
            )

    def save(self, name: str, definition: dict[str, Any], *, activate: bool = True) -> None:
        """Save (and switch on) a flow; no holdout unless the definition sets one."""
        definition = {"holdout_percent": 0, **definition}
        with self.runtime.uow() as uow:
            templates.install_builtins(uow, self.runtime.settings)
            service.save_flow(uow, FlowIn(name=name, definition=definition))
            if activate:
                service.activate(uow, name)

    def runtime_pause(self, name: str) -> None:
        """Pause a flow."""
        with self.runtime.uow() as uow:
            service.pause(uow, name)

    def flow(self, name: str) -> FlowOut:
        """A stored flow."""
        with self.runtime.uow() as uow:
            return service.get_flow(uow.session, name)

    def templates_sent(self, contact_id: int) -> list[str]:
        """Templates queued for a contact, in order."""
        with self.runtime.uow() as uow:
            return list(
                uow.session.scalars(
                    select(OutboxMessage.template_name)
                    .where(OutboxMessage.contact_id == contact_id)
                    .order_by(OutboxMessage.id)
                )
            )

    def outbox(self, contact_id: int) -> list[OutboxMessage]:
        """The contact's outbox rows."""
        with self.runtime.uow() as uow:
            return list(
                uow.session.scalars(
                    select(OutboxMessage)
                    .where(OutboxMessage.contact_id == contact_id)
                    .order_by(OutboxMessage.id)
                )
            )

    def runs(self, contact_id: int) -> list[FlowRun]:
        """The contact's runs, oldest first."""
        with self.runtime.uow() as uow:
            return list(
                uow.session.scalars(
                    select(FlowRun).where(FlowRun.contact_id == contact_id).order_by(FlowRun.id)
                )
            )

    def history(self, run_id: int) -> list[FlowRunStep]:
        """One run's history lines."""
        with self.runtime.uow() as uow:
            return list(
                uow.session.scalars(
                    select(FlowRunStep).where(FlowRunStep.run_id == run_id).order_by(FlowRunStep.id)
                )
            )


@pytest.fixture
def shop(runtime: Runtime, client: TestClient, write_key: str) -> Iterator[Shop]:
    yield Shop(runtime, client, write_key)
