"""`mailwright predict`: train and score the shop's predictions, evaluate them on real data, explain one contact."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from mailwright.cli.common import build_runtime, console, domain_errors, err_console, print_json
from mailwright.core.clock import ManualClock
from mailwright.core.errors import InvalidInput
from mailwright.core.runtime import Runtime
from mailwright.predictions.schemas import ContactExplanation, TrainingSummary

if TYPE_CHECKING:
    from mailwright.predictions import service
    from mailwright.predictions.evaluation import EvaluationReport

predict_app = typer.Typer(help="Predictions: churn risk, value, next order, recommendations, send time.")

AsOfOption = Annotated[
    datetime | None,
    typer.Option(
        "--as-of",
        help="Score as of this moment (UTC) instead of now, e.g. the day after a historical shop's last order.",
    ),
]
HorizonOption = Annotated[
    int, typer.Option("--horizon", help="Days ahead for churn, revenue and orders.", min=7, max=730)
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
# A shop whose newest order is older than this is probably a historical data set: say how to score it.
STALE_DAYS = 365


def _runtime(as_of: datetime | None) -> Runtime:
    runtime = build_runtime()
    if as_of is None:
        return runtime
    moment = as_of if as_of.tzinfo is not None else as_of.replace(tzinfo=UTC)
    # The clock decides "now" everywhere; a fixed one scores a historical shop as of its own time.
    return Runtime(
        runtime.settings, clock=ManualClock(moment), database=runtime.database, registry=runtime.registry
    )


@contextmanager
def _progress(enabled: bool) -> Iterator[service.Progress]:
    """A Rich bar on stderr that advances one step per training stage."""
    from mailwright.predictions import service  # the models load pandas: only when used

    if not enabled:
        yield lambda _stage: None
        return
    bar = Progress(
        TextColumn("{task.description:<22}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )
    task = bar.add_task("predictions", total=len(service.STAGES))
    started: list[str] = []

    def advance(stage: str) -> None:
        # Called when a stage starts: the previous stage is then complete.
        bar.update(task, completed=len(started), description=stage)
        started.append(stage)

    with bar:
        yield advance
        bar.update(task, completed=len(service.STAGES))


def _train(as_of: datetime | None, horizon: int, as_json: bool) -> None:
    from mailwright.predictions import service  # the models load pandas: only when used

    runtime = _runtime(as_of)
    with domain_errors(), _progress(err_console.is_terminal and not as_json) as progress:
        started = time.perf_counter()
        progress(service.STAGES[0])
        # Read in one short transaction and fit outside any: on SQLite an open transaction holds the write
        # lock, and fitting takes long enough to stall ingestion.
        with runtime.uow() as uow:
            data = service.load_shop_data(
                uow.session, uow.now(), default_currency=runtime.settings.shop_currency
            )
        read = time.perf_counter() - started
        trained = service.train(data, horizon_days=float(horizon), progress=progress)
        with runtime.uow() as uow:
            summary = service.store(uow.session, trained)
    summary = summary.model_copy(update={"seconds": {"read": round(read, 2), **summary.seconds}})
    if as_json:
        print_json(summary)
        return
    render_summary(summary)


@predict_app.command("train")
def train(as_of: AsOfOption = None, horizon: HorizonOption = 92, as_json: JsonOption = False) -> None:
    """Fit every model on the shop's history, choose between them by backtest, store the scores."""
    _train(as_of, horizon, as_json)


@predict_app.command("score")
def score(as_of: AsOfOption = None, horizon: HorizonOption = 92, as_json: JsonOption = False) -> None:
    """Rescore every contact and product; the models are refitted, as fitting is part of scoring here."""
    _train(as_of, horizon, as_json)


@predict_app.command("evaluate")
def evaluate_command(
    data: Annotated[
        Path | None, typer.Option("--data", help="The shared data folder (default ../shared/data).")
    ] = None,
    online_retail: Annotated[
        Path | None, typer.Option("--online-retail", help="A file in the Online Retail format to evaluate.")
    ] = None,
    cutoff: Annotated[
        datetime | None, typer.Option("--cutoff", help="Cut-off date for the Online Retail protocol.")
    ] = None,
    docs: Annotated[Path, typer.Option("--docs", help="Where predictions.md and its charts go.")] = Path(
        "docs"
    ),
    as_json: JsonOption = False,
) -> None:
    """Run the evaluation protocols on real data beside their baselines; write docs/predictions.md."""
    from mailwright.predictions.evaluation import DEFAULT_CUTOFF, evaluate  # loads pandas: only when used

    if online_retail is not None and not online_retail.exists():
        with domain_errors():
            raise InvalidInput(f"{online_retail} does not exist", field="online-retail")
    moment = DEFAULT_CUTOFF if cutoff is None else cutoff.replace(tzinfo=cutoff.tzinfo or UTC)
    if not as_json:
        console.print("Evaluating on real data (a few minutes) ...")
    report = evaluate(data_dir=data, online_retail_path=online_retail, cutoff=moment, docs_dir=docs)
    if as_json:
        print_json(
            {
                "rows": [
                    {
                        "protocol": r.protocol,
                        "metric": r.metric,
                        "model": r.model,
                        "value": r.value,
                        "baselines": r.baselines,
                        "reference": r.reference,
                        "goal": r.goal,
                        "met": r.met,
                    }
                    for r in report.rows
                ],
                "notes": report.notes,
                "charts": [str(p) for p in report.charts],
                "seconds": round(report.seconds, 1),
                "written": str(docs / "predictions.md"),
            }
        )
        return
    render_evaluation(report)
    console.print(f"Written {docs / 'predictions.md'} in {report.seconds:.0f} s.", highlight=False)


