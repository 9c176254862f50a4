"""Products and variants synced from the store."""

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Index, SmallInteger, String, Text
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


class ContactRecommendation(Base):
    """One ranked product for one contact in one list (for_you, new_for_you, buy_again).

    Replaced by each scoring run; `strategy` names the recommender that ranked the list (the backtest's
    choice, or the popular fallback for a contact the model knows nothing about).
    """

    __tablename__ = "contact_recommendations"

    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    rank: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    strategy: Mapped[str] = mapped_column(String(40))
    computed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    version: Mapped[str] = mapped_column(String(32))

    __table_args__ = (Index("ix_contact_recommendations_product_id", "product_id"),)


class ProductRecommendation(Base):
    """One ranked related product for a product (complementary: bought in the same orders, by lift)."""

    __tablename__ = "product_recommendations"

    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    rank: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    recommended_product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    score: Mapped[float] = mapped_column(Float)
    support: Mapped[int] = mapped_column()
    computed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    version: Mapped[str] = mapped_column(String(32))

    __table_args__ = (Index("ix_product_recommendations_recommended_product_id", "recommended_product_id"),)
