"""Management API: the outbox and its messages with their attempts."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from mailwright.core.web import RuntimeDep, require_admin
from mailwright.delivery import service
from mailwright.delivery.schemas import DeliveryStatus, OutboxDetail, OutboxOut

router = APIRouter(prefix="/api/v1", tags=["delivery"], dependencies=[Depends(require_admin)])


@router.get("/outbox", summary="List outbox messages")
def list_outbox(
    runtime: RuntimeDep,
    status: Annotated[
        str | None, Query(description="queued, sending, sent, failed, skipped, bounced, review")
    ] = None,
    contact_id: Annotated[int | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[OutboxOut]:
    """Outbox messages newest first, filtered by status and contact."""
    with runtime.uow() as uow:
        return service.list_outbox(
            uow.session, status=status, contact_id=contact_id, limit=limit, offset=offset
        )


@router.get("/outbox/{public_id}", summary="One outbox message with its attempts")
def get_message(public_id: str, runtime: RuntimeDep) -> OutboxDetail:
    """A message by its public id (or numeric id), with links and the attempt history."""
    with runtime.uow() as uow:
        return service.get_message(uow.session, public_id)


@router.get("/delivery/status", summary="Outbox counts and the sender's pause state")
def delivery_status(runtime: RuntimeDep) -> DeliveryStatus:
    """Messages per status, what is due, and whether sending is paused (and why)."""
    with runtime.uow() as uow:
        return service.status(uow, runtime.settings)
