"""Thompson sampling for random split nodes in `thompson` mode: a bandit that learns which branch earns more.

Each branch's reward rate (an order, or an `Email Clicked`, by the contact within the node's reward window
after the split) has a Beta(1 + successes, 1 + failures) posterior, counted from the split history of the
runs whose window has passed ("matured" runs). Until every branch has `min_runs_per_branch` matured runs the
node splits by its weights; after that each run draws one value from every branch's posterior and takes
the branch with the highest draw, so the share of traffic a branch gets is its probability of being best.

The draw is seeded by (run id, node id): the same run with the same counts takes the same branch, and the
counts are written into the run's history, so every choice can be reproduced. The counts are one grouped
query per (flow, node), reused by every batch for `REFRESH` (a tick advances thousands of runs in batches).
"""

import hashlib
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, Interval, String, case, exists, func, literal, not_, or_, select
from sqlalchemy.orm import Session

from mailwright.delivery.models import OutboxMessage
from mailwright.events.models import Event
from mailwright.flows.models import FlowRun, FlowRunStep
from mailwright.flows.schemas import RandomSplitNode, SplitBranch
from mailwright.orders.models import Order
from mailwright.segments.dialects import DIALECTS

# A thompson split's history line reads "branch <label>; thompson ...": the label is what comes before.
SEPARATOR = "; thompson"
CLICK_EVENT = "Email Clicked"


@dataclass(frozen=True)
class ArmCounts:
    """One branch's matured runs and how many of them earned the reward."""

    label: str
    runs: int
    successes: int

    @property
    def posterior_mean(self) -> float:
        """Mean of the Beta(1 + successes, 1 + failures) posterior."""
        return (1 + self.successes) / (2 + self.runs)


def branch_label(branch: SplitBranch) -> str:
    """The name a branch goes by in history and reports: its label, else the node it leads to."""
    return branch.label or branch.next


def label_of(explanation: str | None) -> str:
    """The branch label in a split's history line ("branch B; thompson ..." -> "B")."""
    text = (explanation or "").removeprefix("branch ")
    return text.partition(SEPARATOR)[0]


def plus_hours(session: Session, column: Any, hours: float) -> ColumnElement[Any]:
    """`column + hours` as SQL, comparable with other UTC timestamp columns on both engines."""
    if session.get_bind().dialect.name == "postgresql":
        return column + literal(timedelta(hours=hours), type_=Interval())  # type: ignore[no-any-return]
    # SQLite keeps "YYYY-MM-DD HH:MM:SS.ffffff" text: shift the seconds part, keep the microseconds.
    shifted = func.strftime("%Y-%m-%d %H:%M:%S", column, f"{hours:+g} hours", type_=String)
    return shifted + func.substr(column, 20)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def flow_message_ids(flow_id: int, contact: Any) -> Any:
    """The public ids of the emails this flow queued for a contact (a subquery)."""
    return select(OutboxMessage.public_id).where(
        OutboxMessage.contact_id == contact,
        OutboxMessage.source_kind == "flow",
        OutboxMessage.source_id.like(f"{flow_id}:%"),
    )


def _reward_hit(
    session: Session, flow_id: int, contact: Any, at: Any, reward: str, hours: float
) -> ColumnElement[bool]:
    """An order, or a human click on one of this flow's emails, by the contact in (at, at + window]."""
    end = plus_hours(session, at, hours)
    if reward == "click":
        dialect = DIALECTS[session.get_bind().dialect.name]
        bot = dialect.json_type_is(Event.properties, "bot", ("true",))
        # Only this flow's emails: a click on the weekly newsletter says nothing about the cart reminder.
        return exists().where(
            Event.contact_id == contact,
            Event.name == CLICK_EVENT,
            Event.occurred_at > at,
            Event.occurred_at <= end,
            not_(bot),
            dialect.json_text(Event.properties, "message_id").in_(flow_message_ids(flow_id, contact)),
        )
    return exists().where(
        Order.contact_id == contact,
        Order.status != "cancelled",
        Order.placed_at > at,
        Order.placed_at <= end,
    )


