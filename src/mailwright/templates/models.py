"""Templates with versioned language variants, and coupon code pools."""

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mailwright.core.db import Base, BigId, JsonType, UtcDateTime


class EmailTemplate(Base):
    """A named template; its content lives in immutable versioned variants."""

    __tablename__ = "email_templates"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # marketing | transactional
    description: Mapped[str] = mapped_column(Text, default="")
    default_locale: Mapped[str] = mapped_column(String(35), default="en")
    builtin: Mapped[bool] = mapped_column(default=False)
    current_version: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class TemplateVariant(Base):
    """One language variant of one version of a template; never updated, a save adds rows."""

    __tablename__ = "email_template_variants"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("email_templates.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column()
    locale: Mapped[str] = mapped_column(String(35))
    subject: Mapped[str] = mapped_column(String(500))
    subject_variants: Mapped[list[str]] = mapped_column(JsonType, default=list)
    preheader: Mapped[str] = mapped_column(String(500), default="")
    body: Mapped[str] = mapped_column(Text)
    body_format: Mapped[str] = mapped_column(String(10), default="mjml")
    text: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (UniqueConstraint("template_id", "version", "locale"),)


class CouponCode(Base):
    """One code of a pool the shop uploaded; claimed at most once."""

    __tablename__ = "coupon_codes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    pool: Mapped[str] = mapped_column(String(100))
    code: Mapped[str] = mapped_column(String(100))
    # Who it went to: the same claim key (a contact, or a message) always gets the same code back.
    claim_key: Mapped[str | None] = mapped_column(String(200), default=None)
    claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    details: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)

    __table_args__ = (
        UniqueConstraint("pool", "code"),
        UniqueConstraint("pool", "claim_key"),
        Index("ix_coupon_codes_pool_claimed_at", "pool", "claimed_at"),
    )
