"""Contact business logic: profiles read back, consent vocabulary, order roll-ups, suppression, erasure."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import bindparam, case, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from mailwright.contacts import repository
from mailwright.contacts.bulk import ACTIVITY_COLUMNS
from mailwright.contacts.identity import normalize_email
from mailwright.contacts.models import Contact, ContactIdentity, ContactPrediction, Suppression
from mailwright.contacts.schemas import ContactOut, ContactPredictionData, OrderRollup
from mailwright.core.db import UtcDateTime, in_values, table_of
from mailwright.core.errors import NotFound
from mailwright.core.ids import sha256_hex

CONSENT_STATUSES = ("subscribed", "unsubscribed", "pending", "never_subscribed")
# Which roll-up timestamp an event name moves forward.
SITE_ACTIVITY = "site"
OPEN_ACTIVITY = "open"
CLICK_ACTIVITY = "click"


def apply_order_rollups(session: Session, rollups: Iterable[OrderRollup], now: datetime) -> None:
    """Store the order aggregates the orders domain computed for these contacts (one executemany)."""
    rows = [
        {
            "p_id": r.contact_id,
            "p_count": r.order_count,
            "p_revenue": r.revenue_minor,
            "p_average": r.revenue_minor // r.order_count if r.order_count else 0,
            "p_first": r.first_order_at,
            "p_last": r.last_order_at,
            "p_now": now,
        }
        for r in rollups
    ]
    if not rows:
        return
    stamp = UtcDateTime()
    session.execute(
        update(table_of(Contact))
        .where(table_of(Contact).c.id == bindparam("p_id"))
        .values(
            order_count=bindparam("p_count"),
            revenue_minor=bindparam("p_revenue"),
            average_order_value_minor=bindparam("p_average"),
            first_order_at=bindparam("p_first", type_=stamp),
            last_order_at=bindparam("p_last", type_=stamp),
            updated_at=bindparam("p_now", type_=stamp),
        )
        .execution_options(synchronize_session=False),
        rows,
    )


def add_order_rollups(session: Session, additions: Iterable[OrderRollup], now: datetime) -> None:
    """Add brand-new orders to contacts' roll-ups in SQL, without recomputing from the orders table."""
    rows = [
        {
            "p_id": a.contact_id,
            "p_count": a.order_count,
            "p_revenue": a.revenue_minor,
            "p_first": a.first_order_at,
            "p_last": a.last_order_at,
            "p_now": now,
        }
        for a in additions
    ]
    if not rows:
        return
    table = table_of(Contact)
    stamp = UtcDateTime()
    first, last = bindparam("p_first", type_=stamp), bindparam("p_last", type_=stamp)
    count = table.c.order_count + bindparam("p_count")
    revenue = table.c.revenue_minor + bindparam("p_revenue")
    session.execute(
        update(table)
        .where(table.c.id == bindparam("p_id"))
        .values(
            order_count=count,
            revenue_minor=revenue,
            # Integer division on both engines, as apply_order_rollups does in Python.
            average_order_value_minor=revenue // count,
            first_order_at=case(
                (or_(table.c.first_order_at.is_(None), table.c.first_order_at > first), first),
                else_=table.c.first_order_at,
            ),
            last_order_at=case(
                (or_(table.c.last_order_at.is_(None), table.c.last_order_at < last), last),
                else_=table.c.last_order_at,
            ),
            updated_at=bindparam("p_now", type_=stamp),
        ),
        rows,
    )


def get_profile(session: Session, contact_id: int) -> ContactOut:
    """A contact's profile, or NotFound."""
    contact = session.get(Contact, contact_id)
    if contact is None or contact.merged_into_id is not None:
        raise NotFound(f"no contact with id {contact_id}", field="contact_id")
    return _out(session, contact)


