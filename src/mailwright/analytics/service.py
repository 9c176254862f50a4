"""The report: what each flow, campaign and template earned, its holdout lift, A/B results and health.

One function builds it; the CLI prints it, writes it as HTML, and the API returns it as JSON, so the
three always show the same numbers.
"""

from dataclasses import asdict
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailwright.analytics import holdout, metrics, splits
from mailwright.analytics.attribution import AttributionRun, attribute_orders
from mailwright.analytics.schemas import LiftOut, MetricOut, Report
from mailwright.analytics.stats import Difference, rate_difference
from mailwright.campaigns import service as campaigns
from mailwright.core.db import in_values
from mailwright.core.errors import InvalidInput, NotFound
from mailwright.core.settings import Settings
from mailwright.core.uow import UnitOfWork
from mailwright.flows.models import Flow, FlowRun, FlowRunStep
from mailwright.segments.models import Segment
from mailwright.tracking import health


def _metric_out(row: metrics.MetricRow, names: dict[str, str] | None = None) -> MetricOut:
    data = asdict(row)
    data["name"] = (names or {}).get(row.key, row.key)
    return MetricOut.model_validate(data)


def _difference(value: Difference | None) -> dict[str, Any] | None:
    if value is None:
        return None
    return {
        "sent": value.treated,
        "held_out": value.control,
        "difference": value.difference,
        "low": value.low,
        "high": value.high,
        "significant": value.significant,
    }


def _plain(value: Any) -> Any:
    # Dates and tuples in a dataclass tree, as JSON-ready values.
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def flow_names(session: Session) -> dict[str, str]:
    """Flow ids (as text, the way sources name them) to flow names."""
    return {str(flow_id): name for flow_id, name in session.execute(select(Flow.id, Flow.name))}


def segment_names(session: Session) -> dict[str, str]:
    """Segment ids (as text) to segment names."""
    return {str(segment_id): name for segment_id, name in session.execute(select(Segment.id, Segment.name))}


def flow_id_by_name_or_id(session: Session, ref: str) -> int:
    """A flow's id from its id or its name; NotFound naming `flow` otherwise."""
    flow_id = int(ref) if ref.isdecimal() else session.scalar(select(Flow.id).where(Flow.name == ref))
    if flow_id is None:
        raise NotFound(f"no flow named {ref!r}", field="flow")
    return flow_id


def metric_rows(
    session: Session, dimension: str, *, since: datetime, until: datetime, by_day: bool = False
) -> list[MetricOut]:
    """One dimension's metrics over [since, until), per day or in total (flows by name)."""
    if dimension not in metrics.DIMENSIONS:
        raise InvalidInput(f"dimension must be one of {', '.join(metrics.DIMENSIONS)}", field="dimension")
    facts = metrics.message_facts(session, since, until)
    names = (
        flow_names(session)
        if dimension == "flow"
        else segment_names(session)
        if dimension == "segment"
        else {}
    )
    return [_metric_out(row, names) for row in metrics.aggregate(facts, dimension, by_day=by_day)]


def _with_lifts(decision: dict[str, Any]) -> dict[str, Any]:
    """A campaign test's decision with each variant's lift over the first (95 % interval) for rate metrics.

    Revenue per recipient keeps only its point estimates: the decision stores sums, not each recipient's value.
    """
    variants = [dict(v) for v in decision.get("variants", [])]
    if variants and decision.get("metric") != "revenue_per_recipient":
        first = variants[0]
        for variant in variants[1:]:
            if first["recipients"] and variant["recipients"]:
                lift = rate_difference(
                    variant["successes"], variant["recipients"], first["successes"], first["recipients"]
                )
                variant["lift"] = {"difference": lift.difference, "low": lift.low, "high": lift.high}
    return {**decision, "variants": variants}


def flows_with_holdout(session: Session, since: datetime, until: datetime) -> list[int]:
    """Flows whose runs went through a holdout branch in the period."""
    stmt = (
        select(FlowRun.flow_id)
        .join(FlowRunStep, FlowRunStep.run_id == FlowRun.id)
        .where(in_values(session, FlowRunStep.action, ["holdout", "split"]), FlowRunStep.outcome == "holdout")
        .where(FlowRunStep.at >= since, FlowRunStep.at < until)
        .distinct()
    )
    return sorted(session.scalars(stmt))


