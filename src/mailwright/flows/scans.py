"""Periodic triggers: dates in the contact's zone, segment conditions, lifecycle stage changes."""

from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailwright.contacts.models import Contact, ContactPrediction
from mailwright.core.uow import UnitOfWork
from mailwright.flows import conditions, repository
from mailwright.flows.engine import _zone
from mailwright.flows.models import Flow
from mailwright.flows.repository import LoadedFlow
from mailwright.flows.schemas import ConditionTrigger, DateTrigger, LifecycleTrigger
from mailwright.flows.triggers import Entry, StartReport, start_runs

# How often each kind of periodic trigger looks (a date trigger fires within this of its local time).
DATE_SCAN_EVERY = timedelta(minutes=15)
# Stages are recomputed once a day by the segments domain: a look every few hours is enough.
LIFECYCLE_SCAN_EVERY = timedelta(hours=3)
LIFECYCLE_EVENT = "Lifecycle Stage Changed"


def _anniversary(original: date, year: int) -> date:
    try:
        return original.replace(year=year)
    except ValueError:  # 29 February in a common year
        return date(year, 2, 28)


def _date_candidates(session: Session, trigger: DateTrigger) -> list[tuple[int, str | None, Any]]:
    if trigger.field == "birthday":
        stmt: Any = select(Contact.id, Contact.timezone, Contact.birthday).where(
            Contact.birthday.is_not(None)
        )
    elif trigger.field == "signup_anniversary":
        stmt = select(Contact.id, Contact.timezone, Contact.created_at)
    elif trigger.field == "predicted_next_order":
        stmt = (
            select(Contact.id, Contact.timezone, ContactPrediction.expected_next_order_at)
            .join(ContactPrediction, ContactPrediction.contact_id == Contact.id)
            .where(ContactPrediction.expected_next_order_at.is_not(None))
        )
    else:
        key = trigger.field.split(".", 1)[1]
        rows = session.execute(select(Contact.id, Contact.timezone, Contact.properties))
        return [(cid, tz, (props or {}).get(key)) for cid, tz, props in rows if (props or {}).get(key)]
    return [tuple(r) for r in session.execute(stmt.where(Contact.merged_into_id.is_(None)))]


def _as_date(value: Any, zone: Any) -> date | None:
    if isinstance(value, datetime):
        return value.astimezone(zone).date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def date_entries(session: Session, trigger: DateTrigger, now: datetime, default_zone: str) -> list[Entry]:
    """Contacts whose date (shifted by the offset) is today in their zone, once the local time is reached."""
    hour, minute = (int(p) for p in trigger.at.split(":"))
    entries: list[Entry] = []
    for contact_id, tz, raw in _date_candidates(session, trigger):
        zone = _zone(tz, default_zone)
        local = now.astimezone(zone)
        if local.time() < time(hour, minute):
            continue
        base = _as_date(raw, zone)
        if base is None:
            continue
        today = local.date()
        if trigger.field in ("birthday", "signup_anniversary"):
            # The occurrence whose shifted day is today (this year's or, near New Year, the next one's).
            target = None
            for year in (today.year - 1, today.year, today.year + 1):
                day = _anniversary(base, year) + timedelta(days=trigger.offset_days)
                if day == today:
                    target = _anniversary(base, year)
            if target is None or (trigger.field == "signup_anniversary" and target.year <= base.year):
                continue
        else:
            target = base
            if target + timedelta(days=trigger.offset_days) != today:
                continue
        entries.append(
            Entry(
                contact_id,
                f"date:{trigger.field}:{target.isoformat()}",
                {"name": "Date Reached", "properties": {"field": trigger.field, "date": target.isoformat()}},
            )
        )
    return entries


def _due(flow: Flow, every: timedelta, now: datetime) -> bool:
    return flow.last_scan_at is None or now - flow.last_scan_at >= every


def scan(
    uow: UnitOfWork,
    now: datetime,
    *,
    default_zone: str = "UTC",
    force: bool = False,
    flows: list[LoadedFlow] | None = None,
) -> dict[int, StartReport]:
    """Run the periodic triggers of every active flow that is due for a look; returns starts per flow."""
    session = uow.session
    reports: dict[int, StartReport] = {}
    for loaded in repository.active_flows(session) if flows is None else flows:
        trigger = loaded.definition.trigger
        if not isinstance(trigger, DateTrigger | ConditionTrigger | LifecycleTrigger):
            continue
        flow = session.get(Flow, loaded.id)
        assert flow is not None
        if isinstance(trigger, DateTrigger):
            every = DATE_SCAN_EVERY
        elif isinstance(trigger, ConditionTrigger):
            every = timedelta(hours=trigger.every_hours)
        else:
            every = LIFECYCLE_SCAN_EVERY
        if not force and not _due(flow, every, now):
            continue
        first_scan = flow.last_scan_at is None
        flow.last_scan_at = now
        if isinstance(trigger, DateTrigger):
            entries = date_entries(session, trigger, now, default_zone)
        elif isinstance(trigger, ConditionTrigger):
            members = conditions.segment_all(session, trigger.condition, now)
            entries = [
                Entry(cid, f"condition:{now.date().isoformat()}", {"name": "Condition Met", "properties": {}})
                for cid in sorted(members)
            ]
        else:
            entries = lifecycle_entries(session, loaded, trigger, now, baseline=first_scan)
        if entries:
            reports[loaded.id] = start_runs(uow, loaded, entries, now)
    return reports


def lifecycle_entries(
    session: Session, flow: LoadedFlow, trigger: LifecycleTrigger, now: datetime, *, baseline: bool
) -> list[Entry]:
    """Contacts whose lifecycle stage changed since the last look (the first look only records stages)."""
    seen = repository.marks(session, flow.id)
    current = {
        int(cid): stage
        for cid, stage in session.execute(
            select(Contact.id, Contact.lifecycle_stage).where(
                Contact.lifecycle_stage.is_not(None), Contact.merged_into_id.is_(None)
            )
        )
    }
    changed = {cid: stage for cid, stage in current.items() if cid in seen and seen[cid] != stage}
    fresh = {cid: stage for cid, stage in current.items() if cid not in seen}
    repository.write_marks(session, flow.id, changed, now, new=False)
    repository.write_marks(session, flow.id, fresh, now, new=True)
    if baseline:
        return []
    # A contact first seen with a stage after the baseline is a change from "no stage" (a first order).
    moves = {
        **{cid: (None, s) for cid, s in fresh.items()},
        **{cid: (seen[cid], s) for cid, s in changed.items()},
    }
    return [
        Entry(
            cid,
            f"stage:{stage}:{now.date().isoformat()}",
            {"name": LIFECYCLE_EVENT, "properties": {"stage": stage, "previous_stage": before}},
        )
        for cid, (before, stage) in sorted(moves.items())
        if stage in trigger.stages
    ]
