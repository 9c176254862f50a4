"""`mailwright inbound`: real SMTP on loopback (aiosmtpd), and the Maildir poller through the CLI."""

import json
import os
import signal
import smtplib
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select
from tests.tracking.conftest import MakeContact, MakeMessage
from tests.tracking.test_bounces import fixture
from typer.testing import CliRunner

from mailwright.cli.app import app
from mailwright.contacts import service as contacts
from mailwright.core.ids import new_ulid
from mailwright.core.runtime import Runtime
from mailwright.core.settings import Settings
from mailwright.delivery.models import OutboxMessage
from mailwright.events import service as events
from mailwright.events.schemas import IncomingEvent
from mailwright.tracking import inbound


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_smtp_endpoint_processes_each_message_before_answering(
    runtime: Runtime, make_contact: MakeContact, make_message: MakeMessage
) -> None:
    hard = make_message(make_contact("smtp-hard@example.com"))
    complainer = make_contact("smtp-spam@example.com")
    spam = make_message(complainer)
    port = _free_port()
    controller = inbound.start_smtp(runtime, host="127.0.0.1", port=port)
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            client.sendmail(
                "",
                [f"bounce+{hard.public_id}@bounces.shop.test"],
                fixture("exim_user_unknown.eml", hard.public_id, "smtp-hard@example.com").replace(
                    b"\n", b"\r\n"
                ),
            )
            client.sendmail(
                "",
                ["fbl@bounces.shop.test"],
                fixture("arf_complaint.eml", spam.public_id, "smtp-spam@example.com").replace(b"\n", b"\r\n"),
            )
            code, _ = client.noop()
            assert code == 250
    finally:
        controller.stop()
    with runtime.uow() as uow:
        assert uow.session.get(OutboxMessage, hard.id).status == "bounced"  # type: ignore[union-attr]
        assert contacts.suppression_reason(uow.session, "smtp-hard@example.com") == "hard_bounce"
        assert contacts.suppression_reason(uow.session, "smtp-spam@example.com") == "complaint"
        assert events.list_events(uow.session, contact_id=complainer, name="Marked as Spam")


def test_envelope_recipient_is_the_verp_key_when_headers_lack_it(
    runtime: Runtime, make_contact: MakeContact, make_message: MakeMessage
) -> None:
    contact = make_contact("verp-only@example.com")
    message = make_message(contact)
    # A bare DSN whose headers never name the VERP address (only the SMTP envelope does).
    raw = fixture("rfc3464_simple.eml").replace(b"louisl@larry.slip.umd.edu", b"someone@elsewhere.test")
    port = _free_port()
    controller = inbound.start_smtp(runtime, host="127.0.0.1", port=port)
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            client.sendmail(
                "", [f"bounce+{message.public_id}@bounces.shop.test"], raw.replace(b"\n", b"\r\n")
            )
    finally:
        controller.stop()
    with runtime.uow() as uow:
        (bounced,) = events.list_events(uow.session, contact_id=contact, name="Email Bounced")
        assert bounced.properties["message_id"] == message.public_id
        assert bounced.properties["bounce_type"] == "soft"


def _seed(url: str, email: str) -> tuple[int, str]:
    """A committed contact and sent message in a database of its own (the CLI runs in another runtime)."""
    runtime = Runtime(Settings(database_url=url, _env_file=None))  # type: ignore[call-arg]
    with runtime.uow() as uow:
        events.ingest(
            uow,
            [
                IncomingEvent(
                    message_id=f"seed-{email}",
                    type="identify",
                    name="Identify",
                    occurred_at=uow.now(),
                    source="test",
                    email=email,
                    consent="subscribed",
                )
            ],
        )
    with runtime.uow() as uow:
        found = contacts.find_by_email(uow.session, email)
        assert found is not None
        now = uow.now()
        public_id = new_ulid(now).lower()
        uow.session.add(
            OutboxMessage(
                public_id=public_id,
                idempotency_key=f"seed:{email}",
                contact_id=found.id,
                to_address=email,
                template_name="newsletter",
                category="marketing",
                source_kind="campaign",
                context={},
                status="sent",
                send_at=now,
                attempts=1,
                links=[],
                sent_at=now,
                created_at=now,
                updated_at=now,
            )
        )
    runtime.database.engine.dispose()
    return found.id, public_id


