"""Campaigns: create, update, schedule, cancel and show them; the jobs that start and decide them.

A campaign is a draft until it is scheduled. When its start comes, the `campaigns.start_due` job
snapshots the recipients and queues them (sending.py); with an A/B test, the test share is queued first
and `campaigns.decide_due` picks the winner after the waiting period and queues it to the rest.
"""

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from mailwright.campaigns import abtest, audience, outbox, repository, sending
from mailwright.campaigns.models import Campaign
from mailwright.campaigns.schemas import (
    AbTestIn,
    CampaignIn,
    CampaignOut,
    CampaignUpdate,
    RecipientOut,
    RunReport,
    ScheduleIn,
    VariantProgress,
)
from mailwright.core.errors import Conflict, InvalidInput, NotFound
from mailwright.core.jobs import UnitOfWorkFactory
from mailwright.core.settings import Settings
from mailwright.core.uow import UnitOfWork
from mailwright.templates import service as templates

EDITABLE = ("draft", "scheduled")
CANCELLABLE = ("draft", "scheduled", "sending", "testing")


# --- reading ------------------------------------------------------------------------------------------


def _find(session: Session, ref: int | str, *, for_update: bool = False) -> Campaign:
    """A campaign by id or by name, or NotFound."""
    campaign = None
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdecimal()):
        campaign = repository.by_id(session, int(ref), for_update=for_update)
    if campaign is None and isinstance(ref, str):
        campaign = repository.by_name(session, ref)
    if campaign is None:
        raise NotFound(f"no campaign {ref!r}", field="campaign")
    return campaign


def _out(campaign: Campaign) -> CampaignOut:
    return CampaignOut(
        id=campaign.id,
        name=campaign.name,
        status=campaign.status,
        template_name=campaign.template_name,
        topic=campaign.topic,
        segment_ids=list(campaign.segment_ids),
        exclusion_segment_ids=list(campaign.exclusion_segment_ids),
        schedule_kind=campaign.schedule_kind,
        scheduled_at=campaign.scheduled_at,
        local_time=campaign.local_time,
        throttle_per_hour=campaign.throttle_per_hour,
        variants=list(campaign.variants),
        test_share=campaign.test_share,
        test_wait_hours=campaign.test_wait_hours,
        holdout_percent=campaign.holdout_percent or 0.0,
        winner_metric=campaign.winner_metric,
        winner=campaign.winner,
        decision=campaign.decision,
        decide_at=campaign.decide_at,
        started_at=campaign.started_at,
        finished_at=campaign.finished_at,
        cancelled_at=campaign.cancelled_at,
        snapshot=dict(campaign.snapshot or {}),
        created_at=campaign.created_at,
        updated_at=campaign.updated_at,
    )


def get_campaign(session: Session, ref: int | str, *, now: datetime | None = None) -> CampaignOut:
    """A campaign with its progress: recipients, queued, sent, skipped, opens and clicks, per variant."""
    campaign = _find(session, ref)
    out = _out(campaign)
    total, by_variant = progress(session, campaign, now=now)
    return out.model_copy(update={"progress": total, "by_variant": by_variant})


def list_campaigns(
    session: Session, *, status: str | None = None, limit: int = 50, offset: int = 0
) -> list[CampaignOut]:
    """Campaigns newest first (without progress figures)."""
    return [_out(c) for c in repository.list_campaigns(session, status=status, limit=limit, offset=offset)]


def list_recipients(
    session: Session, ref: int | str, *, phase: str | None = None, status: str | None = None
) -> list[RecipientOut]:
    """The snapshot of a campaign's recipients."""
    campaign = _find(session, ref)
    rows = repository.recipients_of(session, campaign.id, phase=phase, status=status)
    return [RecipientOut.model_validate(r) for r in rows]


def progress(
    session: Session, campaign: Campaign, *, now: datetime | None = None
) -> tuple[VariantProgress, dict[str, VariantProgress]]:
    """Counts for the whole campaign and per variant (recipients waiting for the winner under "rest")."""
    total = VariantProgress()
    by_variant: dict[str, VariantProgress] = {}
    recipients = repository.recipients_of(session, campaign.id)
    if not recipients:
        return total, by_variant
    queued = [r for r in recipients if r.outbox_public_id]
    since = campaign.started_at or min(r.send_at or campaign.created_at for r in recipients)
    states = outbox.message_states(session, [str(r.outbox_public_id) for r in queued])
    seen = audience.activity(
        session,
        [(r.contact_id, str(r.outbox_public_id), r.send_at or since) for r in queued],
        since=since,
        until=now or datetime.max.replace(tzinfo=since.tzinfo),
    )
    for r in recipients:
        if r.phase == sending.PHASE_HOLDOUT:
            total.held_out += 1  # the control group: in no variant, sent nothing
            continue
        key = r.variant or ("rest" if r.phase == sending.PHASE_REST else "all")
        bucket = by_variant.setdefault(key, VariantProgress())
        state = states.get(str(r.outbox_public_id)) if r.outbox_public_id else None
        for counts in (total, bucket):
            counts.recipients += 1
            if r.status == "pending":
                counts.pending += 1
            elif r.status == "queued":
                counts.queued += 1
                if state == "sent":
                    counts.sent += 1
                elif state == "skipped":
                    counts.skipped += 1
                elif state in ("failed", "bounced"):
                    counts.failed += 1
                counts.opens += r.contact_id in seen.openers
                counts.clicks += r.contact_id in seen.clickers
    if campaign.variants:
        by_variant.setdefault("rest", VariantProgress())
    elif set(by_variant) == {"all"}:
        by_variant = {}
    return total, by_variant


