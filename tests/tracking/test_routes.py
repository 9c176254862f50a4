"""The recipient-facing routes: pixel, clicks, view in browser, unsubscribe and preferences, bad tokens."""

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from tests.tracking.conftest import MakeContact, MakeMessage

from mailwright.contacts import service as contacts
from mailwright.core.clock import ManualClock
from mailwright.delivery import tokens
from mailwright.events import service as events
from mailwright.events.models import Event
from mailwright.tracking.models import ConsentRecord
from mailwright.tracking.router import PIXEL_GIF

BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15"


def _events(session: Session, contact_id: int, name: str) -> list[dict[str, Any]]:
    return [e.properties for e in events.list_events(session, contact_id=contact_id, name=name, limit=100)]


def _event_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Event)) or 0)


def _forged(token: str) -> str:
    payload, mac = token.split(".")
    return payload + "." + ("A" if mac[0] != "A" else "B") + mac[1:]


def test_pixel_records_an_open_and_answers_a_real_uncached_gif(
    client: TestClient,
    make_contact: MakeContact,
    make_message: MakeMessage,
    key: bytes,
    session: Session,
    clock: ManualClock,
) -> None:
    contact = make_contact("ann@example.com")
    message = make_message(contact)
    clock.advance(timedelta(minutes=10))
    response = client.get(
        f"/t/o/{tokens.open_token(key, message.public_id)}.gif", headers={"User-Agent": BROWSER}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/gif"
    assert response.content == PIXEL_GIF and response.content.startswith(b"GIF89a")
    assert "no-store" in response.headers["cache-control"]
    opened = _events(session, contact, "Email Opened")
    assert len(opened) == 1
    assert opened[0]["message_id"] == message.public_id
    assert opened[0]["template"] == "newsletter" and opened[0]["source_kind"] == "campaign"
    assert opened[0]["machine_open"] is False
    assert contacts.get_profile(session, contact).last_open_at == clock.now()


@pytest.mark.parametrize(
    ("user_agent", "delay", "machine"),
    [
        (
            "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
            3600,
            True,
        ),
        ("Mozilla/5.0", 3600, True),  # Apple Mail Privacy Protection's prefetch
        ("YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html", 3600, True),
        (BROWSER, 2, True),  # a real browser string, but two seconds after sending: a scanner
        (BROWSER, 600, False),
    ],
)
def test_machine_opens_are_flagged(
    client: TestClient,
    make_contact: MakeContact,
    make_message: MakeMessage,
    key: bytes,
    session: Session,
    clock: ManualClock,
    user_agent: str,
    delay: int,
    machine: bool,
) -> None:
    contact = make_contact("bob@example.com")
    message = make_message(contact)
    clock.advance(timedelta(seconds=delay))
    client.get(f"/t/o/{tokens.open_token(key, message.public_id)}.gif", headers={"User-Agent": user_agent})
    (opened,) = _events(session, contact, "Email Opened")
    assert opened["machine_open"] is machine
    assert opened["user_agent"] == user_agent


def test_pixel_with_a_bad_token_still_gets_the_gif_and_records_nothing(
    client: TestClient, make_contact: MakeContact, make_message: MakeMessage, key: bytes, session: Session
) -> None:
    contact = make_contact("carl@example.com")
    message = make_message(contact)
    before = _event_count(session)
    for token in (
        _forged(tokens.open_token(key, message.public_id)),
        tokens.view_token(key, message.public_id),  # another kind
        tokens.open_token(b"someone-elses-key", message.public_id),
        tokens.open_token(key, "nosuchmessage0000000000000"),
        "garbage",
    ):
        response = client.get(f"/t/o/{token}.gif")
        assert response.status_code == 200 and response.content == PIXEL_GIF
    assert _event_count(session) == before


def test_a_reloaded_pixel_in_the_same_second_is_one_open(
    client: TestClient,
    make_contact: MakeContact,
    make_message: MakeMessage,
    key: bytes,
    session: Session,
    clock: ManualClock,
) -> None:
    contact = make_contact("dora@example.com")
    message = make_message(contact)
    clock.advance(timedelta(minutes=5))
    url = f"/t/o/{tokens.open_token(key, message.public_id)}.gif"
    client.get(url, headers={"User-Agent": BROWSER})
    client.get(url, headers={"User-Agent": BROWSER})
    clock.advance(timedelta(hours=1))
    client.get(url, headers={"User-Agent": BROWSER})
    assert len(_events(session, contact, "Email Opened")) == 2


def test_click_redirects_only_to_that_messages_link_and_sets_the_identity_cookie(
    client: TestClient,
    make_contact: MakeContact,
    make_message: MakeMessage,
    key: bytes,
    session: Session,
    clock: ManualClock,
) -> None:
    contact = make_contact("eve@example.com")
    message = make_message(contact)
    clock.advance(timedelta(minutes=30))
    response = client.get(
        f"/t/c/{tokens.click_token(key, message.public_id, 1)}",
        headers={"User-Agent": BROWSER},
        follow_redirects=False,
    )
    assert response.status_code == 302
    assert response.headers["location"] == "https://blog.example.org/story"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("mw_contact=") and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" in cookie  # public_url is https
    (clicked,) = _events(session, contact, "Email Clicked")
    assert clicked["url"] == "https://blog.example.org/story"
    assert clicked["link_index"] == 1 and clicked["bot"] is False
    assert clicked["message_id"] == message.public_id
    assert contacts.get_profile(session, contact).last_click_at == clock.now()


def test_click_by_a_link_scanner_is_flagged_bot(
    client: TestClient,
    make_contact: MakeContact,
    make_message: MakeMessage,
    key: bytes,
    session: Session,
    clock: ManualClock,
) -> None:
    contact = make_contact("fred@example.com")
    message = make_message(contact)
    clock.advance(timedelta(minutes=1))
    client.get(
        f"/t/c/{tokens.click_token(key, message.public_id, 0)}",
        headers={"User-Agent": "Mozilla/5.0 (compatible; Barracuda Sentinel)"},
        follow_redirects=False,
    )
    (clicked,) = _events(session, contact, "Email Clicked")
    assert clicked["bot"] is True


def test_click_tokens_cannot_point_anywhere_else(
    client: TestClient, make_contact: MakeContact, make_message: MakeMessage, key: bytes, session: Session
) -> None:
    contact = make_contact("gina@example.com")
    message = make_message(contact)
    before = _event_count(session)
    cases = {
        "out of range": tokens.click_token(key, message.public_id, 2),
        "negative": tokens.click_token(key, message.public_id, -1),
        "tampered": _forged(tokens.click_token(key, message.public_id, 0)),
        "other kind": tokens.open_token(key, message.public_id),
        "attacker url in place of the index": tokens.sign(
            key, "click", message.public_id, "https://evil.test"
        ),
        "unsigned attacker url": "aHR0cHM6Ly9ldmlsLnRlc3Q.AAAA",
        "unknown message": tokens.click_token(key, "nosuchmessage0000000000000", 0),
    }
    for name, token in cases.items():
        response = client.get(f"/t/c/{token}", follow_redirects=False)
        assert response.status_code == 404, name
        assert "location" not in response.headers, name
        assert "set-cookie" not in response.headers, name
    assert _event_count(session) == before


def test_view_in_browser_shows_the_stored_html(
    client: TestClient, make_contact: MakeContact, make_message: MakeMessage, key: bytes
) -> None:
    contact = make_contact("hal@example.com")
    message = make_message(contact, html="<html><body><h1>Autumn sale</h1></body></html>")
    response = client.get(f"/t/v/{tokens.view_token(key, message.public_id)}")
    assert response.status_code == 200 and "Autumn sale" in response.text
    assert client.get(f"/t/v/{tokens.open_token(key, message.public_id)}").status_code == 404
    assert client.get(f"/t/v/{_forged(tokens.view_token(key, message.public_id))}").status_code == 404


def test_one_click_unsubscribe_with_no_cookies_answers_200_at_once(
    runtime: Any,
    client: TestClient,
    make_contact: MakeContact,
    make_message: MakeMessage,
    key: bytes,
    session: Session,
) -> None:
    contact = make_contact("ida@example.com")
    message = make_message(contact)
    token = tokens.unsubscribe_token(key, contact, message.public_id)
    client.cookies.clear()
    response = client.post(
        f"/u/{token}",
        content="List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    assert response.status_code == 200
    assert "location" not in response.headers
    assert contacts.consent_state(session, contact).consent_status == "unsubscribed"
    (event,) = _events(session, contact, "Unsubscribed")
    assert (
        event["method"] == "one_click"
        and event["scope"] == "all"
        and event["message_id"] == message.public_id
    )
    (record,) = session.scalars(select(ConsentRecord).where(ConsentRecord.contact_id == contact)).all()
    assert record.action == "unsubscribed" and record.message_public_id == message.public_id
    # A second one-click (a retry by the mailbox provider) changes nothing and still answers 200.
    again = client.post(f"/u/{token}", content="List-Unsubscribe=One-Click", follow_redirects=False)
    assert again.status_code == 200
    assert len(_events(session, contact, "Unsubscribed")) == 1


def test_unsubscribe_page_confirms_first_and_offers_the_preference_centre(
    client: TestClient, make_contact: MakeContact, make_message: MakeMessage, key: bytes, session: Session
) -> None:
    contact = make_contact("jon@example.com")
    message = make_message(contact)
    token = tokens.unsubscribe_token(key, contact, message.public_id)
    page = client.get(f"/u/{token}")
    assert page.status_code == 200
    assert 'method="post"' in page.text and "/preferences/" in page.text
    assert contacts.consent_state(session, contact).consent_status == "subscribed"  # a GET changes nothing
    done = client.post(f"/u/{token}", data={"confirm": "page"}, follow_redirects=False)
    assert done.status_code == 200 and "You are unsubscribed" in done.text
    assert contacts.consent_state(session, contact).consent_status == "unsubscribed"
    (event,) = _events(session, contact, "Unsubscribed")
    assert event["method"] == "page"


def test_unsubscribe_with_bad_tokens_is_404_and_writes_nothing(
    client: TestClient, make_contact: MakeContact, make_message: MakeMessage, key: bytes, session: Session
) -> None:
    contact = make_contact("kim@example.com")
    message = make_message(contact)
    before = _event_count(session)
    for token in (
        _forged(tokens.unsubscribe_token(key, contact, message.public_id)),
        tokens.preferences_token(key, contact),
        tokens.unsubscribe_token(key, 987654321, ""),
    ):
        assert client.get(f"/u/{token}").status_code == 404
        assert client.post(f"/u/{token}", content="List-Unsubscribe=One-Click").status_code == 404
    assert contacts.consent_state(session, contact).consent_status == "subscribed"
    assert _event_count(session) == before


def test_preference_centre_topics_pause_and_unsubscribe_all(
    client: TestClient, make_contact: MakeContact, key: bytes, session: Session, clock: ManualClock
) -> None:
    contact = make_contact("lea@example.com")
    url = f"/preferences/{tokens.preferences_token(key, contact)}"
    page = client.get(url)
    assert page.status_code == 200
    assert 'value="newsletter" checked' in page.text and 'value="offers" checked' in page.text

    saved = client.post(url, data={"action": "save", "topics": ["newsletter"]})
    assert saved.status_code == 200 and "saved" in saved.text
    state = contacts.consent_state(session, contact)
    assert set(state.unsubscribed_topics) == {"offers", "product_news"}
    assert state.consent_status == "subscribed"
    topic_events = _events(session, contact, "Unsubscribed")
    assert {(e["scope"], e["topic"]) for e in topic_events} == {
        ("topic", "offers"),
        ("topic", "product_news"),
    }

    client.post(url, data={"action": "pause"})
    paused = contacts.consent_state(session, contact).marketing_paused_until
    assert paused == clock.now() + timedelta(days=30)

    client.post(url, data={"action": "unsubscribe_all"})
    assert contacts.consent_state(session, contact).consent_status == "unsubscribed"
    page = client.get(url)
    assert "Subscribe again" in page.text
    actions = [
        r.action for r in session.scalars(select(ConsentRecord).where(ConsentRecord.contact_id == contact))
    ]
    assert actions == ["topics", "paused", "unsubscribed"]


def test_preference_centre_rejects_bad_tokens_and_unknown_topics(
    client: TestClient, make_contact: MakeContact, make_message: MakeMessage, key: bytes, session: Session
) -> None:
    contact = make_contact("max@example.com")
    message = make_message(contact)
    for token in (
        _forged(tokens.preferences_token(key, contact)),
        tokens.unsubscribe_token(key, contact, message.public_id),
    ):
        assert client.get(f"/preferences/{token}").status_code == 404
        assert client.post(f"/preferences/{token}", data={"action": "unsubscribe_all"}).status_code == 404
    bad = client.post(
        f"/preferences/{tokens.preferences_token(key, contact)}", data={"action": "save", "topics": ["spam"]}
    )
    assert bad.status_code == 400 and "unknown topic" in bad.text
    state = contacts.consent_state(session, contact)
    assert state.consent_status == "subscribed" and state.unsubscribed_topics == ()


def test_identity_cookie_joins_the_site_visitor_to_the_contact(
    client: TestClient, make_contact: MakeContact, make_message: MakeMessage, key: bytes, session: Session
) -> None:
    contact = make_contact("ned@example.com")
    message = make_message(contact)
    clicked = client.get(f"/t/c/{tokens.click_token(key, message.public_id, 0)}", follow_redirects=False)
    # The cookie is Secure (public_url is https) and the test client speaks http: hand it over as a browser would.
    client.cookies.set("mw_contact", clicked.cookies["mw_contact"])
    linked = client.post("/t/alias", json={"anonymousId": "anon-visitor-42"})
    assert linked.json() == {"linked": True}
    assert "anon-visitor-42" in contacts.get_profile(session, contact).anonymous_ids
    assert "access-control-allow-origin" not in linked.headers  # no shop origin configured
    client.cookies.set("mw_contact", f"{contact}.forged")
    assert client.post("/t/alias", json={"anonymousId": "anon-other"}).json() == {"linked": False}


def test_alias_answers_cors_only_for_configured_shop_origins(runtime: Any, client: TestClient) -> None:
    runtime.settings = runtime.settings.model_copy(
        update={"identity_allowed_origins": ["https://www.shop.test"]}
    )
    allowed = client.options("/t/alias", headers={"Origin": "https://www.shop.test"})
    assert allowed.headers["access-control-allow-origin"] == "https://www.shop.test"
    assert allowed.headers["access-control-allow-credentials"] == "true"
    other = client.options("/t/alias", headers={"Origin": "https://evil.test"})
    assert "access-control-allow-origin" not in other.headers
    bad = client.post("/t/alias", json={"anonymousId": ""})
    assert bad.status_code == 400 and bad.json()["field"] == "anonymousId"


def test_one_click_accepts_multipart_bodies_too(
    client: TestClient, make_contact: MakeContact, make_message: MakeMessage, key: bytes, session: Session
) -> None:
    contact = make_contact("mpart@example.com")
    message = make_message(contact)
    response = client.post(
        f"/u/{tokens.unsubscribe_token(key, contact, message.public_id)}",
        files={"List-Unsubscribe": (None, "One-Click")},
        follow_redirects=False,
    )
    assert response.status_code == 200
    assert contacts.consent_state(session, contact).consent_status == "unsubscribed"
    (event,) = _events(session, contact, "Unsubscribed")
    assert event["method"] == "one_click"
