"""Order attributions: which email, if any, each order is credited to, stored once for every report."""

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from mailwright.core.db import Base, BigId, UtcDateTime


class OrderAttribution(Base):
    """One row per order that has been attributed; `message_public_id` is NULL when no email touched it."""

    __tablename__ = "order_attributions"

    order_id: Mapped[int] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    contact_id: Mapped[int] = mapped_column(BigId)
    placed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revenue_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    # click | open | none: the kind of touch that won, under the settings in force when it was computed.
    touch: Mapped[str] = mapped_column(String(8))
    message_public_id: Mapped[str | None] = mapped_column(String(32), default=None)
    source_kind: Mapped[str | None] = mapped_column(String(20), default=None)
    source_id: Mapped[str | None] = mapped_column(String(100), default=None)
    template_name: Mapped[str | None] = mapped_column(String(100), default=None)
    touched_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    window_days: Mapped[int] = mapped_column()
    attributed_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        Index("ix_order_attributions_source", "source_kind", "source_id"),
        Index("ix_order_attributions_message", "message_public_id"),
        Index("ix_order_attributions_placed_at", "placed_at"),
    )
