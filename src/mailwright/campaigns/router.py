"""Management API: create, update, schedule, cancel, list and follow campaigns."""

from fastapi import APIRouter, Depends

from mailwright.campaigns import service
from mailwright.campaigns.schemas import CampaignIn, CampaignOut, CampaignUpdate, RecipientOut, ScheduleIn
from mailwright.core.web import RuntimeDep, require_admin

router = APIRouter(prefix="/api/v1/campaigns", tags=["campaigns"], dependencies=[Depends(require_admin)])


@router.get("", summary="List campaigns")
def list_campaigns(
    runtime: RuntimeDep, status: str | None = None, limit: int = 50, offset: int = 0
) -> list[CampaignOut]:
    """Campaigns newest first, optionally of one status."""
    with runtime.uow() as uow:
        return service.list_campaigns(
            uow.session, status=status, limit=min(max(limit, 1), 500), offset=max(offset, 0)
        )


@router.post("", summary="Create a campaign", status_code=201)
def create_campaign(data: CampaignIn, runtime: RuntimeDep) -> CampaignOut:
    """A draft, or a scheduled campaign when `schedule` is given."""
    with runtime.uow() as uow:
        return service.create_campaign(uow, data, runtime.settings)


@router.get("/{ref}", summary="One campaign with its progress")
def get_campaign(ref: str, runtime: RuntimeDep) -> CampaignOut:
    """By id or name: schedule, A/B decision, recipients, queued, sent, skipped, opens, clicks."""
    with runtime.uow() as uow:
        return service.get_campaign(uow.session, ref, now=uow.now())


@router.patch("/{ref}", summary="Change a campaign that has not started")
def update_campaign(ref: str, data: CampaignUpdate, runtime: RuntimeDep) -> CampaignOut:
    """Fields left out stay as they are; 409 once the campaign has started."""
    with runtime.uow() as uow:
        return service.update_campaign(uow, ref, data)


@router.post("/{ref}/schedule", summary="Schedule a campaign")
def schedule_campaign(ref: str, data: ScheduleIn, runtime: RuntimeDep) -> CampaignOut:
    """Fixed time, local time per recipient, or best hour; with an optional throttle per hour."""
    with runtime.uow() as uow:
        return service.schedule_campaign(uow, ref, data)


@router.post("/{ref}/cancel", summary="Cancel a campaign")
def cancel_campaign(ref: str, runtime: RuntimeDep) -> CampaignOut:
    """Recipients not queued yet get nothing; queued messages not yet sent are skipped."""
    with runtime.uow() as uow:
        return service.cancel_campaign(uow, ref)


@router.get("/{ref}/recipients", summary="The snapshot of recipients")
def list_recipients(
    ref: str, runtime: RuntimeDep, phase: str | None = None, status: str | None = None
) -> list[RecipientOut]:
    """Each recipient's variant, send time and outbox message."""
    with runtime.uow() as uow:
        return service.list_recipients(uow.session, ref, phase=phase, status=status)
