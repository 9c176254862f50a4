"""Ingest benchmark: events/s through /v1/batch (100 events a batch, one uvicorn process).

The ceiling is the raw insert rate of the same event rows into the same database (SQLAlchemy Core
executemany, one commit per 100 rows, as the API commits one transaction per batch), measured in the
same run. Runs on SQLite, and on PostgreSQL when MAILWRIGHT_BENCH_PG_URL or
MAILWRIGHT_TEST_DATABASE_URL is set. Last line: one JSON object with the figures.
"""

import base64
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import create_engine, insert, select, text

from mailwright.core.db import make_engine
from mailwright.events.models import Event
from mailwright.migrations.runner import upgrade

ROOT = Path(__file__).resolve().parents[1]
BATCHES = int(os.environ.get("BENCH_BATCHES", "300"))
PER_BATCH = 100
CLIENT_THREADS = 3
PRICES: list[float] = []


def make_batches(seed: int = 7) -> list[list[dict[str, Any]]]:
    """A mix of identify (10 %), page (30 %), product (45 %) and order (15 %) calls over 5,000 shoppers."""
    rng = random.Random(seed)
    # A product has one price, as in a real catalog.
    PRICES.extend(round(rng.uniform(2, 80), 2) for _ in range(2000))
    start = datetime(2026, 1, 1, tzinfo=UTC)
    batches = []
    for b in range(BATCHES):
        items = []
        for i in range(PER_BATCH):
            user = rng.randrange(5000)
            ts = (start + timedelta(seconds=b * PER_BATCH + i)).isoformat()
            base = {
                "userId": f"u{user}",
                "anonymousId": f"a{user}",
                "messageId": f"m-{b}-{i}",
                "timestamp": ts,
            }
            roll = rng.random()
            if roll < 0.10:
                items.append(
                    {
                        **base,
                        "type": "identify",
                        "traits": {
                            "email": f"shopper{user}@example.com",
                            "firstName": f"Name{user}",
                            "country": "GB",
                        },
                    }
                )
            elif roll < 0.40:
                items.append(
                    {
                        **base,
                        "type": "page",
                        "name": "Category",
                        "properties": {"url": f"https://shop.test/c/{rng.randrange(40)}"},
                    }
                )
            elif roll < 0.85:
                pid = rng.randrange(2000)
                items.append(
                    {
                        **base,
                        "type": "track",
                        "event": rng.choice(["Product Viewed", "Product Added"]),
                        "properties": {
                            "product_id": f"p{pid}",
                            "name": f"Product {pid}",
                            "price": PRICES[pid],
                            "category": "Home",
                        },
                    }
                )
            else:
                picks = [rng.randrange(2000) for _ in range(rng.randint(1, 4))]
                lines = [
                    {
                        "product_id": f"p{pid}",
                        "name": f"Product {pid}",
                        "quantity": rng.randint(1, 3),
                        "price": PRICES[pid],
                    }
                    for pid in picks
                ]
                items.append(
                    {
                        **base,
                        "type": "track",
                        "event": "Order Completed",
                        "properties": {
                            "order_id": f"o-{b}-{i}",
                            "currency": "GBP",
                            "products": lines,
                            "total": round(sum(x["quantity"] * x["price"] for x in lines), 2),
                        },
                    }
                )
        batches.append(items)
    return batches


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_cli(args: list[str], env: dict[str, str]) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "mailwright", *args], env=env, capture_output=True, text=True, check=True
    )
    return out.stdout


