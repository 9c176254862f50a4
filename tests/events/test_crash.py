"""SIGKILL the server while a retrying client sends batches: every acknowledged event is stored once."""

import base64
import json
import threading
import time

import httpx
from sqlalchemy import func, select
from tests.support.server import ServerProcess, mailwright

from mailwright.core.db import make_engine
from mailwright.events.models import Event

BATCHES = 60
PER_BATCH = 50


def test_events_acknowledged_before_a_kill_are_stored_exactly_once(fresh_database_url: str) -> None:
    env = {"MAILWRIGHT_DATABASE_URL": fresh_database_url}
    key = json.loads(mailwright(["keys", "create", "--json"], env).stdout)["key"]
    server = ServerProcess(env)
    server.start()
    auth = {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}
    acknowledged: set[str] = set()
    refusals: list[str] = []
    sent_batches = 0
    stop_killing = threading.Event()

    def killer() -> None:
        # Kill mid-stream three times, restarting on the same port as a supervisor would.
        for _ in range(3):
            time.sleep(0.6)
            if stop_killing.is_set():
                return
            server.kill()
            time.sleep(0.2)
            server.start()

    chaos = threading.Thread(target=killer)
    chaos.start()
    try:
        with httpx.Client(base_url=server.base, headers=auth, timeout=10) as client:
            for b in range(BATCHES):
                batch = [
                    {
                        "type": "track",
                        "userId": f"u{i % 17}",
                        "event": "Product Viewed",
                        "messageId": f"k-{b}-{i}",
                        "properties": {"product_id": f"p{i}", "price": 3},
                    }
                    for i in range(PER_BATCH)
                ]
                # A client retries the same batch (same messageIds) until it is acknowledged.
                deadline = time.monotonic() + 90
                while time.monotonic() < deadline:
                    try:
                        response = client.post("/v1/batch", json={"batch": batch})
                    except httpx.TransportError:
                        time.sleep(0.05)
                        continue
                    if response.status_code == 200:
                        acknowledged.update(item["messageId"] for item in batch)
                        break
                    refusals.append(f"{response.status_code} {response.text[:200]}")
                    time.sleep(0.05)
                sent_batches += 1
    finally:
        stop_killing.set()
        chaos.join()
        server.kill()

    engine = make_engine(fresh_database_url)
    with engine.connect() as conn:
        stored = list(conn.scalars(select(Event.message_id)))
        total = conn.scalar(select(func.count()).select_from(Event))
    engine.dispose()
    assert sent_batches == BATCHES
    assert refusals == []  # the server answers 200 or is down; never an error
    assert len(acknowledged) == BATCHES * PER_BATCH
    assert total == len(set(stored)) == len(acknowledged)
    assert set(stored) == acknowledged
