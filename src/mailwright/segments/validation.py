"""Checks a definition beyond its shape: known fields, operators that fit them, values that fit operators."""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal, get_args

from pydantic import ValidationError

from mailwright.core.errors import InvalidInput
from mailwright.segments.schemas import (
    AndNode,
    EventTimeCondition,
    LocationCondition,
    MembershipCondition,
    NotNode,
    NotPerformedSinceCondition,
    OrderedCondition,
    OrNode,
    PerformedCondition,
    PropertyCondition,
    PropertyFilter,
    RandomBucketCondition,
    RelativeOperator,
    SegmentDefinition,
    first_error,
    parse_date_value,
)

Kind = Literal["string", "number", "datetime", "date", "json"]

# Profile columns a condition may name, by kind.
CONTACT_FIELDS: dict[str, Kind] = {
    "email": "string",
    "external_id": "string",
    "first_name": "string",
    "last_name": "string",
    "phone": "string",
    "locale": "string",
    "timezone": "string",
    "country": "string",
    "city": "string",
    "currency": "string",
    "birthday": "date",
    "signup_source": "string",
    "consent_status": "string",
    "consent_updated_at": "datetime",
    "consent_source": "string",
    "marketing_paused_until": "datetime",
    "order_count": "number",
    "revenue_minor": "number",
    "average_order_value_minor": "number",
    "first_order_at": "datetime",
    "last_order_at": "datetime",
    "last_site_activity_at": "datetime",
    "last_open_at": "datetime",
    "last_click_at": "datetime",
    "last_event_at": "datetime",
    "rfm_recency": "number",
    "rfm_frequency": "number",
    "rfm_monetary": "number",
    "rfm_segment": "string",
    "lifecycle_stage": "string",
    "created_at": "datetime",
}
# Scores from the contact_predictions table, named `predictions.<figure>`.
PREDICTION_FIELDS: dict[str, Kind] = {
    "churn_risk": "number",
    "predicted_revenue_minor": "number",
    "predicted_orders": "number",
    "clv_minor": "number",
    "p_alive": "number",
    "expected_next_order_at": "datetime",
}
CUSTOM_PREFIX = "properties."
PREDICTION_PREFIX = "predictions."
# Keys of custom properties: what a shop's traits look like; keeps the JSON path unambiguous.
_KEY = re.compile(r"^[A-Za-z0-9_\- ]{1,100}$")
_FILTER_PATH = re.compile(r"^(products\[\]\.)?[A-Za-z0-9_\- ]{1,100}$")

