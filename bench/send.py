"""Sending benchmark: messages/s through the whole delivery pipeline next to the SMTP sink's own ceiling.

Figures:
- pipeline: N queued messages (the built-in newsletter, one per subscribed contact) sent by `send_due`:
  claim, send-time guards, render, tracked links and pixel, RFC 5322 message, DKIM (RSA-2048), SMTP to an
  aiosmtpd sink in a separate process over one reused connection (from send_due's courier thread, while
  the next batch is prepared), and the results written back (sent, attempts, `Email Sent` events), one
  commit per batch;
- ceiling: the same N messages, byte for byte as the pipeline built them, fed to the same sink over one
  reused connection with smtplib, nothing else.
SQLite by default (MAILWRIGHT_BENCH_PG_URL: PostgreSQL instead). BENCH_SEND_MESSAGES sets N (2,000);
BENCH_SEND_DKIM=0 leaves signing out.
Last line: one JSON object.
"""

import json
import os
import platform
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy import create_engine, func, select, text

from mailwright.contacts.models import Contact
from mailwright.core.db import make_engine
from mailwright.core.runtime import Runtime
from mailwright.core.settings import Settings
from mailwright.delivery import service, signing
from mailwright.delivery.models import OutboxMessage
from mailwright.delivery.schemas import MessageIn
from mailwright.delivery.senders import SendResult, SmtpSender
from mailwright.events import service as events
from mailwright.events.schemas import IncomingEvent
from mailwright.migrations.runner import upgrade
from mailwright.templates import service as templates
from mailwright.templates.library import builtin_templates
from mailwright.worker.registry import build_registry

MESSAGES = int(os.environ.get("BENCH_SEND_MESSAGES", "2000"))
# BENCH_SEND_DKIM=0: the same run without signing, to show what DKIM costs.
DKIM = os.environ.get("BENCH_SEND_DKIM", "1") != "0"
TEMPLATE = "newsletter"


