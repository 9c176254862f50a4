"""Segment benchmark: full recompute of the built-in segments, and event-to-membership latency.

The shop comes from `bench/segments_data.py` (100,000 contacts and about 2,000,000 events resampled from
the real Online Retail customers). Measured:

1. A full recompute of every enabled built-in segment at the shop's `now`, on SQLite and, when
   MAILWRIGHT_BENCH_PG_URL (or MAILWRIGHT_TEST_DATABASE_URL) is set, on PostgreSQL in a scratch database:
   the first one (a backfill: every member enters) and a second one (the steady state: the diff against
   stored membership is empty). Ceilings, timed in the same run on the same database: reading every
   event row with its properties (what the event conditions read at most), and a bare
   `SELECT count(*) FROM events`.
2. In embedded mode (`mailwright serve`: API and worker in one process, SQLite), the latency from an
   event accepted by `POST /v1/track` to the contact's membership row in a segment that the event
   makes them enter, for BENCH_SAMPLES events sent one after another. Ceiling: the time the same
   HTTP request takes to be acknowledged (the ingest alone).

Environment: BENCH_CONTACTS (default 100000), BENCH_SAMPLES (200), BENCH_POLL_SECONDS (the worker's
idle poll in the served process; default 1.0, the product's default: a commit that queues a job wakes
the embedded worker at once, so the poll only bounds jobs queued by other processes). The last line printed is one JSON object with every figure.
"""

import json
import os
import platform
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mailwright.core.clock import ManualClock
from mailwright.core.keys import create_key
from mailwright.core.models import JobSchedule
from mailwright.core.runtime import Runtime
from mailwright.core.settings import Settings
from mailwright.segments import membership, repository, service
from mailwright.segments.schemas import SegmentIn
from mailwright.worker.registry import build_registry
from segments_data import NOW, generate

ROOT = Path(__file__).resolve().parents[1]
CONTACTS = int(os.environ.get("BENCH_CONTACTS", "100000"))
SAMPLES = int(os.environ.get("BENCH_SAMPLES", "200"))
POLL_SECONDS = float(os.environ.get("BENCH_POLL_SECONDS", "1.0"))
BENCH_PRODUCT = "bench-product"


def runtime_for(url: str, clock: ManualClock | None = None) -> Runtime:
    """A runtime on the benchmark database, at the shop's `now` unless told otherwise."""
    settings = Settings(database_url=url, _env_file=None)  # type: ignore[call-arg]
    return Runtime(settings, clock=clock or ManualClock(NOW), registry=build_registry())


def scan_seconds(runtime: Runtime, sql: str) -> float:
    """Best of three runs of a query (warm cache)."""
    best = float("inf")
    for _ in range(3):
        with runtime.database.engine.connect() as connection:
            started = time.perf_counter()
            connection.execute(text(sql)).scalar_one()
            best = min(best, time.perf_counter() - started)
    return best


# The ceilings: counting the events (an index scan), and reading every event row with its properties.
COUNT_EVENTS = "SELECT count(*) FROM events"
READ_EVENTS = "SELECT sum(length(CAST(properties AS TEXT))) FROM events"


def full_recompute(runtime: Runtime) -> dict[str, Any]:
    """Time a backfill and a steady-state recompute of every enabled built-in segment."""
    with runtime.uow() as uow:
        service.install_builtins(uow)
    rounds: list[dict[str, Any]] = []
    for label in ("first (backfill)", "second (steady state)"):
        per_segment: dict[str, float] = {}
        started = time.perf_counter()
        with runtime.uow() as uow:
            segments = repository.all_segments(uow.session, enabled_only=True)
            members: dict[str, int] = {}
            for segment, definition in service.ordered_segments(segments):
                t = time.perf_counter()
                change = membership.refresh_segment(uow, segment, definition)
                per_segment[segment.builtin or segment.name] = round(time.perf_counter() - t, 3)
                members[segment.builtin or segment.name] = change.members
        seconds = time.perf_counter() - started
        rounds.append(
            {"round": label, "seconds": round(seconds, 2), "per_segment": per_segment, "members": members}
        )
    return {
        "rounds": rounds,
        "events_count_seconds": round(scan_seconds(runtime, COUNT_EVENTS), 4),
        "events_scan_seconds": round(scan_seconds(runtime, READ_EVENTS), 4),
    }


