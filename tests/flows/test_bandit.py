"""Thompson-sampling split nodes: the bandit moves traffic to the better branch, favours neither of two
equal ones, keeps each run's branch reproducible, counts rewards in the window, and refuses bad options."""

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy import insert, select

from mailwright.contacts.models import Contact
from mailwright.core.db import table_of
from mailwright.core.runtime import Runtime
from mailwright.delivery.models import OutboxMessage
from mailwright.events.models import Event
from mailwright.flows import bandit, service, validation
from mailwright.flows.engine import pick_weighted
from mailwright.flows.models import FlowRun, FlowRunStep
from mailwright.flows.schemas import FlowIn, RandomSplitNode, StartIn
from mailwright.orders.models import Order


def split_flow(**options: Any) -> dict[str, Any]:
    """An API-started flow whose first node is a thompson split between two exits."""
    return {
        "trigger": {"type": "api"},
        "entry": {"mode": "again_after", "again_after_days": 0.01},
        "start": "split",
        "nodes": [
            {
                "id": "split",
                "type": "random_split",
                "mode": "thompson",
                "branches": [
                    {"weight": 1, "next": "a", "label": "A"},
                    {"weight": 1, "next": "b", "label": "B"},
                ],
                **options,
            },
            {"id": "a", "type": "exit", "reason": "a"},
            {"id": "b", "type": "exit", "reason": "b"},
        ],
    }


def add_contacts(runtime: Runtime, n: int, tag: str) -> list[int]:
    """n plain contacts."""
    now = runtime.clock.now()
    with runtime.uow() as uow:
        contacts = [Contact(email=f"{tag}-{i}@example.com", created_at=now, updated_at=now) for i in range(n)]
        uow.session.add_all(contacts)
        uow.session.flush()
        return [c.id for c in contacts]


def add_order(runtime: Runtime, contact_id: int, at: datetime, key: str, total_minor: int = 4000) -> None:
    """One placed order."""
    with runtime.uow() as uow:
        uow.session.execute(
            insert(table_of(Order)),
            [
                {
                    "external_id": key,
                    "contact_id": contact_id,
                    "placed_at": at,
                    "status": "placed",
                    "currency": "EUR",
                    "total_minor": total_minor,
                    "refunded_minor": 0,
                    "source": "test",
                    "updated_at": at,
                }
            ],
        )


def start(runtime: Runtime, flow: str, contact_ids: list[int]) -> None:
    """Start the flow for the contacts and advance it."""
    with runtime.uow() as uow:
        service.start(uow, flow, StartIn(contact_ids=contact_ids))
    service.tick(runtime.uow, runtime.clock.now())


def splits(runtime: Runtime, contact_ids: list[int]) -> dict[int, tuple[int, str, str]]:
    """Per contact: (run id, branch label, history explanation) of its latest split."""
    with runtime.uow() as uow:
        rows = uow.session.execute(
            select(FlowRun.contact_id, FlowRun.id, FlowRunStep.explanation)
            .join(FlowRunStep, FlowRunStep.run_id == FlowRun.id)
            .where(FlowRunStep.action == "split", FlowRun.contact_id.in_(contact_ids))
            .order_by(FlowRun.id)
        )
        return {cid: (rid, bandit.label_of(why), why or "") for cid, rid, why in rows}


def simulate(runtime: Runtime, rates: dict[str, float], *, days: int, per_day: int) -> list[dict[str, int]]:
    """Runs entering a thompson split every day; each orders (or not) with its branch's true rate.

    Returns the runs per branch on each day.
    """
    flow = f"Bandit {'-'.join(f'{r:g}' for r in rates.values())}"
    with runtime.uow() as uow:
        service.save_flow(uow, FlowIn(name=flow, definition=split_flow(reward_window_hours=24)))
        service.activate(uow, flow)
    rng = np.random.default_rng(20261108)
    per_day_counts = []
    for day in range(days):
        contacts = add_contacts(runtime, per_day, f"{flow}-{day}")
        start(runtime, flow, contacts)
        chosen = splits(runtime, contacts)
        counts = dict.fromkeys(rates, 0)
        for cid, (run_id, label, _) in chosen.items():
            counts[label] += 1
            if rng.random() < rates[label]:
                add_order(runtime, cid, runtime.clock.now() + timedelta(hours=3), f"sim-{run_id}")
        per_day_counts.append(counts)
        runtime.clock.advance(timedelta(days=1))  # type: ignore[attr-defined]
    return per_day_counts