def get_profiles(session: Session, contact_ids: Iterable[int]) -> dict[int, ContactOut]:
    """The live profiles among these ids, keyed by id (missing and merged-away ids are left out).

    A few queries for the whole list, where `get_profile` costs two per contact (a batch of email renders).
    """
    live = {
        contact_id: contact
        for contact_id, contact in repository.contacts_by_id(session, contact_ids).items()
        if contact.merged_into_id is None
    }
    anonymous = repository.anonymous_ids_by_contact(session, list(live))
    return {
        contact_id: ContactOut.model_validate(contact).model_copy(
            update={"anonymous_ids": anonymous.get(contact_id, [])}
        )
        for contact_id, contact in live.items()
    }


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


@dataclass(frozen=True)
class CountryFigures:
    """Profiles of one country (None: unknown) and their order roll-ups."""

    country: str | None
    customers: int
    buyers: int
    orders: int
    revenue_minor: int


def country_breakdown(
    session: Session, *, by: Literal["customers", "revenue"] = "customers", limit: int = 10
) -> list[CountryFigures]:
    """Live profiles per country with their orders and revenue (from the roll-ups), largest first."""
    customers = func.count(Contact.id)
    revenue = func.coalesce(func.sum(Contact.revenue_minor), 0)
    ranked = (customers, revenue) if by == "customers" else (revenue, customers)
    rows = session.execute(
        select(
            Contact.country,
            customers,
            func.coalesce(func.sum(case((Contact.order_count > 0, 1), else_=0)), 0),
            func.coalesce(func.sum(Contact.order_count), 0),
            revenue,
        )
        .where(Contact.merged_into_id.is_(None))
        .group_by(Contact.country)
        .order_by(ranked[0].desc(), ranked[1].desc(), Contact.country)
        .limit(limit)
    )
    return [
        CountryFigures(country=country, customers=int(n), buyers=int(b), orders=int(o), revenue_minor=int(r))
        for country, n, b, o, r in rows
    ]


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


def contact_timezones(session: Session) -> dict[int, str | None]:
    """The IANA time zone (None: unknown) of every live profile, keyed by contact id."""
    rows = session.execute(select(Contact.id, Contact.timezone).where(Contact.merged_into_id.is_(None)))
    return {int(contact_id): zone for contact_id, zone in rows}


def replace_predictions(session: Session, predictions: Iterable[ContactPredictionData]) -> int:
    """Make these rows the stored predictions, dropping every older row; returns how many were written.

    A scoring run covers the whole shop, so its result replaces the last one as a whole: a contact who
    no longer qualifies loses a stale score instead of keeping it forever. One DELETE and one executemany.
    """
    table = table_of(ContactPrediction)
    rows = [p.model_dump() for p in predictions]
    session.execute(delete(table))
    if rows:
        session.execute(insert(table), rows)
    return len(rows)


def get_predictions(session: Session, contact_id: int) -> ContactPredictionData | None:
    """A contact's stored predictions, if it has been scored."""
    row = session.get(ContactPrediction, contact_id)
    return None if row is None else ContactPredictionData.model_validate(row)


def _activity_values(kind: str | None, at: datetime) -> dict[str, Any]:
    # Only forward: an older activity arriving late never moves a roll-up back.
    table = table_of(Contact)
    values: dict[str, Any] = {}
    for name in ("last_event_at", ACTIVITY_COLUMNS.get(kind or "")):
        if name is None:
            continue
        column = table.c[name]
        values[name] = case((or_(column.is_(None), column < at), at), else_=column)
    return values


def note_activity(session: Session, contact_id: int, kind: str | None, at: datetime) -> None:
    """Move a contact's `last_event_at` and the roll-up of this activity kind (open, click, site) forward."""
    table = table_of(Contact)
    session.execute(update(table).where(table.c.id == contact_id).values(**_activity_values(kind, at)))


