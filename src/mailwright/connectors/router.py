"""Management API: connections (configure, mapping, sync) and outbound webhook endpoints (CRUD, log)."""

from fastapi import APIRouter, Depends, Response
from starlette.concurrency import run_in_threadpool

from mailwright.connectors import service
from mailwright.connectors.schemas import (
    ConnectionIn,
    ConnectionOut,
    ConnectionPatch,
    DeliveryOut,
    EndpointIn,
    EndpointOut,
    EndpointPatch,
    MappingRow,
    SyncReport,
)
from mailwright.connectors.webhooks import service as webhooks
from mailwright.core.web import RuntimeDep, require_admin

router = APIRouter(prefix="/api/v1", tags=["connectors"], dependencies=[Depends(require_admin)])


@router.get("/connections", summary="List connections")
def list_connections(runtime: RuntimeDep) -> list[ConnectionOut]:
    """Every connection, secrets masked."""
    with runtime.uow() as uow:
        return service.list_connections(uow.session)


@router.post("/connections", summary="Configure a connection", status_code=201)
def create_connection(data: ConnectionIn, runtime: RuntimeDep) -> ConnectionOut:
    """A WooCommerce, Magento, HubSpot or Zoho connection; CRMs start with the default field mapping."""
    with runtime.uow() as uow:
        return service.create_connection(uow.session, data, uow.now())


@router.get("/connections/{name}", summary="One connection")
def get_connection(name: str, runtime: RuntimeDep) -> ConnectionOut:
    """A connection by name, secrets masked."""
    with runtime.uow() as uow:
        return service.get_connection(uow.session, name)


@router.patch("/connections/{name}", summary="Change a connection")
def update_connection(name: str, patch: ConnectionPatch, runtime: RuntimeDep) -> ConnectionOut:
    """Merge config keys, replace the mapping (to be confirmed again) or enable/disable."""
    with runtime.uow() as uow:
        return service.update_connection(uow.session, name, patch, uow.now())


@router.delete("/connections/{name}", summary="Delete a connection", status_code=204)
def delete_connection(name: str, runtime: RuntimeDep) -> Response:
    """Forget a connection; the profiles and orders it brought in stay."""
    with runtime.uow() as uow:
        service.delete_connection(uow.session, name)
    return Response(status_code=204)


@router.get("/connections/{name}/mapping", summary="A CRM connection's field mapping")
def get_mapping(name: str, runtime: RuntimeDep) -> list[MappingRow]:
    """What maps to what, and which way, as the first sync will use it."""
    with runtime.uow() as uow:
        return service.mapping_rows(uow.session, name)


@router.post("/connections/{name}/mapping/confirm", summary="Accept the field mapping")
def confirm_mapping(name: str, runtime: RuntimeDep) -> ConnectionOut:
    """The first CRM sync runs only after the mapping was confirmed."""
    with runtime.uow() as uow:
        return service.confirm_mapping(uow.session, name, uow.now())


@router.post("/connections/{name}/sync", summary="Sync a connection now")
async def sync_connection(name: str, runtime: RuntimeDep) -> SyncReport:
    """Pull (and for CRMs push) from the stored cursor; the report says what moved and any error."""
    return await run_in_threadpool(service.sync_connection, runtime.uow, name)


@router.get("/webhook-endpoints", summary="List outbound webhook endpoints")
def list_endpoints(runtime: RuntimeDep) -> list[EndpointOut]:
    """Every endpoint with its state and, when disabled, the reason."""
    with runtime.uow() as uow:
        return webhooks.list_endpoints(uow.session)


@router.post("/webhook-endpoints", summary="Subscribe a URL to events", status_code=201)
def create_endpoint(data: EndpointIn, runtime: RuntimeDep) -> EndpointOut:
    """The answer carries the signing secret; it is not shown again."""
    with runtime.uow() as uow:
        return webhooks.create_endpoint(uow.session, data, uow.now())


@router.get("/webhook-endpoints/{endpoint_id}", summary="One endpoint")
def get_endpoint(endpoint_id: int, runtime: RuntimeDep) -> EndpointOut:
    """An endpoint by id."""
    with runtime.uow() as uow:
        return webhooks.get_endpoint(uow.session, endpoint_id)


@router.patch("/webhook-endpoints/{endpoint_id}", summary="Change an endpoint")
def update_endpoint(endpoint_id: int, patch: EndpointPatch, runtime: RuntimeDep) -> EndpointOut:
    """Change URL or events; enabling it again clears the failure streak."""
    with runtime.uow() as uow:
        return webhooks.update_endpoint(uow.session, endpoint_id, patch, uow.now())


@router.delete("/webhook-endpoints/{endpoint_id}", summary="Delete an endpoint", status_code=204)
def delete_endpoint(endpoint_id: int, runtime: RuntimeDep) -> Response:
    """Remove an endpoint and its log."""
    with runtime.uow() as uow:
        webhooks.delete_endpoint(uow.session, endpoint_id)
    return Response(status_code=204)


@router.get("/webhook-endpoints/{endpoint_id}/deliveries", summary="An endpoint's delivery log")
def list_deliveries(
    endpoint_id: int, runtime: RuntimeDep, limit: int = 50, status: str | None = None
) -> list[DeliveryOut]:
    """Deliveries newest first, each with every attempt (status code, error, next retry)."""
    with runtime.uow() as uow:
        return webhooks.list_deliveries(
            uow.session, endpoint_id, limit=min(max(limit, 1), 500), status=status
        )
