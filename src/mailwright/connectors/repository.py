"""Queries of the connectors domain: CRM links, and the computed columns a CRM push reads."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailwright.connectors.models import CrmLink
from mailwright.contacts.models import Contact
from mailwright.core.db import in_values
from mailwright.orders.models import Order


def links_of(session: Session, connection_id: int) -> list[CrmLink]:
    """Every contact a CRM connection knows, by link id."""
    return list(
        session.scalars(select(CrmLink).where(CrmLink.connection_id == connection_id).order_by(CrmLink.id))
    )


def upsert_link(
    session: Session,
    connection_id: int,
    contact_id: int,
    remote_id: str,
    remote_updated_at: datetime,
    now: datetime,
) -> None:
    """Remember which CRM record a contact is (a merge or a new email may move it to another contact)."""
    link = session.scalars(
        select(CrmLink).where(CrmLink.connection_id == connection_id, CrmLink.remote_id == remote_id)
    ).first()
    if link is None:
        stale = session.scalars(
            select(CrmLink).where(CrmLink.connection_id == connection_id, CrmLink.contact_id == contact_id)
        ).first()
        if stale is not None:
            session.delete(stale)
            session.flush()
        session.add(
            CrmLink(
                connection_id=connection_id,
                contact_id=contact_id,
                remote_id=remote_id,
                remote_updated_at=remote_updated_at,
                pushed={},
                pulled_at=now,
            )
        )
        return
    link.contact_id = contact_id
    link.remote_updated_at = remote_updated_at
    link.pulled_at = now


def computed_columns(session: Session, contact_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """RFM segment, lifecycle stage, engagement times and last change of these contacts (read-only).

    Read here because the contacts service's profile does not carry the segments domain's columns.
    """
    if not contact_ids:
        return {}
    rows = session.execute(
        select(
            Contact.id,
            Contact.rfm_segment,
            Contact.lifecycle_stage,
            Contact.last_open_at,
            Contact.last_click_at,
            Contact.updated_at,
        ).where(in_values(session, Contact.id, list(contact_ids)))
    )
    return {
        int(r.id): {
            "rfm_segment": r.rfm_segment,
            "lifecycle_stage": r.lifecycle_stage,
            "last_open_at": r.last_open_at,
            "last_click_at": r.last_click_at,
            "updated_at": r.updated_at,
        }
        for r in rows
    }


def refunded_minor(session: Session, external_ids: Sequence[str]) -> dict[str, int]:
    """How much of these orders is already recorded as refunded (Magento reports a running total)."""
    if not external_ids:
        return {}
    rows = session.execute(
        select(Order.external_id, Order.refunded_minor).where(
            in_values(session, Order.external_id, list(external_ids))
        )
    )
    return {str(r.external_id): int(r.refunded_minor) for r in rows}