def note_activities(session: Session, activities: Iterable[tuple[int, str | None, datetime]]) -> None:
    """`note_activity` for many (contact id, kind, at): one UPDATE per distinct (kind, at), not per contact."""
    table = table_of(Contact)
    groups: dict[tuple[str | None, datetime], set[int]] = {}
    for contact_id, kind, at in activities:
        groups.setdefault((kind, at), set()).add(contact_id)
    for (kind, at), ids in groups.items():
        values = _activity_values(kind, at)
        ordered = sorted(ids)
        for start in range(0, len(ordered), 5000):
            session.execute(
                update(table)
                .where(in_values(session, table.c.id, ordered[start : start + 5000]))
                .values(**values)
            )


@dataclass(frozen=True)
class RfmRow:
    """One customer's RFM scores (1-5), named RFM segment and lifecycle stage, as the segments domain computed."""

    contact_id: int
    recency: int
    frequency: int
    monetary: int
    segment: str
    lifecycle_stage: str


def store_rfm(session: Session, rows: Iterable[RfmRow], computed_at: datetime) -> int:
    """Make these the stored RFM scores and lifecycle stages; everyone else's are cleared. Returns rows written.

    Set-based: one UPDATE per distinct (scores, segment, stage) combination (at most a few hundred, however
    many contacts) instead of one per contact, and one UPDATE that clears contacts scored before but not now.
    """
    table = table_of(Contact)
    groups: dict[tuple[int, int, int, str, str], list[int]] = {}
    for r in rows:
        key = (r.recency, r.frequency, r.monetary, r.segment, r.lifecycle_stage)
        groups.setdefault(key, []).append(r.contact_id)
    scored = [contact_id for ids in groups.values() for contact_id in ids]
    stale = table.c.rfm_computed_at.is_not(None) | table.c.lifecycle_stage.is_not(None)
    if scored:
        stale = stale & ~in_values(session, table.c.id, scored)
    session.execute(
        update(table)
        .where(stale)
        .values(
            rfm_recency=None,
            rfm_frequency=None,
            rfm_monetary=None,
            rfm_segment=None,
            lifecycle_stage=None,
            rfm_computed_at=None,
        )
    )
    for (recency, frequency, monetary, segment, stage), ids in groups.items():
        for start in range(0, len(ids), 20_000):
            session.execute(
                update(table)
                .where(in_values(session, table.c.id, ids[start : start + 20_000]))
                .values(
                    rfm_recency=recency,
                    rfm_frequency=frequency,
                    rfm_monetary=monetary,
                    rfm_segment=segment,
                    lifecycle_stage=stage,
                    rfm_computed_at=computed_at,
                )
            )
    return len(scored)


# --- Consent changes (tracking: unsubscribe, preference centre, sign-up, complaints) ---


@dataclass(frozen=True)
class ConsentState:
    """What a contact agreed to: status, when and how it last changed, pause and topic opt-outs."""

    contact_id: int
    email: str | None
    external_id: str | None
    first_name: str | None
    locale: str | None
    consent_status: str
    consent_updated_at: datetime | None
    consent_source: str | None
    signup_source: str | None
    marketing_paused_until: datetime | None
    unsubscribed_topics: tuple[str, ...]


def consent_state(session: Session, contact_id: int) -> ConsentState:
    """A contact's consent and preferences, or NotFound."""
    contact = session.get(Contact, contact_id)
    if contact is None:
        raise NotFound(f"no contact with id {contact_id}", field="contact_id")
    return ConsentState(
        contact_id=contact.id,
        email=contact.email,
        external_id=contact.external_id,
        first_name=contact.first_name,
        locale=contact.locale,
        consent_status=contact.consent_status,
        consent_updated_at=contact.consent_updated_at,
        consent_source=contact.consent_source,
        signup_source=contact.signup_source,
        marketing_paused_until=contact.marketing_paused_until,
        unsubscribed_topics=tuple(contact.unsubscribed_topics or ()),
    )