def bench_http(url: str, batches: list[list[dict[str, Any]]]) -> float:
    env = {**os.environ, "MAILWRIGHT_DATABASE_URL": url}
    key = json.loads(run_cli(["keys", "create", "--json", "--name", "bench"], env))["key"]
    port = free_port()
    log = (Path(tempfile.gettempdir()) / f"mailwright-bench-{port}.log").open("w")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mailwright",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-worker",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    auth = {
        "Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode(),
        "Content-Type": "application/json",
    }
    bodies = [orjson.dumps({"batch": b}) for b in batches]
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        queue = list(range(len(bodies)))
        lock = threading.Lock()
        failures: list[str] = []

        def client() -> None:
            with httpx.Client(base_url=base, headers=auth, timeout=60) as http:
                while True:
                    with lock:
                        if not queue:
                            return
                        index = queue.pop(0)
                    response = http.post("/v1/batch", content=bodies[index])
                    if response.status_code != 200 or response.json()["accepted"] != PER_BATCH:
                        failures.append(response.text[:200])

        threads = [threading.Thread(target=client) for _ in range(CLIENT_THREADS)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
        if failures:
            raise SystemExit(f"{len(failures)} batches failed: {failures[0]}")
        return len(bodies) * PER_BATCH / elapsed
    finally:
        server.kill()
        server.wait()
        log.close()


def bench_raw_insert(url: str, batches: list[list[dict[str, Any]]]) -> float:
    engine = make_engine(url)
    with engine.connect() as conn:
        contact_id = conn.execute(text("SELECT min(id) FROM contacts")).scalar_one()
    now = datetime.now(UTC)
    rows = [
        [
            {
                "message_id": f"raw-{uuid.uuid4().hex}",
                "contact_id": contact_id,
                "type": item["type"],
                "name": item.get("event", "Page Viewed"),
                "properties": item.get("properties", {}),
                "occurred_at": now,
                "received_at": now,
                "source": "bench",
            }
            for item in batch
        ]
        for batch in batches
    ]
    started = time.perf_counter()
    for batch_rows in rows:
        with engine.begin() as conn:
            conn.execute(insert(Event), batch_rows)
    elapsed = time.perf_counter() - started
    with engine.connect() as conn:
        stored = conn.execute(select(Event.id).where(Event.source == "bench").limit(1)).first()
        assert stored is not None
    engine.dispose()
    return len(rows) * PER_BATCH / elapsed


def sqlite_url(tmp: Path) -> str:
    url = f"sqlite:///{tmp / 'bench.db'}"
    upgrade(make_engine(url))
    return url


def postgres_url(base: str) -> tuple[str, Any]:
    name = f"mw_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(
        base.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.rsplit("/", 1)[0] + f"/{name}"
    upgrade(make_engine(url))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    return url, drop


def main() -> None:
    batches = make_batches()
    results: dict[str, Any] = {
        "benchmark": "ingest",
        "events": BATCHES * PER_BATCH,
        "batch_size": PER_BATCH,
        "client_threads": CLIENT_THREADS,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
    }
    with tempfile.TemporaryDirectory() as tmp:
        url = sqlite_url(Path(tmp))
        http = bench_http(url, batches)
        raw = bench_raw_insert(url, batches)
        results["sqlite"] = {
            "events_per_s": round(http),
            "raw_insert_per_s": round(raw),
            "ratio": round(http / raw, 3),
        }
        print(
            f"SQLite:     {http:8.0f} events/s through /v1/batch; raw insert ceiling {raw:8.0f} rows/s "
            f"({http / raw:.0%})"
        )
    pg = os.environ.get("MAILWRIGHT_BENCH_PG_URL") or os.environ.get("MAILWRIGHT_TEST_DATABASE_URL")
    if pg:
        url, drop = postgres_url(pg)
        try:
            http = bench_http(url, batches)
            raw = bench_raw_insert(url, batches)
        finally:
            drop()
        results["postgresql"] = {
            "events_per_s": round(http),
            "raw_insert_per_s": round(raw),
            "ratio": round(http / raw, 3),
        }
        print(
            f"PostgreSQL: {http:8.0f} events/s through /v1/batch; raw insert ceiling {raw:8.0f} rows/s "
            f"({http / raw:.0%})"
        )
    results["goal_sqlite_events_per_s"] = 5000
    print(json.dumps(results))


if __name__ == "__main__":
    main()
