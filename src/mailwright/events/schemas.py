"""Incoming events: the Segment message shapes and the normalized event every way in produces."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mailwright.catalog.schemas import ProductIn
from mailwright.orders.schemas import OrderLineIn

SegmentType = Literal["identify", "track", "page", "screen", "alias", "group"]


def _id_to_str(value: Any) -> Any:
    # Some clients send numeric ids; Segment treats them as strings.
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return str(value)
    return value


class SegmentMessage(BaseModel):
    """One Segment Tracking API message (identify, track, page, screen, alias, group)."""

    model_config = ConfigDict(extra="allow")

    type: SegmentType
    messageId: str | None = Field(default=None, max_length=200)
    userId: str | None = Field(default=None, max_length=200)
    anonymousId: str | None = Field(default=None, max_length=200)
    previousId: str | None = Field(default=None, max_length=200)
    groupId: str | None = Field(default=None, max_length=200)
    event: str | None = Field(default=None, max_length=200)
    name: str | None = Field(default=None, max_length=200)
    category: str | None = Field(default=None, max_length=200)
    timestamp: datetime | None = None
    originalTimestamp: datetime | None = None
    # default_factory: a literal {} default is deep-copied for every message validated.
    traits: dict[str, Any] = Field(default_factory=dict)
    properties: dict[str, Any] = Field(default_factory=dict)
    context: dict[str, Any] = Field(default_factory=dict)

    @field_validator("userId", "anonymousId", "previousId", "groupId", "messageId", mode="before")
    @classmethod
    def _stringify(cls, value: Any) -> Any:
        return _id_to_str(value)


@dataclass
class OrderDraft:
    """What an Order Completed event says about its order, money already in minor units."""

    external_id: str
    currency: str
    total_minor: int
    subtotal_minor: int | None = None
    tax_minor: int | None = None
    shipping_minor: int | None = None
    discount_minor: int | None = None
    coupon: str | None = None
    lines: list[OrderLineIn] = field(default_factory=list)


@dataclass
class IncomingEvent:
    """An event in Mailwright's own terms, whichever way it came in, validated and ready to store."""

    message_id: str
    type: str
    name: str
    occurred_at: datetime
    source: str
    user_id: str | None = None
    anonymous_id: str | None = None
    email: str | None = None
    previous_id: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    # Validated profile columns and custom properties, from identify traits or store customer data.
    profile: dict[str, Any] = field(default_factory=dict)
    consent: str | None = None
    consent_at: datetime | None = None
    products: list[ProductIn] = field(default_factory=list)
    order: OrderDraft | None = None
    refund_order_id: str | None = None
    refund_minor: int | None = None
    cancel_order_id: str | None = None
    erase: bool = False
    # A store's catalog change (a Shopify product webhook): upserts `products`, belongs to no contact,
    # and is not stored as an event row.
    catalog_only: bool = False


@dataclass(frozen=True)
class ContactEvent:
    """An event Mailwright itself records about a contact it already knows (an email sent, opened, ...)."""

    contact_id: int
    name: str
    occurred_at: datetime
    # Stable per real-world occurrence ("open:<message public id>:<n>"), so a retry stores it once.
    message_id: str
    properties: dict[str, Any] = field(default_factory=dict)
    source: str = "mailwright"


class RejectedItem(BaseModel):
    """One invalid event of a batch, by its position."""

    index: int
    field: str | None
    message: str


class IngestResult(BaseModel):
    """What happened to a batch: stored, already seen, and rejected by index."""

    accepted: int = 0
    duplicates: int = 0
    rejected: list[RejectedItem] = []
    contact_ids: list[int] = []


class EventOut(BaseModel):
    """A stored event."""

    model_config = ConfigDict(from_attributes=True, frozen=True)

    id: int
    message_id: str
    contact_id: int
    type: str
    name: str
    properties: dict[str, Any]
    occurred_at: datetime
    received_at: datetime
    source: str
