"""SQL snapshots of the compiler: the exact query text per engine for a handful of definitions.

A change of the generated SQL shows up here as a diff to review. Regenerate after an intended change:

    MAILWRIGHT_UPDATE_SNAPSHOTS=1 .venv/bin/pytest tests/segments/test_compiler_snapshots.py
"""

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.dialects import postgresql, sqlite

from mailwright.segments.compiler import compile_segment
from mailwright.segments.validation import parse_definition

SNAPSHOTS = Path(__file__).parent / "snapshots"
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
UPDATE = os.environ.get("MAILWRIGHT_UPDATE_SNAPSHOTS") == "1"

TREES: dict[str, dict[str, Any]] = {
    "custom_property_and_consent": {
        "type": "and",
        "conditions": [
            {"type": "consent", "statuses": ["subscribed"]},
            {"type": "property", "field": "properties.tier", "operator": "eq", "value": "gold"},
            {"type": "property", "field": "properties.score", "operator": "gte", "value": 10},
        ],
    },
    "viewed_shoes_twice_no_order": {
        "type": "and",
        "conditions": [
            {
                "type": "performed",
                "event": "Product Viewed",
                "count": 2,
                "window": {"last_days": 7},
                "where": [{"property": "category", "value": "Shoes"}],
            },
            {"type": "performed", "event": "Order Completed", "operator": "exactly", "count": 0},
        ],
    },
    "abandoned_cart": {
        "type": "and",
        "conditions": [
            {
                "type": "event_time",
                "event": ["Product Added", "Checkout Started"],
                "operator": "more_than_hours_ago",
                "value": 1,
            },
            {
                "type": "not_performed_since",
                "event": "Order Completed",
                "since": ["Product Added", "Checkout Started"],
            },
        ],
    },
    "vip_or_products_array_not_engaged": {
        "type": "or",
        "conditions": [
            {"type": "purchase", "metric": "revenue_minor", "operator": "top_percent", "value": 10},
            {
                "type": "not",
                "condition": {"type": "email_engagement", "action": "opened_or_clicked", "within_days": 180},
            },
            {
                "type": "performed",
                "event": "Checkout Started",
                "where": [{"property": "products[].category", "value": "Shoes"}],
            },
        ],
    },
    "birthday_category_bucket": {
        "type": "and",
        "conditions": [
            {"type": "property", "field": "birthday", "operator": "anniversary_in_next_days", "value": 7},
            {"type": "ordered", "category": "Shoes", "within_days": 30},
            {"type": "random_bucket", "seed": 3, "to_pct": 10},
            {"type": "suppressed", "suppressed": False},
        ],
    },
}


def render(name: str, dialect: str, contact_ids: list[int] | None = None) -> str:
    definition = parse_definition({"version": 1, "root": TREES[name]})
    stmt = compile_segment(definition, dialect=dialect, now=NOW, contact_ids=contact_ids)
    engine = postgresql.dialect() if dialect == "postgresql" else sqlite.dialect()  # type: ignore[no-untyped-call]
    compiled = stmt.compile(dialect=engine)
    params = "\n".join(f"-- {key} = {value!r}" for key, value in sorted(compiled.params.items()))
    return f"{compiled}\n{params}\n"


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
@pytest.mark.parametrize("name", sorted(TREES))
def test_compiled_sql_matches_the_snapshot(name: str, dialect: str) -> None:
    path = SNAPSHOTS / f"{name}.{dialect}.sql"
    sql = render(name, dialect)
    if UPDATE or not path.exists():
        path.write_text(sql)
        if not UPDATE:
            pytest.fail(f"snapshot {path.name} was missing and has been written; review and commit it")
    assert sql == path.read_text(), f"SQL of {name} on {dialect} changed; regenerate if intended"


def test_restricting_to_contacts_reaches_every_subquery() -> None:
    sql = render("viewed_shoes_twice_no_order", "sqlite", contact_ids=[5, 6])
    # Every read of the events table is limited to the touched contacts, and so is the outer query.
    assert sql.count("FROM events") == sql.count("events.contact_id IN (__[POSTCOMPILE_contact_id_") == 3
    assert "contacts.id IN (__[POSTCOMPILE_id_1])" in sql


def test_and_limits_event_subqueries_to_the_contacts_its_cheap_conditions_admit() -> None:
    sql = render("custom_property_and_consent", "sqlite")
    assert "events" not in sql  # nothing to limit: every condition reads the contact row
    inactive = parse_definition(
        {
            "version": 1,
            "root": {
                "type": "and",
                "conditions": [
                    {"type": "consent", "statuses": ["subscribed"]},
                    {
                        "type": "not",
                        "condition": {"type": "email_engagement", "action": "opened", "within_days": 9},
                    },
                ],
            },
        }
    )
    text = str(compile_segment(inactive, dialect="sqlite", now=NOW).compile(dialect=sqlite.dialect()))  # type: ignore[no-untyped-call]
    assert "events.contact_id IN (SELECT contacts.id" in text
