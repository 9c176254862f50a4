"""Flow engine benchmark: 100,000 runs woken at once, through a condition and a send node into the outbox.

Figures:
- runs/s: 100,000 runs waiting on one wait node, all due at the same moment, advanced by the engine
  (batches of 1,000, each batch one transaction: a condition split, a send node queueing one outbox row
  per run through delivery's `enqueue_many`, history lines, the runs written back);
- ceiling: bare inserts of the same number of outbox rows (SQLAlchemy Core executemany, one commit per
  1,000), in the same database and run;
- p95 latency from an accepted event (the API's 200) to a started run in embedded mode (API and worker in
  one process, the worker polling every 0.2 s, after its first round of periodic jobs; 5 events/s).
SQLite always; PostgreSQL too when MAILWRIGHT_BENCH_PG_URL is set. Last line: one JSON object.
"""

import base64
import json
import os
import platform
import statistics
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import delete, insert, text

from mailwright.api.app import create_app
from mailwright.contacts.models import Contact
from mailwright.core.clock import ManualClock, SystemClock
from mailwright.core.db import make_engine, table_of
from mailwright.core.keys import create_key
from mailwright.core.runtime import Runtime
from mailwright.core.settings import Settings
from mailwright.delivery.models import OutboxMessage
from mailwright.flows import engine, service
from mailwright.flows.models import FlowRun
from mailwright.flows.schemas import FlowIn
from mailwright.migrations.runner import upgrade
from mailwright.templates import service as templates
from mailwright.worker.loop import run_worker
from mailwright.worker.registry import build_registry

RUNS = int(os.environ.get("BENCH_FLOW_RUNS", "100000"))
EVENTS = int(os.environ.get("BENCH_FLOW_EVENTS", "100"))
BATCH = 1000
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

DEFINITION: dict[str, Any] = {
    "trigger": {"type": "api"},
    "entry": {"mode": "again_after", "again_after_days": 1},
    "start": "wait",
    "nodes": [
        {"id": "wait", "type": "wait", "hours": 1, "next": "check"},
        {
            "id": "check",
            "type": "condition",
            "condition": {"type": "segment", "condition": {"type": "consent", "statuses": ["subscribed"]}},
            "yes": "send",
            "no": "done",
        },
        {"id": "send", "type": "send_email", "template": "newsletter"},
        {"id": "done", "type": "exit", "reason": "not subscribed"},
    ],
}


def _settings(url: str) -> Settings:
    return Settings(database_url=url, sender="fake", worker_poll_seconds=0.2, _env_file=None)  # type: ignore[call-arg]


def _contacts(runtime: Runtime, n: int) -> None:
    rows = [
        {
            "id": i,
            "email": f"c{i}@example.com",
            "consent_status": "subscribed" if i % 10 else "unsubscribed",
            "properties": {},
            "order_count": 0,
            "revenue_minor": 0,
            "average_order_value_minor": 0,
            "created_at": T0,
            "updated_at": T0,
        }
        for i in range(1, n + 1)
    ]
    with runtime.uow() as uow:
        for start in range(0, n, 5000):
            uow.session.execute(insert(table_of(Contact)), rows[start : start + 5000])


def _waiting_runs(runtime: Runtime, flow_id: int, n: int) -> None:
    rows = [
        {
            "flow_id": flow_id,
            "version": 1,
            "contact_id": i,
            "current_node": "wait",
            "status": "active",
            "wake_at": T0 + timedelta(hours=1),
            "waiting_since": T0,
            "trigger": {"name": "Bench", "properties": {}},
            "entry_key": f"bench:{i}",
            "started_at": T0,
            "converted": False,
            "steps": 1,
            "updated_at": T0,
        }
        for i in range(1, n + 1)
    ]
    with runtime.uow() as uow:
        for start in range(0, n, 5000):
            uow.session.execute(insert(table_of(FlowRun)), rows[start : start + 5000])


def _ceiling(runtime: Runtime, n: int) -> float:
    """Bare executemany inserts of n outbox rows like the engine's, one commit per batch."""
    rows = [
        {
            "public_id": uuid.uuid4().hex,
            "idempotency_key": f"ceiling:{i}",
            "contact_id": i,
            "to_address": f"c{i}@example.com",
            "template_name": "newsletter",
            "category": "marketing",
            "source_kind": "flow",
            "source_id": "1:send",
            "context": {"event": {"name": "Bench", "products": []}, "message": {}},
            "status": "queued",
            "send_at": T0,
            "attempts": 0,
            "links": [],
            "created_at": T0,
            "updated_at": T0,
        }
        for i in range(1, n + 1)
    ]
    started = time.perf_counter()
    for start in range(0, n, BATCH):
        with runtime.uow() as uow:
            uow.session.execute(insert(table_of(OutboxMessage)), rows[start : start + BATCH])
    seconds = time.perf_counter() - started
    with runtime.uow() as uow:
        uow.session.execute(delete(OutboxMessage).where(OutboxMessage.idempotency_key.like("ceiling:%")))
    return n / seconds


