"""Orders in and out of the orders domain."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class OrderLineIn(BaseModel):
    """One line of an incoming order."""

    product_external_id: str | None = None
    sku: str | None = None
    title: str | None = None
    category: str | None = None
    quantity: int = Field(default=1, ge=0)
    price_minor: int = 0


class OrderIn(BaseModel):
    """An order as ingestion hands it over (money already in minor units)."""

    external_id: str = Field(min_length=1, max_length=200)
    contact_id: int
    placed_at: datetime
    currency: str = Field(min_length=3, max_length=3)
    total_minor: int
    subtotal_minor: int | None = None
    tax_minor: int | None = None
    shipping_minor: int | None = None
    discount_minor: int | None = None
    coupon: str | None = None
    source: str
    lines: list[OrderLineIn] = []


class OrderLineOut(BaseModel):
    """A stored order line."""

    model_config = ConfigDict(from_attributes=True, frozen=True)

    product_external_id: str | None
    sku: str | None
    title: str | None
    category: str | None
    quantity: int
    price_minor: int


class OrderOut(BaseModel):
    """A stored order with its lines."""

    model_config = ConfigDict(from_attributes=True, frozen=True)

    id: int
    external_id: str
    contact_id: int
    placed_at: datetime
    status: str
    currency: str
    total_minor: int
    refunded_minor: int
    discount_minor: int | None
    coupon: str | None
    source: str
    lines: list[OrderLineOut] = []


class ContactOrderTotals(BaseModel):
    """Order aggregates of one contact (cancelled orders excluded, refunds subtracted)."""

    model_config = ConfigDict(frozen=True)

    contact_id: int
    order_count: int
    revenue_minor: int
    first_order_at: datetime | None
    last_order_at: datetime | None


class TopProduct(BaseModel):
    """A best seller by units."""

    product_external_id: str | None
    title: str | None
    units: int
    revenue_minor: int


class OrdersSummary(BaseModel):
    """Shop-wide order figures for a first look at the shop."""

    orders: int
    customers_with_orders: int
    repeat_customers: int
    revenue_minor: int
    currency: str | None
    first_order_at: datetime | None
    last_order_at: datetime | None
    top_products: list[TopProduct]

    @property
    def repeat_purchase_rate(self) -> float:
        """Share of buying customers who ordered more than once."""
        return self.repeat_customers / self.customers_with_orders if self.customers_with_orders else 0.0
