"""Management API: the product catalog."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from mailwright.catalog import service
from mailwright.catalog.schemas import ProductOut
from mailwright.core.web import RuntimeDep, require_admin

router = APIRouter(prefix="/api/v1/products", tags=["catalog"], dependencies=[Depends(require_admin)])


@router.get("", summary="List products")
def list_products(
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[ProductOut]:
    """Products, most recently updated first."""
    with runtime.uow() as uow:
        return service.list_products(uow.session, limit=limit, offset=offset)


@router.get("/{external_id}", summary="One product by store id")
def get_product(external_id: str, runtime: RuntimeDep) -> ProductOut:
    """A product by its store id."""
    with runtime.uow() as uow:
        return service.get_product(uow.session, external_id)
