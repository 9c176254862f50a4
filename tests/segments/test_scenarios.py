"""Table-driven scenarios: a small shop built through the real services, and who each condition selects.

Every condition type of the definition language appears at least once; the same table runs on SQLite
and on PostgreSQL (MAILWRIGHT_TEST_DATABASE_URL), so both engines must agree with the expectations.
"""

from typing import Any

import pytest
from tests.segments.shop import EVERYONE, Shop, build_scenario_shop

from mailwright.core.runtime import Runtime
from mailwright.segments.compiler import bucket_of


@pytest.fixture
def shop(runtime: Runtime) -> Shop:
    return build_scenario_shop(runtime)


def prop(field: str, operator: str, value: Any = None) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "property", "field": field, "operator": operator}
    if value is not None:
        node["value"] = value
    return node


def performed(event: str | list[str], **rest: Any) -> dict[str, Any]:
    return {"type": "performed", "event": event, **rest}


SUBSCRIBED = {"type": "consent", "statuses": ["subscribed"]}

CASES: list[tuple[str, dict[str, Any], set[str]]] = [
    # profile properties: built-in columns
    ("first_name eq", prop("first_name", "eq", "Ann"), {"ann"}),
    ("country ne includes unknown", prop("country", "ne", "GB"), EVERYONE - {"ann"}),
    ("country in", prop("country", "in", ["GB", "DE"]), {"ann", "bob"}),
    ("country not_in", prop("country", "not_in", ["GB", "DE"]), {"cat", "dan", "eve"}),
    ("city contains, any case", prop("city", "contains", "LON"), {"ann"}),
    ("city not_contains", prop("city", "not_contains", "lon"), EVERYONE - {"ann"}),
    ("birthday is set", prop("birthday", "is_set"), {"ann", "bob"}),
    ("birthday is not set", prop("birthday", "is_not_set"), {"cat", "dan", "eve"}),
    ("birthday in the next 7 days", prop("birthday", "anniversary_in_next_days", 7), {"ann"}),
    ("birthday in the next 2 days", prop("birthday", "anniversary_in_next_days", 2), set()),
    ("birthday this month", prop("birthday", "anniversary_this_month"), {"ann"}),
    ("birthday before a date", prop("birthday", "before", "1988-01-01"), {"bob"}),
    ("order_count gte 2", prop("order_count", "gte", 2), {"ann"}),
    (
        "revenue between",
        {
            "type": "and",
            "conditions": [prop("revenue_minor", "gt", 2000), prop("revenue_minor", "lte", 3000)],
        },
        {"dan"},
    ),
    (
        "consent_updated_at in the last 30 days",
        prop("consent_updated_at", "in_last_days", 30),
        {"ann", "bob", "cat"},
    ),
    (
        "consent_updated_at more than 180 days ago",
        prop("consent_updated_at", "more_than_days_ago", 180),
        {"eve"},
    ),
    ("last_order_at after", prop("last_order_at", "after", "2026-10-01T00:00:00+00:00"), {"ann", "dan"}),
    ("last_order_at in the last 72 hours", prop("last_order_at", "in_last_hours", 72), set()),
    ("created_at more than 1 hour ago", prop("created_at", "more_than_hours_ago", 1), set()),
    # custom properties (JSON)
    ("custom string eq", prop("properties.tier", "eq", "gold"), {"ann"}),
    ("custom in", prop("properties.tier", "in", ["gold", "silver"]), {"ann", "bob"}),
    ("custom number gt (a string '42' is not a number)", prop("properties.score", "gt", 10), {"ann"}),
    ("custom number eq", prop("properties.score", "eq", 7), {"bob"}),
    ("custom string eq is not a number", prop("properties.score", "eq", "42"), {"cat"}),
    ("custom boolean true", prop("properties.vip", "eq", True), {"ann"}),
    ("custom boolean false", prop("properties.vip", "eq", False), {"bob"}),
    ("custom boolean ne true", prop("properties.vip", "ne", True), EVERYONE - {"ann"}),
    ("custom array contains", prop("properties.tags", "contains", "b"), {"ann"}),
    ("custom is set", prop("properties.score", "is_set"), {"ann", "bob", "cat"}),
    ("custom is not set", prop("properties.tier", "is_not_set"), {"cat", "dan", "eve"}),
    ("custom date after", prop("properties.signup_day", "after", "2026-10-15"), {"ann"}),
    ("custom date in the last 7 days", prop("properties.signup_day", "in_last_days", 7), {"ann"}),
    ("custom date anniversary this month", prop("properties.signup_day", "anniversary_this_month"), set()),
    # predictions
    ("churn risk gt", prop("predictions.churn_risk", "gt", 0.5), {"bob"}),
    ("churn risk not set", prop("predictions.churn_risk", "is_not_set"), {"cat", "dan", "eve"}),
    ("next order in the next 7 days", prop("predictions.expected_next_order_at", "in_next_days", 7), {"ann"}),
    # consent and suppression
    ("consent subscribed", SUBSCRIBED, {"ann", "eve"}),
    (
        "consent pending or unsubscribed",
        {"type": "consent", "statuses": ["pending", "unsubscribed"]},
        {"bob", "cat"},
    ),
    ("consent never subscribed", {"type": "consent", "statuses": ["never_subscribed"]}, {"dan"}),
    ("suppressed", {"type": "suppressed"}, {"dan"}),
    ("not suppressed", {"type": "suppressed", "suppressed": False}, EVERYONE - {"dan"}),
    # performed N times, windows, property filters
    (
        "viewed shoes twice this week",
        performed(
            "Product Viewed",
            count=2,
            window={"last_days": 7},
            where=[{"property": "category", "value": "Shoes"}],
        ),
        {"ann"},
    ),
    (
        "viewed shoes at least once this week",
        performed(
            "Product Viewed", window={"last_days": 7}, where=[{"property": "category", "value": "Shoes"}]
        ),
        {"ann", "bob"},
    ),
    ("never viewed a product", performed("Product Viewed", operator="exactly", count=0), {"cat", "eve"}),
    (
        "viewed at most once",
        performed("Product Viewed", operator="at_most", count=1),
        {"bob", "cat", "dan", "eve"},
    ),
    ("viewed exactly three times", performed("Product Viewed", operator="exactly", count=3), {"ann"}),
    (
        "viewed a product not in Shoes",
        performed("Product Viewed", where=[{"property": "category", "operator": "ne", "value": "Shoes"}]),
        {"ann", "dan"},
    ),
    (
        "checkout with a Shoes product (products array)",
        performed("Checkout Started", where=[{"property": "products[].category", "value": "Shoes"}]),
        {"dan"},
    ),
    (
        "cart add between 7 days and 1 hour ago",
        performed(["Product Added", "Checkout Started"], window={"last_days": 7, "until_hours_ago": 1}),
        {"bob", "cat"},
    ),
    (
        "page viewed with path containing pricing",
        performed("Page Viewed", where=[{"property": "path", "operator": "contains", "value": "pricing"}]),
        {"cat"},
    ),
    (
        "events within an absolute window",
        performed(
            "Order Completed", window={"after": "2026-09-01T00:00:00Z", "before": "2026-10-01T00:00:00Z"}
        ),
        {"ann"},
    ),
    (
        "no order since the last cart activity",
        {
            "type": "not_performed_since",
            "event": "Order Completed",
            "since": ["Product Added", "Checkout Started"],
        },
        {"bob", "cat"},
    ),
    # first / last time performed
    (
        "last order more than 30 days ago",
        {
            "type": "event_time",
            "event": "Order Completed",
            "which": "last",
            "operator": "more_than_days_ago",
            "value": 30,
        },
        {"bob"},
    ),
    (
        "first order in the last 90 days",
        {
            "type": "event_time",
            "event": "Order Completed",
            "which": "first",
            "operator": "in_last_days",
            "value": 90,
        },
        {"ann", "dan"},
    ),
    (
        "first view before a date",
        {
            "type": "event_time",
            "event": "Product Viewed",
            "which": "first",
            "operator": "before",
            "value": "2026-10-20",
        },
        {"ann", "dan"},
    ),
    # email engagement
    ("clicked in 30 days", {"type": "email_engagement", "action": "clicked", "within_days": 30}, {"ann"}),
    (
        "opened in 30 days, machine opens ignored",
        {"type": "email_engagement", "action": "opened", "within_days": 30},
        set(),
    ),
    (
        "opened in 30 days, machine opens count",
        {"type": "email_engagement", "action": "opened", "within_days": 30, "ignore_machine_opens": False},
        {"bob"},
    ),
    (
        "opened or clicked in 120 days",
        {"type": "email_engagement", "action": "opened_or_clicked", "within_days": 120},
        {"ann", "cat"},
    ),
    (
        "clicked a given message",
        {"type": "email_engagement", "action": "clicked", "within_days": 30, "message_id": "m1"},
        {"ann"},
    ),
    (
        "clicked another message",
        {"type": "email_engagement", "action": "clicked", "within_days": 30, "message_id": "m2"},
        set(),
    ),
    (
        "clicked a given template",
        {"type": "email_engagement", "action": "clicked", "within_days": 30, "template": "welcome"},
        {"ann"},
    ),
    # purchase history
    (
        "order count eq 1",
        {"type": "purchase", "metric": "order_count", "operator": "eq", "value": 1},
        {"bob", "dan"},
    ),
    (
        "never purchased",
        {"type": "purchase", "metric": "order_count", "operator": "eq", "value": 0},
        {"cat", "eve"},
    ),
    (
        "revenue gte 100",
        {"type": "purchase", "metric": "revenue_minor", "operator": "gte", "value": 10000},
        {"ann"},
    ),
    (
        "AOV lt 25",
        {"type": "purchase", "metric": "average_order_value_minor", "operator": "lt", "value": 2500},
        {"bob", "cat", "eve"},
    ),
    (
        "days since last order gt 100",
        {"type": "purchase", "metric": "days_since_last_order", "operator": "gt", "value": 100},
        {"bob"},
    ),
    (
        "days since first order lte 10",
        {"type": "purchase", "metric": "days_since_first_order", "operator": "lte", "value": 10},
        {"dan"},
    ),
    (
        "top 10 % by revenue",
        {"type": "purchase", "metric": "revenue_minor", "operator": "top_percent", "value": 10},
        {"ann"},
    ),
    (
        "top 34 % by revenue",
        {"type": "purchase", "metric": "revenue_minor", "operator": "top_percent", "value": 34},
        {"ann", "dan"},
    ),
    # ceil(3 x 60 %) = 2 customers: the rank must be floored, never rounded, on both engines.
    (
        "top 60 % by revenue",
        {"type": "purchase", "metric": "revenue_minor", "operator": "top_percent", "value": 60},
        {"ann", "dan"},
    ),
    ("ordered a product", {"type": "ordered", "product_id": "hat-1"}, {"ann"}),
    ("ordered a category (order line)", {"type": "ordered", "category": "Shoes"}, {"ann"}),
    ("ordered a category (catalog)", {"type": "ordered", "category": "Outdoor"}, {"dan"}),
    ("ordered a category in 30 days", {"type": "ordered", "category": "Kitchen", "within_days": 30}, set()),
    ("ordered twice", {"type": "ordered", "category": "Shoes", "min_orders": 2}, set()),
    # location
    ("country, any case", {"type": "location", "field": "country", "values": ["gb"]}, {"ann"}),
    ("city", {"type": "location", "field": "city", "values": ["paris", "Berlin"]}, {"bob", "cat"}),
    (
        "not in GB",
        {"type": "location", "field": "country", "operator": "not_in", "values": ["GB"]},
        EVERYONE - {"ann"},
    ),
    # RFM and lifecycle
    ("RFM champions", {"type": "rfm_segment", "segments": ["Champions"]}, {"ann"}),
    ("RFM at risk", {"type": "rfm_segment", "segments": ["At risk", "Can't lose them"]}, {"bob"}),
    ("lifecycle at risk", {"type": "lifecycle_stage", "stages": ["at_risk"]}, {"bob"}),
    # logic
    ("not subscribed", {"type": "not", "condition": SUBSCRIBED}, {"bob", "cat", "dan"}),
    (
        "subscribed or in DE",
        {"type": "or", "conditions": [SUBSCRIBED, prop("country", "eq", "DE")]},
        {"ann", "bob", "eve"},
    ),
    (
        "subscribed and bought",
        {"type": "and", "conditions": [SUBSCRIBED, prop("order_count", "gt", 0)]},
        {"ann"},
    ),
    # AND limits its event subqueries to the contacts its cheap conditions admit: same answers, under NOT and OR
    (
        "subscribed and never viewed a product",
        {
            "type": "and",
            "conditions": [SUBSCRIBED, {"type": "not", "condition": performed("Product Viewed")}],
        },
        {"eve"},
    ),
    (
        "in GB or DE, and added to cart or clicked lately",
        {
            "type": "and",
            "conditions": [
                prop("country", "in", ["GB", "DE"]),
                {
                    "type": "or",
                    "conditions": [
                        performed("Product Added"),
                        {"type": "email_engagement", "action": "clicked", "within_days": 30},
                    ],
                },
            ],
        },
        {"ann", "bob"},
    ),
    (
        "viewed this week, no cart add this week, a customer",
        {
            "type": "and",
            "conditions": [
                performed("Product Viewed", window={"last_days": 7}),
                {"type": "not", "condition": performed("Product Added", window={"last_days": 7})},
                prop("order_count", "gte", 1),
            ],
        },
        {"ann"},
    ),
    # OR of the same event in the same window is one pass over the events: same answers
    (
        "viewed hats or viewed shoes, this month",
        {
            "type": "or",
            "conditions": [
                performed(
                    "Product Viewed",
                    window={"last_days": 30},
                    where=[{"property": "category", "value": "Hats"}],
                ),
                performed(
                    "Product Viewed",
                    window={"last_days": 30},
                    where=[{"property": "category", "value": "Shoes"}],
                ),
                prop("first_name", "eq", "Nobody"),
            ],
        },
        {"ann", "bob"},
    ),
    (
        "viewed hats this week or shoes ever (different windows)",
        {
            "type": "or",
            "conditions": [
                performed(
                    "Product Viewed",
                    window={"last_days": 7},
                    where=[{"property": "category", "value": "Hats"}],
                ),
                performed("Product Viewed", where=[{"property": "category", "value": "Shoes"}]),
            ],
        },
        {"ann", "bob"},
    ),
    (
        "viewed a page, or a page with a path that never was",
        {
            "type": "or",
            "conditions": [
                performed("Page Viewed"),
                performed(
                    "Page Viewed", where=[{"property": "path", "operator": "contains", "value": "nowhere"}]
                ),
            ],
        },
        {"cat"},
    ),
    ("not (country eq GB)", {"type": "not", "condition": prop("country", "eq", "GB")}, EVERYONE - {"ann"}),
]