_STRING_OPS = {"eq", "ne", "in", "not_in", "contains", "not_contains", "is_set", "is_not_set"}
_NUMBER_OPS = {"eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "is_set", "is_not_set"}
_TIME_OPS = {"before", "after", *get_args(RelativeOperator), "is_set", "is_not_set"}
OPERATORS_BY_KIND: dict[Kind, set[str]] = {
    "string": _STRING_OPS,
    "number": _NUMBER_OPS,
    "datetime": _TIME_OPS,
    "date": _TIME_OPS,
    "json": _STRING_OPS | _NUMBER_OPS | _TIME_OPS,
}
_NEEDS_NUMBER = {
    "gt",
    "gte",
    "lt",
    "lte",
    "in_last_days",
    "more_than_days_ago",
    "in_next_days",
    "in_last_hours",
    "more_than_hours_ago",
}


@dataclass(frozen=True)
class FieldRef:
    """Where a property condition's field lives."""

    source: Literal["contact", "prediction", "custom"]
    name: str
    kind: Kind


def resolve_field(field: str) -> FieldRef | None:
    """The column or JSON key a field name means, or None when it names nothing."""
    if field.startswith(CUSTOM_PREFIX):
        key = field[len(CUSTOM_PREFIX) :]
        return FieldRef("custom", key, "json") if _KEY.match(key) else None
    if field.startswith(PREDICTION_PREFIX):
        name = field[len(PREDICTION_PREFIX) :]
        kind = PREDICTION_FIELDS.get(name)
        return FieldRef("prediction", name, kind) if kind else None
    kind = CONTACT_FIELDS.get(field)
    return FieldRef("contact", field, kind) if kind else None


def parse_definition(data: Any) -> SegmentDefinition:
    """Parse and check a definition; InvalidInput names the path of the offending node."""
    if not isinstance(data, dict):
        raise InvalidInput("a definition is a JSON object with `version` and `root`", field="definition")
    try:
        definition = SegmentDefinition.model_validate(data)
    except ValidationError as exc:
        path, message, errors = first_error(exc)
        raise InvalidInput(f"{path}: {message}", field=path, details=errors) from exc
    check(definition.root, "root")
    return definition


def _fail(path: str, message: str) -> InvalidInput:
    return InvalidInput(f"{path}: {message}", field=path)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_value(operator: str, value: Any, kind: Kind, path: str) -> None:
    where = f"{path}.value"
    if operator in ("is_set", "is_not_set", "anniversary_this_month"):
        if value is not None:
            raise _fail(where, f"operator {operator!r} takes no value")
        return
    if operator in _NEEDS_NUMBER or operator == "anniversary_in_next_days":
        if not _is_number(value) or value < 0:
            raise _fail(where, f"operator {operator!r} needs a number >= 0, got {value!r}")
        if operator == "anniversary_in_next_days" and (value > 366 or int(value) != value):
            raise _fail(where, "anniversary_in_next_days takes whole days up to 366")
        return
    if operator in ("before", "after"):
        if parse_date_value(value) is None:
            raise _fail(where, f"operator {operator!r} needs an ISO date or datetime, got {value!r}")
        return
    if operator in ("in", "not_in"):
        if not isinstance(value, list) or not value:
            raise _fail(where, f"operator {operator!r} needs a non-empty list")
        for i, item in enumerate(value):
            _check_scalar(item, kind, f"{where}[{i}]")
        return
    if operator in ("contains", "not_contains"):
        if not isinstance(value, str) or not value:
            raise _fail(where, f"operator {operator!r} needs a non-empty string")
        return
    _check_scalar(value, kind, where)


def _check_scalar(value: Any, kind: Kind, where: str) -> None:
    if kind == "number" and not _is_number(value):
        raise _fail(where, f"a number is needed here, got {value!r}")
    if kind == "string" and not isinstance(value, str):
        raise _fail(where, f"a string is needed here, got {value!r}")
    if kind == "json" and not isinstance(value, str | int | float | bool):
        raise _fail(where, f"a string, number or boolean is needed here, got {value!r}")


def _check_filter(item: PropertyFilter, path: str) -> None:
    if not _FILTER_PATH.match(item.property):
        raise _fail(f"{path}.property", "use a property name, or products[].<name> for the products array")
    _check_value(item.operator, item.value, "json", path)


def _names(value: str | list[str], path: str) -> None:
    names = [value] if isinstance(value, str) else value
    if not names or any(not n.strip() for n in names):
        raise _fail(path, "name at least one event")


def check(node: Any, path: str) -> None:
    """Check one node and its children (meaning, not shape: Pydantic checked the shape)."""
    if isinstance(node, AndNode | OrNode):
        for i, child in enumerate(node.conditions):
            check(child, f"{path}.conditions[{i}]")
    elif isinstance(node, NotNode):
        check(node.condition, f"{path}.condition")
    elif isinstance(node, PropertyCondition):
        ref = resolve_field(node.field)
        if ref is None:
            raise _fail(
                f"{path}.field",
                f"unknown field {node.field!r}: use a profile column, properties.<key> or predictions.<figure>",
            )
        if node.operator not in OPERATORS_BY_KIND[ref.kind]:
            raise _fail(
                f"{path}.operator",
                f"operator {node.operator!r} does not apply to {ref.kind} field {node.field!r}",
            )
        _check_value(node.operator, node.value, ref.kind, path)
    elif isinstance(node, PerformedCondition):
        _names(node.event, f"{path}.event")
        if node.operator == "at_least" and node.count == 0:
            raise _fail(f"{path}.count", "'at least 0 times' is always true; use a count >= 1")
        for i, item in enumerate(node.where):
            _check_filter(item, f"{path}.where[{i}]")
    elif isinstance(node, EventTimeCondition):
        _names(node.event, f"{path}.event")
        _check_value(node.operator, node.value, "datetime", path)
        for i, item in enumerate(node.where):
            _check_filter(item, f"{path}.where[{i}]")
    elif isinstance(node, NotPerformedSinceCondition):
        _names(node.event, f"{path}.event")
        _names(node.since, f"{path}.since")
    elif isinstance(node, OrderedCondition):
        if (node.product_id is None) == (node.category is None):
            raise _fail(path, "give either product_id or category")
    elif isinstance(node, LocationCondition):
        if node.field == "country" and any(len(v) != 2 for v in node.values):
            raise _fail(f"{path}.values", "countries are ISO 3166 alpha-2 codes such as 'GB'")
    elif isinstance(node, RandomBucketCondition) and node.from_pct >= node.to_pct:
        raise _fail(f"{path}.to_pct", "to_pct must be greater than from_pct")


def walk(node: Any, path: str = "root") -> Iterator[tuple[Any, str]]:
    """Every node of a tree with its path, parents first."""
    yield node, path
    if isinstance(node, AndNode | OrNode):
        for i, child in enumerate(node.conditions):
            yield from walk(child, f"{path}.conditions[{i}]")
    elif isinstance(node, NotNode):
        yield from walk(node.condition, f"{path}.condition")


def referenced_segments(definition: SegmentDefinition) -> list[tuple[int, str]]:
    """The segments a definition refers to, with the path of each reference."""
    return [(n.segment_id, p) for n, p in walk(definition.root) if isinstance(n, MembershipCondition)]
