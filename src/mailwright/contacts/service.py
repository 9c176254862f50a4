"""Contact business logic: identity resolution and merges, traits, consent, roll-ups, erasure."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from mailwright.contacts import repository
from mailwright.contacts.identity import normalize_email
from mailwright.contacts.models import Contact, ContactIdentity, Suppression
from mailwright.contacts.schemas import ContactOut, OrderRollup
from mailwright.core.errors import InvalidInput, NotFound
from mailwright.core.ids import sha256_hex

CONSENT_STATUSES = ("subscribed", "unsubscribed", "pending", "never_subscribed")
# Which roll-up timestamp an event name moves forward.
SITE_ACTIVITY = "site"
OPEN_ACTIVITY = "open"
CLICK_ACTIVITY = "click"


@dataclass(frozen=True)
class Merge:
    """A profile folded into another; the caller moves the other domains' rows (events, orders)."""

    source_id: int
    target_id: int


@dataclass
class IdentityResolver:
    """Resolves (user id, anonymous id, email) to one contact per event across a batch.

    Identities of the whole batch are loaded in one query; new profiles are created in memory and get
    their ids at the caller's flush; two profiles that turn out to be one person are merged.
    """

    session: Session
    now: datetime
    merges: list[tuple[Contact, Contact]] = field(default_factory=list)
    _by_key: dict[tuple[str, str], Contact] = field(default_factory=dict)
    _merged: dict[int, Contact] = field(default_factory=dict)

    def preload(self, keys: Iterable[tuple[str, str]]) -> None:
        """Load the contacts behind these identity keys with two queries."""
        wanted = [k for k in set(keys) if k not in self._by_key]
        if not wanted:
            return
        found = repository.identities_for(self.session, wanted)
        contacts = repository.contacts_by_id(self.session, found.values())
        for key, contact_id in found.items():
            contact = contacts.get(contact_id)
            if contact is not None:
                self._by_key[key] = contact

    def final(self, contact: Contact) -> Contact:
        """Follow merges made earlier in the batch to the surviving profile."""
        seen = 0
        while id(contact) in self._merged and seen < 50:
            contact = self._merged[id(contact)]
            seen += 1
        return contact

    def resolve(self, *, user_id: str | None, anonymous_id: str | None, email: str | None) -> Contact:
        """The one profile these identifiers belong to, created or merged as needed."""
        keys: list[tuple[str, str]] = []
        if user_id:
            keys.append(("user_id", user_id))
        if email:
            keys.append(("email", email))
        if anonymous_id:
            keys.append(("anonymous_id", anonymous_id))
        if not keys:
            raise InvalidInput("an event needs a userId, an anonymousId or an email", field="userId")
        self.preload(k for k in keys if k not in self._by_key)
        matched: list[Contact] = []
        for key in keys:
            contact = self._by_key.get(key)
            if contact is not None:
                contact = self.final(contact)
                if all(contact is not m for m in matched):
                    matched.append(contact)
        if not matched:
            target = Contact(
                email=email,
                external_id=user_id,
                consent_status="never_subscribed",
                properties={},
                order_count=0,
                revenue_minor=0,
                average_order_value_minor=0,
                created_at=self.now,
                updated_at=self.now,
            )
            self.session.add(target)
        else:
            target = matched[0]
            for other in matched[1:]:
                if _conflicting(target, other):
                    # Two known customers (different store ids) never merge: the first identifier wins.
                    continue
                self._merge(other, target)
        for key in keys:
            owner = self._by_key.get(key)
            if owner is not None and self.final(owner) is not target:
                continue  # owned by a customer we refused to merge with
            if owner is None:
                self._attach(target, key)
        if user_id and target.external_id is None:
            target.external_id = user_id
        if email and target.email is None and self.final(self._by_key[("email", email)]) is target:
            target.email = email
        return target

    def _attach(self, contact: Contact, key: tuple[str, str]) -> None:
        # Through the relationship, so a profile created in this batch gets its id first at flush.
        self.session.add(ContactIdentity(kind=key[0], value=key[1], contact=contact, created_at=self.now))
        self._by_key[key] = contact

    def _merge(self, source: Contact, target: Contact) -> None:
        self._merged[id(source)] = target
        for key, owner in list(self._by_key.items()):
            if owner is source:
                self._by_key[key] = target
        self.merges.append((source, target))

    def flush(self) -> list[Merge]:
        """Give new profiles their ids, write their identities, and fold merged profiles together."""
        self.session.flush()
        done: list[Merge] = []
        for source, target in self.merges:
            done.append(self._fold(source, target))
        self.merges.clear()
        if done:
            self.session.flush()
        return done

    def _fold(self, source: Contact, target: Contact) -> Merge:
        self.session.flush()
        self.session.execute(
            update(ContactIdentity)
            .where(ContactIdentity.contact_id == source.id)
            .values(contact_id=target.id)
        )
        # The known profile keeps what it has; the anonymous one only fills gaps.
        for column in (
            "email",
            "external_id",
            "first_name",
            "last_name",
            "phone",
            "locale",
            "timezone",
            "country",
            "city",
            "currency",
            "birthday",
            "signup_source",
        ):
            if getattr(target, column) is None and getattr(source, column) is not None:
                value = getattr(source, column)
                if column in ("email", "external_id"):
                    setattr(source, column, None)
                    self.session.flush()
                setattr(target, column, value)
        target.properties = {**(source.properties or {}), **(target.properties or {})}
        for column in ("last_site_activity_at", "last_open_at", "last_click_at", "last_event_at"):
            target_value, source_value = getattr(target, column), getattr(source, column)
            if source_value is not None and (target_value is None or source_value > target_value):
                setattr(target, column, source_value)
        if source.consent_updated_at and (
            target.consent_updated_at is None or source.consent_updated_at > target.consent_updated_at
        ):
            target.consent_status = source.consent_status
            target.consent_updated_at = source.consent_updated_at
            target.consent_source = source.consent_source
        source.email = None
        source.external_id = None
        source.merged_into_id = target.id
        target.updated_at = self.now
        return Merge(source_id=source.id, target_id=target.id)


