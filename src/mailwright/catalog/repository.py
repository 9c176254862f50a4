"""Queries over the catalog."""

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailwright.catalog.models import Product, ProductVariant
from mailwright.core.db import in_values, table_of


def products_by_external_id(session: Session, external_ids: Iterable[str]) -> dict[str, Product]:
    """Load products by store id."""
    wanted = list(set(external_ids))
    found: dict[str, Product] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        for product in session.scalars(select(Product).where(Product.external_id.in_(chunk))):
            found[product.external_id] = product
    return found


def variants_by_external_id(session: Session, external_ids: Iterable[str]) -> dict[str, ProductVariant]:
    """Load variants by store id."""
    wanted = list(set(external_ids))
    if not wanted:
        return {}
    rows = session.scalars(select(ProductVariant).where(ProductVariant.external_id.in_(wanted)))
    return {v.external_id: v for v in rows}


def product_rows(session: Session, external_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Current values of products by store id, as plain rows (no ORM objects on the ingest path)."""
    wanted = list(set(external_ids))
    table = table_of(Product)
    found: dict[str, dict[str, Any]] = {}
    if wanted:
        for row in session.execute(
            select(table).where(in_values(session, table.c.external_id, wanted))
        ).mappings():
            found[row["external_id"]] = dict(row)
    return found