def test_every_condition_type_selects_the_expected_contacts(shop: Shop) -> None:
    wrong = []
    for label, definition, expected in CASES:
        got = shop.matching(definition)
        if got != expected:
            wrong.append(f"{label}: expected {sorted(expected)}, got {sorted(got)}")
    assert not wrong, "\n".join(wrong)


def test_membership_of_another_segment(shop: Shop) -> None:
    from mailwright.segments import service
    from mailwright.segments.schemas import SegmentIn

    with shop.runtime.uow() as uow:
        base = service.create_segment(
            uow,
            SegmentIn(name="subscribers", definition={"version": 1, "root": SUBSCRIBED}),
            shop.runtime.settings,
        ).segment
    assert shop.matching({"type": "segment_membership", "segment_id": base.id}) == {"ann", "eve"}
    assert shop.matching({"type": "segment_membership", "segment_id": base.id, "member": False}) == {
        "bob",
        "cat",
        "dan",
    }


def test_random_bucket_is_stable_and_matches_its_python_twin(shop: Shop) -> None:
    everyone = shop.matching({"type": "random_bucket", "seed": 7, "to_pct": 100})
    assert everyone == EVERYONE
    expected = {k for k, cid in shop.ids.items() if bucket_of(cid, 7) < 50}
    assert shop.matching({"type": "random_bucket", "seed": 7, "to_pct": 50}) == expected
    assert (
        shop.matching({"type": "random_bucket", "seed": 7, "from_pct": 50, "to_pct": 100})
        == EVERYONE - expected
    )


def test_random_buckets_split_evenly_and_seeds_are_independent() -> None:
    ids = range(1, 20001)
    low = sum(1 for i in ids if bucket_of(i, 1) < 10)
    assert 1800 < low < 2200
    both = sum(1 for i in ids if bucket_of(i, 1) < 10 and bucket_of(i, 2) < 10)
    # Independent seeds: about 10 % of 10 % overlap, not all or nothing.
    assert 100 < both < 300
