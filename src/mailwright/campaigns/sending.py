"""Starting a due campaign, queueing its recipients in batches, and deciding its A/B test.

Each step is its own short transaction, so a campaign to a large shop never holds SQLite's one write
lock for long, and each is safe to run again: the start is a compare-and-set on the campaign's status
(two workers never both snapshot it), recipients are queued in id order and marked queued in the same
transaction as their outbox row, and delivery's idempotency key (`campaign:<id>:contact:<contact id>`)
makes a batch repeated after a crash queue nothing twice.
"""

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from mailwright.campaigns import abtest, audience, outbox, repository, scheduling
from mailwright.campaigns.models import Campaign, CampaignRecipient
from mailwright.campaigns.schemas import RunReport
from mailwright.core.errors import NotFound
from mailwright.core.jobs import UnitOfWorkFactory
from mailwright.core.settings import Settings
from mailwright.core.uow import UnitOfWork
from mailwright.delivery import service as delivery
from mailwright.delivery.schemas import MessageIn

log = logging.getLogger(__name__)

SOURCE_KIND = "campaign"
PHASE_ALL = "all"
PHASE_TEST = "test"
PHASE_REST = "rest"
PHASE_HOLDOUT = "holdout"


def idempotency_key(campaign_id: int, contact_id: int) -> str:
    """The outbox key of a campaign's message to a contact: one message per contact per campaign."""
    return f"campaign:{campaign_id}:contact:{contact_id}"


def _variant_map(campaign: Campaign) -> dict[str, dict[str, Any]]:
    return {str(v["name"]): v for v in campaign.variants}


def _plan(
    uow: UnitOfWork, campaign: Campaign, contact_ids: Sequence[int], start: datetime, settings: Settings
) -> tuple[list[scheduling.Planned], dict[str, Any]]:
    """Send instants for these recipients by the campaign's schedule and throttle, and what decided them."""
    kind = campaign.schedule_kind
    timings = audience.timings(uow.session, contact_ids, with_predictions=kind == scheduling.BEST_HOUR)
    shop_hour = None
    notes: dict[str, Any] = {}
    if kind == scheduling.BEST_HOUR:
        shop_hour = scheduling.shop_best_hour(
            audience.shop_click_hours(uow.session, settings.default_timezone)
        )
        notes["shop_best_hour"] = shop_hour
        notes["default_hour"] = settings.campaign_default_send_hour
    planned = scheduling.plan(
        timings,
        kind=kind,
        start=start,
        default_timezone=settings.default_timezone,
        local_time=scheduling.parse_local_time(campaign.local_time) if campaign.local_time else None,
        shop_hour=shop_hour,
        default_hour=settings.campaign_default_send_hour,
    )
    planned = scheduling.throttle(planned, campaign.throttle_per_hour)
    if kind == scheduling.BEST_HOUR:
        notes["hour_sources"] = dict(scheduling.hour_sources(planned))
    return planned, notes


def start(open_uow: UnitOfWorkFactory, campaign_id: int, settings: Settings) -> RunReport:
    """Snapshot a due campaign's recipients, plan their send times, then queue them in batches."""
    report = RunReport(campaign_id=campaign_id, status="")
    with open_uow() as uow:
        campaign = repository.by_id(uow.session, campaign_id, for_update=True)
        if campaign is None:
            return report.model_copy(update={"status": "missing"})
        if (
            campaign.status == "scheduled"
            and campaign.scheduled_at is not None
            and campaign.scheduled_at <= uow.now()
        ):
            report.snapshotted = _snapshot(uow, campaign, settings)
    report.queued = queue_pending(open_uow, campaign_id, settings)
    with open_uow() as uow:
        campaign = repository.by_id(uow.session, campaign_id)
        report.status = campaign.status if campaign is not None else "missing"
    return report


