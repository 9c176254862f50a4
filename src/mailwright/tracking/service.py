"""What a recipient's request does: opens, clicks, view in browser, unsubscribe and the preference centre.

Every change takes effect in the caller's unit of work (the request's transaction), so it is committed
before the response and before the next send: delivery checks consent when it sends, not when it queued.
"""

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from mailwright.contacts import service as contacts
from mailwright.core.errors import InvalidInput, NotFound
from mailwright.core.settings import Settings
from mailwright.core.uow import UnitOfWork
from mailwright.delivery import tokens
from mailwright.events import service as events
from mailwright.events import vocabulary as v
from mailwright.events.schemas import ContactEvent, IncomingEvent
from mailwright.tracking import machines, repository
from mailwright.tracking.models import ConsentRecord
from mailwright.tracking.repository import SentMessage

SOURCE = "mailwright"


@dataclass(frozen=True)
class Requester:
    """Who made a request, as far as consent evidence is concerned."""

    ip: str | None = None
    user_agent: str | None = None


ANONYMOUS = Requester()


@dataclass(frozen=True)
class ClickTarget:
    """Where a tracked link goes, and whom it names (for the identity cookie)."""

    url: str
    contact_id: int


@dataclass(frozen=True)
class Preferences:
    """What the preference centre shows: consent, pause and the topics with whether each is wanted."""

    contact_id: int
    email: str | None
    consent_status: str
    paused_until: datetime | None
    topics: dict[str, bool] = field(default_factory=dict)


def _stamp(at: datetime) -> str:
    return str(int(at.timestamp()))


def _message_for(uow: UnitOfWork, public_id: str) -> SentMessage:
    message = repository.message_by_public_id(uow.session, public_id)
    if message is None:
        raise tokens.InvalidToken("this link is not valid")
    return message


def record_open(
    uow: UnitOfWork, key: bytes, token: str, *, user_agent: str | None, settings: Settings
) -> bool:
    """Record an `Email Opened` for a pixel token; False (nothing recorded) when the token is bad."""
    try:
        (public_id,) = tokens.verify(key, "open", token)
    except (tokens.InvalidToken, ValueError):
        return False
    message = repository.message_by_public_id(uow.session, public_id)
    if message is None:
        return False
    now = uow.now()
    machine = machines.is_machine_open(user_agent, message.sent_at, now, settings.machine_open_seconds)
    events.record_contact_events(
        uow,
        [
            ContactEvent(
                contact_id=message.contact_id,
                name=v.EMAIL_OPENED,
                occurred_at=now,
                # One open per message per second: a reload or a retried request is not a second open.
                message_id=f"open:{public_id}:{_stamp(now)}",
                properties={
                    **message.event_properties(),
                    "machine_open": machine,
                    "user_agent": (user_agent or "")[:500],
                },
                source=SOURCE,
            )
        ],
    )
    return True


def record_click(
    uow: UnitOfWork, key: bytes, token: str, *, user_agent: str | None, settings: Settings
) -> ClickTarget:
    """Record an `Email Clicked` and return where to send the recipient (only a link of that message)."""
    try:
        public_id, index_text = tokens.verify(key, "click", token)
        link_index = int(index_text)
    except ValueError as exc:
        raise tokens.InvalidToken("this link is not valid") from exc
    message = _message_for(uow, public_id)
    if not 0 <= link_index < len(message.links):
        raise NotFound("this link is not part of that message", field="token")
    # The stored link already carries the UTM parameters delivery added when it built the message.
    url = message.links[link_index]
    now = uow.now()
    bot = machines.is_bot_click(user_agent, message.sent_at, now, settings.machine_open_seconds)
    events.record_contact_events(
        uow,
        [
            ContactEvent(
                contact_id=message.contact_id,
                name=v.EMAIL_CLICKED,
                occurred_at=now,
                message_id=f"click:{public_id}:{link_index}:{_stamp(now)}",
                properties={
                    **message.event_properties(),
                    "url": message.links[link_index],
                    "link_index": link_index,
                    "bot": bot,
                    "user_agent": (user_agent or "")[:500],
                },
                source=SOURCE,
            )
        ],
    )
    return ClickTarget(url=url, contact_id=message.contact_id)


