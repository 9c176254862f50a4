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
from mailwright.contacts.models import Contact, ContactPrediction, Suppression
from mailwright.contacts.schemas import ContactOut, ContactPredictionData, OrderRollup
from mailwright.core.db import UtcDateTime, table_of
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


def note_activity(session: Session, contact_id: int, kind: str | None, at: datetime) -> None:
    """Move a contact's `last_event_at` and the roll-up of this activity kind (open, click, site) forward."""
    table = table_of(Contact)
    values: dict[str, Any] = {}
    for name in ("last_event_at", ACTIVITY_COLUMNS.get(kind or "")):
        if name is None:
            continue
        column = table.c[name]
        values[name] = case((or_(column.is_(None), column < at), at), else_=column)
    session.execute(update(table).where(table.c.id == contact_id).values(**values))
