"""Sign-up: the form snippet, POST /subscribe, honeypot, rate limit, double opt-in end to end."""

import quopri
import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from mailwright.contacts import service as contacts
from mailwright.core.clock import ManualClock
from mailwright.core.runtime import Runtime
from mailwright.delivery import service as delivery
from mailwright.delivery import tokens
from mailwright.delivery.models import OutboxMessage
from mailwright.delivery.senders import FakeSender
from mailwright.events import service as events
from mailwright.tracking.models import ConsentRecord

pytestmark = pytest.mark.usefixtures("confirm_template")
BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"}


def _outbox(session: Session, contact_id: int) -> list[OutboxMessage]:
    return list(session.scalars(select(OutboxMessage).where(OutboxMessage.contact_id == contact_id)))


def _records(session: Session, contact_id: int) -> list[ConsentRecord]:
    return list(
        session.scalars(
            select(ConsentRecord).where(ConsentRecord.contact_id == contact_id).order_by(ConsentRecord.id)
        )
    )


def test_the_form_snippet_posts_to_subscribe_with_a_honeypot(client: TestClient) -> None:
    response = client.get("/subscribe/form", params={"form": "footer", "source": "blog"})
    assert response.status_code == 200
    html = response.text
    assert 'action="https://shop.test/subscribe"' in html
    assert 'name="email"' in html and 'name="website"' in html  # the honeypot
    assert 'name="form" value="footer"' in html and 'name="source" value="blog"' in html


def test_double_opt_in_end_to_end(
    runtime: Runtime, client: TestClient, session: Session, clock: ManualClock
) -> None:
    response = client.post(
        "/subscribe",
        data={"email": "Nina@Example.com", "first_name": "Nina", "form": "footer", "source": "blog"},
        headers=BROWSER,
    )
    assert response.status_code == 200 and "Check your inbox" in response.text
    profile = contacts.find_by_email(session, "nina@example.com")
    assert profile is not None
    assert profile.consent_status == "pending" and profile.first_name == "Nina"
    assert profile.signup_source == "blog"
    (queued,) = _outbox(session, profile.id)
    assert queued.template_name == "confirm_subscription"
    assert queued.category == "transactional" and queued.source_kind == "system"
    (pending,) = _records(session, profile.id)
    assert (pending.action, pending.form, pending.source) == ("signup_pending", "footer", "blog")
    assert pending.ip == "testclient" and pending.user_agent == BROWSER["User-Agent"]
    assert pending.occurred_at == clock.now()

    # Delivery sends the confirmation for real (render, build, fake sender); the link is in the email.
    sender = FakeSender()
    report = delivery.send_due(runtime, worker_id="test", sender=sender)
    assert report.sent == 1, report
    (mail,) = sender.sent
    assert mail.recipients == ("nina@example.com",)
    body = quopri.decodestring(mail.data).decode("utf-8", "replace")
    links = re.findall(r"https://shop\.test/subscribe/confirm/[A-Za-z0-9_.-]+", body)
    assert links, "the confirmation email carries the confirm link"
    clock.advance(timedelta(minutes=7))
    confirmed = client.get(links[0].replace("https://shop.test", ""), headers=BROWSER)
    assert confirmed.status_code == 200 and "confirmed" in confirmed.text

    state = contacts.consent_state(session, profile.id)
    assert state.consent_status == "subscribed" and state.consent_source == "double_opt_in"
    actions = [(r.action, r.form, r.source) for r in _records(session, profile.id)]
    assert actions == [("signup_pending", "footer", "blog"), ("confirmed", "footer", "blog")]
    (subscribed,) = events.list_events(session, contact_id=profile.id, name="Subscribed")
    assert subscribed.properties == {"source": "blog", "form": "footer", "confirmed": True}
    again = client.get(links[0].replace("https://shop.test", ""))
    assert again.status_code == 200 and "Already confirmed" in again.text
    assert len(events.list_events(session, contact_id=profile.id, name="Subscribed")) == 1


