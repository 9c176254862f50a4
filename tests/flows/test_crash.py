"""Three `mailwright worker` processes advance flow runs; one is SIGKILLed mid-way and restarted.

No run is skipped or done twice: every run reaches its end, and there is one outbox row per (run, node).
PostgreSQL only: SQLite has one writer, so several worker processes is not how it is run.
"""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select

from mailwright.contacts.models import Contact
from mailwright.core.clock import SystemClock
from mailwright.core.db import table_of
from mailwright.core.runtime import Runtime
from mailwright.core.settings import Settings
from mailwright.delivery.models import OutboxMessage
from mailwright.flows import service
from mailwright.flows.models import FlowRun, FlowRunStep
from mailwright.flows.schemas import FlowIn
from mailwright.templates import service as templates
from mailwright.worker.registry import build_registry

RUNS = 2000
DEFINITION = {
    "trigger": {"type": "api"},
    # Every run must send both emails: the count below is the proof that none was skipped or doubled.
    "holdout_percent": 0,
    "start": "first",
    "nodes": [
        {"id": "first", "type": "send_email", "template": "newsletter", "next": "pause"},
        {"id": "pause", "type": "wait", "minutes": 0.05, "next": "check"},
        {
            "id": "check",
            "type": "condition",
            "condition": {"type": "segment", "condition": {"type": "consent", "statuses": ["subscribed"]}},
            "yes": "second",
            "no": "second",
        },
        {"id": "second", "type": "send_email", "template": "welcome_1"},
    ],
}

pytestmark = pytest.mark.skipif(
    not os.environ.get("MAILWRIGHT_TEST_DATABASE_URL"),
    reason="several worker processes share one database only on PostgreSQL (SQLite has one writer)",
)


def _worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "mailwright", "worker"],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_a_killed_worker_neither_skips_nor_doubles_a_run(fresh_database_url: str) -> None:
    settings = Settings(database_url=fresh_database_url, _env_file=None)  # type: ignore[call-arg]
    runtime = Runtime(settings, clock=SystemClock(), registry=build_registry())
    now = runtime.clock.now()
    with runtime.uow() as uow:
        templates.install_builtins(uow, settings)
        flow = service.save_flow(uow, FlowIn(name="Crash", definition=DEFINITION))
        service.activate(uow, "Crash")
        contacts = [
            {
                "email": f"k{i}@example.com",
                "consent_status": "subscribed",
                "properties": {},
                "order_count": 0,
                "revenue_minor": 0,
                "average_order_value_minor": 0,
                "created_at": now,
                "updated_at": now,
            }
            for i in range(RUNS)
        ]
        uow.session.execute(insert(table_of(Contact)), contacts)
        ids = list(uow.session.scalars(select(Contact.id).order_by(Contact.id)))
        uow.session.execute(
            insert(table_of(FlowRun)),
            [
                {
                    "flow_id": flow.id,
                    "version": 1,
                    "contact_id": cid,
                    "current_node": "first",
                    "status": "active",
                    "wake_at": now,
                    "trigger": {"name": "Crash test"},
                    "entry_key": "crash",
                    "started_at": now,
                    "converted": False,
                    "steps": 0,
                    "updated_at": now,
                }
                for cid in ids
            ],
        )
    env = {
        "MAILWRIGHT_DATABASE_URL": fresh_database_url,
        "MAILWRIGHT_SENDER": "fake",
        "MAILWRIGHT_WORKER_POLL_SECONDS": "0.2",
    }
    workers = [_worker(env) for _ in range(3)]
    try:
        # Kill one worker while the first batches are being advanced, then restart it.
        time.sleep(4)
        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait(timeout=10)
        workers[0] = _worker(env)
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            with runtime.uow() as uow:
                left = uow.session.scalar(
                    select(func.count()).select_from(FlowRun).where(FlowRun.status == "active")
                )
            if left == 0:
                break
            time.sleep(1)
    finally:
        for proc in workers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=10)
    with runtime.uow() as uow:
        statuses: dict[str, int] = dict(
            uow.session.execute(select(FlowRun.status, func.count()).group_by(FlowRun.status)).all()
        )
        per_node = dict(
            uow.session.execute(
                select(OutboxMessage.source_id, func.count()).group_by(OutboxMessage.source_id)
            ).all()
        )
        distinct_runs = uow.session.scalar(select(func.count(func.distinct(OutboxMessage.contact_id))))
        sends = dict(
            uow.session.execute(
                select(FlowRunStep.node_id, func.count())
                .where(FlowRunStep.action == "send_email")
                .group_by(FlowRunStep.node_id)
            ).all()
        )
    runtime.database.engine.dispose()
    assert statuses == {"completed": RUNS}
    assert per_node == {f"{flow.id}:first": RUNS, f"{flow.id}:second": RUNS}
    assert distinct_runs == RUNS
    # The history too: each send step recorded once per run (a killed batch left nothing behind).
    assert sends == {"first": RUNS, "second": RUNS}
    assert timedelta(0) <= runtime.clock.now() - now
