"""GDPR export and erasure, from the API and the CLI; an erased address stays suppressed for good."""

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from tests.tracking.conftest import MakeContact, MakeMessage
from typer.testing import CliRunner

from mailwright.cli.app import app
from mailwright.contacts import service as contacts
from mailwright.contacts.models import ContactIdentity
from mailwright.core.runtime import Runtime
from mailwright.delivery import tokens
from mailwright.delivery.models import OutboxMessage
from mailwright.events import service as events
from mailwright.events.models import Event
from mailwright.events.schemas import IncomingEvent, OrderDraft
from mailwright.tracking.models import ConsentRecord
from mailwright.tracking.privacy import anonymize_properties


def _history(
    runtime: Runtime, client: TestClient, key: bytes, make_contact: MakeContact, make_message: MakeMessage
) -> tuple[int, str]:
    """A contact with a site visit, an order, a sent message that was opened and clicked, and a pause."""
    contact = make_contact(
        "rita@example.com", first_name="Rita", last_name="Ross", phone="+441234567890", city="Leeds"
    )
    with runtime.uow() as uow:
        events.ingest(
            uow,
            [
                IncomingEvent(
                    message_id="rita-order-1",
                    type="track",
                    name="Order Completed",
                    occurred_at=uow.now(),
                    source="test",
                    email="rita@example.com",
                    order=OrderDraft(external_id="A-1", currency="GBP", total_minor=4200),
                    properties={
                        "order_id": "A-1",
                        "total": 42.0,
                        "email": "rita@example.com",
                        "shipping_address": {"street": "1 Lane", "city": "Leeds"},
                        "products": [{"product_id": "mug", "name": "Mug", "price": 42.0}],
                    },
                ),
                IncomingEvent(
                    message_id="rita-visit-1",
                    type="page",
                    name="Page Viewed",
                    occurred_at=uow.now(),
                    source="test",
                    email="rita@example.com",
                    anonymous_id="anon-rita",
                    properties={"url": "https://shop.test/p?email=rita@example.com", "ip": "203.0.113.9"},
                ),
            ],
        )
    message = make_message(contact, to_address="rita@example.com", html="<p>Dear Rita</p>")
    client.get(f"/t/o/{tokens.open_token(key, message.public_id)}.gif", headers={"User-Agent": "Thunderbird"})
    client.post(f"/preferences/{tokens.preferences_token(key, contact)}", data={"action": "pause"})
    return contact, message.public_id


@pytest.mark.nodb
def test_anonymize_properties_strips_personal_fields_everywhere() -> None:
    cleaned = anonymize_properties(
        {
            "email": "a@b.c",
            "Order_ID": "A-1",
            "user_agent": "x",
            "traits": {"name": "A"},
            "url": "https://shop.test/p?email=a@b.c#top",
            "products": [{"name": "Mug", "sku": "M1", "phone": "1"}],
        }
    )
    assert cleaned == {"Order_ID": "A-1", "url": "https://shop.test/p", "products": [{"sku": "M1"}]}


