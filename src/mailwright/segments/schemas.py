"""Segment definitions (a typed, versioned tree) and the segments API's input and output shapes."""

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

DEFINITION_VERSION = 1

RFM_SEGMENTS = (
    "Champions",
    "Loyal",
    "Potential loyalist",
    "New customers",
    "Promising",
    "Need attention",
    "About to sleep",
    "At risk",
    "Can't lose them",
    "Hibernating",
    "Lost",
)
LIFECYCLE_STAGES = ("new", "active", "at_risk", "churned")
CONSENT_STATUSES = ("subscribed", "unsubscribed", "pending", "never_subscribed")

RfmName = Literal[
    "Champions",
    "Loyal",
    "Potential loyalist",
    "New customers",
    "Promising",
    "Need attention",
    "About to sleep",
    "At risk",
    "Can't lose them",
    "Hibernating",
    "Lost",
]
LifecycleStage = Literal["new", "active", "at_risk", "churned"]
ConsentStatus = Literal["subscribed", "unsubscribed", "pending", "never_subscribed"]

# Comparisons of a stored value; they do not depend on when they are evaluated.
ValueOperator = Literal[
    "eq",
    "ne",
    "in",
    "not_in",
    "contains",
    "not_contains",
    "gt",
    "gte",
    "lt",
    "lte",
    "is_set",
    "is_not_set",
]
# Relative to "now": a segment using one of these is kept true by the scheduled recompute.
RelativeOperator = Literal[
    "in_last_days",
    "more_than_days_ago",
    "in_next_days",
    "in_last_hours",
    "more_than_hours_ago",
    "anniversary_in_next_days",
    "anniversary_this_month",
]
Operator = Literal[ValueOperator, "before", "after", RelativeOperator]
CountOperator = Literal["at_least", "at_most", "exactly"]
TimeOperator = Literal[
    "before", "after", "in_last_days", "more_than_days_ago", "in_last_hours", "more_than_hours_ago"
]
Scalar = str | int | float | bool


class _Node(BaseModel):
    # Unknown fields are refused so a typo ("opertor") is reported instead of silently ignored.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Window(_Node):
    """When events count: the last N days or hours, up to N hours ago, and/or between two instants."""

    last_days: float | None = Field(default=None, ge=0)
    last_hours: float | None = Field(default=None, ge=0)
    until_hours_ago: float | None = Field(default=None, ge=0)
    after: datetime | None = None
    before: datetime | None = None


class PropertyFilter(_Node):
    """A test on one property of an event; `products[].category` looks inside the products array."""

    property: str = Field(min_length=1, max_length=200)
    operator: ValueOperator = "eq"
    value: Any = None


class AndNode(_Node):
    """All of the conditions hold."""

    type: Literal["and"]
    conditions: list["Node"] = Field(min_length=1)


class OrNode(_Node):
    """At least one of the conditions holds."""

    type: Literal["or"]
    conditions: list["Node"] = Field(min_length=1)


class NotNode(_Node):
    """The condition does not hold."""

    type: Literal["not"]
    condition: "Node"


class PropertyCondition(_Node):
    """A profile property: a built-in column, `properties.<key>` (custom) or `predictions.<figure>`."""

    type: Literal["property"]
    field: str = Field(min_length=1, max_length=200)
    operator: Operator
    value: Any = None


class ConsentCondition(_Node):
    """The contact's consent status is one of these."""

    type: Literal["consent"]
    statuses: list[ConsentStatus] = Field(min_length=1)


class SuppressionCondition(_Node):
    """The contact's address is (or is not) on the suppression list."""

    type: Literal["suppressed"]
    suppressed: bool = True


class PerformedCondition(_Node):
    """Performed an event (or any of several) at least / at most / exactly N times, in a window or ever."""

    type: Literal["performed"]
    event: str | list[str]
    operator: CountOperator = "at_least"
    count: int = Field(default=1, ge=0)
    window: Window | None = None
    where: list[PropertyFilter] = Field(default_factory=list)


