"""Contact profiles, their identities, and the suppression list."""

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Date, Float, ForeignKey, Index, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mailwright.core.db import Base, BigId, JsonType, UtcDateTime


class Contact(Base):
    """One person: profile, consent, custom properties, and roll-ups kept current by ingestion."""

    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    email: Mapped[str | None] = mapped_column(String(320), unique=True, default=None)
    external_id: Mapped[str | None] = mapped_column(String(200), unique=True, default=None)
    first_name: Mapped[str | None] = mapped_column(String(200), default=None)
    last_name: Mapped[str | None] = mapped_column(String(200), default=None)
    phone: Mapped[str | None] = mapped_column(String(50), default=None)
    locale: Mapped[str | None] = mapped_column(String(35), default=None)
    timezone: Mapped[str | None] = mapped_column(String(64), default=None)
    country: Mapped[str | None] = mapped_column(String(2), default=None)
    city: Mapped[str | None] = mapped_column(String(200), default=None)
    currency: Mapped[str | None] = mapped_column(String(3), default=None)
    birthday: Mapped[date | None] = mapped_column(Date, default=None)
    signup_source: Mapped[str | None] = mapped_column(String(100), default=None)
    # subscribed | unsubscribed | pending (double opt-in sent) | never_subscribed
    consent_status: Mapped[str] = mapped_column(String(20), default="never_subscribed")
    consent_updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    consent_source: Mapped[str | None] = mapped_column(String(100), default=None)
    # The preference centre: marketing paused until this time, and topics the contact opted out of.
    marketing_paused_until: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    unsubscribed_topics: Mapped[list[str] | None] = mapped_column(JsonType, default=None)
    properties: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    # Roll-ups, kept current as events arrive.
    order_count: Mapped[int] = mapped_column(default=0)
    revenue_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    average_order_value_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    first_order_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    last_order_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    last_site_activity_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    last_open_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    last_click_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    last_event_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    # RFM quintile scores (1-5, 5 best) and their named segment ("Champions", ...), and the lifecycle
    # stage (new | active | at_risk | churned); written by the segments domain's scheduled recompute.
    rfm_recency: Mapped[int | None] = mapped_column(SmallInteger, default=None)
    rfm_frequency: Mapped[int | None] = mapped_column(SmallInteger, default=None)
    rfm_monetary: Mapped[int | None] = mapped_column(SmallInteger, default=None)
    rfm_segment: Mapped[str | None] = mapped_column(String(32), default=None)
    lifecycle_stage: Mapped[str | None] = mapped_column(String(16), default=None)
    rfm_computed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Set when this (usually anonymous) profile was merged into another one.
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), default=None)

    __table_args__ = (
        Index("ix_contacts_last_order_at", "last_order_at"),
        Index("ix_contacts_country", "country"),
        Index("ix_contacts_rfm_segment", "rfm_segment"),
    )


class ContactIdentity(Base):
    """A way to recognise a contact: a store user id, an anonymous id, or an email."""

    __tablename__ = "contact_identities"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))  # user_id | anonymous_id | email
    value: Mapped[str] = mapped_column(String(320))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (UniqueConstraint("kind", "value"),)


class Suppression(Base):
    """An address that must never be mailed; erased addresses are kept only as a hash."""

    __tablename__ = "suppressions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    email_hash: Mapped[str] = mapped_column(String(64), unique=True)
    reason: Mapped[str] = mapped_column(String(32))  # hard_bounce | complaint | manual | erased
    source: Mapped[str | None] = mapped_column(String(100), default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ContactPrediction(Base):
    """A contact's latest scores (churn risk, expected revenue and orders, CLV, best send hour).

    One row per contact, replaced by each scoring run, so segments and templates read it like a profile
    property (`churn_risk > 0.7`). Each figure names the model that produced it; `fallbacks` holds, per
    figure, why a simpler named model served instead of the preferred one.
    """

    __tablename__ = "contact_predictions"

    # No autoincrement: the key is the contact's, never a sequence of this table's own.
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    computed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # The model code's version, so rows written by an older recipe can be told apart.
    version: Mapped[str] = mapped_column(String(32))
    horizon_days: Mapped[int] = mapped_column()
    currency: Mapped[str | None] = mapped_column(String(3), default=None)
    # ok: every figure came from its preferred model; fallback: at least one came from a named fallback.
    status: Mapped[str] = mapped_column(String(16))
    churn_risk: Mapped[float | None] = mapped_column(Float, default=None)
    churn_model: Mapped[str | None] = mapped_column(String(40), default=None)
    predicted_revenue_minor: Mapped[int | None] = mapped_column(BigInteger, default=None)
    revenue_model: Mapped[str | None] = mapped_column(String(40), default=None)
    predicted_orders: Mapped[float | None] = mapped_column(Float, default=None)
    orders_model: Mapped[str | None] = mapped_column(String(40), default=None)
    expected_next_order_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    clv_minor: Mapped[int | None] = mapped_column(BigInteger, default=None)
    p_alive: Mapped[float | None] = mapped_column(Float, default=None)
    clv_model: Mapped[str | None] = mapped_column(String(40), default=None)
    # Hour of the week in the contact's own time zone, 0 = Monday 00:00.
    best_send_hour: Mapped[int | None] = mapped_column(SmallInteger, default=None)
    send_time_model: Mapped[str | None] = mapped_column(String(40), default=None)
    fallbacks: Mapped[dict[str, str]] = mapped_column(JsonType, default=dict)

    __table_args__ = (
        Index("ix_contact_predictions_churn_risk", "churn_risk"),
        Index("ix_contact_predictions_predicted_revenue_minor", "predicted_revenue_minor"),
    )