def throughput(url: str) -> dict[str, Any]:
    """Runs/s through condition + send into the outbox, and the bare-insert ceiling."""
    clock = ManualClock(T0)
    runtime = Runtime(_settings(url), clock=clock, registry=build_registry())
    upgrade(runtime.database.engine)
    with runtime.uow() as uow:
        templates.install_builtins(uow, runtime.settings)
        service.save_flow(uow, FlowIn(name="Bench", definition=DEFINITION))
        flow = service.activate(uow, "Bench")
    _contacts(runtime, RUNS)
    _waiting_runs(runtime, flow.id, RUNS)
    clock.set(T0 + timedelta(hours=1))
    started = time.perf_counter()
    report = engine.advance_all(runtime.uow, clock.now(), limit=BATCH)
    seconds = time.perf_counter() - started
    ceiling = _ceiling(runtime, RUNS)
    runtime.database.engine.dispose()
    assert report.claimed == RUNS, report
    return {
        "runs": RUNS,
        "seconds": round(seconds, 2),
        "runs_per_s": round(RUNS / seconds),
        "emails_queued": report.sent,
        "ceiling_outbox_inserts_per_s": round(ceiling),
        "ratio_to_ceiling": round((RUNS / seconds) / ceiling, 3),
    }


def latency(url: str) -> dict[str, Any]:
    """p95 seconds from an accepted track call to its started run, API and worker in one process."""
    settings = _settings(url)
    runtime = Runtime(settings, clock=SystemClock(), registry=build_registry())
    upgrade(runtime.database.engine)
    now = runtime.clock.now()
    with runtime.uow() as uow:
        key = create_key(uow.session, kind="write", name="bench", now=now)
        templates.install_builtins(uow, settings)
        definition = {
            "trigger": {"type": "event", "event": "Product Added"},
            "entry": {"mode": "again_after", "again_after_days": 0.0001},
            "start": "w",
            "nodes": [
                {"id": "w", "type": "wait", "days": 1, "next": "m"},
                {"id": "m", "type": "send_email", "template": "newsletter"},
            ],
        }
        service.save_flow(uow, FlowIn(name="Latency", definition=definition))
        service.activate(uow, "Latency")
    stop = threading.Event()
    worker = threading.Thread(target=run_worker, args=(runtime, stop), daemon=True)
    worker.start()
    # The worker's first tick runs every periodic job once (predictions, RFM, ...): wait it out, so the
    # figure is the steady state of a running installation, not its start-up.
    warm_deadline = time.time() + 120
    while time.time() < warm_deadline:
        with runtime.database.engine.connect() as conn:
            pending = conn.execute(
                text("SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')")
            ).scalar()
            ran = conn.execute(text("SELECT count(*) FROM jobs WHERE status = 'done'")).scalar()
        if pending == 0 and ran:
            break
        time.sleep(0.2)
    accepted: dict[str, float] = {}
    auth = {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}
    with TestClient(create_app(runtime)) as client:
        for i in range(EVENTS):
            response = client.post(
                "/v1/track",
                headers=auth,
                json={
                    "userId": f"lat-{i}",
                    "event": "Product Added",
                    "messageId": f"lat-{i}",
                    "properties": {"product_id": "p"},
                },
            )
            assert response.status_code == 200, response.text
            accepted[f"lat-{i}"] = time.time()
            # A steady trickle (5 events/s) of single events, as a shop's site sends them.
            time.sleep(0.2)
    deadline = time.time() + 30
    started: dict[str, float] = {}
    while time.time() < deadline:
        with runtime.database.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT i.value, r.started_at FROM flow_runs r JOIN contact_identities i "
                    "ON i.contact_id = r.contact_id AND i.kind = 'user_id'"
                )
            ).all()
        for user, at in rows:
            moment = at if isinstance(at, datetime) else datetime.fromisoformat(str(at))
            started[user] = moment.replace(tzinfo=moment.tzinfo or UTC).timestamp()
        if len(started) >= EVENTS:
            break
        time.sleep(0.2)
    stop.set()
    worker.join(timeout=10)
    runtime.database.engine.dispose()
    delays = sorted(max(0.0, started[u] - accepted[u]) for u in accepted if u in started)
    p95 = delays[int(0.95 * (len(delays) - 1))] if delays else float("nan")
    return {
        "events": EVENTS,
        "runs_started": len(delays),
        "p95_s": round(p95, 3),
        "median_s": round(statistics.median(delays), 3) if delays else None,
    }


def main() -> None:
    """Run on SQLite (and PostgreSQL when configured); print figures and one JSON line."""
    results: dict[str, Any] = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    }
    with tempfile.TemporaryDirectory() as tmp:
        results["sqlite"] = throughput(f"sqlite:///{Path(tmp) / 'flows.db'}")
        print(f"sqlite: {results['sqlite']}", flush=True)
        results["sqlite_latency"] = latency(f"sqlite:///{Path(tmp) / 'latency.db'}")
        print(f"sqlite latency: {results['sqlite_latency']}", flush=True)
    pg = os.environ.get("MAILWRIGHT_BENCH_PG_URL")
    if pg:
        for label, fn in (("postgresql", throughput), ("postgresql_latency", latency)):
            name = f"mw_bench_{uuid.uuid4().hex[:8]}"
            admin = make_engine(pg.rsplit("/", 1)[0] + "/postgres").execution_options(
                isolation_level="AUTOCOMMIT"
            )
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            try:
                results[label] = fn(pg.rsplit("/", 1)[0] + f"/{name}")
                print(f"{label}: {results[label]}", flush=True)
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()
    results["goals"] = {"runs_per_s_sqlite": 2000, "p95_s": 1.0}
    print(json.dumps(results))


if __name__ == "__main__":
    main()
