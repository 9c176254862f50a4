"""Sign-up: the form's POST, the per-IP rate limit, double opt-in and its confirmation link.

Rate limit: every request is counted in the `signup_attempts` table (a sliding window per IP, read with
the injected clock) in its own committed transaction before the sign-up runs, so the limit holds across
any number of API processes and requests that then fail validation still count. Rows older than the
window are deleted as the IP comes back.
"""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from mailwright.contacts import service as contacts
from mailwright.contacts.identity import normalize_email
from mailwright.core.errors import Conflict, DomainError, InvalidInput, NotFound
from mailwright.core.ids import sha256_hex
from mailwright.core.settings import Settings
from mailwright.core.uow import UnitOfWork
from mailwright.delivery import service as delivery
from mailwright.delivery import tokens
from mailwright.events import service as events
from mailwright.events import vocabulary as v
from mailwright.events.schemas import ContactEvent, IncomingEvent
from mailwright.tracking import repository
from mailwright.tracking.models import ConsentRecord
from mailwright.tracking.service import ANONYMOUS, SOURCE, Requester

CONFIRM_TEMPLATE = "confirm_subscription"


class TooManyRequests(DomainError):
    """Too many sign-ups from one address in the window."""

    status = 429
    code = "too_many_requests"


@dataclass(frozen=True)
class SignupIn:
    """A sign-up form as posted: the address, optional name, which form and where it was embedded."""

    email: str
    first_name: str | None = None
    form: str | None = None
    source: str | None = None
    anonymous_id: str | None = None
    # The honeypot: a field people never see, so only bots fill it in.
    honeypot: str | None = None


@dataclass(frozen=True)
class SignupResult:
    """What happened: pending (confirmation sent), subscribed, already_subscribed, or ignored (a bot)."""

    status: str
    contact_id: int | None = None


def check_rate(uow: UnitOfWork, ip: str | None, settings: Settings) -> None:
    """Count a sign-up request from this IP; TooManyRequests past the limit in the window."""
    if not ip:
        return
    now = uow.now()
    window_start = now - timedelta(seconds=settings.signup_rate_window_seconds)
    made = repository.note_signup_attempt(uow.session, ip, now, window_start)
    if made > settings.signup_rate_limit:
        raise TooManyRequests(
            f"too many sign-ups from this address; try again in a while "
            f"(limit {settings.signup_rate_limit} per {settings.signup_rate_window_seconds} s)",
            field="ip",
        )


def confirm_url(settings: Settings, key: bytes, contact_id: int, email: str) -> str:
    """The double opt-in link for a contact and address."""
    token = tokens.confirm_token(key, contact_id, email)
    return f"{settings.public_url.rstrip('/')}/subscribe/confirm/{token}"


