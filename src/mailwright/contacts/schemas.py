"""Contact data crossing the domain boundary: traits in, profiles out."""

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class ContactOut(BaseModel):
    """A contact profile with its roll-ups, as the API and CLI show it."""

    model_config = ConfigDict(from_attributes=True, frozen=True)

    id: int
    email: str | None
    external_id: str | None
    first_name: str | None
    last_name: str | None
    phone: str | None
    locale: str | None
    timezone: str | None
    country: str | None
    city: str | None
    currency: str | None
    birthday: date | None
    signup_source: str | None
    consent_status: str
    consent_updated_at: datetime | None
    consent_source: str | None
    properties: dict[str, Any]
    order_count: int
    revenue_minor: int
    average_order_value_minor: int
    first_order_at: datetime | None
    last_order_at: datetime | None
    last_site_activity_at: datetime | None
    last_open_at: datetime | None
    last_click_at: datetime | None
    last_event_at: datetime | None
    created_at: datetime
    updated_at: datetime
    anonymous_ids: list[str] = []


class OrderRollup(BaseModel):
    """Order aggregates of one contact, computed by the orders domain."""

    model_config = ConfigDict(frozen=True)

    contact_id: int
    order_count: int
    revenue_minor: int
    first_order_at: datetime | None
    last_order_at: datetime | None