class NotPerformedSinceCondition(_Node):
    """Has not performed `event` since the last time they performed any of `since` (and did that)."""

    type: Literal["not_performed_since"]
    event: str | list[str]
    since: str | list[str]


class EventTimeCondition(_Node):
    """The first or last time an event was performed, compared with a time."""

    type: Literal["event_time"]
    event: str | list[str]
    which: Literal["first", "last"] = "last"
    operator: TimeOperator
    value: Any = None
    where: list[PropertyFilter] = Field(default_factory=list)


class EngagementCondition(_Node):
    """Opened or clicked any email (or a given message or template) within N days."""

    type: Literal["email_engagement"]
    action: Literal["opened", "clicked", "opened_or_clicked"]
    within_days: float = Field(gt=0)
    message_id: str | None = None
    template: str | None = None
    # Apple Mail Privacy Protection and scanners "open" every message; they are not engagement.
    ignore_machine_opens: bool = True


class PurchaseCondition(_Node):
    """Order roll-ups: count, revenue, AOV, days since the last or first order, or the top N % by revenue."""

    type: Literal["purchase"]
    metric: Literal[
        "order_count",
        "revenue_minor",
        "average_order_value_minor",
        "days_since_last_order",
        "days_since_first_order",
    ]
    operator: Literal["eq", "ne", "gt", "gte", "lt", "lte", "top_percent"]
    value: float = Field(ge=0)


class OrderedCondition(_Node):
    """Ordered a given product or a product of a given category, ever or within N days."""

    type: Literal["ordered"]
    product_id: str | None = None
    category: str | None = None
    within_days: float | None = Field(default=None, gt=0)
    min_orders: int = Field(default=1, ge=1)


class LocationCondition(_Node):
    """Country (ISO 3166 alpha-2) or city is one of the values."""

    type: Literal["location"]
    field: Literal["country", "city"]
    operator: Literal["in", "not_in"] = "in"
    values: list[str] = Field(min_length=1)


class RfmCondition(_Node):
    """The contact's RFM segment is one of these."""

    type: Literal["rfm_segment"]
    segments: list[RfmName] = Field(min_length=1)


class LifecycleCondition(_Node):
    """The contact's lifecycle stage is one of these."""

    type: Literal["lifecycle_stage"]
    stages: list[LifecycleStage] = Field(min_length=1)


class MembershipCondition(_Node):
    """Member (or not) of another segment, as last refreshed."""

    type: Literal["segment_membership"]
    segment_id: int
    member: bool = True


class RandomBucketCondition(_Node):
    """A stable pseudo-random share of contacts: bucket(contact, seed) in [from_pct, to_pct)."""

    type: Literal["random_bucket"]
    seed: int = Field(ge=0, le=1_000_000)
    from_pct: int = Field(default=0, ge=0, le=100)
    to_pct: int = Field(ge=0, le=100)


Node = Annotated[
    AndNode
    | OrNode
    | NotNode
    | PropertyCondition
    | ConsentCondition
    | SuppressionCondition
    | PerformedCondition
    | NotPerformedSinceCondition
    | EventTimeCondition
    | EngagementCondition
    | PurchaseCondition
    | OrderedCondition
    | LocationCondition
    | RfmCondition
    | LifecycleCondition
    | MembershipCondition
    | RandomBucketCondition,
    Field(discriminator="type"),
]
NODE_TYPES = frozenset(
    {
        "and",
        "or",
        "not",
        "property",
        "consent",
        "suppressed",
        "performed",
        "not_performed_since",
        "event_time",
        "email_engagement",
        "purchase",
        "ordered",
        "location",
        "rfm_segment",
        "lifecycle_stage",
        "segment_membership",
        "random_bucket",
    }
)


class SegmentDefinition(_Node):
    """A whole definition: its format version and the root of the tree."""

    version: Literal[1] = 1
    root: Node


AndNode.model_rebuild()
OrNode.model_rebuild()
NotNode.model_rebuild()
SegmentDefinition.model_rebuild()


