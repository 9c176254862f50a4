"""Tracking test helpers: contacts through ingestion, sent outbox rows, tokens, and the test templates."""

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from mailwright.contacts import service as contacts
from mailwright.core.ids import new_ulid
from mailwright.core.runtime import Runtime
from mailwright.core.settings import Settings
from mailwright.delivery import tokens
from mailwright.delivery.models import OutboxMessage
from mailwright.events import service as events
from mailwright.events.schemas import IncomingEvent
from mailwright.templates import service as templates
from mailwright.templates.library import builtin_templates

FIXTURES = Path(__file__).parent / "fixtures"
_ids = itertools.count(1)
MakeContact = Callable[..., int]


@dataclass(frozen=True)
class Sent:
    """A sent outbox message as tests use it."""

    id: int
    public_id: str
    contact_id: int
    links: tuple[str, ...]


MakeMessage = Callable[..., Sent]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Loopback-only delivery settings, the fake sender, no quiet hours."""
    return settings.model_copy(
        update={
            "public_url": "https://shop.test",
            "from_address": "news@shop.test",
            "bounce_domain": "bounces.shop.test",
            "sender": "fake",
            "quiet_hours_start": 0,
            "quiet_hours_end": 0,
        }
    )


@pytest.fixture
def key(settings: Settings) -> bytes:
    return tokens.signing_key(settings)


@pytest.fixture
def confirm_template(runtime: Runtime) -> None:
    """The built-in double opt-in template installed."""
    with runtime.uow() as uow:
        for template in builtin_templates():
            if template.name == "confirm_subscription":
                templates.save_template(uow, template, runtime.settings, builtin=True)


@pytest.fixture
def make_contact(runtime: Runtime) -> MakeContact:
    """Create a contact through ingestion (identify); returns its id."""

    def make(email: str, *, consent: str = "subscribed", **profile: object) -> int:
        n = next(_ids)
        with runtime.uow() as uow:
            events.ingest(
                uow,
                [
                    IncomingEvent(
                        message_id=f"tr-{n}-{email}",
                        type="identify",
                        name="Identify",
                        occurred_at=uow.now(),
                        source="test",
                        user_id=f"tr-{n}",
                        email=email,
                        profile={"email": email, **profile},
                        consent=consent,
                        consent_at=uow.now(),
                    )
                ],
            )
        with runtime.uow() as uow:
            found = contacts.find_by_email(uow.session, email)
            assert found is not None
            return found.id

    return make


@pytest.fixture
def make_message(runtime: Runtime) -> MakeMessage:
    """An outbox row as delivery leaves it after sending (links, html, sent_at)."""

    def make(
        contact_id: int,
        *,
        links: tuple[str, ...] = ("https://shop.test/products/1", "https://blog.example.org/story"),
        sent_at: datetime | None = None,
        template: str = "newsletter",
        status: str = "sent",
        to_address: str | None = None,
        html: str = "<html><body><p>Hello from the shop</p></body></html>",
    ) -> Sent:
        n = next(_ids)
        with runtime.uow() as uow:
            now = uow.now()
            address = to_address or contacts.get_profile(uow.session, contact_id).email
            row = OutboxMessage(
                public_id=new_ulid(now).lower(),
                idempotency_key=f"test:{n}",
                contact_id=contact_id,
                to_address=address,
                template_name=template,
                category="marketing",
                source_kind="campaign",
                source_id=f"campaign:{n}",
                context={},
                status=status,
                send_at=now,
                attempts=1,
                subject="Hello",
                links=list(links),
                html=html,
                sent_at=sent_at or now,
                created_at=now,
                updated_at=now,
            )
            uow.session.add(row)
            uow.session.flush()
            return Sent(id=row.id, public_id=row.public_id, contact_id=contact_id, links=links)

    return make
