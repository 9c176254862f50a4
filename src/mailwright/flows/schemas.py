"""Flow definitions (a typed, versioned graph) and the flows API's input and output shapes.

A definition is a trigger, entry rules, filters, goals and exits, and a list of nodes joined by the ids
named in each node's outgoing fields (`next`, `yes`/`no`, `on_event`/`on_timeout`, split branches).
It is stored as JSON with a format version and can be written as YAML (flows as code).
"""

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mailwright.segments.schemas import LifecycleStage, PropertyFilter
from mailwright.segments.schemas import Node as SegmentNode

DEFINITION_VERSION = 1
_TIME_OF_DAY = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
# Node ids appear in idempotency keys and source ids ("<flow>:<node>"): short and plain.
_NODE_ID = r"^[A-Za-z0-9_\-]{1,40}$"


class _Strict(BaseModel):
    # A typo in a flow file ("tempalte") is an error naming the field, never silently ignored.
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_time(value: str) -> str:
    if not _TIME_OF_DAY.match(value):
        raise ValueError("time of day must be HH:MM (24 h)")
    return value


# ---- triggers -------------------------------------------------------------------------------------


class EventTrigger(_Strict):
    """An event, optionally with property filters (`Order Completed` where total > 100)."""

    type: Literal["event"]
    event: str = Field(min_length=1, max_length=200)
    where: list[PropertyFilter] = Field(default_factory=list)


class SegmentEnteredTrigger(_Strict):
    """The contact entered a segment (the segments domain records `Segment Entered`)."""

    type: Literal["segment_entered"]
    segment_id: int


class SubscribedTrigger(_Strict):
    """The contact subscribed; with `confirmed_only`, only once double opt-in is confirmed."""

    type: Literal["subscribed"]
    confirmed_only: bool = False


class DateTrigger(_Strict):
    """A date of the contact's at a time of day in the contact's zone, shifted by `offset_days`.

    `birthday` and `signup_anniversary` recur every year; `predicted_next_order` is the predictions
    domain's expected next order date; `properties.<key>` is an ISO date in the profile's properties.
    """

    type: Literal["date"]
    field: str = Field(min_length=1, max_length=200)
    offset_days: int = Field(default=0, ge=-365, le=365)
    at: str = "10:00"

    @field_validator("field")
    @classmethod
    def _known_field(cls, value: str) -> str:
        if value in DATE_FIELDS or (value.startswith("properties.") and len(value) > len("properties.")):
            return value
        raise ValueError(f"date field must be one of {', '.join(DATE_FIELDS)} or properties.<key>")

    @field_validator("at")
    @classmethod
    def _time(cls, value: str) -> str:
        return _check_time(value)


DATE_FIELDS = ("birthday", "signup_anniversary", "predicted_next_order")
ALL_STAGES: tuple[LifecycleStage, ...] = ("new", "active", "at_risk", "churned")


class ConditionTrigger(_Strict):
    """Contacts matching a segment condition enter when the periodic scan finds them (win-back, sunset)."""

    type: Literal["condition"]
    condition: SegmentNode
    every_hours: float = Field(default=24.0, gt=0, le=24 * 31)


class LifecycleTrigger(_Strict):
    """The contact's lifecycle stage changed to one of `stages` (new -> active -> at risk -> churned)."""

    type: Literal["lifecycle_change"]
    stages: list[LifecycleStage] = Field(default_factory=lambda: list(ALL_STAGES), min_length=1)


class ApiTrigger(_Strict):
    """Started only through the API or CLI for given contacts."""

    type: Literal["api"]


Trigger = Annotated[
    EventTrigger
    | SegmentEnteredTrigger
    | SubscribedTrigger
    | DateTrigger
    | ConditionTrigger
    | LifecycleTrigger
    | ApiTrigger,
    Field(discriminator="type"),
]


# ---- entry rules, goals, exits --------------------------------------------------------------------


class EntryRule(_Strict):
    """Once per contact ever, or again once `again_after_days` have passed since the last entry."""

    mode: Literal["once", "again_after"] = "once"
    again_after_days: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _days_when_again(self) -> "EntryRule":
        if self.mode == "again_after" and self.again_after_days is None:
            raise ValueError("again_after needs again_after_days")
        return self


class GoalRule(_Strict):
    """An event that ends the run; a goal marks the run converted, a plain exit does not."""

    event: str = Field(min_length=1, max_length=200)
    where: list[PropertyFilter] = Field(default_factory=list)


# ---- flow conditions (condition split) ------------------------------------------------------------


class OrderedSinceStart(_Strict):
    """The contact placed an order after the run started."""

    type: Literal["ordered_since_start"]


class PerformedSinceStart(_Strict):
    """The contact performed one of these events after the run started."""

    type: Literal["performed_since_start"]
    event: str | list[str]
    where: list[PropertyFilter] = Field(default_factory=list)


class TriggerPropertyCondition(_Strict):
    """A property of the event that started the run (`source`, `total`, ...)."""

    type: Literal["trigger_property"]
    filter: PropertyFilter