def later_share(per_day: list[dict[str, int]], label: str, from_day: int) -> float:
    """The share of the runs from `from_day` on that went to `label`."""
    later = per_day[from_day:]
    return sum(d[label] for d in later) / sum(sum(d.values()) for d in later)


def test_the_bandit_sends_most_later_traffic_to_the_branch_with_more_orders(runtime: Runtime) -> None:
    # Through the engine and the database: true order rates 5 % (A) and 15 % (B), 100 runs a day for 14
    # days, a 24 h reward window, 50 matured runs per branch before the bandit takes over (day 3).
    # Measured: days 1-2 split 45/55 and 46/54 (the weighted warm-up), then B gets 100 % of days 7-14;
    # a fixed 50/50 test would give it 50 %.
    per_day = simulate(runtime, {"A": 0.05, "B": 0.15}, days=14, per_day=100)
    assert abs(per_day[0]["B"] - 50) <= 15  # the warm-up is the plain weighted split
    assert later_share(per_day, "B", 6) > 0.75, per_day


def simulate_counts(rates: tuple[float, float], seed: int, *, days: int = 14, per_day: int = 100) -> float:
    """The same experiment on the bandit's own functions, without a database: B's share of days 7-14."""
    rng = np.random.default_rng(seed)
    node = RandomSplitNode.model_validate(split_flow(reward_window_hours=24)["nodes"][0])
    runs, wins = [0, 0], [0, 0]
    pending: list[tuple[int, int]] = []
    later = [0, 0]
    next_id = seed * 100_000
    for day in range(days):
        # Yesterday's runs have matured by today (24 h window).
        for arm, won in pending:
            runs[arm] += 1
            wins[arm] += won
        pending = []
        counts = [bandit.ArmCounts(label, runs[i], wins[i]) for i, label in enumerate("AB")]
        ids = list(range(next_id, next_id + per_day))
        next_id += per_day
        if min(runs) < node.min_runs_per_branch:
            arms = [pick_weighted(run_id, node.id, [1, 1]) for run_id in ids]
        else:
            arms = [int(a) for a in bandit.thompson_draws(ids, node.id, counts).argmax(axis=1)]
        for arm in arms:
            pending.append((arm, int(rng.random() < rates[arm])))
            if day >= 6:
                later[arm] += 1
    return later[1] / sum(later)


@pytest.mark.parametrize(
    ("rates", "lowest", "mean_range"),
    [
        # Measured over 40 seeds: B's share of days 7-14 is 0.95 at the lowest, 0.99 on average.
        ((0.05, 0.15), 0.9, (0.95, 1.0)),
        # Two equal branches: no systematic preference (mean 0.47 over 40 seeds). A single experiment
        # wanders, as Thompson sampling does between equal arms (5-95 % of seeds: 0.09 to 0.92).
        ((0.10, 0.10), 0.0, (0.4, 0.6)),
    ],
)
def test_over_many_simulated_experiments_the_bandit_favours_only_a_real_difference(
    rates: tuple[float, float], lowest: float, mean_range: tuple[float, float]
) -> None:
    shares = [simulate_counts(rates, seed) for seed in range(1, 41)]
    assert min(shares) >= lowest, shares
    assert mean_range[0] <= float(np.mean(shares)) <= mean_range[1], shares


