"""A little shop for campaign scenarios: contacts, segments, campaigns and email events via the real services."""

import itertools
from datetime import datetime
from typing import Any

from mailwright.campaigns import service
from mailwright.campaigns.schemas import AbTestIn, CampaignIn, CampaignOut, ScheduleIn, VariantIn
from mailwright.contacts import service as contacts
from mailwright.core.runtime import Runtime
from mailwright.delivery import service as delivery
from mailwright.delivery.senders import FakeSender
from mailwright.events import service as events
from mailwright.events.schemas import ContactEvent, IncomingEvent, OrderDraft
from mailwright.orders.schemas import OrderLineIn
from mailwright.segments import service as segments
from mailwright.segments.schemas import SegmentIn
from mailwright.templates import service as templates
from mailwright.templates.schemas import TemplateIn
from mailwright.templates.schemas import VariantIn as TemplateVariantIn

_n = itertools.count(1)

CONTENT = TemplateIn(
    name="campaign_test",
    kind="marketing",
    variants={
        "en": TemplateVariantIn(
            subject="Autumn sale, {{ contact.first_name | default('friend') }}",
            subject_variants=["Last days of the autumn sale"],
            body_format="html",
            body=(
                '<html><body><p>Our sale.</p><a href="https://shop.test/sale">Shop</a> '
                '<a href="{{ message.unsubscribe_url }}">Unsubscribe</a></body></html>'
            ),
        )
    },
)
OTHER = CONTENT.model_copy(update={"name": "campaign_test_b"})