def free_port() -> int:
    """A free TCP port on loopback."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare_latency(url: str) -> tuple[str, int, list[tuple[str, int]]]:
    """A write key, the bench segment, and contacts (user id, contact id) not in it yet."""
    runtime = runtime_for(url)
    with runtime.uow() as uow:
        key = create_key(uow.session, kind="write", name="bench", now=uow.now())
        # The periodic jobs ran "just now": the served worker must spend its time on the events measured,
        # not on a nightly model training that would start on its first tick.
        for periodic in runtime.registry.periodic:
            uow.session.merge(
                JobSchedule(name=periodic.name, next_run_at=datetime.now(UTC) + timedelta(days=1))
            )
        saved = service.create_segment(
            uow,
            SegmentIn(
                name="Bench: viewed the bench product today",
                definition={
                    "version": 1,
                    "root": {
                        "type": "performed",
                        "event": "Product Viewed",
                        "window": {"last_days": 1},
                        "where": [{"property": "product_id", "value": BENCH_PRODUCT}],
                    },
                },
            ),
            runtime.settings,
        )
        rows = uow.session.execute(
            text(
                "SELECT value, contact_id FROM contact_identities WHERE kind = 'user_id' ORDER BY contact_id LIMIT :n"
            ),
            {"n": 20000},
        ).all()
    runtime.database.engine.dispose()
    picked = random.Random(3).sample([(str(v), int(c)) for v, c in rows], min(SAMPLES, len(rows)))
    return key, saved.segment.id, picked


def measure_latency(url: str, path: Path) -> dict[str, Any]:
    """Event accepted -> membership row, through a real `mailwright serve` (embedded mode)."""
    key, segment_id, contacts = prepare_latency(url)
    port = free_port()
    env = {
        **os.environ,
        "MAILWRIGHT_DATABASE_URL": url,
        "MAILWRIGHT_WORKER_POLL_SECONDS": str(POLL_SECONDS),
    }
    server = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "mailwright"), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=tempfile.gettempdir(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,  # read only if it dies; the worker logs nothing on the happy path
    )
    latencies: list[float] = []
    acks: list[float] = []
    missed = 0
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=30) as client:
            # The server migrates and starts its worker first; on a busy machine that takes a while.
            for _ in range(1200):
                if server.poll() is not None:
                    raise RuntimeError(
                        f"mailwright serve exited: {server.stderr.read().decode() if server.stderr else ''}"
                    )
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            reader = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
            rng = random.Random(5)
            for user_id, contact_id in contacts:
                body = {
                    "userId": user_id,
                    "event": "Product Viewed",
                    "messageId": f"bench-{uuid.uuid4().hex}",
                    "timestamp": datetime.now(UTC).isoformat(),
                    "properties": {"product_id": BENCH_PRODUCT, "category": "Bench"},
                }
                started = time.perf_counter()
                response = client.post("/v1/track", json=body, auth=(key, ""))
                acked = time.perf_counter()
                response.raise_for_status()
                deadline = started + 10
                while time.perf_counter() < deadline:
                    hit = reader.execute(
                        "SELECT 1 FROM segment_memberships WHERE segment_id = ? AND contact_id = ?",
                        (segment_id, contact_id),
                    ).fetchone()
                    if hit:
                        break
                    time.sleep(0.002)
                else:
                    missed += 1
                    continue
                latencies.append(time.perf_counter() - started)
                acks.append(acked - started)
                # Events arrive at random moments, not in lockstep with the worker's poll.
                time.sleep(rng.uniform(0.0, 0.1))
            reader.close()
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
    return {
        "samples": len(latencies),
        "missed": missed,
        "worker_poll_seconds": POLL_SECONDS,
        "p50_seconds": round(statistics.median(latencies), 3) if latencies else None,
        "p95_seconds": round(percentile(latencies, 95), 3) if latencies else None,
        "max_seconds": round(max(latencies), 3) if latencies else None,
        "ack_p95_seconds": round(percentile(acks, 95), 3) if acks else None,
    }


def percentile(values: list[float], pct: float) -> float:
    """The pct-th percentile (nearest rank)."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def postgres_url() -> str | None:
    """The PostgreSQL server to benchmark against, if any."""
    return os.environ.get("MAILWRIGHT_BENCH_PG_URL") or os.environ.get("MAILWRIGHT_TEST_DATABASE_URL")