# --- writing ------------------------------------------------------------------------------------------


def _check_template(session: Session, name: str, field_name: str, subject_variant: int | None = None) -> None:
    try:
        template = templates.get_template(session, name)
    except NotFound as exc:
        raise NotFound(f"no template named {name!r}", field=field_name) from exc
    if subject_variant is not None and subject_variant > 0:
        fewest = min((len(v.subject_variants) for v in template.variants), default=0)
        if subject_variant > fewest:
            raise InvalidInput(
                f"template {name!r} has {fewest} extra subject line(s); subject_variant {subject_variant} does not exist",
                field=field_name.rsplit(".", 1)[0] + ".subject_variant",
            )


def _apply_ab(session: Session, campaign: Campaign, ab: AbTestIn | None, template_name: str) -> None:
    if ab is None:
        campaign.variants = []
        campaign.test_share = campaign.test_wait_hours = None
        campaign.winner_metric = None
        return
    for i, v in enumerate(ab.variants):
        _check_template(
            session,
            v.template_name or template_name,
            f"ab_test.variants[{i}].template_name",
            v.subject_variant,
        )
    campaign.variants = [v.model_dump() for v in ab.variants]
    campaign.test_share = ab.test_share
    campaign.test_wait_hours = ab.wait_hours
    campaign.winner_metric = ab.metric


def _check_name(session: Session, name: str, *, own_id: int | None = None) -> None:
    existing = repository.by_name(session, name)
    if existing is not None and existing.id != own_id:
        raise Conflict(f"a campaign named {name!r} exists", field="name")
    if name.isdecimal():
        raise InvalidInput("a campaign name cannot be only digits (it would read as an id)", field="name")


def create_campaign(uow: UnitOfWork, data: CampaignIn, settings: Settings) -> CampaignOut:
    """Store a new campaign (a draft, or scheduled when a schedule is given)."""
    session = uow.session
    now = uow.now()
    _check_name(session, data.name)
    _check_template(session, data.template_name, "template_name")
    audience.check_segments(session, data.segment_ids, "segment_ids")
    audience.check_segments(session, data.exclusion_segment_ids, "exclusion_segment_ids")
    campaign = Campaign(
        name=data.name,
        status="draft",
        template_name=data.template_name,
        topic=data.topic,
        segment_ids=sorted(set(data.segment_ids)),
        exclusion_segment_ids=sorted(set(data.exclusion_segment_ids)),
        schedule_kind="fixed",
        variants=[],
        holdout_percent=data.holdout_percent,
        snapshot={},
        created_at=now,
        updated_at=now,
    )
    _apply_ab(session, campaign, data.ab_test, data.template_name)
    session.add(campaign)
    session.flush()
    if data.schedule is not None:
        _schedule(campaign, data.schedule, now)
    return get_campaign(session, campaign.id, now=now)


def update_campaign(uow: UnitOfWork, ref: int | str, data: CampaignUpdate) -> CampaignOut:
    """Change a campaign that has not started yet."""
    session = uow.session
    campaign = _find(session, ref, for_update=True)
    if campaign.status not in EDITABLE:
        raise Conflict(
            f"campaign {campaign.name!r} is {campaign.status}; only drafts and scheduled ones change",
            field="status",
        )
    if data.name is not None:
        _check_name(session, data.name, own_id=campaign.id)
        campaign.name = data.name
    if data.holdout_percent is not None:
        campaign.holdout_percent = data.holdout_percent
    if data.template_name is not None:
        _check_template(session, data.template_name, "template_name")
        campaign.template_name = data.template_name
    if data.segment_ids is not None:
        audience.check_segments(session, data.segment_ids, "segment_ids")
        campaign.segment_ids = sorted(set(data.segment_ids))
    if data.exclusion_segment_ids is not None:
        audience.check_segments(session, data.exclusion_segment_ids, "exclusion_segment_ids")
        campaign.exclusion_segment_ids = sorted(set(data.exclusion_segment_ids))
    if "topic" in data.model_fields_set:
        campaign.topic = data.topic
    if data.remove_ab_test:
        _apply_ab(session, campaign, None, campaign.template_name)
    elif data.ab_test is not None:
        _apply_ab(session, campaign, data.ab_test, campaign.template_name)
    campaign.updated_at = uow.now()
    session.flush()
    return get_campaign(session, campaign.id, now=uow.now())


