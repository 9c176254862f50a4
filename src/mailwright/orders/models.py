"""Orders and order lines, derived from Order Completed and adjusted by refunds and cancellations."""

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mailwright.core.db import Base, BigId, UtcDateTime


class Order(Base):
    """One order of one contact; money in minor units of `currency`."""

    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    external_id: Mapped[str] = mapped_column(String(200), unique=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    placed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # placed | cancelled | refunded | partially_refunded
    status: Mapped[str] = mapped_column(String(20), default="placed")
    currency: Mapped[str] = mapped_column(String(3))
    total_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    subtotal_minor: Mapped[int | None] = mapped_column(BigInteger, default=None)
    tax_minor: Mapped[int | None] = mapped_column(BigInteger, default=None)
    shipping_minor: Mapped[int | None] = mapped_column(BigInteger, default=None)
    discount_minor: Mapped[int | None] = mapped_column(BigInteger, default=None)
    refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    coupon: Mapped[str | None] = mapped_column(String(100), default=None)
    source: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_orders_contact_placed", "contact_id", "placed_at"),)


class OrderLine(Base):
    """One product line of an order."""

    __tablename__ = "order_lines"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    product_external_id: Mapped[str | None] = mapped_column(String(200), default=None, index=True)
    sku: Mapped[str | None] = mapped_column(String(200), default=None)
    title: Mapped[str | None] = mapped_column(Text, default=None)
    category: Mapped[str | None] = mapped_column(String(200), default=None)
    quantity: Mapped[int] = mapped_column(default=1)
    price_minor: Mapped[int] = mapped_column(BigInteger, default=0)
