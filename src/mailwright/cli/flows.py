"""Commands: flows list, show, create, validate, activate, pause, runs, run, library, backtest."""

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from mailwright.cli.common import build_runtime, console, domain_errors, print_json
from mailwright.flows import backtest, library, service
from mailwright.flows import demo as flows_demo
from mailwright.flows.schemas import BacktestReport, FlowOut, ValidationReport

flows_app = typer.Typer(
    help="Automated flows: welcome, cart recovery, post-purchase, win-back ...", no_args_is_help=True
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
FileArg = Annotated[Path, typer.Argument(help="A flow file (YAML or JSON: name, description, definition).")]


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _line(flow: FlowOut) -> str:
    runs = flow.runs
    line = (
        f"{flow.name:28} {flow.status:7} v{flow.version:<3} {flow.group or '-':14} "
        f"active {runs.get('active', 0):>6}  completed {runs.get('completed', 0):>6}  "
        f"converted {runs.get('converted', 0):>6}"
    )
    # Activation's warnings (an empty coupon pool) under the flow's line.
    return "\n".join([line, *(f"  [yellow]warning:[/yellow] {w}" for w in flow.warnings)])


@flows_app.command("list")
def list_cmd(as_json: JsonOpt = False) -> None:
    """List flows with status, version, priority group and run counts."""
    runtime = build_runtime()
    with domain_errors(), runtime.uow() as uow:
        found = service.list_flows(uow.session)
    if as_json:
        print_json(found)
        return
    if not found:
        console.print("no flows yet: `mailwright flows library` installs the built-in ones")
    for flow in found:
        console.print(_line(flow), highlight=False)


@flows_app.command("show")
def show_cmd(name: str, as_json: JsonOpt = False) -> None:
    """One flow: its status, version, runs and current definition."""
    runtime = build_runtime()
    with domain_errors(), runtime.uow() as uow:
        flow = service.get_flow(uow.session, name)
    if as_json:
        print_json(flow)
        return
    console.print(_line(flow), highlight=False)
    if flow.description:
        console.print(flow.description, highlight=False)
    definition = flow.definition
    console.print(f"trigger: {definition.get('trigger')}", highlight=False)
    for node in definition.get("nodes", []):
        console.print(f"  {node.get('id'):18} {node.get('type')}", highlight=False)


def _report(report: ValidationReport, source: str) -> None:
    if report.ok:
        console.print(f"{source}: [green]ok[/green]")
        return
    console.print(f"{source}: [red]refused[/red]")
    for issue in report.issues:
        node = f" (node {issue.node})" if issue.node else ""
        console.print(f"  {issue.field}{node}: {issue.message}", highlight=False)


@flows_app.command("validate")
def validate_cmd(file: FileArg, as_json: JsonOpt = False) -> None:
    """Check a flow file (shape, dangling edges, unreachable nodes, loops without a wait, templates)."""
    runtime = build_runtime()
    with domain_errors(), runtime.uow() as uow:
        flow = library.load_file(file)
        report = service.validate_flow(uow, flow.definition)
    if as_json:
        print_json(report)
    else:
        _report(report, file.name)
    if not report.ok:
        raise typer.Exit(1)


@flows_app.command("create")
def create_cmd(
    file: FileArg,
    activate: Annotated[bool, typer.Option(help="Switch the flow on after saving.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Save a flow from a file (a new version when it exists and changed)."""
    runtime = build_runtime()
    with domain_errors(), runtime.uow() as uow:
        saved = service.save_flow(uow, library.load_file(file))
        if activate:
            saved = service.activate(uow, saved.name)
    if as_json:
        print_json(saved)
        return
    console.print(_line(saved), highlight=False)


@flows_app.command("library")
def library_cmd(
    activate: Annotated[bool, typer.Option(help="Switch the library flows on.")] = False,
    holdout_percent: Annotated[
        float | None,
        typer.Option(
            help="Share of runs held out (sent nothing) to measure lift; the flows' own default is 10."
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Install the built-in flow library (and its templates)."""
    runtime = build_runtime()
    with domain_errors(), runtime.uow() as uow:
        saved = library.install(uow, runtime.settings, activate=activate, holdout_percent=holdout_percent)
    if as_json:
        print_json(saved)
        return
    for flow in saved:
        console.print(_line(flow), highlight=False)


@flows_app.command("activate")
def activate_cmd(name: str, as_json: JsonOpt = False) -> None:
    """Switch a flow on, or resume a paused one where its runs were held."""
    runtime = build_runtime()
    with domain_errors(), runtime.uow() as uow:
        flow = service.activate(uow, name)
    if as_json:
        print_json(flow)
        return
    console.print(_line(flow), highlight=False)


@flows_app.command("pause")
def pause_cmd(name: str, as_json: JsonOpt = False) -> None:
    """Pause a flow: no new runs; runs in flight are held where they are."""
    runtime = build_runtime()
    with domain_errors(), runtime.uow() as uow:
        flow = service.pause(uow, name)
    if as_json:
        print_json(flow)
        return
    console.print(_line(flow), highlight=False)


@flows_app.command("runs")
def runs_cmd(
    name: str,
    status: Annotated[str | None, typer.Option(help="Only runs with this status.")] = None,
    run: Annotated[int | None, typer.Option("--run", help="Show one run with its history.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 20,
    as_json: JsonOpt = False,
) -> None:
    """The runs of a flow, newest first, or one run's history (--run ID)."""
    runtime = build_runtime()
    with domain_errors(), runtime.uow() as uow:
        if run is not None:
            one = service.get_run(uow.session, run)
            if as_json:
                print_json(one)
                return
            console.print(
                f"run {one.id} contact {one.contact_id} v{one.version} {one.status} at {one.current_node}"
                f" {one.exit_reason or ''}",
                highlight=False,
            )
            for step in one.history:
                console.print(
                    f"  {step.at:%Y-%m-%d %H:%M} {step.node_id or '-':16} {step.action:15} {step.outcome:10}"
                    f" {step.explanation or ''}",
                    highlight=False,
                )
            return
        found = service.list_runs(uow.session, name, status=status, limit=limit)
    if as_json:
        print_json(found)
        return
    for r in found:
        wake = f"wake {r.wake_at:%Y-%m-%d %H:%M}" if r.wake_at else ""
        console.print(
            f"{r.id:>8} contact {r.contact_id:>8} v{r.version} {r.status:9} {r.current_node or '-':16} {wake}"
            f" {r.exit_reason or ''}",
            highlight=False,
        )


def render_backtest(report: BacktestReport) -> None:
    """The backtest's figures as a table."""
    console.print(
        f"{report.flow}: {report.start:%Y-%m-%d} to {report.end:%Y-%m-%d} (simulated, nothing sent)",
        highlight=False,
    )
    table = Table("node", "template", "emails")
    for node in report.emails_per_node:
        table.add_row(node.node_id, node.template or "", str(node.count))
    console.print(table)
    console.print(
        f"contacts entered {report.contacts_entered}, runs {report.runs_started}, emails {report.emails}, "
        f"goal exits {report.goal_exits}, other exits {report.exits}, collisions {report.collisions}, "
        f"still running {report.still_running}",
        highlight=False,
    )
    for example in report.collision_examples:
        console.print(f"  {example}", highlight=False)


@flows_app.command("backtest")
def backtest_cmd(
    name: str,
    start: Annotated[datetime, typer.Option("--from", help="Start of the period (UTC).")],
    end: Annotated[datetime, typer.Option("--to", help="End of the period (UTC).")],
    as_json: JsonOpt = False,
) -> None:
    """Replay stored history through a flow with a simulated clock, without sending."""
    runtime = build_runtime()
    with domain_errors():
        report = backtest.backtest(runtime, name, _aware(start), _aware(end))
    if as_json:
        print_json(report)
        return
    render_backtest(report)


def render_flow_demo(result: flows_demo.FlowDemo) -> None:
    """The demo's flow step: per flow, runs started, emails, exits on goal, collisions avoided."""
    table = Table(
        "flow",
        "runs started",
        "emails queued",
        "emails sent",
        "exits on goal",
        "collisions avoided",
        title=f"Flows over {result.start:%Y-%m-%d} to {result.end:%Y-%m-%d} (simulated clock, {result.seconds} s)",
    )
    for line in result.flows:
        table.add_row(
            line.name,
            str(line.runs_started),
            str(line.emails_queued),
            str(line.emails_sent),
            str(line.goal_exits),
            str(line.collisions_avoided),
        )
    console.print(table)
    console.print(
        f"{result.synthetic_events} browsing, cart and checkout events were synthesized around the real orders "
        "(source 'synthetic'); the emails are in the Maildir.",
        highlight=False,
    )