@predict_app.command("explain")
def explain(email: str, as_json: JsonOption = False) -> None:
    """Show a contact's stored predictions, the models behind them, and its recommendations."""
    from mailwright.predictions import service  # loads pandas: only when used

    runtime = build_runtime()
    with domain_errors(), runtime.uow() as uow:
        found = service.explain(uow.session, email)
    if found is None:
        err_console.print(f"[red]no contact with email {email}[/red]")
        raise typer.Exit(1)
    if as_json:
        print_json(found)
        return
    render_explanation(found)


def _fmt(value: float) -> str:
    return f"{value:.3f}" if abs(value) < 10 else f"{value:,.1f}"


def _headline(validation: dict[str, dict[str, float]], model: str) -> str:
    """The chosen model's own backtest figures, the few a user can read at a glance."""
    for name, figures in validation.items():
        if name == model or name.endswith(f":{model}"):
            shown = {k: v for k, v in figures.items() if k not in ("windows", "degenerate")}
            return ", ".join(f"{k} {_fmt(v)}" for k, v in list(shown.items())[:7])
    return ""


def render_summary(summary: TrainingSummary) -> None:
    """Print which model serves each figure, its validation, and every fallback with its reason."""
    console.print(
        f"Scored {summary.contacts_scored:,} contacts as of {summary.as_of:%Y-%m-%d %H:%M} UTC "
        f"({summary.customers:,} customers, {summary.orders:,} orders, horizon {summary.horizon_days} days); "
        f"{summary.recommendations:,} recommendations, {summary.related_products:,} complementary items.",
        highlight=False,
    )
    table = Table(title="Models")
    for column in ("figure", "model", "fallback", "backtest (training period)", "reason"):
        table.add_column(column)
    for model in summary.models:
        table.add_row(
            model.figure,
            model.model,
            "[yellow]yes[/yellow]" if model.fallback else "no",
            _headline(model.validation, model.model),
            model.reason,
        )
    console.print(table)
    seconds = ", ".join(f"{k} {v:.1f}" for k, v in summary.seconds.items())
    console.print(f"Seconds: {seconds}", highlight=False)
    latest = summary.latest_order_at
    if latest is not None and (summary.as_of - latest).days > STALE_DAYS:
        console.print(
            f"[yellow]The newest order is from {latest:%Y-%m-%d}, {(summary.as_of - latest).days} days ago: "
            f"to score a historical shop as of its own time, pass --as-of {latest:%Y-%m-%d}T23:59:59.[/yellow]",
            highlight=False,
        )


def render_evaluation(report: EvaluationReport) -> None:
    """Print the evaluation table with the baselines measured beside each figure."""
    table = Table(title="Predictions on real data")
    for column in ("protocol", "metric", "model", "value", "baselines", "goal", "met"):
        table.add_column(column)
    for row in report.rows:
        met = "" if row.met is None else ("[green]yes[/green]" if row.met else "[red]no[/red]")
        baselines = "; ".join(f"{k} {_fmt(v)}" for k, v in row.baselines.items())
        table.add_row(row.protocol, row.metric, row.model, _fmt(row.value), baselines, row.goal, met)
    console.print(table)
    for note in report.notes:
        console.print(f"- {note}", highlight=False)


def render_explanation(found: ContactExplanation) -> None:
    """Print one contact's predictions with their models and fallbacks, then its recommendation lists."""
    p = found.predictions
    if p is None:
        console.print(f"{found.email}: no predictions stored yet (run `mailwright predict train`).")
    else:
        table = Table(
            title=f"Predictions for {found.email} (computed {p.computed_at:%Y-%m-%d %H:%M} UTC, v{p.version})"
        )
        for column in ("figure", "value", "model", "fallback reason"):
            table.add_column(column)
        money = p.currency or ""
        rows = [
            ("churn", "churn risk", None if p.churn_risk is None else f"{p.churn_risk:.1%}", p.churn_model),
            (
                "revenue",
                f"revenue next {p.horizon_days} days",
                None
                if p.predicted_revenue_minor is None
                else f"{p.predicted_revenue_minor / 100:,.2f} {money}",
                p.revenue_model,
            ),
            (
                "orders",
                f"orders next {p.horizon_days} days",
                None if p.predicted_orders is None else f"{p.predicted_orders:.2f}",
                p.orders_model,
            ),
            (
                "orders",
                "expected next order",
                None if p.expected_next_order_at is None else f"{p.expected_next_order_at:%Y-%m-%d}",
                p.orders_model,
            ),
            (
                "clv",
                "lifetime value (horizon)",
                None if p.clv_minor is None else f"{p.clv_minor / 100:,.2f} {money}",
                p.clv_model,
            ),
            ("clv", "P(alive)", None if p.p_alive is None else f"{p.p_alive:.1%}", p.clv_model),
            (
                "send_time",
                "best send hour (local)",
                None if p.best_send_hour is None else _hour_of_week(p.best_send_hour),
                p.send_time_model,
            ),
        ]
        for figure, label, value, model in rows:
            table.add_row(label, value or "-", model or "-", p.fallbacks.get(figure, ""))
        console.print(table)
    if not found.recommendations:
        console.print("No recommendations stored.")
        return
    lists = Table(title="Recommendations")
    for column in ("list", "#", "product", "title", "strategy"):
        lists.add_column(column)
    for rec in found.recommendations:
        lists.add_row(rec.kind, str(rec.rank), rec.product.external_id, rec.product.title, rec.strategy)
    console.print(lists)


def _hour_of_week(hour: int) -> str:
    days = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    return f"{days[hour // 24]} {hour % 24:02d}:00"