def error_path(loc: tuple[int | str, ...]) -> str:
    """`root.conditions[2].operator` from a Pydantic error location (union tags dropped)."""
    path = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            path += f"[{part}]"
            continue
        before = loc[i - 1] if i > 0 else None
        node_slot = before in ("root", "condition") or (
            isinstance(before, int) and i > 1 and loc[i - 2] == "conditions"
        )
        if part in NODE_TYPES and node_slot:
            # The discriminated union adds the chosen tag to the location; the user never wrote it.
            continue
        path += ("." if path else "") + str(part)
    return path


def first_error(exc: ValidationError) -> tuple[str, str, list[dict[str, str]]]:
    """The path and message of the first validation error, and all of them, in the user's terms."""
    errors = [
        {
            # A bad or missing `type` is reported on the node; the user wrote it in its `type` field.
            "field": error_path(tuple(e["loc"]))
            + (".type" if e["type"] in ("union_tag_invalid", "union_tag_not_found") else ""),
            "message": e["msg"],
        }
        for e in exc.errors()
    ]
    first = errors[0] if errors else {"field": "root", "message": "invalid definition"}
    return first["field"], first["message"], errors


class SegmentIn(BaseModel):
    """A segment to create or replace."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    definition: dict[str, Any]
    enabled: bool = True

    @field_validator("name")
    @classmethod
    def _strip(cls, value: str) -> str:
        stripped = value.strip()
        if not stripped:
            raise ValueError("name is empty")
        return stripped


class SegmentUpdate(BaseModel):
    """A partial change of a segment; parameters rebuild a parameterized built-in's definition."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    definition: dict[str, Any] | None = None
    enabled: bool | None = None
    parameters: dict[str, Any] | None = None


class PreviewIn(BaseModel):
    """A definition to try without saving."""

    model_config = ConfigDict(extra="forbid")

    definition: dict[str, Any]
    sample: int = Field(default=10, ge=0, le=200)


class SegmentWarning(BaseModel):
    """A classic pitfall: too small to be worth a message, or the same people as another segment."""

    code: Literal["too_small", "overlap"]
    message: str
    segment_id: int | None = None
    segment: str | None = None
    overlap: float | None = None


class MemberOut(BaseModel):
    """One member of a segment."""

    contact_id: int
    email: str | None
    first_name: str | None = None
    entered_at: datetime | None = None


class PreviewOut(BaseModel):
    """How many contacts a definition selects right now, a sample of them, and warnings."""

    count: int
    sample: list[MemberOut]
    warnings: list[SegmentWarning] = []


class SegmentOut(BaseModel):
    """A stored segment."""

    id: int
    name: str
    description: str
    definition: dict[str, Any]
    definition_version: int
    builtin: str | None
    enabled: bool
    parameters: dict[str, Any]
    member_count: int
    refreshed_at: datetime | None
    created_at: datetime
    updated_at: datetime


class SavedSegmentOut(BaseModel):
    """A created or updated segment, with its warnings."""

    segment: SegmentOut
    warnings: list[SegmentWarning] = []


class MembersPage(BaseModel):
    """A page of a segment's members."""

    segment_id: int
    total: int
    limit: int
    offset: int
    members: list[MemberOut]


class SegmentChange(BaseModel):
    """What one refresh did to one segment."""

    segment_id: int
    name: str
    entered: int
    exited: int
    members: int


class RefreshResult(BaseModel):
    """What a refresh did, per segment."""

    segments: list[SegmentChange] = []

    @property
    def entered(self) -> int:
        """Contacts that entered any segment."""
        return sum(s.entered for s in self.segments)

    @property
    def exited(self) -> int:
        """Contacts that left any segment."""
        return sum(s.exited for s in self.segments)


def parse_date_value(value: Any) -> date | datetime | None:
    """An ISO date or datetime string, or None when it is not one."""
    if not isinstance(value, str):
        return None
    try:
        if len(value) == 10:
            return date.fromisoformat(value)
        return datetime.fromisoformat(value)
    except ValueError:
        return None