def _snapshot(uow: UnitOfWork, campaign: Campaign, settings: Settings) -> int:
    """Take the recipients as of now and plan them; the campaign moves to sending (or testing)."""
    now = uow.now()
    ab = bool(campaign.variants)
    target = "testing" if ab else "sending"
    if not repository.claim_status(
        uow.session, campaign.id, from_status="scheduled", to_status=target, now=now
    ):
        return 0
    found = audience.snapshot(uow, campaign.segment_ids, campaign.exclusion_segment_ids)
    start_at = max(now, campaign.scheduled_at or now)
    names = [str(v["name"]) for v in campaign.variants]
    held = {c for c in found.contact_ids if abtest.held_out(campaign.id, c, campaign.holdout_percent or 0.0)}
    groups: dict[int, str | None] = {}
    for contact_id in found.contact_ids:
        groups[contact_id] = (
            abtest.assign(campaign.id, contact_id, names, campaign.test_share or 0)
            if ab and contact_id not in held
            else None
        )
    first_wave = [c for c in found.contact_ids if c not in held and (not ab or groups[c] is not None)]
    planned, notes = _plan(uow, campaign, first_wave, start_at, settings)
    send_at = {p.contact_id: p.send_at for p in planned}
    rows = []
    for contact_id in found.contact_ids:
        variant = groups[contact_id]
        phase = PHASE_ALL if not ab else (PHASE_TEST if variant is not None else PHASE_REST)
        rows.append(
            {
                "campaign_id": campaign.id,
                "contact_id": contact_id,
                "variant": variant,
                "phase": PHASE_HOLDOUT if contact_id in held else phase,
                # Never pending: nothing ever queues a held-out recipient.
                "status": "held_out" if contact_id in held else "pending",
                "send_at": send_at.get(contact_id),
            }
        )
    repository.insert_recipients(uow.session, rows)
    uow.session.refresh(campaign)
    campaign.started_at = now
    campaign.updated_at = now
    snapshot: dict[str, Any] = {
        "taken_at": now.isoformat(),
        "recipients": len(rows),
        "held_out": len(held),
        **found.counts,
        **notes,
    }
    if ab:
        tested = [c for c in found.contact_ids if groups[c] is not None]
        snapshot["test_recipients"] = len(tested)
        snapshot["rest_recipients"] = len(rows) - len(tested)
        last_send = max((send_at[c] for c in tested), default=start_at)
        campaign.decide_at = last_send + timedelta(hours=campaign.test_wait_hours or 0)
    campaign.snapshot = snapshot
    log.info("campaign %s started: %d recipients", campaign.id, len(rows))
    return len(rows)


def queue_pending(open_uow: UnitOfWorkFactory, campaign_id: int, settings: Settings) -> int:
    """Queue the campaign's planned recipients, one batch per transaction; returns how many were queued."""
    total = 0
    while True:
        with open_uow() as uow:
            campaign = repository.by_id(uow.session, campaign_id, for_update=True)
            if campaign is None or campaign.status not in ("sending", "testing"):
                return total
            batch = repository.pending_batch(uow.session, campaign_id, settings.campaign_batch_size)
            if not batch:
                _finish_if_done(uow, campaign)
                return total
            _queue(uow, campaign, batch)
            total += len(batch)


def _message(
    campaign: Campaign, recipient: CampaignRecipient, variants: dict[str, dict[str, Any]]
) -> MessageIn:
    variant = variants.get(recipient.variant or "") if recipient.variant else None
    template = (variant or {}).get("template_name") or campaign.template_name
    extra: dict[str, Any] = {"campaign_id": campaign.id, "campaign": campaign.name}
    if variant is not None:
        extra["variant"] = variant["name"]
        if variant.get("subject_variant") is not None:
            extra["subject_variant"] = variant["subject_variant"]
    return MessageIn(
        contact_id=recipient.contact_id,
        template_name=str(template),
        idempotency_key=idempotency_key(campaign.id, recipient.contact_id),
        source_kind=SOURCE_KIND,
        source_id=f"{campaign.id}:{variant['name']}" if variant is not None else str(campaign.id),
        category="marketing",
        topic=campaign.topic,
        send_at=recipient.send_at,
        context={"message": extra},
    )


def _queue(uow: UnitOfWork, campaign: Campaign, batch: Sequence[CampaignRecipient]) -> None:
    """Queue one batch with one `enqueue_many`; a contact erased or merged since the snapshot is dropped."""
    variants = _variant_map(campaign)
    remaining = list(batch)
    while remaining:
        try:
            results = delivery.enqueue_many(uow, [_message(campaign, r, variants) for r in remaining])
        except NotFound as exc:
            # Nothing was written (delivery checks the whole batch first); drop the contact it names.
            gone = (
                _item_index(exc.field) if len(remaining) > 1 else (0 if exc.field == "contact_id" else None)
            )
            if gone is None:
                raise
            repository.drop(uow.session, remaining.pop(gone).id)
            continue
        repository.mark_queued(
            uow.session, [(r.id, q.public_id) for r, q in zip(remaining, results, strict=True)], uow.now()
        )
        return


