"""`flows backtest`: how a flow would have run over a past period, replayed in a transaction rolled back.

Nothing is sent and nothing stays: runs, history and flow states live in one outer transaction that is
rolled back at the end (each step commits a savepoint, as the live engine commits transactions), and the
sink counts emails instead of queueing them. The flows of the same priority group run alongside, so the
collisions the flow would have met are counted too.

Conditions and filters read profiles as they are now (roll-ups, consent), not as they were on the day;
orders and events are read as of each simulated moment.
"""

from contextlib import AbstractContextManager
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import sessionmaker

from mailwright.core.clock import ManualClock, ensure_utc
from mailwright.core.db import Database
from mailwright.core.errors import InvalidInput, NotFound
from mailwright.core.runtime import Runtime
from mailwright.core.uow import UnitOfWork, open_unit_of_work
from mailwright.flows import repository
from mailwright.flows.models import Flow, FlowRun
from mailwright.flows.replay import CountingSink, figures, replay
from mailwright.flows.schemas import BacktestNode, BacktestReport, SendEmailNode

MAX_DAYS = 400


def backtest(runtime: Runtime, name: str, start: datetime, end: datetime) -> BacktestReport:
    """Replay [start, end) of the stored history through flow `name`, without sending; returns the counts."""
    start, end = ensure_utc(start), ensure_utc(end)
    if end <= start:
        raise InvalidInput("the end of a backtest must be after its start", field="to")
    if (end - start).days > MAX_DAYS:
        raise InvalidInput(f"a backtest covers at most {MAX_DAYS} days", field="to")
    # One connection in one transaction holds the whole replay; each step is a savepoint inside it.
    holder = runtime.database.session_factory()
    connection = holder.connection()
    outer = connection.begin_nested()
    try:
        factory = sessionmaker(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        sandbox = Database(runtime.database.engine, session_factory=factory)
        clock = ManualClock(start)

        def open_uow() -> AbstractContextManager[UnitOfWork]:
            return open_unit_of_work(sandbox, clock)

        with open_uow() as uow:
            flow = repository.flow_by_name_or_id(uow.session, name)
            if flow is None:
                raise NotFound(f"no flow named {name!r}", field="name")
            ids = [flow.id]
            if flow.group is not None:
                ids += list(
                    uow.session.scalars(
                        select(Flow.id).where(
                            Flow.group == flow.group, Flow.status == "active", Flow.id != flow.id
                        )
                    )
                )
            # The replay starts from a clean slate for these flows: no runs, everyone eligible.
            uow.session.execute(delete(FlowRun).where(FlowRun.flow_id.in_(ids)))
            uow.session.execute(
                update(Flow)
                .where(Flow.id.in_(ids))
                .values(status="active", activated_at=start, last_scan_at=None)
            )
        sink = CountingSink()
        replay(open_uow, clock, ids, start, end, sink=sink, default_zone=runtime.settings.default_timezone)
        with open_uow() as uow:
            loaded = repository.load_version(uow.session, flow.id, flow.current_version)
            result = figures(uow, loaded, start)
        nodes = []
        for node in loaded.definition.nodes:
            if isinstance(node, SendEmailNode):
                for (fid, node_id, template), count in sorted(sink.emails.items()):
                    if fid == flow.id and node_id == node.id:
                        nodes.append(
                            BacktestNode(node_id=node.id, type=node.type, template=template, count=count)
                        )
                if not any(n.node_id == node.id for n in nodes):
                    nodes.append(
                        BacktestNode(node_id=node.id, type=node.type, template=node.template, count=0)
                    )
        return BacktestReport(
            flow=loaded.name,
            start=start,
            end=end,
            contacts_entered=result.contacts_entered,
            runs_started=result.runs_started,
            emails=sum(n.count for n in nodes),
            emails_per_node=nodes,
            goal_exits=result.goal_exits,
            exits=result.exits,
            collisions=result.collisions,
            collision_examples=result.collision_examples,
            still_running=result.still_running,
        )
    finally:
        outer.rollback()
        holder.rollback()
        holder.close()
