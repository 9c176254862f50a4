"""Which event names can change whether a contact matches a definition (for event-driven updates).

Conservative where it must be: profile columns move with identify traits, consent changes, bounces and
orders; a contact merge moves events between profiles (Identify, Alias). RFM, lifecycle and random
buckets move with no event at all: the scheduled recompute (and the RFM job) keeps them current.
"""

from typing import Any, get_args

from mailwright.events import vocabulary as v
from mailwright.segments.schemas import (
    ConsentCondition,
    EngagementCondition,
    EventTimeCondition,
    LocationCondition,
    MembershipCondition,
    NotPerformedSinceCondition,
    OrderedCondition,
    PerformedCondition,
    PropertyCondition,
    PurchaseCondition,
    RelativeOperator,
    SegmentDefinition,
    SuppressionCondition,
)
from mailwright.segments.validation import walk

SEGMENT_ENTERED = "Segment Entered"
SEGMENT_EXITED = "Segment Exited"

MERGE_EVENTS = frozenset({v.IDENTIFY, v.ALIAS})
ORDER_EVENTS = frozenset({v.ORDER_COMPLETED, v.ORDER_UPDATED, v.ORDER_REFUNDED, v.ORDER_CANCELLED})
PROFILE_EVENTS = (
    MERGE_EVENTS
    | ORDER_EVENTS
    | {
        v.SUBSCRIBED,
        v.UNSUBSCRIBED,
        v.EMAIL_BOUNCED,
        v.MARKED_AS_SPAM,
        v.CUSTOMER_REDACTED,
        # Store checkouts carry the customer's address and consent (Shopify checkouts/create).
        v.CHECKOUT_STARTED,
    }
)
MEMBERSHIP_EVENTS = frozenset({SEGMENT_ENTERED, SEGMENT_EXITED})


def _names(value: str | list[str]) -> set[str]:
    return {value} if isinstance(value, str) else set(value)


def event_dependencies(definition: SegmentDefinition) -> frozenset[str]:
    """The event names whose arrival may change membership of the contacts they touch."""
    names: set[str] = set()
    for node, _path in walk(definition.root):
        names |= _node_names(node)
    return frozenset(names)


def _node_names(node: Any) -> set[str]:
    if isinstance(node, PropertyCondition | ConsentCondition | SuppressionCondition | LocationCondition):
        return set(PROFILE_EVENTS)
    if isinstance(node, PurchaseCondition | OrderedCondition):
        return set(ORDER_EVENTS | MERGE_EVENTS)
    if isinstance(node, PerformedCondition | EventTimeCondition):
        return _names(node.event) | MERGE_EVENTS
    if isinstance(node, NotPerformedSinceCondition):
        return _names(node.event) | _names(node.since) | MERGE_EVENTS
    if isinstance(node, EngagementCondition):
        return {v.EMAIL_OPENED, v.EMAIL_CLICKED} | MERGE_EVENTS
    if isinstance(node, MembershipCondition):
        return set(MEMBERSHIP_EVENTS)
    return set()


def is_time_relative(definition: SegmentDefinition) -> bool:
    """Whether membership can change with time alone (any condition reads the clock)."""
    return any(_reads_clock(node) for node, _ in walk(definition.root))


def _reads_clock(node: Any) -> bool:
    if isinstance(node, PropertyCondition):
        return node.operator in get_args(RelativeOperator)
    if isinstance(node, PerformedCondition):
        return node.window is not None
    if isinstance(node, EventTimeCondition):
        return node.operator not in ("before", "after")
    if isinstance(node, EngagementCondition):
        return True
    if isinstance(node, PurchaseCondition):
        return node.metric.startswith("days_since")
    if isinstance(node, OrderedCondition):
        return node.within_days is not None
    return False