def build_report(
    uow: UnitOfWork,
    settings: Settings,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    flow_id: int | None = None,
    campaign_id: int | None = None,
    lift_window_days: int = 14,
) -> Report:
    """Metrics by flow, node, campaign, template and day; holdout lifts; A/B decisions; deliverability."""
    now = uow.now()
    until = until or now + timedelta(seconds=1)
    since = since or until - timedelta(days=30)
    if since >= until:
        raise InvalidInput("since must be before until", field="since")
    if flow_id is not None and campaign_id is not None:
        raise InvalidInput("choose a flow or a campaign, not both", field="campaign")
    # Orders that arrived without a job run (imports) are attributed first, so the figures are complete.
    attributed: AttributionRun = attribute_orders(uow, settings)
    session = uow.session
    kind = "flow" if flow_id is not None else "campaign" if campaign_id is not None else None
    prefix = str(flow_id if flow_id is not None else campaign_id) if kind else None
    facts = metrics.message_facts(session, since, until, source_kind=kind, source_prefix=prefix)
    names = flow_names(session)
    segments = segment_names(session)
    lift_flows = (
        [flow_id]
        if flow_id is not None
        else []
        if campaign_id is not None
        else flows_with_holdout(session, since, until)
    )
    measured: list[tuple[str, int, str, holdout.Lift]] = [
        (
            "flow",
            fid,
            names.get(str(fid), str(fid)),
            holdout.flow_lift(session, fid, since=since, until=until, window_days=lift_window_days),
        )
        for fid in lift_flows
    ]
    # One read of the campaigns for their holdout lifts and their A/B decisions.
    chosen = [
        c
        for c in campaigns.list_campaigns(session, limit=10_000)
        if campaign_id is None or c.id == campaign_id
    ]
    if flow_id is None:
        # Campaigns that kept a holdout and started in the period.
        for campaign in chosen:
            started = campaign.started_at is not None and since <= campaign.started_at < until
            if started and campaign.holdout_percent > 0:
                lift = holdout.campaign_lift(session, campaign.id, window_days=lift_window_days)
                measured.append(("campaign", campaign.id, campaign.name, lift))
    lifts = []
    for kind, source_id, source_name, lift in measured:
        lifts.append(
            LiftOut(
                flow_id=source_id,
                flow=source_name,
                kind=kind,
                window_days=lift.window_days,
                n_sent=lift.n_sent,
                n_holdout=lift.n_holdout,
                conversion=_difference(lift.conversion),
                revenue_per_recipient_minor=_difference(lift.revenue_per_recipient_minor),
                incremental_revenue_minor=list(lift.incremental_revenue_minor)
                if lift.incremental_revenue_minor
                else None,
                reason=lift.reason,
                revenue_cap_minor=lift.revenue_cap_minor,
            )
        )
    ab_tests = []
    for campaign in chosen:
        if campaign.decision:
            ab_tests.append(
                {"campaign_id": campaign.id, "campaign": campaign.name, **_with_lifts(campaign.decision)}
            )
    flow_tests = []
    for fid in [flow_id] if flow_id is not None else sorted(int(k) for k in names):
        for result in splits.split_results(session, fid, since=since, until=until, as_of=now):
            flow_tests.append({"flow": names.get(str(fid), str(fid)), **splits.as_dict(result)})
    days = max(1, min(366, (until - since).days))
    deliverability = health.deliverability(
        session, now=until - timedelta(seconds=1), days=days, settings=settings
    )
    return Report(
        since=since,
        until=until,
        currency=settings.shop_currency,
        orders_attributed_now=attributed.attributed,
        totals=[_metric_out(r) for r in metrics.aggregate(facts, "source")],
        by_flow=[_metric_out(r, names) for r in metrics.aggregate(facts, "flow")],
        by_flow_node=[_metric_out(r) for r in metrics.aggregate(facts, "flow_node")],
        by_campaign=[_metric_out(r) for r in metrics.aggregate(facts, "campaign")],
        by_variant=[_metric_out(r) for r in metrics.aggregate(facts, "variant")],
        by_template=[_metric_out(r) for r in metrics.aggregate(facts, "template")],
        by_segment=[_metric_out(r, segments) for r in metrics.aggregate(facts, "segment")],
        by_day=[_metric_out(r) for r in metrics.aggregate(facts, "source", by_day=True)],
        lifts=lifts,
        ab_tests=ab_tests,
        flow_tests=flow_tests,
        deliverability=_plain(asdict(deliverability)),
        definitions="docs/metrics.md",
    )