def view_in_browser(uow: UnitOfWork, key: bytes, token: str) -> str:
    """The HTML of a sent message, for its "view in browser" link."""
    (public_id,) = tokens.verify(key, "view", token)
    message = _message_for(uow, public_id)
    if not message.html:
        raise NotFound("this message is no longer available", field="token")
    return message.html


# --- identity cookie ---------------------------------------------------------------------------------


def identity_cookie(key: bytes, contact_id: int) -> str:
    """The signed value of the identity cookie naming a contact."""
    mac = hmac.new(key, f"identity\n{contact_id}".encode(), hashlib.sha256).hexdigest()[:32]
    return f"{contact_id}.{mac}"


def contact_from_cookie(key: bytes, value: str | None) -> int | None:
    """The contact an identity cookie names, or None if it is missing or forged."""
    if not value or "." not in value:
        return None
    contact_text, _, _mac = value.partition(".")
    if not contact_text.isdecimal():
        return None
    contact_id = int(contact_text)
    return contact_id if hmac.compare_digest(identity_cookie(key, contact_id), value) else None


# --- unsubscribe and preferences -------------------------------------------------------------------


def unsubscribe_target(uow: UnitOfWork, key: bytes, token: str) -> tuple[int, SentMessage | None]:
    """The contact (and message) an unsubscribe token names; InvalidToken if it is bad or gone."""
    contact_text, public_id = tokens.verify(key, "unsubscribe", token)
    if not contact_text.isdecimal():
        raise tokens.InvalidToken("this link is not valid")
    contact_id = int(contact_text)
    message = repository.message_by_public_id(uow.session, public_id) if public_id else None
    try:
        contacts.consent_state(uow.session, contact_id)
    except NotFound as exc:
        raise tokens.InvalidToken("this link is not valid") from exc
    return contact_id, message


def unsubscribe(
    uow: UnitOfWork,
    contact_id: int,
    *,
    method: str,
    message: SentMessage | None = None,
    topic: str | None = None,
    requester: Requester = ANONYMOUS,
) -> bool:
    """Unsubscribe a contact from all marketing (or one topic); returns whether anything changed.

    Records the evidence and an `Unsubscribed` event; effective for the next send, which checks consent.
    """
    state = contacts.consent_state(uow.session, contact_id)
    now = uow.now()
    if topic is None:
        if state.consent_status == "unsubscribed":
            return False
        contacts.set_consent(uow.session, contact_id, "unsubscribed", source=f"unsubscribe:{method}", now=now)
    else:
        if topic in state.unsubscribed_topics:
            return False
        contacts.set_unsubscribed_topics(
            uow.session, contact_id, [*state.unsubscribed_topics, topic], now=now
        )
    repository.add_consent_record(
        uow.session,
        ConsentRecord(
            contact_id=contact_id,
            action="unsubscribed" if topic is None else "topics",
            occurred_at=now,
            ip=requester.ip,
            user_agent=(requester.user_agent or "")[:500] or None,
            source=method,
            message_public_id=message.public_id if message else None,
            details={"topic": topic} if topic else {},
        ),
    )
    properties: dict[str, Any] = message.event_properties() if message else {}
    properties.update({"method": method, "scope": "all" if topic is None else "topic", "topic": topic})
    events.record_contact_events(
        uow,
        [
            ContactEvent(
                contact_id=contact_id,
                name=v.UNSUBSCRIBED,
                occurred_at=now,
                message_id=f"unsubscribe:{contact_id}:{topic or 'all'}:{_stamp(now)}",
                properties=properties,
                source=SOURCE,
            )
        ],
    )
    return True


def preferences_contact(uow: UnitOfWork, key: bytes, token: str) -> int:
    """The contact a preference-centre token names; InvalidToken if it is bad or the contact is gone."""
    (contact_text,) = tokens.verify(key, "preferences", token)
    if not contact_text.isdecimal():
        raise tokens.InvalidToken("this link is not valid")
    try:
        contacts.consent_state(uow.session, int(contact_text))
    except NotFound as exc:
        raise tokens.InvalidToken("this link is not valid") from exc
    return int(contact_text)


def get_preferences(uow: UnitOfWork, contact_id: int, settings: Settings) -> Preferences:
    """A contact's consent, pause and topics as the preference centre shows them."""
    state = contacts.consent_state(uow.session, contact_id)
    paused = state.marketing_paused_until
    return Preferences(
        contact_id=contact_id,
        email=state.email,
        consent_status=state.consent_status,
        paused_until=paused if paused is not None and paused > uow.now() else None,
        topics={topic: topic not in state.unsubscribed_topics for topic in settings.preference_topics},
    )


