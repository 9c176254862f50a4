"""Commands: campaigns create, schedule, cancel, show, list, run-due."""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from mailwright.campaigns import service
from mailwright.campaigns.schemas import CampaignIn, CampaignOut, ScheduleIn, VariantProgress
from mailwright.cli.common import build_runtime, console, domain_errors, err_console, print_json
from mailwright.core.errors import InvalidInput, NotFound
from mailwright.segments import service as segments

campaigns_app = typer.Typer(
    help="One-off sends to segments, with scheduling, throttling and A/B tests.", no_args_is_help=True
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _invalid(exc: ValidationError) -> InvalidInput:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return InvalidInput(f"{where}: {first['msg']}", field=where or None)


def _segment_ids(session: Any, refs: list[str], option: str) -> list[int]:
    ids = []
    for ref in refs:
        try:
            ids.append(segments.get_segment(session, int(ref) if ref.isdecimal() else ref).id)
        except NotFound as exc:
            raise NotFound(f"no segment {ref!r}", field=option) from exc
    return ids


def _instant(text: str) -> datetime:
    """An ISO 8601 instant; one without a zone is UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput(f"--at {text!r} is not an ISO 8601 time", field="--at") from exc
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _variant(spec: str) -> dict[str, Any]:
    """'B=template_b', 'B=template_b:1' or 'B=:1' (the campaign's template, its subject line 1)."""
    name, sep, rest = spec.partition("=")
    if not sep or not name:
        raise InvalidInput(f"--variant {spec!r}: write NAME=TEMPLATE[:SUBJECT_LINE]", field="--variant")
    template, _, subject = rest.partition(":")
    variant: dict[str, Any] = {"name": name, "template_name": template or None}
    if subject:
        if not subject.isdecimal():
            raise InvalidInput(f"--variant {spec!r}: the subject line is a number", field="--variant")
        variant["subject_variant"] = int(subject)
    return variant


def _render(campaign: CampaignOut) -> None:
    console.print(f"[bold]{campaign.name}[/bold] (#{campaign.id}) {campaign.status}", highlight=False)
    console.print(
        f"  template {campaign.template_name}; segments {campaign.segment_ids}"
        f" minus {campaign.exclusion_segment_ids or 'none'}",
        highlight=False,
    )
    when = campaign.scheduled_at.isoformat() if campaign.scheduled_at else "not scheduled"
    extra = f" at {campaign.local_time} local" if campaign.local_time else ""
    throttle = f", at most {campaign.throttle_per_hour}/hour" if campaign.throttle_per_hour else ""
    console.print(f"  schedule {campaign.schedule_kind}{extra}, starts {when}{throttle}", highlight=False)
    if campaign.variants:
        names = ", ".join(str(v["name"]) for v in campaign.variants)
        console.print(
            f"  A/B test: {names}; {campaign.test_share:.0%} tested, winner by {campaign.winner_metric}"
            f" after {campaign.test_wait_hours} h",
            highlight=False,
        )
    if campaign.decision:
        console.print(f"  decision: {campaign.decision.get('reason')}", highlight=False)
        for v in campaign.decision.get("variants", []):
            console.print(
                f"    {v['name']}: {v['successes']}/{v['recipients']} ({v['point_estimate']:.2%}),"
                f" P(best) {v['probability_best']:.1%}",
                highlight=False,
            )
    rows: list[tuple[str, VariantProgress]] = []
    if campaign.progress is not None:
        rows.append(("total", campaign.progress))
    rows += sorted(campaign.by_variant.items())
    if rows and rows[0][1].recipients:
        console.print("  recipients pending queued sent skipped failed opens clicks", highlight=False)
        for label, p in rows:
            console.print(
                f"  {label:>10} {p.recipients:>7} {p.pending:>7} {p.queued:>6} {p.sent:>4} {p.skipped:>7}"
                f" {p.failed:>6} {p.opens:>5} {p.clicks:>6}",
                highlight=False,
            )
    cancel = campaign.snapshot.get("cancel")
    if cancel:
        console.print(f"  cancelled: {cancel}", highlight=False)


@campaigns_app.command("create")
def create_cmd(
    name: Annotated[str | None, typer.Argument(help="The campaign's name.")] = None,
    template: Annotated[str | None, typer.Option("--template", help="The template to send.")] = None,
    segment: Annotated[
        list[str] | None, typer.Option("--segment", help="A target segment (id or name); repeat.")
    ] = None,
    exclude: Annotated[
        list[str] | None, typer.Option("--exclude", help="An exclusion segment; repeat.")
    ] = None,
    topic: Annotated[str | None, typer.Option(help="Preference-centre topic.")] = None,
    variant: Annotated[
        list[str] | None, typer.Option("--variant", help="A/B variant NAME=TEMPLATE[:SUBJECT_LINE]; repeat.")
    ] = None,
    test_share: Annotated[float, typer.Option(help="Share of recipients in the A/B test.")] = 0.2,
    wait_hours: Annotated[float, typer.Option(help="Hours to wait before picking the winner.")] = 4.0,
    metric: Annotated[str, typer.Option(help="opens | clicks | orders | revenue_per_recipient.")] = "opens",
    holdout_percent: Annotated[
        float, typer.Option(help="Share of recipients kept out (sent nothing) to measure the lift, 0-50.")
    ] = 0.0,
    file: Annotated[
        Path | None, typer.Option("--file", help="The whole campaign as JSON (the API's body).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a campaign (a draft until scheduled)."""
    runtime = build_runtime()
    with domain_errors(), runtime.uow() as uow:
        if file is not None:
            body: dict[str, Any] = json.loads(file.read_text(encoding="utf-8"))
        else:
            if not name or not template or not segment:
                raise InvalidInput(
                    "give NAME, --template and at least one --segment (or --file)", field="--segment"
                )
            body = {
                "name": name,
                "template_name": template,
                "segment_ids": _segment_ids(uow.session, segment, "--segment"),
                "exclusion_segment_ids": _segment_ids(uow.session, exclude or [], "--exclude"),
                "topic": topic,
                "holdout_percent": holdout_percent,
            }
            if variant:
                body["ab_test"] = {
                    "variants": [_variant(v) for v in variant],
                    "test_share": test_share,
                    "wait_hours": wait_hours,
                    "metric": metric,
                }
        try:
            data = CampaignIn.model_validate(body)
        except ValidationError as exc:
            raise _invalid(exc) from exc
        created = service.create_campaign(uow, data, runtime.settings)
    if as_json:
        print_json(created)
        return
    _render(created)


@campaigns_app.command("schedule")
def schedule_cmd(
    campaign: Annotated[str, typer.Argument(help="Campaign id or name.")],
    at: Annotated[
        str | None,
        typer.Option(
            "--at", help="When it starts (ISO 8601; UTC unless it names a zone, e.g. +01:00); default now."
        ),
    ] = None,
    local_time: Annotated[
        str | None, typer.Option("--local-time", help="Send at HH:MM in each recipient's time zone.")
    ] = None,
    best_hour: Annotated[
        bool, typer.Option("--best-hour", help="Send at each recipient's best hour.")
    ] = False,
    throttle: Annotated[int | None, typer.Option("--throttle", help="At most this many per hour.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Schedule a campaign: at a time, at a local time per recipient, or at each one's best hour."""
    runtime = build_runtime()
    kind = "best_hour" if best_hour else "local_time" if local_time else "fixed"
    with domain_errors(), runtime.uow() as uow:
        if best_hour and local_time:
            raise InvalidInput("choose --local-time or --best-hour, not both", field="--best-hour")
        starts = _instant(at) if at is not None else None
        try:
            data = ScheduleIn(kind=kind, at=starts, local_time=local_time, throttle_per_hour=throttle)
        except ValidationError as exc:
            raise _invalid(exc) from exc
        scheduled = service.schedule_campaign(uow, campaign, data)
    if as_json:
        print_json(scheduled)
        return
    _render(scheduled)


@campaigns_app.command("cancel")
def cancel_cmd(
    campaign: Annotated[str, typer.Argument(help="Campaign id or name.")], as_json: JsonOpt = False
) -> None:
    """Cancel a campaign: nobody else gets it, and queued messages not yet sent are skipped."""
    runtime = build_runtime()
    with domain_errors(), runtime.uow() as uow:
        cancelled = service.cancel_campaign(uow, campaign)
    if as_json:
        print_json(cancelled)
        return
    _render(cancelled)


@campaigns_app.command("show")
def show_cmd(
    campaign: Annotated[str, typer.Argument(help="Campaign id or name.")],
    recipients: Annotated[bool, typer.Option("--recipients", help="Also list the recipients.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """A campaign's schedule, A/B decision and progress (recipients, queued, sent, skipped, opens, clicks)."""
    runtime = build_runtime()
    with domain_errors(), runtime.uow() as uow:
        shown = service.get_campaign(uow.session, campaign, now=uow.now())
        listed = service.list_recipients(uow.session, campaign) if recipients else []
    if as_json:
        print_json({"campaign": shown, "recipients": listed} if recipients else shown)
        return
    _render(shown)
    for r in listed:
        when = r.send_at.isoformat() if r.send_at else "-"
        console.print(
            f"  {r.contact_id:>8} {r.variant or '-':>6} {r.phase:>4} {r.status:>9} {when}", highlight=False
        )


@campaigns_app.command("list")
def list_cmd(
    status: Annotated[str | None, typer.Option(help="Only campaigns in this status.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Campaigns newest first."""
    runtime = build_runtime()
    with domain_errors(), runtime.uow() as uow:
        found = service.list_campaigns(uow.session, status=status, limit=500)
    if as_json:
        print_json(found)
        return
    if not found:
        err_console.print("no campaigns")
    for c in found:
        when = c.scheduled_at.isoformat() if c.scheduled_at else "-"
        console.print(f"{c.id:>5} {c.name:30} {c.status:10} {c.schedule_kind:10} {when}", highlight=False)


@campaigns_app.command("run-due")
def run_due_cmd(as_json: JsonOpt = False) -> None:
    """Start the campaigns and decide the A/B tests that are due now (what the worker does every minute)."""
    runtime = build_runtime()
    with domain_errors():
        started = service.start_due(runtime.uow, runtime.settings)
        decided = service.decide_due(runtime.uow, runtime.settings)
    if as_json:
        print_json({"started": started, "decided": decided})
        return
    for report in [*started, *decided]:
        console.print(
            f"campaign {report.campaign_id}: {report.snapshotted} snapshotted, {report.queued} queued,"
            f" decided={report.decided}, now {report.status}",
            highlight=False,
        )
