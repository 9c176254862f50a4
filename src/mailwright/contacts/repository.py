"""Queries over contacts and identities."""

from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailwright.contacts.models import Contact, ContactIdentity, Suppression
from mailwright.core.db import in_values


def identities_for(session: Session, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Map (kind, value) identity keys to contact ids, for those that exist."""
    by_kind: dict[str, set[str]] = {}
    for kind, value in keys:
        by_kind.setdefault(kind, set()).add(value)
    found: dict[tuple[str, str], int] = {}
    # One query per kind so the (kind, value) unique index is used.
    for kind, values in by_kind.items():
        rows = session.execute(
            select(ContactIdentity.value, ContactIdentity.contact_id).where(
                ContactIdentity.kind == kind, in_values(session, ContactIdentity.value, sorted(values))
            )
        )
        for value, contact_id in rows:
            found[(kind, value)] = contact_id
    return found


def contacts_by_id(session: Session, ids: Iterable[int]) -> dict[int, Contact]:
    """Load contacts by id into the session."""
    wanted = list(set(ids))
    result: dict[int, Contact] = {}
    for start in range(0, len(wanted), 500):
        for contact in session.scalars(select(Contact).where(Contact.id.in_(wanted[start : start + 500]))):
            result[contact.id] = contact
    return result


def contact_by_email(session: Session, email: str) -> Contact | None:
    """The contact with this normalized email, if any."""
    return session.scalars(select(Contact).where(Contact.email == email)).first()


def anonymous_ids_of(session: Session, contact_id: int) -> list[str]:
    """The anonymous ids that lead to a contact."""
    return list(
        session.scalars(
            select(ContactIdentity.value)
            .where(ContactIdentity.contact_id == contact_id, ContactIdentity.kind == "anonymous_id")
            .order_by(ContactIdentity.id)
        )
    )


def anonymous_ids_by_contact(session: Session, contact_ids: Sequence[int]) -> dict[int, list[str]]:
    """The anonymous ids that lead to each of these contacts (one query per 500 contacts)."""
    found: dict[int, list[str]] = {}
    wanted = sorted(set(contact_ids))
    for start in range(0, len(wanted), 500):
        rows = session.execute(
            select(ContactIdentity.contact_id, ContactIdentity.value)
            .where(
                ContactIdentity.contact_id.in_(wanted[start : start + 500]),
                ContactIdentity.kind == "anonymous_id",
            )
            .order_by(ContactIdentity.id)
        )
        for contact_id, value in rows:
            found.setdefault(contact_id, []).append(value)
    return found


def suppressed_hashes(session: Session, hashes: Sequence[str]) -> set[str]:
    """Which of these address hashes are on the suppression list."""
    if not hashes:
        return set()
    return set(session.scalars(select(Suppression.email_hash).where(Suppression.email_hash.in_(hashes))))
