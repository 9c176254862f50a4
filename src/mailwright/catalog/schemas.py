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