class Shop:
    """People (by key) with zones and consent, segments by a custom `list` property, and campaigns."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.ids: dict[str, int] = {}
        self.pending: list[ContactEvent] = []
        with runtime.uow() as uow:
            for template in (CONTENT, OTHER):
                templates.save_template(uow, template, runtime.settings)

    def person(
        self, key: str, *, lists: tuple[str, ...] = ("news",), consent: str = "subscribed", **profile: Any
    ) -> int:
        """Identify a contact whose custom property `lists` puts it in segments."""
        n = next(_n)
        with self.runtime.uow() as uow:
            result = events.ingest(
                uow,
                [
                    IncomingEvent(
                        message_id=f"cmp-{n}-{key}",
                        type="identify",
                        name="Identify",
                        occurred_at=uow.now(),
                        source="test",
                        user_id=key,
                        email=f"{key}@example.com",
                        profile={"properties": {f"in_{name}": True for name in lists}, **profile},
                        consent=consent,
                        consent_at=uow.now(),
                    )
                ],
            )
        self.ids[key] = result.contact_ids[0]
        return self.ids[key]

    def people(
        self, prefix: str, count: int, *, lists: tuple[str, ...] = ("news",), **profile: Any
    ) -> list[int]:
        """Many subscribed contacts at once (one ingestion batch)."""
        keys = [f"{prefix}{i}" for i in range(count)]
        with self.runtime.uow() as uow:
            batch = [
                IncomingEvent(
                    message_id=f"cmp-{next(_n)}-{key}",
                    type="identify",
                    name="Identify",
                    occurred_at=uow.now(),
                    source="test",
                    user_id=key,
                    email=f"{key}@example.com",
                    profile={"properties": {f"in_{name}": True for name in lists}, **profile},
                    consent="subscribed",
                    consent_at=uow.now(),
                )
                for key in keys
            ]
            events.ingest(uow, batch)
        with self.runtime.uow() as uow:
            for key in keys:
                found = contacts.find_by_email(uow.session, f"{key}@example.com")
                assert found is not None
                self.ids[key] = found.id
        return [self.ids[k] for k in keys]

    def set_lists(
        self, key: str, lists: tuple[str, ...], everything: tuple[str, ...] = ("news", "vip")
    ) -> None:
        """Change which lists a contact is on (an identify with new traits)."""
        n = next(_n)
        with self.runtime.uow() as uow:
            events.ingest(
                uow,
                [
                    IncomingEvent(
                        message_id=f"cmp-{n}-{key}",
                        type="identify",
                        name="Identify",
                        occurred_at=uow.now(),
                        source="test",
                        user_id=key,
                        profile={"properties": {f"in_{name}": name in lists for name in everything}},
                    )
                ],
            )

    def segment(self, list_name: str) -> int:
        """A segment of the contacts on a list."""
        definition = {
            "version": 1,
            "root": {
                "type": "property",
                "field": f"properties.in_{list_name}",
                "operator": "eq",
                "value": True,
            },
        }
        with self.runtime.uow() as uow:
            saved = segments.create_segment(
                uow,
                SegmentIn(name=f"list {list_name} {next(_n)}", definition=definition),
                self.runtime.settings,
            )
        return saved.segment.id

    def campaign(
        self,
        segment_ids: list[int],
        *,
        exclude: list[int] | None = None,
        schedule: ScheduleIn | None = None,
        ab: AbTestIn | None = None,
        name: str | None = None,
        holdout_percent: float = 0.0,
    ) -> CampaignOut:
        """Create (and, with a schedule, schedule) a campaign of the test template."""
        with self.runtime.uow() as uow:
            return service.create_campaign(
                uow,
                CampaignIn(
                    name=name or f"campaign {next(_n)}",
                    template_name=CONTENT.name,
                    segment_ids=segment_ids,
                    exclusion_segment_ids=exclude or [],
                    schedule=schedule,
                    ab_test=ab,
                    holdout_percent=holdout_percent,
                ),
                self.runtime.settings,
            )

    def run_due(self) -> None:
        """What the worker does every minute: start due campaigns, decide due tests."""
        if self.pending:
            self.flush()
        service.start_due(self.runtime.uow, self.runtime.settings)
        service.decide_due(self.runtime.uow, self.runtime.settings)

    def show(self, campaign_id: int) -> CampaignOut:
        """The campaign with its progress."""
        with self.runtime.uow() as uow:
            return service.get_campaign(uow.session, campaign_id, now=uow.now())

    def recipients(self, campaign_id: int) -> dict[int, Any]:
        """The snapshot by contact id."""
        with self.runtime.uow() as uow:
            return {r.contact_id: r for r in service.list_recipients(uow.session, campaign_id)}

    def send_due(self, sender: FakeSender) -> int:
        """Let delivery send what is due now; returns how many went out."""
        report = delivery.send_due(self.runtime, worker_id="test", limit=100_000, sender=sender)
        return report.sent

    def opened(self, contact_id: int, public_id: str, at: datetime, *, machine: bool = False) -> None:
        """An Email Opened as tracking records it (stored at the next `flush`)."""
        self._email_event(contact_id, "Email Opened", at, {"message_id": public_id, "machine_open": machine})

    def clicked(self, contact_id: int, public_id: str, at: datetime) -> None:
        """An Email Clicked as tracking records it (stored at the next `flush`)."""
        self._email_event(
            contact_id, "Email Clicked", at, {"message_id": public_id, "url": "https://shop.test/sale"}
        )

    def _email_event(self, contact_id: int, name: str, at: datetime, props: dict[str, Any]) -> None:
        self.pending.append(ContactEvent(contact_id, name, at, f"{name}:{next(_n)}", props))

    def flush(self) -> None:
        """Store the email events recorded so far, in one transaction."""
        with self.runtime.uow() as uow:
            events.record_contact_events(uow, self.pending)
        self.pending = []

    def orders(self, placed: list[tuple[str, float, datetime]]) -> None:
        """Order Completed events (contact key, total in major units, when), as the store sends them."""
        with self.runtime.uow() as uow:
            batch = []
            for key, total, at in placed:
                n = next(_n)
                batch.append(
                    IncomingEvent(
                        message_id=f"order-{n}",
                        type="track",
                        name="Order Completed",
                        occurred_at=at,
                        source="test",
                        user_id=key,
                        properties={"order_id": f"o-{n}", "total": total, "currency": "GBP"},
                        order=OrderDraft(
                            external_id=f"o-{n}",
                            currency="GBP",
                            total_minor=round(total * 100),
                            lines=[OrderLineIn(product_external_id="tent", price_minor=round(total * 100))],
                        ),
                    )
                )
            events.ingest(uow, batch)

    def zone(self, contact_id: int) -> str | None:
        """A contact's stored time zone."""
        with self.runtime.uow() as uow:
            return contacts.get_profile(uow.session, contact_id).timezone


def ab(metric: str = "opens", share: float = 0.5, wait: float = 4.0, **variants: dict[str, Any]) -> AbTestIn:
    """An A/B test of the test template's two subject lines (or given variants)."""
    chosen = variants or {"A": {}, "B": {"subject_variant": 1}}
    return AbTestIn(
        variants=[VariantIn(name=k, **v) for k, v in chosen.items()],
        test_share=share,
        wait_hours=wait,
        metric=metric,  # type: ignore[arg-type]
    )
