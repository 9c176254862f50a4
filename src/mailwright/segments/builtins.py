"""The built-in segments every shop starts with (on by default, editable like any other)."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mailwright.events import vocabulary as v

CART_EVENTS = [v.PRODUCT_ADDED, v.CHECKOUT_STARTED]


@dataclass(frozen=True)
class Builtin:
    """A built-in segment: its key, name, description and how its definition is built."""

    key: str
    name: str
    description: str
    build: Callable[[dict[str, Any]], dict[str, Any]]
    parameters: dict[str, Any] = field(default_factory=dict)
    # A parameterized built-in waits, disabled, until the shop names what it is about.
    enabled: bool = True


def _tree(root: dict[str, Any]) -> dict[str, Any]:
    return {"version": 1, "root": root}


def _all(*conditions: dict[str, Any]) -> dict[str, Any]:
    return {"type": "and", "conditions": list(conditions)}


def _any(*conditions: dict[str, Any]) -> dict[str, Any]:
    return {"type": "or", "conditions": list(conditions)}


def _not(condition: dict[str, Any]) -> dict[str, Any]:
    return {"type": "not", "condition": condition}


SUBSCRIBED = {"type": "consent", "statuses": ["subscribed"]}


def new_subscribers(_: dict[str, Any]) -> dict[str, Any]:
    """Subscribed within the last 30 days."""
    return _tree(
        _all(
            SUBSCRIBED,
            {"type": "property", "field": "consent_updated_at", "operator": "in_last_days", "value": 30},
        )
    )


def engaged(_: dict[str, Any]) -> dict[str, Any]:
    """Clicked an email in the last 90 days."""
    return _tree({"type": "email_engagement", "action": "clicked", "within_days": 90})


def inactive(_: dict[str, Any]) -> dict[str, Any]:
    """Subscribed for over 180 days and no human open or click in 180 days."""
    return _tree(
        _all(
            SUBSCRIBED,
            {
                "type": "property",
                "field": "consent_updated_at",
                "operator": "more_than_days_ago",
                "value": 180,
            },
            _not({"type": "email_engagement", "action": "opened_or_clicked", "within_days": 180}),
        )
    )


def vip(_: dict[str, Any]) -> dict[str, Any]:
    """Top 10 % of customers by revenue, or RFM Champions."""
    return _tree(
        _any(
            {"type": "purchase", "metric": "revenue_minor", "operator": "top_percent", "value": 10},
            {"type": "rfm_segment", "segments": ["Champions"]},
        )
    )


def one_time_buyers(_: dict[str, Any]) -> dict[str, Any]:
    """Exactly one order."""
    return _tree({"type": "purchase", "metric": "order_count", "operator": "eq", "value": 1})


def repeat_buyers(_: dict[str, Any]) -> dict[str, Any]:
    """Two orders or more."""
    return _tree({"type": "purchase", "metric": "order_count", "operator": "gte", "value": 2})


def at_risk(_: dict[str, Any]) -> dict[str, Any]:
    """Lifecycle stage at risk, or RFM At risk / Can't lose them."""
    return _tree(
        _any(
            {"type": "lifecycle_stage", "stages": ["at_risk"]},
            {"type": "rfm_segment", "segments": ["At risk", "Can't lose them"]},
        )
    )


def abandoned_cart(_: dict[str, Any]) -> dict[str, Any]:
    """Added to cart or started checkout between 7 days and 1 hour ago, and no order since.

    "The last cart activity was 1 hour to 7 days ago" is written as "some in that range, none in the last
    hour", which the compiler answers from the time range of the events index.
    """
    return _tree(
        _all(
            {"type": "performed", "event": CART_EVENTS, "window": {"last_days": 7, "until_hours_ago": 1}},
            _not({"type": "performed", "event": CART_EVENTS, "window": {"last_hours": 1}}),
            {"type": "not_performed_since", "event": v.ORDER_COMPLETED, "since": CART_EVENTS},
        )
    )