class SegmentCondition(_Strict):
    """Any segment condition tree, evaluated for the contact at that moment."""

    type: Literal["segment"]
    condition: SegmentNode


FlowCondition = Annotated[
    OrderedSinceStart | PerformedSinceStart | TriggerPropertyCondition | SegmentCondition,
    Field(discriminator="type"),
]


# ---- nodes ----------------------------------------------------------------------------------------


class _Node(_Strict):
    id: str = Field(pattern=_NODE_ID)
    label: str = Field(default="", max_length=200)


class WaitNode(_Node):
    """Wait a duration."""

    type: Literal["wait"]
    days: float = Field(default=0, ge=0)
    hours: float = Field(default=0, ge=0)
    minutes: float = Field(default=0, ge=0)
    next: str

    @model_validator(mode="after")
    def _positive(self) -> "WaitNode":
        if self.days == 0 and self.hours == 0 and self.minutes == 0:
            raise ValueError("a wait needs days, hours or minutes")
        return self

    def seconds(self) -> float:
        """The wait's length in seconds."""
        return self.days * 86400 + self.hours * 3600 + self.minutes * 60


class WaitUntilNode(_Node):
    """Wait until a time of day (and optionally one of some weekdays, 0 = Monday) in the contact's zone."""

    type: Literal["wait_until"]
    time: str = "10:00"
    weekdays: list[int] = Field(default_factory=list)
    next: str

    @field_validator("time")
    @classmethod
    def _time(cls, value: str) -> str:
        return _check_time(value)

    @field_validator("weekdays")
    @classmethod
    def _weekdays(cls, value: list[int]) -> list[int]:
        if any(d < 0 or d > 6 for d in value):
            raise ValueError("weekdays are 0 (Monday) to 6 (Sunday)")
        return sorted(set(value))


class WaitForEventNode(_Node):
    """Wait for an event up to a timeout; continue on `on_event` if it comes, else on `on_timeout`."""

    type: Literal["wait_for_event"]
    event: str = Field(min_length=1, max_length=200)
    where: list[PropertyFilter] = Field(default_factory=list)
    timeout_hours: float = Field(gt=0)
    on_event: str
    on_timeout: str


class ConditionNode(_Node):
    """Split on a condition: `yes` when it holds for the contact now, else `no`."""

    type: Literal["condition"]
    condition: FlowCondition
    yes: str
    no: str


class SplitBranch(_Strict):
    """One branch of a random split; a holdout branch usually leads straight to an exit."""

    weight: float = Field(gt=0)
    next: str
    label: str = Field(default="", max_length=100)
    holdout: bool = False


class RandomSplitNode(_Node):
    """Send each run down one branch: at random by the weights (`fixed`), or by Thompson sampling.

    A `thompson` split (a bandit) starts as a weighted split and, once every branch has
    `min_runs_per_branch` runs whose reward window has passed, sends each run to the branch whose draw
    from its Beta posterior of the reward rate is highest, so traffic shifts toward the better branch
    while it learns. The reward is an order placed (or an `Email Clicked`) by the contact within
    `reward_window_hours` after the split; reports measure fixed splits by the same reward.
    """

    type: Literal["random_split"]
    branches: list[SplitBranch] = Field(min_length=2)
    mode: Literal["fixed", "thompson"] = "fixed"
    reward: Literal["order", "click"] = "order"
    reward_window_hours: int = Field(default=72, ge=1, le=720)
    min_runs_per_branch: int = Field(default=50, ge=0, le=1_000_000)


class TemplateVariant(_Strict):
    """One variant of a send node: another template, with a weight."""

    template: str = Field(min_length=1, max_length=100)
    weight: float = Field(default=1.0, gt=0)


class SendEmailNode(_Node):
    """Queue an email from a template (or one of weighted variants) into the outbox."""

    type: Literal["send_email"]
    template: str = Field(default="", max_length=100)
    variants: list[TemplateVariant] = Field(default_factory=list)
    topic: str | None = None
    category: Literal["marketing", "transactional"] = "marketing"
    # Extra values for the template (a discount code, a percentage): `message.*` in the template.
    message: dict[str, Any] = Field(default_factory=dict)
    next: str | None = None


class UpdateProfileNode(_Node):
    """Set profile properties, add tags, or (sunset) unsubscribe / suppress the contact."""

    type: Literal["update_profile"]
    set: dict[str, Any] = Field(default_factory=dict)
    add_tags: list[str] = Field(default_factory=list)
    unsubscribe: bool = False
    suppress: bool = False
    next: str | None = None


class WebhookNode(_Node):
    """POST the run's contact and trigger to a URL, signed with HMAC-SHA256, retried as a job."""

    type: Literal["webhook"]
    url: str = Field(pattern=r"^https?://", max_length=2000)
    # Shared with the receiver, which checks `X-Mailwright-Signature: sha256=<hex HMAC of the body>`.
    secret: str = Field(min_length=8, max_length=200)
    next: str | None = None