def subscribe(
    uow: UnitOfWork, data: SignupIn, *, settings: Settings, key: bytes, requester: Requester = ANONYMOUS
) -> SignupResult:
    """Sign an address up: pending with a confirmation email (double opt-in) or subscribed at once."""
    if data.honeypot:
        # Answer as if it worked, so the bot learns nothing; store nothing.
        return SignupResult(status="ignored")
    email = normalize_email(data.email, field="email")
    form = (data.form or "default")[:100]
    source = (data.source or "signup_form")[:100]
    if contacts.suppression_reason(uow.session, email) == "erased":
        raise Conflict("this address cannot be subscribed", field="email")
    now = uow.now()
    profile: dict[str, Any] = {"signup_source": source}
    if data.first_name:
        profile["first_name"] = data.first_name.strip()[:200]
    ingested = events.ingest(
        uow,
        [
            IncomingEvent(
                message_id=f"signup:{sha256_hex(email)[:32]}:{int(now.timestamp())}",
                type="identify",
                name=v.IDENTIFY,
                occurred_at=now,
                source="signup",
                email=email,
                anonymous_id=data.anonymous_id or None,
                profile=profile,
            )
        ],
        notify=True,
    )
    if ingested.contact_ids:
        contact_id = ingested.contact_ids[0]
    else:  # the same address in the same second: the profile exists
        found = contacts.find_by_email(uow.session, email)
        if found is None:
            raise NotFound("the contact vanished while signing up", field="email")
        contact_id = found.id
    state = contacts.consent_state(uow.session, contact_id)
    if state.consent_status == "subscribed":
        return SignupResult(status="already_subscribed", contact_id=contact_id)
    evidence = {
        "ip": requester.ip,
        "user_agent": (requester.user_agent or "")[:500] or None,
        "form": form,
        "source": source,
    }
    if settings.double_opt_in:
        contacts.set_consent(uow.session, contact_id, "pending", source=f"signup:{form}", now=now)
        repository.add_consent_record(
            uow.session,
            ConsentRecord(contact_id=contact_id, action="signup_pending", occurred_at=now, **evidence),
        )
        delivery.enqueue(
            uow,
            contact_id=contact_id,
            template_name=CONFIRM_TEMPLATE,
            idempotency_key=f"confirm:{contact_id}:{int(now.timestamp())}",
            source_kind="system",
            source_id=f"signup:{form}",
            category="transactional",
            context={"message": {"confirm_url": confirm_url(settings, key, contact_id, email)}},
        )
        return SignupResult(status="pending", contact_id=contact_id)
    contacts.set_consent(uow.session, contact_id, "subscribed", source=f"signup:{form}", now=now)
    repository.add_consent_record(
        uow.session, ConsentRecord(contact_id=contact_id, action="subscribed", occurred_at=now, **evidence)
    )
    _record_subscribed(uow, contact_id, source=source, form=form, confirmed=False)
    return SignupResult(status="subscribed", contact_id=contact_id)


def confirm(uow: UnitOfWork, key: bytes, token: str, *, requester: Requester = ANONYMOUS) -> SignupResult:
    """Follow a double opt-in link: a pending contact becomes subscribed; the click is kept as evidence."""
    contact_text, email = tokens.verify(key, "confirm", token)
    if not contact_text.isdecimal():
        raise tokens.InvalidToken("this link is not valid")
    contact_id = int(contact_text)
    try:
        state = contacts.consent_state(uow.session, contact_id)
    except NotFound as exc:
        raise tokens.InvalidToken("this link is not valid") from exc
    if state.email != email:
        # The address changed (or was erased) since the link was sent: it confirms nothing.
        raise tokens.InvalidToken("this link is not valid")
    if state.consent_status == "subscribed":
        return SignupResult(status="already_subscribed", contact_id=contact_id)
    if state.consent_status != "pending":
        raise InvalidInput("this confirmation link has expired; please sign up again", field="token")
    now = uow.now()
    signup = repository.latest_signup(uow.session, contact_id)
    form = signup.form if signup else None
    source = signup.source if signup else None
    contacts.set_consent(uow.session, contact_id, "subscribed", source="double_opt_in", now=now)
    repository.add_consent_record(
        uow.session,
        ConsentRecord(
            contact_id=contact_id,
            action="confirmed",
            occurred_at=now,
            ip=requester.ip,
            user_agent=(requester.user_agent or "")[:500] or None,
            form=form,
            source=source,
        ),
    )
    _record_subscribed(uow, contact_id, source=source, form=form, confirmed=True)
    return SignupResult(status="subscribed", contact_id=contact_id)


def _record_subscribed(
    uow: UnitOfWork, contact_id: int, *, source: str | None, form: str | None, confirmed: bool
) -> None:
    now = uow.now()
    events.record_contact_events(
        uow,
        [
            ContactEvent(
                contact_id=contact_id,
                name=v.SUBSCRIBED,
                occurred_at=now,
                message_id=f"subscribed:{contact_id}:{int(now.timestamp())}",
                properties={"source": source, "form": form, "confirmed": confirmed},
                source=SOURCE,
            )
        ],
    )
