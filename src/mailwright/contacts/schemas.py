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


class ContactPredictionData(BaseModel):
    """A contact's stored scores, each with the model that produced it and, if it fell back, why."""

    model_config = ConfigDict(from_attributes=True, frozen=True)

    contact_id: int
    computed_at: datetime
    version: str
    horizon_days: int
    currency: str | None = None
    status: str
    churn_risk: float | None = None
    churn_model: str | None = None
    predicted_revenue_minor: int | None = None
    revenue_model: str | None = None
    predicted_orders: float | None = None
    orders_model: str | None = None
    expected_next_order_at: datetime | None = None
    clv_minor: int | None = None
    p_alive: float | None = None
    clv_model: str | None = None
    best_send_hour: int | None = None
    send_time_model: str | None = None
    fallbacks: dict[str, str] = {}
