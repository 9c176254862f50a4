"""Delivery test helpers: contacts made through ingestion, the built-in templates, a fake sender."""

import itertools
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from mailwright.contacts import service as contacts
from mailwright.core.runtime import Runtime
from mailwright.core.settings import Settings
from mailwright.delivery import service, signing
from mailwright.delivery.schemas import OutboxDetail, QueuedMessage
from mailwright.delivery.senders import FakeSender
from mailwright.events import service as events
from mailwright.events.schemas import IncomingEvent
from mailwright.templates import service as templates
from mailwright.templates.library import builtin_templates
from mailwright.templates.schemas import TemplateIn, VariantIn

_ids = itertools.count(1)
MakeContact = Callable[..., int]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Test settings with delivery pointed at loopback and every quiet hour switched off unless asked."""
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


PLAIN = TemplateIn(
    name="plain_test",
    kind="marketing",
    variants={
        "en": VariantIn(
            subject="Hello {{ contact.first_name | default('there') }}",
            body_format="html",
            body=(
                "<html><body><p>Hi {{ contact.first_name | default('there') }}, item {{ event.item | default('-') }}"
                " costs {{ 100 // (event.divisor | default(1)) }}.</p>"
                '<a href="https://shop.test/products/1?size=m&amp;color=red">Shoe</a> '
                '<a href="https://blog.example.org/story">Story</a> '
                '<a href="https://shop.test/products/1?size=m&amp;color=red">Shoe again</a> '
                '<a href="{{ message.view_in_browser_url }}">View</a> '
                '<a href="{{ message.preferences_url }}">Preferences</a> '
                '<a href="{{ message.unsubscribe_url }}">Unsubscribe</a></body></html>'
            ),
        )
    },
)


@pytest.fixture
def installed(runtime: Runtime) -> None:
    """A plain HTML test template and two built-in ones (welcome_1, newsletter)."""
    with runtime.uow() as uow:
        templates.save_template(uow, PLAIN, runtime.settings)
        for template in builtin_templates():
            if template.name in ("welcome_1", "newsletter"):
                templates.save_template(uow, template, runtime.settings, builtin=True)


@pytest.fixture
def make_contact(runtime: Runtime) -> MakeContact:
    """Create a contact through ingestion (identify); returns its id."""

    def make(
        email: str, *, consent: str = "subscribed", at: datetime | None = None, **profile: object
    ) -> int:
        n = next(_ids)
        with runtime.uow() as uow:
            events.ingest(
                uow,
                [
                    IncomingEvent(
                        message_id=f"dl-{n}-{email}",
                        type="identify",
                        name="Identify",
                        occurred_at=at or uow.now(),
                        source="test",
                        user_id=f"dl-{n}",
                        email=email,
                        profile={"email": email, **profile},
                        consent=consent,
                        consent_at=at or uow.now(),
                    )
                ],
            )
        with runtime.uow() as uow:
            found = contacts.find_by_email(uow.session, email)
            assert found is not None
            return found.id

    return make


@pytest.fixture
def fake_sender() -> FakeSender:
    return FakeSender()


RuntimeWith = Callable[..., Runtime]


@pytest.fixture
def runtime_with(runtime: Runtime) -> RuntimeWith:
    """The test runtime (same database and clock) with some settings changed."""

    def make(**changes: object) -> Runtime:
        return Runtime(
            runtime.settings.model_copy(update=changes),
            clock=runtime.clock,
            database=runtime.database,
            registry=runtime.registry,
        )

    return make


@pytest.fixture(scope="session")
def dkim_pem() -> bytes:
    """One 2048-bit test key for the whole run."""
    pem, _ = signing.generate_key(2048)
    return pem


def dns_answer(pem: bytes) -> Callable[..., bytes]:
    """A dnsfunc for dkim.verify answering the selector's TXT record from the test's own key."""
    record = signing.dns_txt_value(signing.public_key_der(pem)).encode()

    def lookup(name: bytes, timeout: int = 5) -> bytes:
        return record if name.startswith(b"s1._domainkey.shop.test") else b""

    return lookup


def queue(rt: Runtime, contact_id: int, key: str, **options: Any) -> QueuedMessage:
    """Queue the plain test template (or `template_name=`) for a contact."""
    options.setdefault("template_name", "plain_test")
    options.setdefault("source_kind", "flow")
    with rt.uow() as uow:
        return service.enqueue(uow, contact_id=contact_id, idempotency_key=key, **options)


def message(rt: Runtime, public_id: str) -> OutboxDetail:
    """An outbox row as the API shows it."""
    with rt.uow() as uow:
        return service.get_message(uow.session, public_id)
