"""Conditions for a batch of runs at once: segment trees (through the segments compiler), flow-only tests.

Every function takes many contacts and answers with one query, so the engine's cost per batch is a few
statements, not a round trip per run.
"""

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailwright.core.db import in_values
from mailwright.events.models import Event
from mailwright.flows.schemas import (
    OrderedSinceStart,
    PerformedSinceStart,
    SegmentCondition,
    TriggerPropertyCondition,
)
from mailwright.orders.models import Order
from mailwright.segments.compiler import compile_segment
from mailwright.segments.schemas import Node as SegmentNode
from mailwright.segments.schemas import PropertyFilter, SegmentDefinition

_NOT_COUNTED = ("cancelled", "refunded")


def segment_matches(session: Session, tree: Any, contact_ids: Sequence[int], now: datetime) -> set[int]:
    """The contacts among `contact_ids` for which a segment condition tree holds at `now`."""
    if not contact_ids:
        return set()
    definition = SegmentDefinition(root=tree)
    dialect = session.get_bind().dialect.name
    stmt = compile_segment(definition, dialect=dialect, now=now, contact_ids=list(contact_ids))
    found: list[Any] = list(session.scalars(stmt))
    return {int(cid) for cid in found}


def segment_all(session: Session, tree: SegmentNode, now: datetime) -> set[int]:
    """Every live contact for which a segment condition tree holds at `now`."""
    dialect = session.get_bind().dialect.name
    stmt = compile_segment(SegmentDefinition(root=tree), dialect=dialect, now=now)
    found: list[Any] = list(session.scalars(stmt))
    return {int(cid) for cid in found}


def ordered_since(session: Session, since: dict[int, datetime], now: datetime) -> dict[int, datetime]:
    """Contacts that placed a standing order after their `since` moment: their latest such order's time."""
    if not since:
        return {}
    earliest = min(since.values())
    rows = session.execute(
        select(Order.contact_id, Order.placed_at).where(
            in_values(session, Order.contact_id, list(since)),
            Order.placed_at > earliest,
            Order.placed_at <= now,
            Order.status.not_in(_NOT_COUNTED),
        )
    )
    latest: dict[int, datetime] = {}
    for cid, placed in rows:
        if cid is not None and placed > since[cid] and (cid not in latest or placed > latest[cid]):
            latest[cid] = placed
    return latest


def performed_since(
    session: Session,
    since: dict[int, datetime],
    names: Sequence[str],
    where: Sequence[PropertyFilter],
    now: datetime,
) -> dict[int, datetime]:
    """Contacts with one of these events (matching `where`) after their `since` moment: the latest time."""
    if not since:
        return {}
    earliest = min(since.values())
    rows = session.execute(
        select(Event.contact_id, Event.occurred_at, Event.properties).where(
            in_values(session, Event.contact_id, list(since)),
            in_values(session, Event.name, list(names)),
            Event.occurred_at > earliest,
            Event.occurred_at <= now,
        )
    )
    latest: dict[int, datetime] = {}
    for cid, at, props in rows:
        if cid is None or at <= since[cid] or not matches(props or {}, where):
            continue
        if cid not in latest or at > latest[cid]:
            latest[cid] = at
    return latest


def evaluate(
    session: Session,
    condition: Any,
    runs: Sequence[tuple[int, int, datetime, dict[str, Any]]],
    now: datetime,
) -> set[int]:
    """The run ids (of (run id, contact id, started at, trigger) tuples) for which a flow condition holds."""
    if isinstance(condition, OrderedSinceStart):
        hit = ordered_since(session, _earliest_start(runs), now)
        return {r for r, c, started, _ in runs if c in hit and hit[c] > started}
    if isinstance(condition, PerformedSinceStart):
        names = [condition.event] if isinstance(condition.event, str) else list(condition.event)
        hit = performed_since(session, _earliest_start(runs), names, condition.where, now)
        return {r for r, c, started, _ in runs if c in hit and hit[c] > started}
    if isinstance(condition, TriggerPropertyCondition):
        return {
            r for r, _, _, trigger in runs if matches(trigger.get("properties") or {}, [condition.filter])
        }
    if isinstance(condition, SegmentCondition):
        members = segment_matches(session, condition.condition, sorted({c for _, c, _, _ in runs}), now)
        return {r for r, c, _, _ in runs if c in members}
    raise TypeError(f"unknown flow condition {type(condition).__name__}")


def _earliest_start(runs: Iterable[tuple[int, int, datetime, dict[str, Any]]]) -> dict[int, datetime]:
    # One contact may have several runs in the batch (of different flows): query from the earliest start,
    # then compare each run's own start with the latest hit.
    since: dict[int, datetime] = {}
    for _, contact_id, started, _ in runs:
        if contact_id not in since or started < since[contact_id]:
            since[contact_id] = started
    return since


# ---- property filters on event properties ----------------------------------------------------------


def _values(doc: Any, path: str) -> list[Any]:
    parts = path.split(".")
    current: list[Any] = [doc]
    for part in parts:
        spread = part.endswith("[]")
        key = part[:-2] if spread else part
        found: list[Any] = []
        for item in current:
            if isinstance(item, dict) and key in item:
                value = item[key]
                if spread and isinstance(value, list):
                    found.extend(value)
                else:
                    found.append(value)
        current = found
    return current


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _compare(actual: Any, operator: str, expected: Any) -> bool:
    if operator == "eq":
        return bool(
            actual == expected or (_number(actual) is not None and _number(actual) == _number(expected))
        )
    if operator == "in":
        return isinstance(expected, list) and any(_compare(actual, "eq", e) for e in expected)
    if operator == "contains":
        if isinstance(actual, list):
            return expected in actual
        return isinstance(actual, str) and str(expected).lower() in actual.lower()
    if operator in ("gt", "gte", "lt", "lte"):
        a, b = _number(actual), _number(expected)
        if a is None or b is None:
            return False
        return {"gt": a > b, "gte": a >= b, "lt": a < b, "lte": a <= b}[operator]
    return False


_NEGATIONS = {"ne": "eq", "not_in": "in", "not_contains": "contains", "is_not_set": "is_set"}


def matches(properties: dict[str, Any], where: Sequence[PropertyFilter]) -> bool:
    """Whether event properties pass every filter (`products[].category` looks inside the array)."""
    for item in where:
        values = [v for v in _values(properties, item.property) if v is not None]
        operator = item.operator
        negate = operator in _NEGATIONS
        positive = _NEGATIONS.get(operator, operator)
        hit = bool(values) if positive == "is_set" else any(_compare(v, positive, item.value) for v in values)
        if hit == negate:
            return False
    return True