def _conflicting(a: Contact, b: Contact) -> bool:
    return a.external_id is not None and b.external_id is not None and a.external_id != b.external_id


def apply_profile_fields(contact: Contact, fields: dict[str, Any], now: datetime) -> None:
    """Set validated profile fields (from traits) on a contact; custom properties are merged."""
    changed = False
    for key, value in fields.items():
        if key == "email":
            continue  # the resolver owns email, since it decides merges
        if key == "properties":
            merged = {**(contact.properties or {}), **value}
            if merged != contact.properties:
                contact.properties = merged
                changed = True
        elif getattr(contact, key) != value:
            setattr(contact, key, value)
            changed = True
    if changed:
        contact.updated_at = now


def set_consent(contact: Contact, status: str, *, source: str, at: datetime) -> None:
    """Record a consent change with its time and source; an older change never overwrites a newer one."""
    if status not in CONSENT_STATUSES:
        raise InvalidInput(f"unknown consent status {status!r}", field="consent_status")
    if contact.consent_updated_at is not None and at < contact.consent_updated_at:
        return
    contact.consent_status = status
    contact.consent_updated_at = at
    contact.consent_source = source
    contact.updated_at = max(contact.updated_at, at)


def note_activity(contact: Contact, kind: str | None, at: datetime) -> None:
    """Move the activity roll-ups forward (never backward: events can arrive out of order)."""
    if contact.last_event_at is None or at > contact.last_event_at:
        contact.last_event_at = at
    column = {
        SITE_ACTIVITY: "last_site_activity_at",
        OPEN_ACTIVITY: "last_open_at",
        CLICK_ACTIVITY: "last_click_at",
    }.get(kind or "")
    if column is not None:
        current = getattr(contact, column)
        if current is None or at > current:
            setattr(contact, column, at)


def apply_order_rollups(session: Session, rollups: Iterable[OrderRollup], now: datetime) -> None:
    """Store the order aggregates the orders domain computed for these contacts."""
    for rollup in rollups:
        average = rollup.revenue_minor // rollup.order_count if rollup.order_count else 0
        session.execute(
            update(Contact)
            .where(Contact.id == rollup.contact_id)
            .values(
                order_count=rollup.order_count,
                revenue_minor=rollup.revenue_minor,
                average_order_value_minor=average,
                first_order_at=rollup.first_order_at,
                last_order_at=rollup.last_order_at,
                updated_at=now,
            )
            .execution_options(synchronize_session="fetch")
        )


def get_profile(session: Session, contact_id: int) -> ContactOut:
    """A contact's profile, or NotFound."""
    contact = session.get(Contact, contact_id)
    if contact is None or contact.merged_into_id is not None:
        raise NotFound(f"no contact with id {contact_id}", field="contact_id")
    return _out(session, contact)


def find_by_email(session: Session, email: str) -> ContactOut | None:
    """The profile with this email address, if there is one."""
    contact = repository.contact_by_email(session, normalize_email(email))
    return None if contact is None else _out(session, contact)


def list_profiles(session: Session, *, limit: int = 50, offset: int = 0) -> list[ContactOut]:
    """Profiles newest first (merged-away anonymous profiles excluded)."""
    rows = session.scalars(
        select(Contact)
        .where(Contact.merged_into_id.is_(None))
        .order_by(Contact.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [ContactOut.model_validate(c) for c in rows]


def count_profiles(session: Session) -> int:
    """How many live profiles there are."""
    return int(
        session.scalar(select(func.count()).select_from(Contact).where(Contact.merged_into_id.is_(None))) or 0
    )


def contact_ids_for_external(session: Session, external_ids: Iterable[str]) -> dict[str, int]:
    """Map store customer ids to contact ids."""
    found = repository.identities_for(session, (("user_id", e) for e in external_ids))
    return {value: contact_id for (_, value), contact_id in found.items()}


def is_suppressed(session: Session, email: str) -> bool:
    """Whether an address is on the suppression list (erased addresses included, by hash)."""
    return bool(repository.suppressed_hashes(session, [sha256_hex(normalize_email(email))]))


def suppress(session: Session, email: str, *, reason: str, source: str, now: datetime) -> None:
    """Put an address on the suppression list (idempotent)."""
    digest = sha256_hex(normalize_email(email))
    if not repository.suppressed_hashes(session, [digest]):
        session.add(Suppression(email_hash=digest, reason=reason, source=source, created_at=now))


def erase(session: Session, contact_id: int, *, source: str, now: datetime) -> None:
    """GDPR erasure: delete the profile and everything hanging off it; keep the address suppressed."""
    contact = session.get(Contact, contact_id)
    if contact is None:
        raise NotFound(f"no contact with id {contact_id}", field="contact_id")
    if contact.email:
        suppress(session, contact.email, reason="erased", source=source, now=now)
    merged_ids = list(session.scalars(select(Contact.id).where(Contact.merged_into_id == contact_id)))
    # Foreign keys cascade, so events, orders and identities of these profiles go with them.
    session.execute(delete(Contact).where(Contact.id.in_([contact_id, *merged_ids])))
    session.expunge_all()


def _out(session: Session, contact: Contact) -> ContactOut:
    return ContactOut.model_validate(contact).model_copy(
        update={"anonymous_ids": repository.anonymous_ids_of(session, contact.id)}
    )
