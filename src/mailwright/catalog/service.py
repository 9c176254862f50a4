"""Catalog logic: products created or updated from store syncs, imports and event properties."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailwright.catalog import repository
from mailwright.catalog.models import Product, ProductVariant
from mailwright.catalog.schemas import ProductIn, ProductOut, UpsertReport
from mailwright.core.errors import NotFound

_FIELDS = ("sku", "title", "url", "image_url", "price_minor", "currency", "categories", "in_stock")


def upsert_products(session: Session, products: Sequence[ProductIn], now: datetime) -> UpsertReport:
    """Create unknown products and update the fields each input states; unstated fields are kept."""
    report = UpsertReport()
    merged: dict[str, ProductIn] = {}
    for item in products:
        # Later mentions in one batch win field by field.
        earlier = merged.get(item.external_id)
        if earlier is None:
            merged[item.external_id] = item
        else:
            changes = item.model_dump(exclude_unset=True, exclude_none=True)
            merged[item.external_id] = earlier.model_copy(update=changes)
    existing = repository.products_by_external_id(session, merged)
    for external_id, item in merged.items():
        product = existing.get(external_id)
        if product is None:
            product = Product(
                external_id=external_id,
                sku=item.sku,
                title=item.title or "",
                url=item.url,
                image_url=item.image_url,
                price_minor=item.price_minor,
                currency=item.currency,
                categories=list(item.categories or []),
                in_stock=True if item.in_stock is None else item.in_stock,
                created_at=now,
                updated_at=now,
            )
            session.add(product)
            report.created += 1
        else:
            changed = False
            for name in _FIELDS:
                value = getattr(item, name)
                if value is not None and getattr(product, name) != value:
                    setattr(product, name, list(value) if name == "categories" else value)
                    changed = True
            if changed:
                product.updated_at = now
                report.updated += 1
        if item.variants:
            _upsert_variants(session, product, item, now)
    return report


def _upsert_variants(session: Session, product: Product, item: ProductIn, now: datetime) -> None:
    session.flush()
    known = repository.variants_by_external_id(session, (v.external_id for v in item.variants))
    for variant in item.variants:
        row = known.get(variant.external_id)
        if row is None:
            session.add(
                ProductVariant(
                    product_id=product.id,
                    external_id=variant.external_id,
                    sku=variant.sku,
                    title=variant.title,
                    price_minor=variant.price_minor,
                    in_stock=variant.in_stock,
                    updated_at=now,
                )
            )
        else:
            row.sku, row.title, row.price_minor = variant.sku, variant.title, variant.price_minor
            row.in_stock, row.updated_at = variant.in_stock, now


def list_products(session: Session, *, limit: int = 50, offset: int = 0) -> list[ProductOut]:
    """Catalog products, most recently updated first."""
    rows = session.scalars(
        select(Product).order_by(Product.updated_at.desc(), Product.id.desc()).limit(limit).offset(offset)
    )
    return [ProductOut.model_validate(p) for p in rows]


def get_product(session: Session, external_id: str) -> ProductOut:
    """One product by store id, or NotFound."""
    product = repository.products_by_external_id(session, [external_id]).get(external_id)
    if product is None:
        raise NotFound(f"no product with id {external_id!r}", field="product_id")
    return ProductOut.model_validate(product)


def count_products(session: Session) -> int:
    """How many products the catalog holds."""
    return int(session.scalar(select(func.count()).select_from(Product)) or 0)