def test_a_runs_branch_is_reproducible_from_the_counts_in_its_history(runtime: Runtime) -> None:
    flow = "Stable"
    with runtime.uow() as uow:
        service.save_flow(
            uow, FlowIn(name=flow, definition=split_flow(reward_window_hours=24, min_runs_per_branch=5))
        )
        service.activate(uow, flow)
    first = add_contacts(runtime, 20, "first")
    start(runtime, flow, first)
    for cid, (run_id, label, _) in splits(runtime, first).items():
        if label == "B":
            add_order(runtime, cid, runtime.clock.now() + timedelta(hours=1), f"o-{run_id}")
    runtime.clock.advance(timedelta(days=2))  # type: ignore[attr-defined]
    second = add_contacts(runtime, 40, "second")
    start(runtime, flow, second)
    chosen = splits(runtime, second)
    explanations = {why for _, _, why in chosen.values()}
    # Every run of the batch saw the same posterior, written in its history.
    (why,) = explanations
    assert "thompson: posterior mean order rate A" in why and "B " in why
    with runtime.uow() as uow:
        node = RandomSplitNode.model_validate(
            split_flow(reward_window_hours=24, min_runs_per_branch=5)["nodes"][0]
        )
        flow_id = service.get_flow(uow.session, flow).id
        bandit.forget_counts()  # recount from the database, as another worker would
        again = bandit.choose(
            uow.session,
            flow_id,
            node,
            [run_id for run_id, _, _ in chosen.values()],
            runtime.clock.now(),
            lambda run_id: pick_weighted(run_id, "split", [1, 1]),
        )
    assert [bandit.label_of(w) for _, w in again] == [label for _, label, _ in chosen.values()]
    # B earned every order of the first day, so it gets most of the second.
    assert sum(1 for _, label, _ in chosen.values() if label == "B") >= 30


@pytest.mark.parametrize(
    ("counts", "expected_b"),
    [
        # (A runs, A successes, B runs, B successes) -> share of 2,000 runs drawn to B
        ((200, 10, 200, 30), (0.95, 1.0)),
        ((200, 20, 200, 20), (0.45, 0.55)),
        ((0, 0, 0, 0), (0.45, 0.55)),
        ((1000, 100, 50, 5), (0.40, 0.60)),  # same rate, less sure about B: still a fair chance
        ((200, 30, 200, 10), (0.0, 0.05)),
    ],
)
def test_thompson_draws_pick_a_branch_with_its_probability_of_being_best(
    counts: tuple[int, int, int, int], expected_b: tuple[float, float]
) -> None:
    arms = [bandit.ArmCounts("A", counts[0], counts[1]), bandit.ArmCounts("B", counts[2], counts[3])]
    draws = bandit.thompson_draws(range(1, 2001), "split", arms)
    share_b = float((draws.argmax(axis=1) == 1).mean())
    assert expected_b[0] <= share_b <= expected_b[1]
    # The same runs and counts draw the same values.
    assert np.array_equal(draws, bandit.thompson_draws(range(1, 2001), "split", arms))


def flow_mail(runtime: Runtime, source_id: str, contacts: Sequence[int], at: datetime) -> dict[int, str]:
    """One sent outbox row per contact from `source_id` ("<flow>:<node>"); returns their public ids."""
    public = {cid: f"m{source_id.replace(':', '-')}-{cid}" for cid in contacts}
    with runtime.uow() as uow:
        uow.session.execute(
            insert(table_of(OutboxMessage)),
            [
                {
                    "public_id": public[cid],
                    "idempotency_key": f"k-{public[cid]}",
                    "contact_id": cid,
                    "template_name": "newsletter",
                    "source_kind": "flow",
                    "source_id": source_id,
                    "status": "sent",
                    "send_at": at,
                    "sent_at": at,
                    "created_at": at,
                    "updated_at": at,
                }
                for cid in contacts
            ],
        )
    return public