def _item_index(field: str | None) -> int | None:
    """The index in 'items[3].contact_id', or None when the error is about something else."""
    if not field or not field.startswith("items[") or not field.endswith("].contact_id"):
        return None
    inside = field[len("items[") : -len("].contact_id")]
    return int(inside) if inside.isdecimal() else None


def _finish_if_done(uow: UnitOfWork, campaign: Campaign) -> None:
    """A sending campaign with nobody left to queue is sent (a testing one waits for its decision)."""
    if campaign.status != "sending":
        return
    now = uow.now()
    if repository.claim_status(uow.session, campaign.id, from_status="sending", to_status="sent", now=now):
        uow.session.refresh(campaign)
        campaign.finished_at = now


# --- the A/B decision ---------------------------------------------------------------------------------


def variant_outcomes(uow: UnitOfWork, campaign: Campaign, metric: str) -> list[abtest.VariantOutcome]:
    """What each variant's test recipients did since their message was queued."""
    recipients = repository.recipients_of(uow.session, campaign.id, phase=PHASE_TEST, status="queued")
    since = campaign.started_at or uow.now()
    states = outbox.message_states(
        uow.session, [r.outbox_public_id for r in recipients if r.outbox_public_id]
    )
    # Messages a guard skipped or that failed never reached anyone: they count for no variant.
    reached = [
        r
        for r in recipients
        if r.outbox_public_id and states.get(r.outbox_public_id) not in outbox.NOT_DELIVERED
    ]
    activity = audience.activity(
        uow.session,
        [(r.contact_id, str(r.outbox_public_id), r.send_at or since) for r in reached],
        since=since,
        until=uow.now(),
    )
    outcomes = []
    for v in campaign.variants:
        name = str(v["name"])
        mine = [r for r in reached if r.variant == name]
        if metric == abtest.REVENUE:
            revenues = tuple(
                activity.revenue[r.contact_id] for r in mine if activity.revenue.get(r.contact_id)
            )
            outcomes.append(abtest.VariantOutcome(name, len(mine), len(revenues), revenues))
            continue
        did = {
            abtest.OPENS: activity.openers,
            abtest.CLICKS: activity.clickers,
            abtest.ORDERS: set(activity.revenue),
        }[metric]
        outcomes.append(abtest.VariantOutcome(name, len(mine), sum(1 for r in mine if r.contact_id in did)))
    return outcomes


def decide(open_uow: UnitOfWorkFactory, campaign_id: int, settings: Settings) -> RunReport:
    """After the waiting period: pick the winner, record the decision, plan the rest, queue them."""
    report = RunReport(campaign_id=campaign_id, status="")
    with open_uow() as uow:
        campaign = repository.by_id(uow.session, campaign_id, for_update=True)
        if campaign is None:
            return report.model_copy(update={"status": "missing"})
        now = uow.now()
        if campaign.status == "testing" and campaign.decide_at is not None and campaign.decide_at <= now:
            metric = campaign.winner_metric or abtest.OPENS
            outcome = abtest.decide(
                variant_outcomes(uow, campaign, metric),
                metric,
                seed=campaign.id,
                threshold=settings.campaign_ab_threshold,
                min_sample=settings.campaign_ab_min_sample,
                draws=settings.campaign_ab_draws,
            )
            if repository.claim_status(
                uow.session, campaign.id, from_status="testing", to_status="sending", now=now
            ):
                uow.session.refresh(campaign)
                campaign.winner = outcome.winner
                campaign.decision = {**outcome.record, "decided_at": now.isoformat()}
                rest = repository.recipients_of(uow.session, campaign.id, phase=PHASE_REST, status="pending")
                planned, _notes = _plan(uow, campaign, [r.contact_id for r in rest], now, settings)
                repository.set_send_times(
                    uow.session,
                    campaign.id,
                    [
                        {"contact_id": p.contact_id, "variant": outcome.winner, "send_at": p.send_at}
                        for p in planned
                    ],
                )
                report.decided = True
                log.info("campaign %s: winner %s (%s)", campaign.id, outcome.winner, outcome.reason)
    report.queued = queue_pending(open_uow, campaign_id, settings)
    with open_uow() as uow:
        campaign = repository.by_id(uow.session, campaign_id)
        report.status = campaign.status if campaign is not None else "missing"
    return report