def posterior_counts(session: Session, flow_id: int, node: RandomSplitNode, now: datetime) -> list[ArmCounts]:
    """Matured runs and rewards per branch of one split node (all versions of the flow), in branch order.

    Branches are matched by label, so a new version that keeps a branch's label keeps what it learned.
    """
    labels = [branch_label(b) for b in node.branches if not b.holdout]
    cutoff = now - timedelta(hours=node.reward_window_hours)
    # Longest label first: "A (new)" must not be read as "A".
    arm = case(
        *[
            (
                or_(
                    FlowRunStep.explanation == f"branch {label}",
                    FlowRunStep.explanation.like(f"branch {_escape_like(label)}{SEPARATOR}%", escape="\\"),
                ),
                literal(label),
            )
            for label in sorted(labels, key=len, reverse=True)
        ],
        else_=None,
    ).label("arm")
    hit = case(
        (
            _reward_hit(
                session, flow_id, FlowRun.contact_id, FlowRunStep.at, node.reward, node.reward_window_hours
            ),
            1,
        ),
        else_=0,
    ).label("hit")
    units = (
        select(arm, hit)
        .select_from(FlowRunStep)
        .join(FlowRun, FlowRun.id == FlowRunStep.run_id)
        .where(
            FlowRun.flow_id == flow_id,
            FlowRunStep.node_id == node.id,
            FlowRunStep.action == "split",
            FlowRunStep.outcome == "branch",
            FlowRunStep.at <= cutoff,
        )
        .subquery()
    )
    rows = session.execute(
        select(units.c.arm, func.count(), func.sum(units.c.hit))
        .where(units.c.arm.is_not(None))
        .group_by(units.c.arm)
    )
    found = {str(label): (int(n), int(s or 0)) for label, n, s in rows}
    return [ArmCounts(label, *found.get(label, (0, 0))) for label in labels]


# Counts per database (engine or test connection), per node: (when computed, counts). A batch and the
# next ticks reuse them for REFRESH: the posterior moves by whole reward windows (hours or days), and
# recounting a busy node's history costs about 0.5 s per 100,000 matured runs.
REFRESH = timedelta(minutes=15)
_COUNTS: "weakref.WeakKeyDictionary[Any, dict[tuple[Any, ...], tuple[datetime, list[ArmCounts]]]]" = (
    weakref.WeakKeyDictionary()
)


def cached_counts(session: Session, flow_id: int, node: RandomSplitNode, now: datetime) -> list[ArmCounts]:
    """`posterior_counts`, recounted at most every REFRESH per node (and never from a later clock)."""
    per_bind = _COUNTS.setdefault(session.get_bind(), {})
    key = (flow_id, node.id, node.reward, node.reward_window_hours, tuple(map(branch_label, node.branches)))
    found = per_bind.get(key)
    if found is not None and found[0] <= now < found[0] + REFRESH:
        return found[1]
    counts = posterior_counts(session, flow_id, node, now)
    per_bind[key] = (now, counts)
    return counts


def forget_counts() -> None:
    """Drop every cached count (tests that rewrite history under the same clock)."""
    _COUNTS.clear()


def _uniforms(run_ids: Sequence[int], node_id: str, arms: int) -> np.ndarray:
    # Stable per (run, node, arm), and distinct from the weighted split's hash of (run, node).
    values = np.empty((len(run_ids), arms))
    for i, run_id in enumerate(run_ids):
        for j in range(arms):
            digest = hashlib.blake2b(f"thompson:{run_id}:{node_id}:{j}".encode(), digest_size=8).digest()
            values[i, j] = (int.from_bytes(digest, "big") + 0.5) / 2**64
    return values


def thompson_draws(run_ids: Sequence[int], node_id: str, counts: Sequence[ArmCounts]) -> np.ndarray:
    """One posterior draw per (run, branch): the Beta quantile of the run's stable uniform number."""
    # Imported when needed: scipy takes a second to load and only thompson splits use it.
    from scipy.special import betaincinv

    successes = np.array([c.successes for c in counts], dtype=float)
    failures = np.array([max(c.runs - c.successes, 0) for c in counts], dtype=float)
    uniforms = _uniforms(run_ids, node_id, len(counts))
    return np.asarray(betaincinv(1.0 + successes[None, :], 1.0 + failures[None, :], uniforms))


def choose(
    session: Session,
    flow_id: int,
    node: RandomSplitNode,
    run_ids: Sequence[int],
    now: datetime,
    weighted: Callable[[int], int],
) -> list[tuple[int, str]]:
    """The branch index of each run of a thompson split, and the explanation for its history line.

    `weighted` is the node's plain weighted split, used until every branch has enough matured runs.
    """
    if not run_ids:
        return []
    counts = cached_counts(session, flow_id, node, now)
    if any(c.runs < node.min_runs_per_branch for c in counts):
        seen = ", ".join(f"{c.label} {c.runs}" for c in counts)
        why = (
            f"{SEPARATOR} warm-up: weighted split until every branch has {node.min_runs_per_branch} "
            f"matured runs ({seen})"
        )
        indexes = [weighted(run_id) for run_id in run_ids]
    else:
        arms = [i for i, b in enumerate(node.branches) if not b.holdout]
        picks = np.argmax(thompson_draws(run_ids, node.id, counts), axis=1)
        indexes = [arms[int(p)] for p in picks]
        why = f"{SEPARATOR}: posterior mean {node.reward} rate " + ", ".join(
            f"{c.label} {c.posterior_mean:.4f} ({c.successes} of {c.runs})" for c in counts
        )
    return [(i, f"branch {branch_label(node.branches[i])}{why}") for i in indexes]
