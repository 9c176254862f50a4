"""Products and variants synced from the store."""

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mailwright.core.db import Base, BigId, JsonType, UtcDateTime


class Product(Base):
    """A product as the store describes it; price in minor units with its currency."""

    __tablename__ = "products"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    external_id: Mapped[str] = mapped_column(String(200), unique=True)
    sku: Mapped[str | None] = mapped_column(String(200), default=None, index=True)
    title: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str | None] = mapped_column(Text, default=None)
    image_url: Mapped[str | None] = mapped_column(Text, default=None)
    price_minor: Mapped[int | None] = mapped_column(BigInteger, default=None)
    currency: Mapped[str | None] = mapped_column(String(3), default=None)
    categories: Mapped[list[str]] = mapped_column(JsonType, default=list)
    in_stock: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ProductVariant(Base):
    """A purchasable variant (size, colour) of a product."""

    __tablename__ = "product_variants"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), index=True)
    external_id: Mapped[str] = mapped_column(String(200), unique=True)
    sku: Mapped[str | None] = mapped_column(String(200), default=None)
    title: Mapped[str] = mapped_column(Text, default="")
    price_minor: Mapped[int | None] = mapped_column(BigInteger, default=None)
    in_stock: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