def test_export_holds_everything_about_the_contact(
    runtime: Runtime,
    client: TestClient,
    admin_token: str,
    key: bytes,
    make_contact: MakeContact,
    make_message: MakeMessage,
) -> None:
    contact, public_id = _history(runtime, client, key, make_contact, make_message)
    response = client.get(
        f"/api/v1/contacts/{contact}/export", headers={"Authorization": f"Bearer {admin_token}"}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["profile"]["email"] == "rita@example.com" and body["profile"]["first_name"] == "Rita"
    assert body["profile"]["marketing_paused_until"] is not None
    assert {i["kind"] for i in body["identities"]} >= {"email", "anonymous_id"}
    assert [r["action"] for r in body["consent_records"]] == ["paused"]
    names = {e["name"] for e in body["events"]}
    assert {"Order Completed", "Page Viewed", "Email Opened"} <= names
    assert [o["external_id"] for o in body["orders"]] == ["A-1"]
    (sent,) = body["messages"]
    assert sent["message_id"] == public_id and sent["to_address"] == "rita@example.com"
    assert "segment_memberships" in body
    missing = client.get("/api/v1/contacts/987654/export", headers={"Authorization": f"Bearer {admin_token}"})
    assert missing.status_code == 404
    assert client.get(f"/api/v1/contacts/{contact}/export").status_code == 401


def test_erase_removes_personal_data_and_keeps_the_address_suppressed(
    runtime: Runtime,
    client: TestClient,
    admin_token: str,
    key: bytes,
    make_contact: MakeContact,
    make_message: MakeMessage,
    session: Session,
) -> None:
    contact, public_id = _history(runtime, client, key, make_contact, make_message)
    revenue_before = contacts.get_profile(session, contact).revenue_minor
    response = client.post(
        f"/api/v1/contacts/{contact}/erase", headers={"Authorization": f"Bearer {admin_token}"}
    )
    assert response.status_code == 200 and response.json()["erased"] is True
    session.expire_all()

    profile = contacts.get_profile(session, contact)
    assert (profile.email, profile.first_name, profile.last_name, profile.phone, profile.city) == (None,) * 5
    assert profile.properties == {} and profile.consent_status == "unsubscribed"
    assert profile.revenue_minor == revenue_before  # the shop's figures do not change
    assert contacts.find_by_email(session, "rita@example.com") is None
    assert session.scalars(select(ContactIdentity).where(ContactIdentity.contact_id == contact)).all() == []
    assert session.scalars(select(ConsentRecord).where(ConsentRecord.contact_id == contact)).all() == []
    stored = session.scalars(select(Event).where(Event.contact_id == contact)).all()
    assert stored, "events are kept, anonymized"
    dump = json.dumps([e.properties for e in stored])
    for personal in ("rita@example.com", "Leeds", "203.0.113.9", "Thunderbird"):
        assert personal not in dump
    order = next(e for e in stored if e.name == "Order Completed")
    assert order.properties["order_id"] == "A-1" and order.properties["products"][0]["product_id"] == "mug"
    message = session.scalars(select(OutboxMessage).where(OutboxMessage.public_id == public_id)).one()
    assert (message.to_address, message.html, message.subject) == (None, None, None)

    # Kept suppressed by hash, and refused at sign-up.
    assert contacts.suppression_reason(session, "Rita@Example.com") == "erased"
    again = client.post("/subscribe", json={"email": "rita@example.com"})
    assert again.status_code == 409 and again.json()["field"] == "email"
    assert contacts.find_by_email(session, "rita@example.com") is None
    # Old links of the erased contact lead nowhere personal.
    prefs = client.get(f"/preferences/{tokens.preferences_token(key, contact)}")
    assert "rita@example.com" not in prefs.text


def test_cli_export_and_erase(fresh_database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    url = fresh_database_url.replace("postgresql://", "postgresql+psycopg://")
    monkeypatch.setenv("MAILWRIGHT_DATABASE_URL", url)
    monkeypatch.setenv("MAILWRIGHT_DOUBLE_OPT_IN", "false")
    runtime = runtime_for(url)
    with runtime.uow() as uow:
        events.ingest(
            uow,
            [
                IncomingEvent(
                    message_id="cli-1",
                    type="identify",
                    name="Identify",
                    occurred_at=uow.now(),
                    source="test",
                    email="sam@example.com",
                    profile={"first_name": "Sam"},
                    consent="subscribed",
                )
            ],
        )
    runtime.database.engine.dispose()
    cli = CliRunner()
    exported = cli.invoke(app, ["contacts", "export", "sam@example.com"])
    assert exported.exit_code == 0, exported.output
    assert json.loads(exported.stdout)["profile"]["first_name"] == "Sam"
    erased = cli.invoke(app, ["contacts", "erase", "sam@example.com", "--yes", "--json"])
    assert erased.exit_code == 0, erased.output
    assert json.loads(erased.stdout)["erased"] is True
    gone = cli.invoke(app, ["contacts", "export", "sam@example.com"])
    assert gone.exit_code == 1 and "no contact" in gone.output


def runtime_for(url: str) -> Runtime:
    from mailwright.core.settings import Settings

    return Runtime(Settings(database_url=url, _env_file=None))  # type: ignore[call-arg]