def sink_main(port: int) -> None:
    """The sink process: accept everything, count it, answer as a real MTA's queue would."""
    from aiosmtpd.controller import Controller

    class Counter:
        received = 0

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            Counter.received += 1
            return "250 2.0.0 queued"

    controller = Controller(Counter(), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    sys.stdin.read()  # until the parent closes our stdin
    controller.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Recording(SmtpSender):
    """The real SMTP sender, keeping what it sent so the ceiling can replay exactly the same bytes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sent: list[tuple[str, list[str], bytes]] = []

    def send(self, envelope_from: str, recipients: list[str], message: bytes) -> SendResult:
        result = super().send(envelope_from, recipients, message)
        self.sent.append((envelope_from, recipients, message))
        return result


def fill(rt: Runtime, count: int) -> None:
    """Subscribed contacts and one queued newsletter each, through the real services."""
    with rt.uow() as uow:
        for template in builtin_templates():
            if template.name == TEMPLATE:
                templates.save_template(uow, template, rt.settings, builtin=True)
    for start in range(0, count, 1000):
        with rt.uow() as uow:
            events.ingest(
                uow,
                [
                    IncomingEvent(
                        message_id=f"bench-{i}",
                        type="identify",
                        name="Identify",
                        occurred_at=uow.now(),
                        source="bench",
                        user_id=f"bench-{i}",
                        email=f"shopper{i}@example.org",
                        profile={"email": f"shopper{i}@example.org", "first_name": f"Shopper{i}"},
                        consent="subscribed",
                    )
                    for i in range(start, min(start + 1000, count))
                ],
            )
    with rt.uow() as uow:
        ids = list(uow.session.scalars(select(Contact.id).order_by(Contact.id)))
    for start in range(0, len(ids), 1000):
        with rt.uow() as uow:
            service.enqueue_many(
                uow,
                [
                    MessageIn(
                        contact_id=cid,
                        template_name=TEMPLATE,
                        idempotency_key=f"bench:{cid}",
                        source_kind="campaign",
                        source_id="bench",
                    )
                    for cid in ids[start : start + 1000]
                ],
            )


def ceiling(port: int, messages: list[tuple[str, list[str], bytes]]) -> float:
    """Seconds to feed the pre-built messages over one reused connection."""
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for envelope_from, recipients, data in messages:
            smtp.sendmail(envelope_from, recipients, data)
    return time.perf_counter() - started


def run(database_url: str, workdir: Path, port: int) -> dict[str, Any]:
    key_file = workdir / "dkim.pem"
    signing.write_private_key(key_file, signing.generate_key(2048)[0])
    settings = Settings(  # type: ignore[call-arg]
        database_url=database_url,
        signing_key=SecretStr("bench"),
        public_url="https://shop.example",
        from_address="news@shop.example",
        bounce_domain="bounces.shop.example",
        sender="smtp",
        smtp_port=port,
        dkim_selector="s1" if DKIM else None,
        dkim_domain="shop.example",
        dkim_private_key_file=key_file,
        quiet_hours_start=0,
        quiet_hours_end=0,
        _env_file=None,
    )
    rt = Runtime(settings, registry=build_registry())
    try:
        fill(rt, MESSAGES)
        sender = Recording(settings.smtp_host, port)
        started = time.perf_counter()
        report = service.send_due(rt, worker_id="bench", limit=MESSAGES, sender=sender)
        pipeline_s = time.perf_counter() - started
        sender.close()
        with rt.uow() as uow:
            sent_rows = uow.session.scalar(
                select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "sent")
            )
    finally:
        rt.database.engine.dispose()
    assert report.sent == MESSAGES == sent_rows, (report, sent_rows)
    ceiling_s = ceiling(port, sender.sent)
    sizes = [len(m[2]) for m in sender.sent]
    return {
        "messages": MESSAGES,
        "message_bytes": sum(sizes) // len(sizes),
        "pipeline_per_s": round(MESSAGES / pipeline_s, 1),
        "ceiling_per_s": round(MESSAGES / ceiling_s, 1),
        "ratio": round(ceiling_s / pipeline_s, 3),
        "smtp_connections": sender.connections_opened,
        "dkim": DKIM,
        # Other processes on the machine slow the pipeline (two threads and the sink) more than the
        # ceiling (the sink alone): the load next to each figure says how busy the machine was.
        "load_1min": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    port = free_port()
    sink = subprocess.Popen(
        [sys.executable, __file__, "--sink", str(port)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert sink.stdout is not None and sink.stdout.readline().strip() == b"ready"
    pg = os.environ.get("MAILWRIGHT_BENCH_PG_URL")
    admin = None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            if pg:
                name = f"mw_bench_send_{uuid.uuid4().hex[:8]}"
                admin = create_engine(
                    pg.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
                )
                with admin.connect() as conn:
                    conn.execute(text(f'CREATE DATABASE "{name}"'))
                url = pg.rsplit("/", 1)[0] + f"/{name}"
            else:
                url = f"sqlite:///{workdir / 'bench.db'}"
            engine = make_engine(url)
            upgrade(engine)
            engine.dispose()
            figures = run(url, workdir, port)
            if admin is not None:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        assert sink.stdin is not None
        sink.stdin.close()
        sink.wait(timeout=30)
        if admin is not None:
            admin.dispose()
    figures["database"] = "postgresql" if pg else "sqlite"
    figures["machine"] = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print(
        f"send ({figures['database']}, DKIM {'on' if DKIM else 'off'}): {MESSAGES} messages of ~{figures['message_bytes']} bytes\n"
        f"  pipeline (claim, guards, render, DKIM, SMTP, mark sent): {figures['pipeline_per_s']} messages/s\n"
        f"  ceiling (same messages pre-built, one reused connection): {figures['ceiling_per_s']} messages/s\n"
        f"  ratio: {figures['ratio']} (goal >= 0.5)"
    )
    print(json.dumps({"benchmark": "send", **figures}))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--sink":
        sink_main(int(sys.argv[2]))
    else:
        threading.current_thread().name = "bench"
        main()