def test_single_opt_in_subscribes_at_once(runtime: Runtime, client: TestClient, session: Session) -> None:
    runtime.settings = runtime.settings.model_copy(update={"double_opt_in": False})
    response = client.post("/subscribe", json={"email": "olga@example.com", "form": "popup"})
    assert response.status_code == 200 and response.json() == {"status": "subscribed"}
    profile = contacts.find_by_email(session, "olga@example.com")
    assert profile is not None and profile.consent_status == "subscribed"
    assert _outbox(session, profile.id) == []
    (subscribed,) = events.list_events(session, contact_id=profile.id, name="Subscribed")
    assert subscribed.properties["confirmed"] is False


def test_honeypot_answers_like_success_and_stores_nothing(client: TestClient, session: Session) -> None:
    response = client.post("/subscribe", json={"email": "bot@example.com", "website": "http://spam.test"})
    assert response.status_code == 200 and response.json() == {"status": "pending"}
    assert contacts.find_by_email(session, "bot@example.com") is None


def test_invalid_email_names_the_field_and_stores_nothing(client: TestClient, session: Session) -> None:
    response = client.post("/subscribe", json={"email": "not-an-address"})
    assert response.status_code == 400
    assert response.json()["field"] == "email"
    missing = client.post("/subscribe", json={"first_name": "x"})
    assert missing.status_code == 400 and missing.json()["field"] == "email"


def test_rate_limit_per_ip_in_a_sliding_window(
    runtime: Runtime, client: TestClient, session: Session, clock: ManualClock
) -> None:
    runtime.settings = runtime.settings.model_copy(
        update={"signup_rate_limit": 3, "signup_rate_window_seconds": 600}
    )
    for n in range(3):
        assert client.post("/subscribe", json={"email": f"r{n}@example.com"}).status_code == 200
    refused = client.post("/subscribe", json={"email": "r3@example.com"})
    assert refused.status_code == 429 and refused.json()["field"] == "ip"
    assert contacts.find_by_email(session, "r3@example.com") is None
    # Failed requests count too, and the window slides with the (injected) clock.
    clock.advance(timedelta(seconds=601))
    assert client.post("/subscribe", json={"email": "r3@example.com"}).status_code == 200


def test_confirm_link_bad_tokens_are_404_and_change_nothing(
    client: TestClient, session: Session, key: bytes
) -> None:
    client.post("/subscribe", json={"email": "pia@example.com"})
    profile = contacts.find_by_email(session, "pia@example.com")
    assert profile is not None
    good = tokens.confirm_token(key, profile.id, "pia@example.com")
    for token in (
        good[:-2] + ("AA" if not good.endswith("AA") else "BB"),
        tokens.confirm_token(key, profile.id, "someone.else@example.com"),
        tokens.preferences_token(key, profile.id),
    ):
        assert client.get(f"/subscribe/confirm/{token}").status_code == 404
    assert contacts.consent_state(session, profile.id).consent_status == "pending"
    assert events.list_events(session, contact_id=profile.id, name="Subscribed") == []


def test_signing_up_again_while_subscribed_sends_nothing(
    runtime: Runtime, client: TestClient, session: Session
) -> None:
    runtime.settings = runtime.settings.model_copy(update={"double_opt_in": False})
    client.post("/subscribe", json={"email": "quin@example.com"})
    again = client.post("/subscribe", json={"email": "quin@example.com"})
    assert again.json() == {"status": "already_subscribed"}


def test_old_signup_attempts_are_purged_by_the_hourly_job(
    runtime: Runtime, session: Session, clock: ManualClock
) -> None:
    from mailwright.tracking.jobs import PURGE_SIGNUP_ATTEMPTS_JOB, purge_signup_attempts
    from mailwright.tracking.models import SignupAttempt

    assert PURGE_SIGNUP_ATTEMPTS_JOB in runtime.registry.handlers
    with runtime.uow() as uow:
        # An IP that signed up once and never came back, and a recent one.
        uow.session.add(SignupAttempt(ip="198.51.100.7", attempted_at=clock.now() - timedelta(days=3)))
        uow.session.add(SignupAttempt(ip="198.51.100.8", attempted_at=clock.now() - timedelta(minutes=5)))
    with runtime.uow() as uow:
        purge_signup_attempts(uow, {})
    assert session.scalars(select(SignupAttempt.ip)).all() == ["198.51.100.8"]