def on_postgres(server: str) -> dict[str, Any]:
    """Generate the shop in a scratch PostgreSQL database, recompute, and drop it."""
    name = f"mw_bench_segments_{uuid.uuid4().hex[:8]}"
    admin_url = server if not server.startswith("postgresql://") else "postgresql+psycopg://" + server[13:]
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = server.rsplit("/", 1)[0] + f"/{name}"
        shop = generate(url, CONTACTS)
        runtime = runtime_for(url)
        try:
            figures = full_recompute(runtime)
        finally:
            runtime.database.engine.dispose()
        return {"shop": shop, **figures}
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def report(label: str, figures: dict[str, Any]) -> None:
    """Print one engine's recompute figures."""
    scan = figures["events_scan_seconds"]
    print(f"\n{label}: {figures['shop']['contacts']:,} contacts, {figures['shop']['events']:,} events")
    for r in figures["rounds"]:
        print(
            f"  full recompute, {r['round']}: {r['seconds']:.2f} s  ({r['seconds'] / max(scan, 1e-6):.1f}x reading every event)"
        )
    print(f"  ceiling, {READ_EVENTS}: {scan:.3f} s")
    print(f"  ceiling, {COUNT_EVENTS}: {figures['events_count_seconds']:.3f} s")
    first = figures["rounds"][0]
    for key, seconds in sorted(first["per_segment"].items(), key=lambda kv: -kv[1]):
        print(f"    {key:24} {seconds:6.2f} s  {first['members'][key]:>8,} members")


def main() -> None:
    """Run everything and print the figures; the last line is one JSON object."""
    results: dict[str, Any] = {"contacts": CONTACTS, "machine": f"{platform.machine()}, {os.cpu_count()} cpu"}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "shop.db"
        url = f"sqlite:///{path}"
        shop = generate(url, CONTACTS)
        runtime = runtime_for(url)
        try:
            sqlite_figures = {"shop": shop, **full_recompute(runtime)}
        finally:
            runtime.database.engine.dispose()
        report("SQLite", sqlite_figures)
        results["sqlite"] = sqlite_figures
        latency = measure_latency(url, path)
        results["latency"] = latency
        print(
            f"\nembedded mode, event accepted -> membership ({latency['samples']} events, worker poll "
            f"{POLL_SECONDS} s): p50 {latency['p50_seconds']} s, p95 {latency['p95_seconds']} s, "
            f"max {latency['max_seconds']} s; ceiling (ingest acknowledged) p95 {latency['ack_p95_seconds']} s"
        )
    server = postgres_url()
    if server:
        pg = on_postgres(server)
        report("PostgreSQL", pg)
        results["postgresql"] = pg
    summary = {
        "contacts": CONTACTS,
        "events": results["sqlite"]["shop"]["events"],
        "sqlite_full_recompute_seconds": results["sqlite"]["rounds"][0]["seconds"],
        "sqlite_steady_recompute_seconds": results["sqlite"]["rounds"][1]["seconds"],
        "sqlite_events_scan_seconds": results["sqlite"]["events_scan_seconds"],
        "sqlite_events_count_seconds": results["sqlite"]["events_count_seconds"],
        "postgresql_full_recompute_seconds": results["postgresql"]["rounds"][0]["seconds"]
        if server
        else None,
        "postgresql_steady_recompute_seconds": results["postgresql"]["rounds"][1]["seconds"]
        if server
        else None,
        "postgresql_events_scan_seconds": results["postgresql"]["events_scan_seconds"] if server else None,
        "postgresql_events_count_seconds": results["postgresql"]["events_count_seconds"] if server else None,
        "latency_p95_seconds": results["latency"]["p95_seconds"],
        "latency_p50_seconds": results["latency"]["p50_seconds"],
        "latency_ack_p95_seconds": results["latency"]["ack_p95_seconds"],
        "latency_samples": results["latency"]["samples"],
        "latency_missed": results["latency"]["missed"],
        "worker_poll_seconds": POLL_SECONDS,
        "goals": {"full_recompute_sqlite_seconds": 10, "latency_p95_seconds": 1},
        "machine": results["machine"],
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
