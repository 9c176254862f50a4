"""Products in and out of the catalog domain."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class VariantIn(BaseModel):
    """A variant as a store sends it."""

    external_id: str = Field(min_length=1, max_length=200)
    sku: str | None = None
    title: str = ""
    price_minor: int | None = Field(default=None, ge=0)
    in_stock: bool = True


class ProductIn(BaseModel):
    """A product as a store, an import or an event describes it; None means 'not said, keep what we have'."""

    external_id: str = Field(min_length=1, max_length=200)
    sku: str | None = None
    title: str | None = None
    url: str | None = None
    image_url: str | None = None
    price_minor: int | None = Field(default=None, ge=0)
    currency: str | None = None
    categories: list[str] | None = None
    in_stock: bool | None = None
    variants: list[VariantIn] = []


class ProductOut(BaseModel):
    """A catalog product."""

    model_config = ConfigDict(from_attributes=True, frozen=True)

    id: int
    external_id: str
    sku: str | None
    title: str
    url: str | None
    image_url: str | None
    price_minor: int | None
    currency: str | None
    categories: list[str]
    in_stock: bool
    updated_at: datetime


class UpsertReport(BaseModel):
    """How many products an upsert created and changed."""

    created: int = 0
    updated: int = 0


class ProductKey(BaseModel):
    """What ranking needs to know of a product: its ids, category and whether it may be recommended."""

    model_config = ConfigDict(frozen=True)

    id: int
    external_id: str
    category: str | None
    in_stock: bool
    has_image: bool


class ContactRecommendationIn(BaseModel):
    """One ranked product of one contact's list, as a scoring run hands it over."""

    model_config = ConfigDict(frozen=True)

    contact_id: int
    kind: str
    rank: int
    product_id: int
    strategy: str
    computed_at: datetime
    version: str


class ProductRecommendationIn(BaseModel):
    """One ranked related product of a product, as a scoring run hands it over."""

    model_config = ConfigDict(frozen=True)

    product_id: int
    kind: str
    rank: int
    recommended_product_id: int
    score: float
    support: int
    computed_at: datetime
    version: str


class RecommendedProduct(BaseModel):
    """A stored recommendation with the product it points at, ready for a template or the CLI."""

    model_config = ConfigDict(frozen=True)

    kind: str
    rank: int
    strategy: str
    score: float | None = None
    computed_at: datetime
    product: ProductOut