def browse_abandoners(_: dict[str, Any]) -> dict[str, Any]:
    """Viewed a product in the last 2 days and added nothing to the cart."""
    window = {"last_days": 2}
    return _tree(
        _all(
            {"type": "performed", "event": v.PRODUCT_VIEWED, "window": window},
            {
                "type": "performed",
                "event": v.PRODUCT_ADDED,
                "operator": "exactly",
                "count": 0,
                "window": window,
            },
        )
    )


def category_purchasers(params: dict[str, Any]) -> dict[str, Any]:
    """Ordered from a category in the last N days (parameters: category, days)."""
    return _tree(
        {
            "type": "ordered",
            "category": params.get("category") or "",
            "within_days": params.get("days") or 30,
        }
    )


def page_viewers(params: dict[str, Any]) -> dict[str, Any]:
    """Viewed a page whose path or URL contains a text, in the last N days (parameters: page, days)."""
    page = params.get("page") or "pricing"
    window = {"last_days": params.get("days") or 30}
    return _tree(
        _any(
            {
                "type": "performed",
                "event": v.PAGE_VIEWED,
                "window": window,
                "where": [{"property": "path", "operator": "contains", "value": page}],
            },
            {
                "type": "performed",
                "event": v.PAGE_VIEWED,
                "window": window,
                "where": [{"property": "url", "operator": "contains", "value": page}],
            },
        )
    )


def birthday_this_month(_: dict[str, Any]) -> dict[str, Any]:
    """Birthday in the current month."""
    return _tree({"type": "property", "field": "birthday", "operator": "anniversary_this_month"})


def never_purchased(_: dict[str, Any]) -> dict[str, Any]:
    """No order yet."""
    return _tree({"type": "purchase", "metric": "order_count", "operator": "eq", "value": 0})


BUILTINS: tuple[Builtin, ...] = (
    Builtin("new_subscribers", "New subscribers", "Subscribed within the last 30 days.", new_subscribers),
    Builtin("engaged", "Engaged", "Clicked an email in the last 90 days.", engaged),
    Builtin(
        "inactive",
        "Inactive subscribers",
        "Subscribed for over 180 days without opening or clicking in 180 days (machine opens ignored).",
        inactive,
    ),
    Builtin("vip", "VIP", "Top 10 % of customers by revenue, or RFM Champions.", vip),
    Builtin("one_time_buyers", "One-time buyers", "Exactly one order.", one_time_buyers),
    Builtin("repeat_buyers", "Repeat buyers", "Two orders or more.", repeat_buyers),
    Builtin("at_risk", "At risk", "Lifecycle stage at risk, or RFM At risk / Can't lose them.", at_risk),
    Builtin(
        "abandoned_cart",
        "Abandoned cart",
        "Added to cart or started checkout 1 hour to 7 days ago, and no order since.",
        abandoned_cart,
    ),
    Builtin(
        "browse_abandoners",
        "Browse abandoners",
        "Viewed a product in the last 2 days without adding anything to the cart.",
        browse_abandoners,
    ),
    Builtin(
        "category_purchasers",
        "Recent purchasers of a category",
        "Ordered from a category in the last 30 days; set the `category` parameter to enable it.",
        category_purchasers,
        parameters={"category": None, "days": 30},
        enabled=False,
    ),
    Builtin(
        "page_viewers",
        "Viewed the pricing page",
        "Viewed a page whose path or URL contains `page` (default: pricing) in the last 30 days.",
        page_viewers,
        parameters={"page": "pricing", "days": 30},
    ),
    Builtin(
        "birthday_this_month", "Birthday this month", "Birthday in the current month.", birthday_this_month
    ),
    Builtin("never_purchased", "Never purchased", "No order yet.", never_purchased),
)
BUILTINS_BY_KEY = {b.key: b for b in BUILTINS}
