"""Definition tree -> one SQLAlchemy Core SELECT of live contact ids, the same on SQLite and PostgreSQL.

Every leaf is either a predicate on the contact row or `contacts.id IN (subquery)` over events, orders,
predictions or memberships (set-based, so a full recompute is a handful of scans, not a loop per contact).
When only some contacts are re-evaluated, each subquery is restricted to them too, so it reads only their
rows through the (contact_id, ...) indexes. NULL never leaks into NOT: a negated condition is made
two-valued first, so "not in GB" includes contacts whose country is unknown.
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    bindparam,
    false,
    func,
    literal_column,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.dialects import postgresql, sqlite

from mailwright.catalog.models import Product
from mailwright.contacts.models import Contact, ContactPrediction, Suppression
from mailwright.core.db import UtcDateTime, table_of
from mailwright.events import vocabulary as v
from mailwright.events.models import Event
from mailwright.orders.models import Order, OrderLine
from mailwright.segments.dialects import DIALECTS, SqlDialect
from mailwright.segments.models import SegmentMembership
from mailwright.segments.schemas import (
    AndNode,
    ConsentCondition,
    EngagementCondition,
    EventTimeCondition,
    LifecycleCondition,
    LocationCondition,
    MembershipCondition,
    NotNode,
    NotPerformedSinceCondition,
    OrderedCondition,
    OrNode,
    PerformedCondition,
    PropertyCondition,
    PropertyFilter,
    PurchaseCondition,
    RandomBucketCondition,
    RfmCondition,
    SegmentDefinition,
    SuppressionCondition,
    Window,
    parse_date_value,
)
from mailwright.segments.validation import resolve_field

C = table_of(Contact)
E = table_of(Event)
P = table_of(ContactPrediction)
M = table_of(SegmentMembership)
O = table_of(Order)  # noqa: E741
L = table_of(OrderLine)
PR = table_of(Product)
S = table_of(Suppression)

# Operators that are the negation of another: compiled as NOT(positive), two-valued.
NEGATIONS = {"ne": "eq", "not_in": "in", "not_contains": "contains", "is_not_set": "is_set"}
# Orders that count as purchases.
_LIVE_ORDER = O.c.status.not_in(["cancelled", "refunded"])
# The random bucket: the contact id shifted by the seed, multiplied (mod 2^31 - 1), then squared (mod a
# prime below 2^32): squaring makes different seeds independent, and every intermediate product fits in a
# signed 64-bit integer on both engines.
_BUCKET_SEED, _BUCKET_A, _BUCKET_P, _BUCKET_Q = 7919, 2654435761, 2147483647, 4294967291


@dataclass(frozen=True)
class Context:
    """What a compilation depends on besides the tree: the engine, the time, the contacts to evaluate."""

    dialect: SqlDialect
    now: datetime
    contact_ids: Sequence[int] | None = None
    # Contacts a subquery may limit itself to: a superset of those the enclosing AND can select.
    candidates: Select[Any] | None = None


def compile_segment(
    definition: SegmentDefinition,
    *,
    dialect: str,
    now: datetime,
    contact_ids: Sequence[int] | None = None,
) -> Select[tuple[int]]:
    """The one entry point: the ids of live contacts matching a definition at `now` (optionally some only)."""
    ctx = Context(DIALECTS[dialect], now, list(contact_ids) if contact_ids is not None else None)
    stmt = select(C.c.id).where(C.c.merged_into_id.is_(None), _node(definition.root, ctx))
    if ctx.contact_ids is not None:
        stmt = stmt.where(C.c.id.in_(ctx.contact_ids))
    return stmt


def sql_text(stmt: Select[Any], dialect: str) -> str:
    """The SQL a statement becomes on an engine (for snapshots and for reading)."""
    engine_dialect = postgresql.dialect() if dialect == "postgresql" else sqlite.dialect()  # type: ignore[no-untyped-call]
    return str(stmt.compile(dialect=engine_dialect))


_COMPARISONS = {
    "eq": "__eq__",
    "ne": "__ne__",
    "gt": "__gt__",
    "gte": "__ge__",
    "lt": "__lt__",
    "lte": "__le__",
}


def _compare(left: Any, operator: str, right: Any) -> ColumnElement[bool]:
    """`left <op> right` for eq, ne, gt, gte, lt, lte."""
    result: ColumnElement[bool] = getattr(left, _COMPARISONS[operator])(right)
    return result


def _two_valued(expr: ColumnElement[bool]) -> ColumnElement[bool]:
    return func.coalesce(expr, false())


def _not(expr: ColumnElement[bool]) -> ColumnElement[bool]:
    return not_(_two_valued(expr))


def _node(node: Any, ctx: Context) -> ColumnElement[bool]:
    if isinstance(node, AndNode):
        return _and(node, ctx)
    if isinstance(node, OrNode):
        return _or(node, ctx)
    if isinstance(node, NotNode):
        return _not(_node(node.condition, ctx))
    handler = _LEAVES.get(type(node))
    if handler is None:
        raise TypeError(f"no compiler for {type(node).__name__}")
    result: ColumnElement[bool] = handler(node, ctx)
    return result


# Conditions read from the contact row alone (or an uncorrelated scalar): cheap to test for everyone.
_ROW_CONDITIONS = (
    ConsentCondition,
    LocationCondition,
    RfmCondition,
    LifecycleCondition,
    PurchaseCondition,
    RandomBucketCondition,
)


def _is_row_condition(node: Any) -> bool:
    if isinstance(node, PropertyCondition):
        ref = resolve_field(node.field)
        return ref is not None and ref.source != "prediction"
    return isinstance(node, _ROW_CONDITIONS)


def _is_anchor(node: Any) -> bool:
    """An event condition that selects few contacts from a time range of the events index."""
    if isinstance(node, EngagementCondition):
        return True
    return (
        isinstance(node, PerformedCondition)
        and node.operator == "at_least"
        and node.window is not None
        and (
            node.window.last_days is not None
            or node.window.last_hours is not None
            or node.window.after is not None
        )
    )


def _and(node: AndNode, ctx: Context) -> ColumnElement[bool]:
    """AND, with the other conditions' subqueries limited to contacts the cheap ones already admit.

    Safe because a contact outside the candidates fails the AND anyway, and for one inside, `id IN
    (subquery limited to candidates)` answers as the unlimited subquery would, under NOT and OR too.
    It turns "subscribed for 180 days and no open since" from a scan of every open into a look-up per
    subscriber, and "no order since the last cart" into a look-up per recent cart.
    """
    rows = [n for n in node.conditions if _is_row_condition(n)]
    anchor = next((n for n in node.conditions if _is_anchor(n)), None)
    rest = [n for n in node.conditions if n not in rows and n is not anchor]
    if not rest or (not rows and anchor is None):
        return and_(*[_node(n, ctx) for n in node.conditions])
    row_parts = [_node(n, ctx) for n in rows]
    live = C.c.merged_into_id.is_(None)
    anchor_ctx = replace(ctx, candidates=select(C.c.id).where(live, *row_parts)) if row_parts else ctx
    anchor_part = [_node(anchor, anchor_ctx)] if anchor is not None else []
    rest_ctx = replace(ctx, candidates=select(C.c.id).where(live, *row_parts, *anchor_part))
    return and_(*row_parts, *anchor_part, *[_node(n, rest_ctx) for n in rest])


# --- helpers -------------------------------------------------------------------------------------


def _names(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _stamp(value: datetime) -> Any:
    return bindparam(None, value, type_=UtcDateTime())


def _restrict(stmt: Select[Any], column: Any, ctx: Context) -> Select[Any]:
    if ctx.contact_ids is not None:
        stmt = stmt.where(column.in_(ctx.contact_ids))
    if ctx.candidates is not None:
        stmt = stmt.where(column.in_(ctx.candidates))
    return stmt


def _events(names: list[str], ctx: Context) -> Select[Any]:
    stmt = select(E.c.contact_id).where(E.c.name.in_(names) if len(names) > 1 else E.c.name == names[0])
    return _restrict(stmt, E.c.contact_id, ctx)


def _window(stmt: Select[Any], window: Window | None, ctx: Context) -> Select[Any]:
    if window is None:
        return stmt
    if window.last_days is not None:
        stmt = stmt.where(E.c.occurred_at >= _stamp(ctx.now - timedelta(days=window.last_days)))
    if window.last_hours is not None:
        stmt = stmt.where(E.c.occurred_at >= _stamp(ctx.now - timedelta(hours=window.last_hours)))
    if window.until_hours_ago is not None:
        stmt = stmt.where(E.c.occurred_at <= _stamp(ctx.now - timedelta(hours=window.until_hours_ago)))
    if window.after is not None:
        stmt = stmt.where(E.c.occurred_at >= _stamp(_aware(window.after)))
    if window.before is not None:
        stmt = stmt.where(E.c.occurred_at < _stamp(_aware(window.before)))
    return stmt


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _time_bounds(operator: str, value: Any, now: datetime) -> tuple[datetime | None, datetime | None]:
    """[lower, upper) in time for the relative and absolute time operators."""
    if operator == "in_last_days":
        return now - timedelta(days=value), now
    if operator == "more_than_days_ago":
        return None, now - timedelta(days=value)
    if operator == "in_next_days":
        return now, now + timedelta(days=value)
    if operator == "in_last_hours":
        return now - timedelta(hours=value), now
    if operator == "more_than_hours_ago":
        return None, now - timedelta(hours=value)
    parsed = parse_date_value(value)
    moment = (
        datetime(parsed.year, parsed.month, parsed.day, tzinfo=UTC)
        if isinstance(parsed, date) and not isinstance(parsed, datetime)
        else parsed
    )
    assert isinstance(moment, datetime)
    moment = _aware(moment)
    return (moment, None) if operator == "after" else (None, moment)


def _month_days(now: datetime, days: int) -> list[str]:
    """'MM-DD' of every day from today to `days` ahead; 02-29 rides along with 02-28 in common years."""
    found: list[str] = []
    for i in range(days + 1):
        day = (now + timedelta(days=i)).date()
        found.append(day.strftime("%m-%d"))
        if day.month == 2 and day.day == 28 and (day + timedelta(days=1)).month == 3:
            found.append("02-29")
    return sorted(set(found))


def _anniversary(
    month_day: ColumnElement[str], operator: str, value: Any, now: datetime
) -> ColumnElement[bool]:
    if operator == "anniversary_this_month":
        return func.substr(month_day, 1, 2) == now.strftime("%m")
    return month_day.in_(_month_days(now, int(value)))


# --- profile properties ----------------------------------------------------------------------------


def _column_predicate(column: Any, kind: str, operator: str, value: Any, ctx: Context) -> ColumnElement[bool]:
    """A positive operator on a typed column."""
    if operator == "is_set":
        return column.is_not(None)  # type: ignore[no-any-return]
    if operator == "eq":
        return column == value  # type: ignore[no-any-return]
    if operator == "in":
        return column.in_(value)  # type: ignore[no-any-return]
    if operator == "contains":
        return func.lower(column).contains(value.lower(), autoescape=True)
    if operator in ("gt", "gte", "lt", "lte"):
        return _compare(column, operator, value)
    if operator.startswith("anniversary"):
        return _anniversary(ctx.dialect.month_day(column, is_date=kind == "date"), operator, value, ctx.now)
    lower, upper = _time_bounds(operator, value, ctx.now)
    parts = []
    if kind == "date":
        if lower is not None:
            parts.append(column >= lower.date())
        if upper is not None:
            parts.append(column <= upper.date() if operator != "before" else column < upper.date())
    else:
        if lower is not None:
            parts.append(column >= _stamp(lower))
        if upper is not None:
            parts.append(
                column < _stamp(upper)
                if operator in ("before", "more_than_days_ago", "more_than_hours_ago")
                else column <= _stamp(upper)
            )
    return and_(*parts)


def _json_equals(doc: Any, key: str, value: Any, d: SqlDialect) -> ColumnElement[bool]:
    if isinstance(value, bool):
        return d.json_type_is(doc, key, ("true",) if value else ("false",))
    if isinstance(value, int | float):
        return d.json_number(doc, key) == value
    return and_(d.json_type_is(doc, key, ("string",)), d.json_text(doc, key) == value)


def _iso(moment: datetime) -> str:
    return _aware(moment).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _json_predicate(doc: Any, key: str, operator: str, value: Any, ctx: Context) -> ColumnElement[bool]:
    """A positive operator on a key of a JSON document (custom properties, event properties)."""
    d = ctx.dialect
    if operator == "is_set":
        return d.json_is_set(doc, key)
    if operator == "eq":
        return _json_equals(doc, key, value, d)
    if operator == "in":
        return or_(*[_json_equals(doc, key, item, d) for item in value])
    if operator == "contains":
        text = d.json_text(doc, key)
        return or_(
            and_(
                d.json_type_is(doc, key, ("string",)),
                func.lower(text).contains(value.lower(), autoescape=True),
            ),
            d.json_array_has(doc, key, value),
        )
    number = d.json_number(doc, key)
    if operator in ("gt", "gte", "lt", "lte"):
        return _compare(number, operator, value)
    # Times in JSON are ISO strings, compared as text to the second in UTC ('T' or ' ' between date and time).
    is_text = d.json_type_is(doc, key, ("string",))
    text = d.json_text(doc, key)
    if operator.startswith("anniversary"):
        return and_(is_text, _anniversary(d.month_day(text, is_text=True), operator, value, ctx.now))
    stamp = func.replace(func.substr(text, 1, 19), " ", "T")
    lower, upper = _time_bounds(operator, value, ctx.now)
    parts: list[ColumnElement[bool]] = [is_text]
    if lower is not None:
        parts.append(stamp >= _iso(lower))
    if upper is not None:
        parts.append(stamp < _iso(upper))
    return and_(*parts)


def _property(node: PropertyCondition, ctx: Context) -> ColumnElement[bool]:
    ref = resolve_field(node.field)
    assert ref is not None  # validation refused unknown fields
    operator = NEGATIONS.get(node.operator, node.operator)
    if ref.source == "contact":
        positive = _column_predicate(C.c[ref.name], ref.kind, operator, node.value, ctx)
    elif ref.source == "prediction":
        inner = select(P.c.contact_id).where(
            _column_predicate(P.c[ref.name], ref.kind, operator, node.value, ctx)
        )
        positive = C.c.id.in_(_restrict(inner, P.c.contact_id, ctx))
    else:
        positive = _json_predicate(C.c.properties, ref.name, operator, node.value, ctx)
    return _not(positive) if node.operator in NEGATIONS else positive


# --- events ---------------------------------------------------------------------------------------


def _filter(item: PropertyFilter, ctx: Context) -> ColumnElement[bool]:
    operator = NEGATIONS.get(item.operator, item.operator)
    if item.property.startswith("products[]."):
        key = item.property[len("products[].") :]
        items, element = ctx.dialect.json_array_any(E.c.properties, "products")
        inner = _json_predicate(element, key, operator, item.value, ctx)
        positive: ColumnElement[bool] = select(literal_column("1")).select_from(items).where(inner).exists()
    else:
        positive = _json_predicate(E.c.properties, item.property, operator, item.value, ctx)
    return _not(positive) if item.operator in NEGATIONS else positive


def _with_filters(stmt: Select[Any], filters: list[PropertyFilter], ctx: Context) -> Select[Any]:
    for item in filters:
        stmt = stmt.where(_filter(item, ctx))
    return stmt


def _once(node: PerformedCondition) -> bool:
    return node.operator == "at_least" and node.count <= 1


def _or(node: OrNode, ctx: Context) -> ColumnElement[bool]:
    """OR; "did X (where A)" or "did X (where B)" in the same window is one pass: "did X where A or B"."""
    groups: dict[tuple[Any, ...], list[PerformedCondition]] = {}
    others: list[ColumnElement[bool]] = []
    for child in node.conditions:
        if isinstance(child, PerformedCondition) and _once(child):
            key = (tuple(sorted(_names(child.event))), child.window)
            groups.setdefault(key, []).append(child)
        else:
            others.append(_node(child, ctx))
    for group in groups.values():
        if len(group) == 1:
            others.append(_performed(group[0], ctx))
            continue
        first = group[0]
        stmt = _window(_events(_names(first.event), ctx), first.window, ctx)
        either = [and_(true(), *[_filter(item, ctx) for item in child.where]) for child in group]
        others.append(C.c.id.in_(stmt.where(or_(*either))))
    return or_(*others)


def _performed(node: PerformedCondition, ctx: Context) -> ColumnElement[bool]:
    stmt = _with_filters(_window(_events(_names(node.event), ctx), node.window, ctx), node.where, ctx)
    n = node.count
    if node.operator == "at_least":
        if n <= 1:
            return C.c.id.in_(stmt)
        return C.c.id.in_(stmt.group_by(E.c.contact_id).having(func.count() >= n))
    if n == 0:  # at most 0 / exactly 0: never did
        return C.c.id.not_in(stmt)
    if node.operator == "at_most":
        return C.c.id.not_in(stmt.group_by(E.c.contact_id).having(func.count() > n))
    return C.c.id.in_(stmt.group_by(E.c.contact_id).having(func.count() == n))


def _event_time(node: EventTimeCondition, ctx: Context) -> ColumnElement[bool]:
    stmt = _with_filters(_events(_names(node.event), ctx), node.where, ctx)
    moment = (func.min if node.which == "first" else func.max)(E.c.occurred_at, type_=UtcDateTime())
    lower, upper = _time_bounds(node.operator, node.value, ctx.now)
    having = []
    if lower is not None:
        having.append(moment >= _stamp(lower))
    if upper is not None:
        having.append(
            moment < _stamp(upper)
            if node.operator != "in_last_days" and node.operator != "in_last_hours"
            else moment <= _stamp(upper)
        )
    return C.c.id.in_(stmt.group_by(E.c.contact_id).having(and_(*having)))


def _not_performed_since(node: NotPerformedSinceCondition, ctx: Context) -> ColumnElement[bool]:
    last = (
        _events(_names(node.since), ctx)
        .add_columns(func.max(E.c.occurred_at, type_=UtcDateTime()).label("last_at"))
        .group_by(E.c.contact_id)
        .subquery("since_last")
    )
    later = E.alias("later")
    names = _names(node.event)
    after: Select[Any] = (
        select(literal_column("1"))
        .select_from(later)
        .where(
            later.c.contact_id == last.c.contact_id,
            later.c.name.in_(names),
            later.c.occurred_at > last.c.last_at,
        )
    )
    # Limited like the other subqueries, so PostgreSQL does not hash every order of the shop to answer it.
    after = _restrict(after, later.c.contact_id, ctx)
    return C.c.id.in_(select(last.c.contact_id).where(not_(after.exists())))


def _engagement(node: EngagementCondition, ctx: Context) -> ColumnElement[bool]:
    names = {
        "opened": [v.EMAIL_OPENED],
        "clicked": [v.EMAIL_CLICKED],
        "opened_or_clicked": [v.EMAIL_CLICKED, v.EMAIL_OPENED],
    }[node.action]
    stmt = _window(_events(names, ctx), Window(last_days=node.within_days), ctx)
    d = ctx.dialect
    if node.message_id is not None:
        stmt = stmt.where(_json_equals(E.c.properties, "message_id", node.message_id, d))
    if node.template is not None:
        stmt = stmt.where(_json_equals(E.c.properties, "template", node.template, d))
    if node.ignore_machine_opens and node.action != "clicked":
        human = _not(d.json_type_is(E.c.properties, "machine_open", ("true",)))
        stmt = stmt.where(or_(E.c.name != v.EMAIL_OPENED, human) if len(names) > 1 else human)
    return C.c.id.in_(stmt)


# --- profile, purchases, memberships -----------------------------------------------------------------


def _consent(node: ConsentCondition, ctx: Context) -> ColumnElement[bool]:
    return C.c.consent_status.in_(node.statuses)


def _suppressed(node: SuppressionCondition, ctx: Context) -> ColumnElement[bool]:
    on_list = ctx.dialect.sha256_hex(C.c.email).in_(select(S.c.email_hash))
    return on_list if node.suppressed else _not(on_list)


def _revenue_threshold(percent: float) -> Any:
    """The revenue of the customer at the top `percent` % boundary, computed by the query itself."""
    customers = select(C.c.revenue_minor).where(C.c.merged_into_id.is_(None), C.c.revenue_minor > 0)
    # ceil(n * percent / 100) - 1 in integers: the rank of the last customer inside the top share.
    # Integer floor division on both engines (a true division would round, not floor, when PostgreSQL casts).
    rank = select((func.count() * int(percent * 100) + 9999) // 10000 - 1).select_from(
        customers.subquery("ranked")
    )
    return (
        customers.order_by(C.c.revenue_minor.desc()).limit(1).offset(rank.scalar_subquery()).scalar_subquery()
    )


def _purchase(node: PurchaseCondition, ctx: Context) -> ColumnElement[bool]:
    value = node.value
    if node.operator == "top_percent":
        if node.metric != "revenue_minor":
            raise ValueError("top_percent applies to revenue_minor")
        return and_(C.c.revenue_minor > 0, C.c.revenue_minor >= _revenue_threshold(value))
    if node.metric in ("days_since_last_order", "days_since_first_order"):
        column = C.c.last_order_at if node.metric == "days_since_last_order" else C.c.first_order_at
        # "days since" > N  <=>  the order is older than now - N days.
        older = {"gt": "lt", "gte": "lte", "lt": "gt", "lte": "gte", "eq": "eq", "ne": "ne"}[node.operator]
        moment = _stamp(ctx.now - timedelta(days=value))
        if older == "eq":
            day = _stamp(ctx.now - timedelta(days=value + 1))
            return and_(column > day, column <= moment)
        if older == "ne":
            return _not(and_(column > _stamp(ctx.now - timedelta(days=value + 1)), column <= moment))
        return _compare(column, older, moment)
    return _compare(C.c[node.metric], node.operator, value)


def _ordered(node: OrderedCondition, ctx: Context) -> ColumnElement[bool]:
    stmt = select(O.c.contact_id).select_from(O.join(L, L.c.order_id == O.c.id)).where(_LIVE_ORDER)
    stmt = _restrict(stmt, O.c.contact_id, ctx)
    if node.product_id is not None:
        stmt = stmt.where(L.c.product_external_id == node.product_id)
    else:
        assert node.category is not None
        in_catalog = select(PR.c.external_id).where(
            ctx.dialect.array_column_has(PR.c.categories, node.category)
        )
        stmt = stmt.where(or_(L.c.category == node.category, L.c.product_external_id.in_(in_catalog)))
    if node.within_days is not None:
        stmt = stmt.where(O.c.placed_at >= _stamp(ctx.now - timedelta(days=node.within_days)))
    if node.min_orders > 1:
        stmt = stmt.group_by(O.c.contact_id).having(func.count(O.c.id.distinct()) >= node.min_orders)
    return C.c.id.in_(stmt)


def _location(node: LocationCondition, ctx: Context) -> ColumnElement[bool]:
    if node.field == "country":
        positive = C.c.country.in_([value.upper() for value in node.values])
    else:
        positive = func.lower(C.c.city).in_([value.lower() for value in node.values])
    return positive if node.operator == "in" else _not(positive)


def _rfm(node: RfmCondition, ctx: Context) -> ColumnElement[bool]:
    return C.c.rfm_segment.in_(node.segments)


def _lifecycle(node: LifecycleCondition, ctx: Context) -> ColumnElement[bool]:
    return C.c.lifecycle_stage.in_(node.stages)


def _membership(node: MembershipCondition, ctx: Context) -> ColumnElement[bool]:
    members = _restrict(select(M.c.contact_id).where(M.c.segment_id == node.segment_id), M.c.contact_id, ctx)
    return C.c.id.in_(members) if node.member else C.c.id.not_in(members)


def bucket_expression(contact_id: Any, seed: int) -> ColumnElement[int]:
    """A contact's stable bucket 0-99 for a seed, in integer arithmetic both engines do alike."""
    shifted = contact_id + literal_column(str(seed * _BUCKET_SEED))
    mixed = (shifted * literal_column(str(_BUCKET_A))) % literal_column(str(_BUCKET_P))
    return (mixed * mixed) % literal_column(str(_BUCKET_Q)) % literal_column("100")  # type: ignore[no-any-return]


def bucket_of(contact_id: int, seed: int) -> int:
    """The same bucket computed in Python (tests and explanations)."""
    mixed = ((contact_id + seed * _BUCKET_SEED) * _BUCKET_A) % _BUCKET_P
    return (mixed * mixed) % _BUCKET_Q % 100


def _random(node: RandomBucketCondition, ctx: Context) -> ColumnElement[bool]:
    bucket = bucket_expression(C.c.id, node.seed)
    return and_(bucket >= node.from_pct, bucket < node.to_pct)


_LEAVES: dict[type, Any] = {
    PropertyCondition: _property,
    ConsentCondition: _consent,
    SuppressionCondition: _suppressed,
    PerformedCondition: _performed,
    NotPerformedSinceCondition: _not_performed_since,
    EventTimeCondition: _event_time,
    EngagementCondition: _engagement,
    PurchaseCondition: _purchase,
    OrderedCondition: _ordered,
    LocationCondition: _location,
    RfmCondition: _rfm,
    LifecycleCondition: _lifecycle,
    MembershipCondition: _membership,
    RandomBucketCondition: _random,
}
