"""Management API: orders."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from mailwright.core.web import RuntimeDep, require_admin
from mailwright.orders import service
from mailwright.orders.schemas import OrderOut

router = APIRouter(prefix="/api/v1/orders", tags=["orders"], dependencies=[Depends(require_admin)])


@router.get("", summary="List orders")
def list_orders(
    runtime: RuntimeDep,
    contact_id: int | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[OrderOut]:
    """Orders newest first, optionally of one contact, with their lines."""
    with runtime.uow() as uow:
        return service.list_orders(uow.session, contact_id=contact_id, limit=limit, offset=offset)