def set_consent(
    session: Session,
    contact_id: int,
    status: str,
    *,
    source: str,
    now: datetime,
    signup_source: str | None = None,
) -> None:
    """Change a contact's consent status (subscribed | unsubscribed | pending | never_subscribed)."""
    if status not in CONSENT_STATUSES:
        raise ValueError(f"unknown consent status {status!r}")
    values: dict[str, Any] = {
        "consent_status": status,
        "consent_updated_at": now,
        "consent_source": source,
        "updated_at": now,
    }
    if signup_source is not None:
        values["signup_source"] = signup_source
    session.execute(update(table_of(Contact)).where(table_of(Contact).c.id == contact_id).values(**values))


def pause_marketing(session: Session, contact_id: int, until: datetime | None, *, now: datetime) -> None:
    """Pause marketing email for a contact until a time (None resumes it)."""
    session.execute(
        update(table_of(Contact))
        .where(table_of(Contact).c.id == contact_id)
        .values(marketing_paused_until=until, updated_at=now)
    )


def set_unsubscribed_topics(
    session: Session, contact_id: int, topics: Iterable[str], *, now: datetime
) -> None:
    """Replace the topics a contact opted out of (an empty list stores NULL: every topic is wanted)."""
    chosen = sorted(set(topics))
    session.execute(
        update(table_of(Contact))
        .where(table_of(Contact).c.id == contact_id)
        .values(unsubscribed_topics=chosen or None, updated_at=now)
    )


def suppression_reason(session: Session, email: str) -> str | None:
    """Why an address is suppressed (hard_bounce, complaint, manual, erased, ...), or None."""
    digest = sha256_hex(normalize_email(email))
    return session.scalar(select(Suppression.reason).where(Suppression.email_hash == digest))


def identities_of(session: Session, contact_id: int) -> list[dict[str, Any]]:
    """Every identity (store user id, anonymous id, email) that leads to a contact, for a privacy export."""
    rows = session.execute(
        select(ContactIdentity.kind, ContactIdentity.value, ContactIdentity.created_at)
        .where(ContactIdentity.contact_id == contact_id)
        .order_by(ContactIdentity.id)
    )
    return [{"kind": kind, "value": value, "created_at": created} for kind, value, created in rows]


def anonymize_profile(session: Session, contact_id: int, *, now: datetime) -> list[int]:
    """Erase a profile in place: personal columns blanked, identities and scores deleted, consent withdrawn.

    The row stays as an anonymous tombstone so the shop's aggregate figures (revenue, sends, opens) do not
    change; returns the ids of the profiles merged into it, which are anonymized the same way.
    """
    merged = list(session.scalars(select(Contact.id).where(Contact.merged_into_id == contact_id)))
    ids = [contact_id, *merged]
    table = table_of(Contact)
    session.execute(
        update(table)
        .where(table.c.id.in_(ids))
        .values(
            email=None,
            external_id=None,
            first_name=None,
            last_name=None,
            phone=None,
            locale=None,
            timezone=None,
            country=None,
            city=None,
            birthday=None,
            signup_source=None,
            properties={},
            consent_status="unsubscribed",
            consent_updated_at=now,
            consent_source="erased",
            marketing_paused_until=None,
            unsubscribed_topics=None,
            updated_at=now,
        )
    )
    session.execute(delete(ContactIdentity).where(ContactIdentity.contact_id.in_(ids)))
    session.execute(delete(ContactPrediction).where(ContactPrediction.contact_id.in_(ids)))
    return merged


def profiles_by_ids(session: Session, contact_ids: Iterable[int]) -> list[ContactOut]:
    """Many live profiles at once (without their anonymous ids), in id order."""
    ids = sorted(set(contact_ids))
    result: list[ContactOut] = []
    for start in range(0, len(ids), 5000):
        stmt = select(Contact).where(Contact.id.in_(ids[start : start + 5000])).order_by(Contact.id)
        result.extend(ContactOut.model_validate(c) for c in session.scalars(stmt))
    return result
