"""The first look at a shop after an import: customers, orders, revenue, countries, best sellers."""

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy.orm import Session

from mailwright.catalog import service as catalog
from mailwright.contacts import service as contacts
from mailwright.orders import service as orders
from mailwright.orders.schemas import TopProduct


class CountryLine(BaseModel):
    """Customers, buyers, orders and revenue of one country (None: unknown)."""

    country: str | None
    customers: int
    buyers: int
    orders: int
    revenue_minor: int


class ShopOverview(BaseModel):
    """What a shop owner wants to see first, money in minor units of `currency`."""

    customers: int
    customers_with_orders: int
    repeat_customers: int
    repeat_purchase_rate: float
    orders: int
    revenue_minor: int
    average_order_value_minor: int
    currency: str | None
    first_order_at: datetime | None
    last_order_at: datetime | None
    products: int
    countries_by_customers: list[CountryLine]
    countries_by_revenue: list[CountryLine]
    top_products_by_units: list[TopProduct]
    top_products_by_revenue: list[TopProduct]
    # A profile worth opening next (`mailwright contacts show EMAIL`), if there is any.
    example_email: str | None


def _countries(figures: list[contacts.CountryFigures]) -> list[CountryLine]:
    return [
        CountryLine(
            country=f.country,
            customers=f.customers,
            buyers=f.buyers,
            orders=f.orders,
            revenue_minor=f.revenue_minor,
        )
        for f in figures
    ]


def shop_overview(session: Session, *, top: int = 10, example_email: str | None = None) -> ShopOverview:
    """Shop-wide figures from the orders summary, the contact roll-ups and the catalog."""
    summary = orders.summary(session, top=top)
    example = None
    if example_email is not None:
        found = contacts.find_by_email(session, example_email)
        example = found.email if found is not None else None
    if example is None:
        newest = contacts.list_profiles(session, limit=1)
        example = newest[0].email if newest else None
    return ShopOverview(
        customers=contacts.count_profiles(session),
        customers_with_orders=summary.customers_with_orders,
        repeat_customers=summary.repeat_customers,
        repeat_purchase_rate=round(summary.repeat_purchase_rate, 4),
        orders=summary.orders,
        revenue_minor=summary.revenue_minor,
        average_order_value_minor=summary.revenue_minor // summary.orders if summary.orders else 0,
        currency=summary.currency,
        first_order_at=summary.first_order_at,
        last_order_at=summary.last_order_at,
        products=catalog.count_products(session),
        countries_by_customers=_countries(contacts.country_breakdown(session, by="customers", limit=top)),
        countries_by_revenue=_countries(contacts.country_breakdown(session, by="revenue", limit=top)),
        top_products_by_units=summary.top_products,
        top_products_by_revenue=orders.top_products(session, by="revenue", limit=top),
        example_email=example,
    )
