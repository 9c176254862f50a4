"""A real message through delivery, then the recipient's side: pixel, click, one-click unsubscribe."""

import email
import email.policy
import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from tests.tracking.conftest import MakeContact

from mailwright.core.clock import ManualClock
from mailwright.core.runtime import Runtime
from mailwright.delivery import service as delivery
from mailwright.delivery.models import OutboxMessage
from mailwright.delivery.senders import FakeSender
from mailwright.events import service as events
from mailwright.templates import service as templates
from mailwright.templates.schemas import TemplateIn, VariantIn

PROMO = TemplateIn(
    name="tracking_promo",
    kind="marketing",
    variants={
        "en": VariantIn(
            subject="New in",
            body_format="html",
            body=(
                '<html><body><p>Hi</p><a href="https://shop.test/new?ref=mail">New</a>'
                '<a href="{{ message.unsubscribe_url }}">Unsubscribe</a></body></html>'
            ),
        )
    },
)


def test_recipient_side_of_a_real_message(
    runtime: Runtime, client: TestClient, make_contact: MakeContact, session: Session, clock: ManualClock
) -> None:
    with runtime.uow() as uow:
        templates.save_template(uow, PROMO, runtime.settings)
    contact = make_contact("zoe@example.com")
    with runtime.uow() as uow:
        delivery.enqueue(
            uow,
            contact_id=contact,
            template_name="tracking_promo",
            idempotency_key="e2e:1",
            source_kind="campaign",
        )
    sender = FakeSender()
    assert delivery.send_due(runtime, worker_id="t", sender=sender).sent == 1
    (mail,) = sender.sent
    msg = email.message_from_bytes(mail.data, policy=email.policy.SMTP)
    html = next(p for p in msg.walk() if p.get_content_type() == "text/html").get_content()
    pixel = re.search(r'src="https://shop\.test(/t/o/[^"]+\.gif)"', html)
    click = re.search(r'href="https://shop\.test(/t/c/[^"]+)"', html)
    one_click = re.search(r"<https://shop\.test(/u/[^>]+)>", str(msg["List-Unsubscribe"]))
    assert pixel and click and one_click
    assert mail.envelope_from.startswith("bounce+")

    clock.advance(timedelta(minutes=20))
    assert client.get(pixel.group(1), headers={"User-Agent": "Thunderbird/128.0"}).status_code == 200
    followed = client.get(click.group(1), follow_redirects=False)
    assert followed.status_code == 302 and followed.headers["location"].startswith(
        "https://shop.test/new?ref=mail"
    )
    assert events.list_events(session, contact_id=contact, name="Email Opened")
    assert events.list_events(session, contact_id=contact, name="Email Clicked")

    # RFC 8058: the mailbox provider POSTs with no cookies; the very next send is stopped.
    client.cookies.clear()
    response = client.post(one_click.group(1), content="List-Unsubscribe=One-Click", follow_redirects=False)
    assert response.status_code == 200
    clock.advance(timedelta(days=2))  # past the frequency cap, so only consent can stop it
    with runtime.uow() as uow:
        delivery.enqueue(
            uow,
            contact_id=contact,
            template_name="tracking_promo",
            idempotency_key="e2e:2",
            source_kind="campaign",
        )
    report = delivery.send_due(runtime, worker_id="t", sender=sender)
    assert report.sent == 0 and report.skipped == 1
    assert len(sender.sent) == 1
    second = session.scalars(select(OutboxMessage).where(OutboxMessage.idempotency_key == "e2e:2")).one()
    assert (second.status, second.skip_reason) == ("skipped", "unsubscribed")