def test_cli_polls_a_maildir_and_moves_messages_to_cur(
    fresh_database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = fresh_database_url.replace("postgresql://", "postgresql+psycopg://")
    monkeypatch.setenv("MAILWRIGHT_DATABASE_URL", url)
    _, hard_id = _seed(url, "maildir-hard@example.com")
    _, unsub_id = _seed(url, "maildir-unsub@example.com")
    maildir = tmp_path / "Maildir"
    for sub in ("new", "cur", "tmp"):
        (maildir / sub).mkdir(parents=True)
    new = maildir / "new"
    (new / "1793610312.V801I2M1.host").write_bytes(
        fixture("postfix_user_unknown.eml", hard_id, "maildir-hard@example.com")
    )
    (new / "1793610313.V801I2M2.host").write_bytes(
        fixture("mailto_unsubscribe.eml", unsub_id, "maildir-unsub@example.com")
    )
    cli = CliRunner()
    result = cli.invoke(app, ["inbound", "--maildir", str(maildir), "--once", "--json"])
    assert result.exit_code == 0, result.output
    assert '"processed": 2' in result.stdout
    assert list(new.iterdir()) == []
    assert sorted(p.name for p in (maildir / "cur").iterdir()) == [
        "1793610312.V801I2M1.host:2,S",
        "1793610313.V801I2M2.host:2,S",
    ]
    shown = cli.invoke(app, ["contacts", "show", "maildir-unsub@example.com", "--json"])
    assert json.loads(shown.stdout)["contact"]["consent_status"] == "unsubscribed"
    runtime = Runtime(Settings(database_url=url, _env_file=None))  # type: ignore[call-arg]
    with runtime.uow() as uow:
        assert contacts.suppression_reason(uow.session, "maildir-hard@example.com") == "hard_bounce"
        status = uow.session.scalar(select(OutboxMessage.status).where(OutboxMessage.public_id == hard_id))
        assert status == "bounced"
    runtime.database.engine.dispose()
    # Polling again finds nothing new.
    again = cli.invoke(app, ["inbound", "--maildir", str(maildir), "--once", "--json"])
    assert '"processed": 0' in again.stdout
    missing = cli.invoke(app, ["inbound", "--maildir", str(tmp_path / "nope"), "--once"])
    assert missing.exit_code == 1 and "not a" in missing.output


def test_mailwright_inbound_process_over_real_smtp(fresh_database_url: str, tmp_path: Path) -> None:
    """`mailwright inbound --port N` as its own process: a DSN sent with smtplib is acted on."""
    url = fresh_database_url.replace("postgresql://", "postgresql+psycopg://")
    _, public_id = _seed(url, "proc-hard@example.com")
    port = _free_port()
    env = {**os.environ, "MAILWRIGHT_DATABASE_URL": url}
    process = subprocess.Popen(
        [sys.executable, "-m", "mailwright", "inbound", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # The CLI imports every command and migrates first: allow a loaded 2-core machine its time.
        deadline = time.monotonic() + 180
        while True:
            try:
                client = smtplib.SMTP("127.0.0.1", port, timeout=60)
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.2)
        with client:
            raw = fixture("exim_user_unknown.eml", public_id, "proc-hard@example.com").replace(b"\n", b"\r\n")
            client.sendmail("", [f"bounce+{public_id}@bounces.shop.test"], raw)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    runtime = Runtime(Settings(database_url=url, _env_file=None))  # type: ignore[call-arg]
    with runtime.uow() as uow:
        assert contacts.suppression_reason(uow.session, "proc-hard@example.com") == "hard_bounce"
        status = uow.session.scalar(select(OutboxMessage.status).where(OutboxMessage.public_id == public_id))
        assert status == "bounced"
    runtime.database.engine.dispose()
