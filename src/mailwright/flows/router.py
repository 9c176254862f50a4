"""Management API: create, validate, activate, pause and inspect flows; list runs; start; backtest."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Query

from mailwright.core.web import RuntimeDep, require_admin
from mailwright.flows import backtest, library, service
from mailwright.flows.schemas import (
    BacktestReport,
    FlowIn,
    FlowOut,
    RunOut,
    StartIn,
    StartResult,
    ValidationReport,
)

router = APIRouter(prefix="/api/v1/flows", tags=["flows"], dependencies=[Depends(require_admin)])


@router.get("", summary="List flows")
def list_flows(runtime: RuntimeDep) -> list[FlowOut]:
    """Every flow with its status, version and run counts."""
    with runtime.uow() as uow:
        return service.list_flows(uow.session)


@router.post("", summary="Create a flow or save a new version", status_code=201)
def save_flow(data: FlowIn, runtime: RuntimeDep) -> FlowOut:
    """Validate and store; 400 naming the node at fault when a check fails. Runs in flight keep their version."""
    with runtime.uow() as uow:
        return service.save_flow(uow, data)


@router.post("/validate", summary="Run the save-time checks without saving")
def validate_flow(runtime: RuntimeDep, definition: Annotated[dict[str, Any], Body()]) -> ValidationReport:
    """Shape, dangling edges, unreachable nodes, loops without a wait, send nodes and their templates."""
    with runtime.uow() as uow:
        return service.validate_flow(uow, definition)


@router.post("/library", summary="Install the built-in flow library", status_code=201)
def install_library(
    runtime: RuntimeDep,
    activate: Annotated[bool, Query(description="Switch the flows on.")] = False,
    holdout_percent: Annotated[
        float | None, Query(ge=0, le=50, description="Share of runs held out; the flows' default is 10.")
    ] = None,
) -> list[FlowOut]:
    """Store every library flow with its templates (and optionally switch them on)."""
    with runtime.uow() as uow:
        return library.install(uow, runtime.settings, activate=activate, holdout_percent=holdout_percent)


@router.get("/runs/{run_id}", summary="One run with its history")
def get_run(run_id: int, runtime: RuntimeDep) -> RunOut:
    """Where a run is and every step it took, with explanations."""
    with runtime.uow() as uow:
        return service.get_run(uow.session, run_id)


@router.get("/{name}", summary="One flow")
def get_flow(name: str, runtime: RuntimeDep) -> FlowOut:
    """A flow by name or id, with its current definition."""
    with runtime.uow() as uow:
        return service.get_flow(uow.session, name)


@router.post("/{name}/activate", summary="Switch a flow on, or resume it")
def activate(name: str, runtime: RuntimeDep) -> FlowOut:
    """New runs start; paused runs continue where they were held."""
    with runtime.uow() as uow:
        return service.activate(uow, name)


@router.post("/{name}/pause", summary="Pause a flow")
def pause(name: str, runtime: RuntimeDep) -> FlowOut:
    """No new runs; runs in flight are held where they are."""
    with runtime.uow() as uow:
        return service.pause(uow, name)


@router.get("/{name}/runs", summary="Runs of a flow")
def list_runs(
    name: str,
    runtime: RuntimeDep,
    status: str | None = None,
    contact_id: int | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[RunOut]:
    """Runs newest first, filtered by status or contact."""
    with runtime.uow() as uow:
        return service.list_runs(
            uow.session, name, status=status, contact_id=contact_id, limit=limit, offset=offset
        )


@router.post("/{name}/start", summary="Start an API-triggered flow for contacts")
def start(
    name: str,
    data: StartIn,
    runtime: RuntimeDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=80)] = None,
) -> StartResult:
    """Start runs (entry rules, filters and collision rules apply); the same Idempotency-Key starts them once."""
    with runtime.uow() as uow:
        return service.start(uow, name, data, request_key=idempotency_key)


@router.post("/{name}/backtest", summary="Replay stored history through a flow without sending")
def run_backtest(
    name: str,
    runtime: RuntimeDep,
    start: Annotated[datetime, Query(alias="from")],
    end: Annotated[datetime, Query(alias="to")],
) -> BacktestReport:
    """Contacts entered, emails per node, goal exits and collisions over the period; nothing is sent."""
    return backtest.backtest(runtime, name, start, end)
