"""Catalog logic: products created or updated from store syncs, imports and event properties."""

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session

from mailwright.catalog import repository
from mailwright.catalog.models import (
    ContactRecommendation,
    Product,
    ProductRecommendation,
    ProductVariant,
)
from mailwright.catalog.schemas import (
    ContactRecommendationIn,
    ProductIn,
    ProductKey,
    ProductOut,
    ProductRecommendationIn,
    RecommendedProduct,
    UpsertReport,
)
from mailwright.core.db import allocate_ids, table_of
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
    table = table_of(Product)
    existing = repository.product_rows(session, merged)
    fresh_ids = iter(allocate_ids(session, table, sum(1 for k in merged if k not in existing)))
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    with_variants: list[tuple[int, ProductIn]] = []
    for external_id, item in merged.items():
        row = existing.get(external_id)
        if row is None:
            product_id = next(fresh_ids)
            inserts.append(
                {
                    "id": product_id,
                    "external_id": external_id,
                    "sku": item.sku,
                    "title": item.title or "",
                    "url": item.url,
                    "image_url": item.image_url,
                    "price_minor": item.price_minor,
                    "currency": item.currency,
                    "categories": list(item.categories or []),
                    "in_stock": True if item.in_stock is None else item.in_stock,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            report.created += 1
        else:
            product_id = row["id"]
            final = {
                name: row[name] if getattr(item, name) is None else getattr(item, name) for name in _FIELDS
            }
            if any(final[name] != row[name] for name in _FIELDS):
                updates.append(
                    {"p_id": product_id, "p_updated_at": now, **{f"p_{k}": v for k, v in final.items()}}
                )
                report.updated += 1
        if item.variants:
            with_variants.append((product_id, item))
    # Plain executemany on the table: one statement for all new rows, one for all changed rows.
    if inserts:
        session.execute(insert(table), inserts)
    if updates:
        session.execute(
            update(table)
            .where(table.c.id == bindparam("p_id"))
            .values(
                {name: bindparam(f"p_{name}", type_=table.c[name].type) for name in (*_FIELDS, "updated_at")}
            ),
            updates,
        )
    for product_id, item in with_variants:
        _upsert_variants(session, product_id, item, now)
    return report


def _upsert_variants(session: Session, product_id: int, item: ProductIn, now: datetime) -> None:
    known = repository.variants_by_external_id(session, (v.external_id for v in item.variants))
    for variant in item.variants:
        row = known.get(variant.external_id)
        if row is None:
            session.add(
                ProductVariant(
                    product_id=product_id,
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


def product_keys(session: Session) -> list[ProductKey]:
    """Every product's ids, first category and recommendability (stock, image), as plain rows."""
    table = table_of(Product)
    rows = session.execute(
        select(table.c.id, table.c.external_id, table.c.categories, table.c.in_stock, table.c.image_url)
    )
    return [
        ProductKey(
            id=product_id,
            external_id=external_id,
            category=categories[0] if categories else None,
            in_stock=bool(in_stock),
            has_image=bool(image_url),
        )
        for product_id, external_id, categories, in_stock, image_url in rows
    ]


def replace_contact_recommendations(session: Session, rows: Iterable[ContactRecommendationIn]) -> int:
    """Make these the stored per-contact lists, dropping the previous run's; returns rows written."""
    table = table_of(ContactRecommendation)
    values = [r.model_dump() for r in rows]
    # A run covers the whole shop: replacing everything keeps no list from an older run half-alive.
    session.execute(delete(table))
    if values:
        session.execute(insert(table), values)
    return len(values)


def replace_product_recommendations(session: Session, rows: Iterable[ProductRecommendationIn]) -> int:
    """Make these the stored per-product lists (complementary items), dropping the previous run's."""
    table = table_of(ProductRecommendation)
    values = [r.model_dump() for r in rows]
    session.execute(delete(table))
    if values:
        session.execute(insert(table), values)
    return len(values)


def recommendations_for_contact(
    session: Session, contact_id: int, *, kind: str | None = None
) -> list[RecommendedProduct]:
    """A contact's stored recommendations with their products, by list then rank."""
    stmt = (
        select(ContactRecommendation, Product)
        .join(Product, Product.id == ContactRecommendation.product_id)
        .where(ContactRecommendation.contact_id == contact_id)
        .order_by(ContactRecommendation.kind, ContactRecommendation.rank)
    )
    if kind is not None:
        stmt = stmt.where(ContactRecommendation.kind == kind)
    return [
        RecommendedProduct(
            kind=rec.kind,
            rank=rec.rank,
            strategy=rec.strategy,
            computed_at=rec.computed_at,
            product=ProductOut.model_validate(product),
        )
        for rec, product in session.execute(stmt)
    ]


def recommended_products(
    session: Session, contact_ids: Sequence[int], *, kind: str, limit: int
) -> dict[int, list[ProductOut]]:
    """Each contact's stored list of one kind (the first `limit`, in stock), in one query per 5,000 contacts."""
    from mailwright.core.db import in_values

    found: dict[int, list[ProductOut]] = {}
    ids = sorted(set(contact_ids))
    for begin in range(0, len(ids), 5000):
        stmt = (
            select(ContactRecommendation.contact_id, Product)
            .join(Product, Product.id == ContactRecommendation.product_id)
            .where(
                in_values(session, ContactRecommendation.contact_id, ids[begin : begin + 5000]),
                ContactRecommendation.kind == kind,
                ContactRecommendation.rank <= limit * 2,
            )
            .order_by(ContactRecommendation.contact_id, ContactRecommendation.rank)
        )
        for contact_id, product in session.execute(stmt):
            listed = found.setdefault(contact_id, [])
            # Stock changes after the scoring run: an item sold out since is passed over, the next one shown.
            if product.in_stock and len(listed) < limit:
                listed.append(ProductOut.model_validate(product))
    return found


def related_products(
    session: Session, external_id: str, *, kind: str = "complementary"
) -> list[RecommendedProduct]:
    """The stored related products of a product (by store id), best first."""
    source = repository.products_by_external_id(session, [external_id]).get(external_id)
    if source is None:
        raise NotFound(f"no product with id {external_id!r}", field="product_id")
    stmt = (
        select(ProductRecommendation, Product)
        .join(Product, Product.id == ProductRecommendation.recommended_product_id)
        .where(ProductRecommendation.product_id == source.id, ProductRecommendation.kind == kind)
        .order_by(ProductRecommendation.rank)
    )
    return [
        RecommendedProduct(
            kind=rec.kind,
            rank=rec.rank,
            strategy="co_purchase_lift",
            score=rec.score,
            computed_at=rec.computed_at,
            product=ProductOut.model_validate(product),
        )
        for rec, product in session.execute(stmt)
    ]