class ExitNode(_Node):
    """End the run here."""

    type: Literal["exit"]
    reason: str = Field(default="completed", max_length=100)


FlowNode = Annotated[
    WaitNode
    | WaitUntilNode
    | WaitForEventNode
    | ConditionNode
    | RandomSplitNode
    | SendEmailNode
    | UpdateProfileNode
    | WebhookNode
    | ExitNode,
    Field(discriminator="type"),
]
WAIT_TYPES = frozenset({"wait", "wait_until", "wait_for_event"})
NODE_TYPES = frozenset(
    {
        "wait",
        "wait_until",
        "wait_for_event",
        "condition",
        "random_split",
        "send_email",
        "update_profile",
        "webhook",
        "exit",
    }
)
TRIGGER_TYPES = frozenset(
    {"event", "segment_entered", "subscribed", "date", "condition", "lifecycle_change", "api"}
)


def successors(node: BaseModel) -> list[tuple[str, str]]:
    """(edge name, target id) for every outgoing edge of a node."""
    out: list[tuple[str, str]] = []
    for name in ("next", "yes", "no", "on_event", "on_timeout"):
        target = getattr(node, name, None)
        if isinstance(target, str):
            out.append((name, target))
    if isinstance(node, RandomSplitNode):
        out.extend((f"branches[{i}]", b.next) for i, b in enumerate(node.branches))
    return out


class FlowDefinition(_Strict):
    """A whole flow: format version, trigger, entry rules, filters, goals, exits and the node graph."""

    version: Literal[1] = 1
    trigger: Trigger
    entry: EntryRule = Field(default_factory=EntryRule)
    # Checked on entry and again before every send (as Klaviyo does).
    filters: SegmentNode | None = None
    goals: list[GoalRule] = Field(default_factory=list)
    exits: list[GoalRule] = Field(default_factory=list)
    # Collision rules: within one group, a contact in a higher-priority flow gets no mail from lower ones.
    group: str | None = Field(default=None, max_length=50)
    priority: int = 0
    # The share of runs that go through the flow but are sent nothing: the control group that tells what
    # the flow earned over not sending (analytics' holdout lift). 10 % unless the flow says otherwise.
    holdout_percent: float = Field(default=10.0, ge=0, le=50)
    start: str
    nodes: list[FlowNode] = Field(min_length=1)

    def node_map(self) -> dict[str, Any]:
        """Nodes by id."""
        return {n.id: n for n in self.nodes}


# ---- API shapes -----------------------------------------------------------------------------------


class FlowIn(BaseModel):
    """A flow to create, or a new version of one (same name)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    definition: dict[str, Any]

    @field_validator("name")
    @classmethod
    def _strip(cls, value: str) -> str:
        stripped = value.strip()
        if not stripped:
            raise ValueError("name is empty")
        return stripped


class ValidationIssue(BaseModel):
    """One reason a definition is refused, naming the node or field at fault."""

    field: str
    message: str
    node: str | None = None


class ValidationReport(BaseModel):
    """The save-time checks of a definition."""

    ok: bool
    issues: list[ValidationIssue] = []


class FlowOut(BaseModel):
    """A stored flow and its current version."""

    id: int
    name: str
    description: str
    status: str
    builtin: str | None
    group: str | None
    priority: int
    version: int
    definition: dict[str, Any]
    activated_at: datetime | None
    created_at: datetime
    updated_at: datetime
    runs: dict[str, int] = {}
    # What will go wrong as things stand (an email whose coupon pool is empty), said on activation.
    warnings: list[str] = []


class StartIn(BaseModel):
    """Contacts to start a flow for (API-triggered flows)."""

    model_config = ConfigDict(extra="forbid")

    contact_ids: list[int] = Field(min_length=1, max_length=10_000)
    properties: dict[str, Any] = Field(default_factory=dict)


class HistoryOut(BaseModel):
    """One step of a run's history."""

    model_config = ConfigDict(from_attributes=True)

    node_id: str | None
    action: str
    outcome: str
    explanation: str | None
    at: datetime


class RunOut(BaseModel):
    """One run of a flow."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    flow_id: int
    version: int
    contact_id: int
    current_node: str | None
    status: str
    wake_at: datetime | None
    trigger_event_id: int | None
    started_at: datetime
    ended_at: datetime | None
    exit_reason: str | None
    converted: bool
    history: list[HistoryOut] = []


class StartResult(BaseModel):
    """What a start request did."""

    started: int
    refused: dict[str, int] = {}


class BacktestNode(BaseModel):
    """What one node would have done in a backtest."""

    node_id: str
    type: str
    template: str | None = None
    count: int


class BacktestReport(BaseModel):
    """How a flow would have run over a past period, without sending."""

    flow: str
    start: datetime
    end: datetime
    contacts_entered: int
    runs_started: int
    emails: int
    emails_per_node: list[BacktestNode]
    goal_exits: int
    exits: int
    collisions: int
    collision_examples: list[str] = []
    refused_entry: dict[str, int] = {}
    still_running: int
