"""A contact's full picture for the management API: profile, roll-ups, recent orders and events.

Composed here because it spans domains (contacts, orders, events) that do not import each other.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from mailwright.contacts import service as contacts
from mailwright.contacts.schemas import ContactOut
from mailwright.core.web import RuntimeDep, require_admin
from mailwright.events import service as events
from mailwright.events.schemas import EventOut
from mailwright.orders import service as orders
from mailwright.orders.schemas import OrderOut

router = APIRouter(prefix="/api/v1/contacts", tags=["contacts"], dependencies=[Depends(require_admin)])


class ContactDetail(BaseModel):
    """A profile with its roll-ups, its latest orders and its latest events."""

    contact: ContactOut
    recent_orders: list[OrderOut]
    recent_events: list[EventOut]


@router.get("/{contact_id}", summary="A contact's profile, roll-ups, recent orders and recent events")
def get_contact(
    contact_id: int,
    runtime: RuntimeDep,
    events_limit: Annotated[int, Query(ge=0, le=500, alias="events")] = 20,
    orders_limit: Annotated[int, Query(ge=0, le=500, alias="orders")] = 10,
) -> ContactDetail:
    """One contact by id, or 404."""
    with runtime.uow() as uow:
        profile = contacts.get_profile(uow.session, contact_id)
        return ContactDetail(
            contact=profile,
            recent_orders=orders.list_orders(uow.session, contact_id=contact_id, limit=orders_limit),
            recent_events=events.list_events(uow.session, contact_id=contact_id, limit=events_limit),
        )