def test_rewards_count_only_matured_runs_inside_the_window(runtime: Runtime) -> None:
    now = runtime.clock.now()
    c1, c2, c3, c4, c5, c6 = add_contacts(runtime, 6, "window")
    with runtime.uow() as uow:
        service.save_flow(uow, FlowIn(name="Window", definition=split_flow(reward="click")))
        flow_id = service.get_flow(uow.session, "Window").id
    split_at = now - timedelta(hours=80)
    plan = [
        # contact, label, split at, what happened after
        (c1, "A", split_at, "click 10 h later"),
        (c2, "A", split_at, "bot click"),
        (c3, "B", split_at, "click 73 h later (outside 72 h)"),
        (c4, "B", split_at, "click 71 h 59 min later"),
        (c5, "B", now - timedelta(hours=10), "not matured yet"),
        (c6, "A", split_at, "clicked another flow's email"),
    ]
    with runtime.uow() as uow:
        for i, (cid, label, at, _) in enumerate(plan):
            run_id = uow.session.execute(
                insert(table_of(FlowRun)).returning(table_of(FlowRun).c.id),
                [
                    {
                        "flow_id": flow_id,
                        "version": 1,
                        "contact_id": cid,
                        "status": "completed",
                        "entry_key": f"w{i}",
                        "started_at": at,
                        "updated_at": at,
                        "trigger": {},
                    }
                ],
            ).scalar_one()
            why = f"branch {label}; thompson warm-up" if i % 2 else f"branch {label}"
            uow.session.execute(
                insert(table_of(FlowRunStep)),
                [
                    {
                        "run_id": run_id,
                        "node_id": "split",
                        "action": "split",
                        "outcome": "branch",
                        "explanation": why,
                        "at": at,
                    }
                ],
            )
    own = flow_mail(runtime, f"{flow_id}:mail_a", [c1, c2, c3, c4, c5, c6], split_at)
    other = flow_mail(runtime, f"{flow_id + 1000}:mail", [c6], split_at)
    clicks = [
        (c1, split_at + timedelta(hours=10), False, own[c1]),
        (c2, split_at + timedelta(hours=10), True, own[c2]),
        (c3, split_at + timedelta(hours=73), False, own[c3]),
        (c4, split_at + timedelta(hours=71, minutes=59), False, own[c4]),
        (c5, now - timedelta(hours=5), False, own[c5]),
        (c6, split_at + timedelta(hours=10), False, other[c6]),
    ]
    with runtime.uow() as uow:
        uow.session.execute(
            insert(table_of(Event)),
            [
                {
                    "message_id": f"click-{i}",
                    "contact_id": cid,
                    "type": "track",
                    "name": "Email Clicked",
                    "properties": {"bot": bot, "message_id": message},
                    "occurred_at": at,
                    "received_at": at,
                    "source": "test",
                }
                for i, (cid, at, bot, message) in enumerate(clicks)
            ],
        )
        node = RandomSplitNode.model_validate(split_flow(reward="click")["nodes"][0])
        counts = bandit.posterior_counts(uow.session, flow_id, node, now)
    assert counts == [bandit.ArmCounts("A", 3, 1), bandit.ArmCounts("B", 2, 1)]


@pytest.mark.parametrize(
    ("options", "branch_extra", "field", "message"),
    [
        ({}, {"holdout": True}, "nodes[0].branches[1].holdout", "cannot have a holdout branch"),
        ({}, {"label": "A"}, "nodes[0].branches[1].label", "two branches labelled 'A'"),
        ({"reward_window_hours": 0}, {}, "nodes[0].reward_window_hours", "greater than or equal to 1"),
        ({"reward_window_hours": 721}, {}, "nodes[0].reward_window_hours", "less than or equal to 720"),
        ({"mode": "greedy"}, {}, "nodes[0].mode", "thompson"),
        ({"reward": "revenue"}, {}, "nodes[0].reward", "order"),
        ({"min_runs_per_branch": -1}, {}, "nodes[0].min_runs_per_branch", "greater than or equal to 0"),
    ],
)
def test_bad_split_options_are_refused_naming_the_node_and_field(
    options: dict[str, Any], branch_extra: dict[str, Any], field: str, message: str
) -> None:
    data = split_flow(**options)
    data["nodes"][0]["branches"][1].update(branch_extra)
    report = validation.validate(data)
    assert not report.ok
    issue = next(i for i in report.issues if i.field == field)
    assert issue.node == "split"
    assert message in issue.message


def test_a_fixed_split_with_a_holdout_is_still_accepted() -> None:
    data = split_flow(mode="fixed")
    data["nodes"][0]["branches"][1]["holdout"] = True
    assert validation.validate(data).ok
