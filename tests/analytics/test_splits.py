"""Split node results: known-answer counts, rates, revenue, lift intervals and allocation per day."""

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert
from tests.flows.test_bandit import add_contacts, flow_mail, simulate

from mailwright.analytics import charts, splits
from mailwright.analytics.stats import rate_difference
from mailwright.core.db import table_of
from mailwright.core.runtime import Runtime
from mailwright.events.models import Event
from mailwright.flows import service
from mailwright.flows.models import FlowRun, FlowRunStep
from mailwright.flows.schemas import FlowIn
from mailwright.orders.models import Order


def flow(runtime: Runtime, name: str, split: dict[str, Any]) -> int:
    """Save a flow whose start node is the given split between exits; returns its id."""
    exits = {b["next"] for b in split["branches"]}
    definition = {
        "trigger": {"type": "api"},
        "start": "split",
        "nodes": [{"id": "split", "type": "random_split", **split}]
        + [{"id": e, "type": "exit"} for e in sorted(exits)],
    }
    with runtime.uow() as uow:
        return service.save_flow(uow, FlowIn(name=name, definition=definition)).id


def split_runs(
    runtime: Runtime,
    flow_id: int,
    contacts: list[int],
    at: datetime,
    explanation: str,
    outcome: str = "branch",
) -> None:
    """Runs of the contacts that passed the split at `at` with this history line."""
    runs = table_of(FlowRun)
    with runtime.uow() as uow:
        for cid in contacts:
            run_id = uow.session.execute(
                insert(runs).returning(runs.c.id),
                [
                    {
                        "flow_id": flow_id,
                        "version": 1,
                        "contact_id": cid,
                        "status": "completed",
                        "entry_key": f"k{cid}-{at.isoformat()}",
                        "started_at": at,
                        "updated_at": at,
                        "trigger": {},
                    }
                ],
            ).scalar_one()
            uow.session.execute(
                insert(table_of(FlowRunStep)),
                [
                    {
                        "run_id": run_id,
                        "node_id": "split",
                        "action": "split",
                        "outcome": outcome,
                        "explanation": explanation,
                        "at": at,
                    }
                ],
            )


def orders(runtime: Runtime, rows: list[tuple[int, datetime, int, int, str]]) -> None:
    """Orders: (contact, placed at, total, refunded, status)."""
    with runtime.uow() as uow:
        uow.session.execute(
            insert(table_of(Order)),
            [
                {
                    "external_id": f"o-{i}-{cid}",
                    "contact_id": cid,
                    "placed_at": at,
                    "status": status,
                    "currency": "EUR",
                    "total_minor": total,
                    "refunded_minor": refunded,
                    "source": "test",
                    "updated_at": at,
                }
                for i, (cid, at, total, refunded, status) in enumerate(rows)
            ],
        )


def test_a_fixed_split_reports_counts_rates_revenue_lift_and_daily_allocation(runtime: Runtime) -> None:
    day_1 = runtime.clock.now()
    day_2 = day_1 + timedelta(days=1)
    flow_id = flow(
        runtime,
        "Fixed",
        {
            "branches": [
                {"weight": 1, "next": "x_a", "label": "A"},
                {"weight": 1, "next": "x_b", "label": "B"},
                {"weight": 1, "next": "x_h", "label": "hold", "holdout": True},
            ]
        },
    )
    a = add_contacts(runtime, 50, "a")
    b = add_contacts(runtime, 50, "b")
    h = add_contacts(runtime, 10, "h")
    split_runs(runtime, flow_id, a[:40], day_1, "branch A")
    split_runs(runtime, flow_id, a[40:], day_2, "branch A")
    split_runs(runtime, flow_id, b[:20], day_1, "branch B")
    split_runs(runtime, flow_id, b[20:], day_2, "branch B")
    split_runs(runtime, flow_id, h, day_1, "branch hold", outcome="holdout")
    rows = []
    # A: 5 of 50 order 20.00 within 72 h; one orders only after the window, one order is cancelled.
    rows += [(cid, day_1 + timedelta(hours=10), 2000, 0, "placed") for cid in a[:5]]
    rows += [(a[10], day_1 + timedelta(hours=80), 9900, 0, "placed")]
    rows += [(a[11], day_1 + timedelta(hours=5), 9900, 0, "cancelled")]
    # B: 15 of 50 order 30.00; one of them orders twice, one had 5.00 refunded; one ordered before the split.
    rows += [(cid, day_2 + timedelta(hours=1), 3000, 0, "placed") for cid in b[20:34]]
    rows += [(b[34], day_2 + timedelta(hours=1), 3000, 500, "placed")]
    rows += [(b[20], day_2 + timedelta(hours=2), 1000, 0, "placed")]
    rows += [(b[40], day_2 - timedelta(hours=1), 5000, 0, "placed")]
    # The holdout orders a lot: it must not appear in the A/B comparison.
    rows += [(cid, day_1 + timedelta(hours=3), 10_000, 0, "placed") for cid in h]
    orders(runtime, rows)

    with runtime.uow() as uow:
        (result,) = splits.split_results(uow.session, flow_id, since=day_1, until=day_1 + timedelta(days=7))
    assert (result.node_id, result.mode, result.reward, result.window_hours) == (
        "split",
        "fixed",
        "order",
        72,
    )
    assert result.holdout_runs == 10 and result.open_runs == 0
    got_a, got_b = result.branches
    assert (got_a.label, got_a.runs, got_a.conversions, got_a.revenue_minor) == ("A", 50, 5, 10_000)
    assert (got_b.label, got_b.runs, got_b.conversions, got_b.revenue_minor) == ("B", 50, 15, 45_500)
    assert got_a.conversion_rate == pytest.approx(0.1) and got_b.conversion_rate == pytest.approx(0.3)
    assert got_a.revenue_per_run_minor == pytest.approx(200) and got_b.revenue_per_run_minor == pytest.approx(
        910
    )
    assert got_a.lift is None
    assert got_b.lift == rate_difference(15, 50, 5, 50)
    # The true difference of these two groups (0.2) is inside the interval, and zero is not.
    assert got_b.lift is not None and got_b.lift.low < 0.2 < got_b.lift.high and got_b.lift.low > 0
    assert got_b.revenue_lift_minor is not None and got_b.revenue_lift_minor.difference == pytest.approx(710)
    assert got_b.probability_best is not None and got_b.probability_best > 0.99
    assert got_a.probability_best == pytest.approx(1 - got_b.probability_best, abs=1e-3)
    assert [(d.day, d.runs) for d in result.allocation] == [
        (day_1.date(), {"A": 40, "B": 20}),
        (day_2.date(), {"A": 10, "B": 30}),
    ]