def _schedule(campaign: Campaign, data: ScheduleIn, now: datetime) -> None:
    campaign.schedule_kind = data.kind
    campaign.scheduled_at = data.at or now
    campaign.local_time = data.local_time if data.kind == "local_time" else None
    campaign.throttle_per_hour = data.throttle_per_hour
    campaign.status = "scheduled"
    campaign.updated_at = now


def schedule_campaign(uow: UnitOfWork, ref: int | str, data: ScheduleIn) -> CampaignOut:
    """Schedule (or reschedule) a campaign that has not started; it starts at `at` (default now)."""
    campaign = _find(uow.session, ref, for_update=True)
    if campaign.status not in EDITABLE:
        raise Conflict(
            f"campaign {campaign.name!r} is {campaign.status} and cannot be scheduled", field="status"
        )
    _schedule(campaign, data, uow.now())
    uow.session.flush()
    return get_campaign(uow.session, campaign.id, now=uow.now())


def unschedule_campaign(uow: UnitOfWork, ref: int | str) -> CampaignOut:
    """Put a scheduled campaign back to draft."""
    campaign = _find(uow.session, ref, for_update=True)
    if campaign.status != "scheduled":
        raise Conflict(f"campaign {campaign.name!r} is {campaign.status}, not scheduled", field="status")
    campaign.status = "draft"
    campaign.updated_at = uow.now()
    return get_campaign(uow.session, campaign.id, now=uow.now())


def _queued_public_ids(session: Session, campaign: Campaign) -> list[str]:
    return [
        str(r.outbox_public_id)
        for r in repository.recipients_of(session, campaign.id, status="queued")
        if r.outbox_public_id
    ]


def cancel_campaign(uow: UnitOfWork, ref: int | str) -> CampaignOut:
    """Stop a campaign: nobody not yet queued gets it, and queued messages not yet sent are skipped."""
    session = uow.session
    now = uow.now()
    campaign = _find(session, ref, for_update=True)
    # A throttled or local-time campaign is "sent" once all its messages are queued, yet most may wait
    # in the outbox for hours: it can still be cancelled until the last one has gone.
    public_ids = _queued_public_ids(session, campaign)
    waiting = campaign.status == "sent" and "queued" in outbox.message_states(session, public_ids).values()
    if campaign.status not in CANCELLABLE and not waiting:
        raise Conflict(
            f"campaign {campaign.name!r} is {campaign.status} and cannot be cancelled", field="status"
        )
    was = campaign.status
    if not repository.claim_status(session, campaign.id, from_status=was, to_status="cancelled", now=now):
        raise Conflict(f"campaign {campaign.name!r} changed while cancelling; try again", field="status")
    session.refresh(campaign)
    withdrawn = repository.cancel_pending(session, campaign.id)
    # Delivery skips only the rows still queued: what was claimed or sent already is left as it is.
    skipped = outbox.skip_queued(uow, public_ids)
    record: dict[str, Any] = {
        "cancelled_from": was,
        "recipients_not_queued": withdrawn,
        "messages_still_queued": skipped,
    }
    record["messages_skipped"] = skipped
    campaign.snapshot = {**(campaign.snapshot or {}), "cancel": record}
    campaign.cancelled_at = now
    campaign.updated_at = now
    session.flush()
    return get_campaign(session, campaign.id, now=now)


# --- the jobs' work -----------------------------------------------------------------------------------


def start_due(open_uow: UnitOfWorkFactory, settings: Settings) -> list[RunReport]:
    """Start every campaign whose time has come (and finish queueing any left half-queued)."""
    with open_uow() as uow:
        ids = repository.due_to_start(uow.session, uow.now())
    return [sending.start(open_uow, campaign_id, settings) for campaign_id in ids]


def decide_due(open_uow: UnitOfWorkFactory, settings: Settings) -> list[RunReport]:
    """Decide every A/B test whose waiting period is over and send the winner to the rest."""
    with open_uow() as uow:
        ids = repository.due_to_decide(uow.session, uow.now())
    return [sending.decide(open_uow, campaign_id, settings) for campaign_id in ids]


def decision_rule() -> str:
    """The documented A/B decision rule (for the CLI and API)."""
    return (abtest.__doc__ or "").strip()