def update_preferences(
    uow: UnitOfWork,
    contact_id: int,
    *,
    action: str,
    topics: list[str],
    settings: Settings,
    requester: Requester = ANONYMOUS,
) -> Preferences:
    """Apply a preference-centre form: save topics, pause 30 days, resume, or unsubscribe from all."""
    now = uow.now()
    state = contacts.consent_state(uow.session, contact_id)
    evidence = {"ip": requester.ip, "user_agent": (requester.user_agent or "")[:500] or None}
    if action == "unsubscribe_all":
        unsubscribe(uow, contact_id, method="preferences", requester=requester)
    elif action == "pause":
        until = now + timedelta(days=settings.marketing_pause_days)
        contacts.pause_marketing(uow.session, contact_id, until, now=now)
        repository.add_consent_record(
            uow.session,
            ConsentRecord(
                contact_id=contact_id,
                action="paused",
                occurred_at=now,
                source="preferences",
                details={"until": until.isoformat()},
                **evidence,
            ),
        )
    elif action == "resume":
        contacts.pause_marketing(uow.session, contact_id, None, now=now)
        repository.add_consent_record(
            uow.session,
            ConsentRecord(
                contact_id=contact_id, action="resumed", occurred_at=now, source="preferences", **evidence
            ),
        )
    elif action == "resubscribe":
        if state.consent_status != "subscribed":
            contacts.set_consent(uow.session, contact_id, "subscribed", source="preferences", now=now)
            repository.add_consent_record(
                uow.session,
                ConsentRecord(
                    contact_id=contact_id,
                    action="subscribed",
                    occurred_at=now,
                    source="preferences",
                    **evidence,
                ),
            )
            events.record_contact_events(
                uow,
                [
                    ContactEvent(
                        contact_id=contact_id,
                        name=v.SUBSCRIBED,
                        occurred_at=now,
                        message_id=f"subscribed:{contact_id}:{_stamp(now)}",
                        properties={"source": "preferences", "form": None, "confirmed": True},
                        source=SOURCE,
                    )
                ],
            )
    elif action == "save":
        unknown = sorted(set(topics) - set(settings.preference_topics))
        if unknown:
            raise InvalidInput(f"unknown topic {unknown[0]!r}", field="topics")
        left = sorted(set(settings.preference_topics) - set(topics))
        previous = set(state.unsubscribed_topics)
        contacts.set_unsubscribed_topics(uow.session, contact_id, left, now=now)
        repository.add_consent_record(
            uow.session,
            ConsentRecord(
                contact_id=contact_id,
                action="topics",
                occurred_at=now,
                source="preferences",
                details={"unsubscribed_topics": left},
                **evidence,
            ),
        )
        newly_left = sorted(set(left) - previous)
        if newly_left:
            events.record_contact_events(
                uow,
                [
                    ContactEvent(
                        contact_id=contact_id,
                        name=v.UNSUBSCRIBED,
                        occurred_at=now,
                        message_id=f"unsubscribe:{contact_id}:{topic}:{_stamp(now)}",
                        properties={"method": "preferences", "scope": "topic", "topic": topic},
                        source=SOURCE,
                    )
                    for topic in newly_left
                ],
            )
    else:
        raise InvalidInput(
            f"unknown action {action!r}: save, pause, resume, resubscribe or unsubscribe_all", field="action"
        )
    return get_preferences(uow, contact_id, settings)


def link_anonymous_id(uow: UnitOfWork, contact_id: int, anonymous_id: str) -> bool:
    """Join a site visitor's anonymous id to a contact (an identify through ingestion: merges as usual)."""
    try:
        state = contacts.consent_state(uow.session, contact_id)
    except NotFound:
        return False
    if state.email is None and state.external_id is None:
        return False
    now = uow.now()
    events.ingest(
        uow,
        [
            IncomingEvent(
                message_id=f"alias:{contact_id}:{hashlib.sha256(anonymous_id.encode()).hexdigest()[:32]}",
                type="identify",
                name=v.IDENTIFY,
                occurred_at=now,
                source=SOURCE,
                user_id=state.external_id,
                email=state.email,
                anonymous_id=anonymous_id,
            )
        ],
        notify=True,
    )
    return True