def test_a_thompson_split_reads_labels_counts_clicks_and_leaves_open_windows_out(runtime: Runtime) -> None:
    now = runtime.clock.now()
    flow_id = flow(
        runtime,
        "Bandit",
        {
            "mode": "thompson",
            "reward": "click",
            "reward_window_hours": 24,
            "branches": [
                {"weight": 1, "next": "x_a", "label": "plain subject"},
                {"weight": 1, "next": "x_b", "label": "emoji subject"},
            ],
        },
    )
    plain = add_contacts(runtime, 4, "plain")
    emoji = add_contacts(runtime, 6, "emoji")
    early = now - timedelta(days=3)
    split_runs(runtime, flow_id, plain, early, "branch plain subject; thompson warm-up: weighted split")
    split_runs(
        runtime,
        flow_id,
        emoji[:4],
        early,
        "branch emoji subject; thompson: posterior mean click rate plain subject 0.5000 (0 of 0)",
    )
    # Two runs split an hour ago: their 24 h window is still open.
    split_runs(runtime, flow_id, emoji[4:], now - timedelta(hours=1), "branch emoji subject; thompson: ...")
    own = flow_mail(runtime, f"{flow_id}:mail", plain + emoji, early)
    newsletter = flow_mail(runtime, f"{flow_id + 1000}:mail", [plain[2]], early)
    clicks = [
        (plain[0], early + timedelta(hours=2), False, own[plain[0]]),
        (plain[1], early + timedelta(hours=2), True, own[plain[1]]),  # a link scanner
        (plain[2], early + timedelta(hours=2), False, newsletter[plain[2]]),  # another flow's email
        (emoji[0], early + timedelta(hours=1), False, own[emoji[0]]),
        (emoji[1], early + timedelta(hours=23), False, own[emoji[1]]),
        (emoji[2], early + timedelta(hours=25), False, own[emoji[2]]),  # after the window
        (emoji[4], now - timedelta(minutes=30), False, own[emoji[4]]),  # open window: not counted yet
    ]
    with runtime.uow() as uow:
        uow.session.execute(
            insert(table_of(Event)),
            [
                {
                    "message_id": f"c-{i}",
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
        (result,) = splits.split_results(
            uow.session, flow_id, since=now - timedelta(days=7), until=now, as_of=now
        )
    assert (result.mode, result.reward, result.window_hours, result.open_runs) == ("thompson", "click", 24, 2)
    assert [(b.label, b.runs, b.conversions) for b in result.branches] == [
        ("plain subject", 4, 1),
        ("emoji subject", 4, 2),
    ]
    assert [sum(d.runs.values()) for d in result.allocation] == [8, 2]


def test_the_report_shows_the_bandits_shift_day_by_day(runtime: Runtime, tmp_path: Any) -> None:
    per_day = simulate(runtime, {"A": 0.05, "B": 0.15}, days=5, per_day=100)
    with runtime.uow() as uow:
        flow_id = service.get_flow(uow.session, "Bandit 0.05-0.15").id
        (result,) = splits.split_results(
            uow.session, flow_id, since=runtime.clock.now() - timedelta(days=30), until=runtime.clock.now()
        )
    assert [d.runs for d in result.allocation] == per_day
    assert per_day[-1]["B"] > 80  # the last day went mostly to the better branch
    png = charts.allocation_over_time(result, tmp_path / "allocation.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000


def test_bad_periods_are_refused_naming_the_argument(runtime: Runtime) -> None:
    now = runtime.clock.now()
    with runtime.uow() as uow:
        with pytest.raises(ValueError, match="since"):
            splits.split_results(uow.session, 1, since=now, until=now)
        with pytest.raises(ValueError, match="window_days"):
            splits.split_results(uow.session, 1, since=now - timedelta(days=1), until=now, window_days=0)
