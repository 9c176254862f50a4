"""Management API: create, update, preview, list, get, members, refresh and delete segments."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from mailwright.core.web import RuntimeDep, require_admin
from mailwright.segments import service
from mailwright.segments.schemas import (
    MembersPage,
    PreviewIn,
    PreviewOut,
    RefreshResult,
    SavedSegmentOut,
    SegmentIn,
    SegmentOut,
    SegmentUpdate,
)

router = APIRouter(prefix="/api/v1/segments", tags=["segments"], dependencies=[Depends(require_admin)])


@router.get("", summary="List segments")
def list_segments(runtime: RuntimeDep) -> list[SegmentOut]:
    """Every segment (the built-ins are installed on first use)."""
    with runtime.uow() as uow:
        service.install_builtins(uow)
        return service.list_segments(uow.session)


@router.post("", summary="Create a segment", status_code=201)
def create_segment(data: SegmentIn, runtime: RuntimeDep) -> SavedSegmentOut:
    """Check the definition, store it and compute the members; warnings flag pitfalls."""
    with runtime.uow() as uow:
        return service.create_segment(uow, data, runtime.settings)


@router.post("/preview", summary="Count and sample a definition without saving it")
def preview_segment(data: PreviewIn, runtime: RuntimeDep) -> PreviewOut:
    """How many contacts match now, some of them, and warnings."""
    with runtime.uow() as uow:
        return service.preview(uow, data.definition, runtime.settings, sample=data.sample)


@router.post("/refresh", summary="Recompute every enabled segment")
def refresh_all(runtime: RuntimeDep) -> RefreshResult:
    """Entries and exits per segment."""
    with runtime.uow() as uow:
        service.install_builtins(uow)
        return service.refresh_segments(uow)


@router.get("/{segment}", summary="One segment by id or name")
def get_segment(segment: str, runtime: RuntimeDep) -> SegmentOut:
    """The stored definition and the last refresh's member count."""
    with runtime.uow() as uow:
        service.install_builtins(uow)
        return service.get_segment(uow.session, segment)


@router.patch("/{segment}", summary="Change a segment")
def update_segment(segment: str, data: SegmentUpdate, runtime: RuntimeDep) -> SavedSegmentOut:
    """Name, description, definition, enabled, or a built-in's parameters; members follow."""
    with runtime.uow() as uow:
        return service.update_segment(uow, segment, data, runtime.settings)


@router.get("/{segment}/members", summary="A page of a segment's members")
def segment_members(
    segment: str,
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> MembersPage:
    """Members, earliest entries first."""
    with runtime.uow() as uow:
        return service.members(uow.session, segment, limit=limit, offset=offset)


@router.post("/{segment}/refresh", summary="Recompute one segment")
def refresh_segment(segment: str, runtime: RuntimeDep) -> RefreshResult:
    """Entries and exits."""
    with runtime.uow() as uow:
        return service.refresh_one(uow, segment)


@router.delete("/{segment}", summary="Delete a segment", status_code=204)
def delete_segment(segment: str, runtime: RuntimeDep) -> Response:
    """Refused (409) while another segment refers to it."""
    with runtime.uow() as uow:
        service.delete_segment(uow, segment)
    return Response(status_code=204)
