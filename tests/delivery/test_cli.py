"""The CLI as a user runs it: dkim keygen, delivery status/send/review/resume, send-test."""

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dkim
import pytest
from pydantic import SecretStr
from tests.delivery.conftest import PLAIN
from typer.testing import CliRunner

from mailwright.cli.app import app
from mailwright.core.runtime import Runtime
from mailwright.core.settings import Settings
from mailwright.delivery import repository, service, signing
from mailwright.events import service as events
from mailwright.events.schemas import IncomingEvent
from mailwright.templates import service as templates

SIGNED_AT = datetime(2026, 11, 2, 9, tzinfo=UTC)


def test_dkim_keygen_writes_a_private_key_and_prints_its_dns_record(tmp_path: Path) -> None:
    out = tmp_path / "keys" / "s1.pem"
    result = CliRunner().invoke(
        app, ["dkim", "keygen", "--selector", "s1", "--domain", "shop.test", "--out", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert shown["dns_name"] == "s1._domainkey.shop.test"
    assert shown["record"].startswith('s1._domainkey.shop.test. IN TXT "v=DKIM1; k=rsa; p=')
    # The printed record verifies what the written key signs.
    key = signing.load_key("s1", "shop.test", out)
    msg = b"From: a@shop.test\r\nTo: b@example.org\r\nSubject: hi\r\nDate: Mon, 2 Nov 2026 09:00:00 +0000\r\n\r\nhi\r\n"
    record = shown["dns_txt"].encode()
    assert dkim.verify(signing.sign(msg, key, now=SIGNED_AT), dnsfunc=lambda name, timeout=5: record)
    # Never overwrites a key.
    again = CliRunner().invoke(
        app, ["dkim", "keygen", "--selector", "s1", "--domain", "shop.test", "--out", str(out)]
    )
    # The error output wraps at the terminal width, wherever the temporary path ends.
    assert again.exit_code == 1 and "exists already" in " ".join(again.output.split())


def _setup(url: str) -> tuple[Runtime, int]:
    settings = Settings(database_url=url, signing_key=SecretStr("cli"), _env_file=None)  # type: ignore[call-arg]
    rt = Runtime(settings)
    with rt.uow() as uow:
        templates.save_template(uow, PLAIN, settings)
        events.ingest(
            uow,
            [
                IncomingEvent(
                    message_id="cli-1",
                    type="identify",
                    name="Identify",
                    occurred_at=uow.now(),
                    source="test",
                    user_id="cli-1",
                    email="cli@example.org",
                    profile={"email": "cli@example.org"},
                    consent="subscribed",
                )
            ],
        )
    with rt.uow() as uow:
        found = events.list_events(uow.session, limit=1)
        return rt, found[0].contact_id or 0


def test_delivery_commands(fresh_database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name, value in {
        "MAILWRIGHT_DATABASE_URL": fresh_database_url,
        "MAILWRIGHT_SIGNING_KEY": "cli",
        "MAILWRIGHT_MAILDIR_PATH": str(tmp_path / "maildir"),
        "MAILWRIGHT_QUIET_HOURS_START": "0",
        "MAILWRIGHT_QUIET_HOURS_END": "0",
    }.items():
        monkeypatch.setenv(name, value)
    rt, contact_id = _setup(fresh_database_url)
    cli = CliRunner()
    try:
        with rt.uow() as uow:
            first = service.enqueue(
                uow,
                contact_id=contact_id,
                template_name="plain_test",
                idempotency_key="cli:1",
                source_kind="flow",
            )
            stuck = service.enqueue(
                uow,
                contact_id=contact_id,
                template_name="plain_test",
                idempotency_key="cli:2",
                source_kind="system",
                category="transactional",
                send_at=uow.now() + timedelta(days=1),
            )
        status = cli.invoke(app, ["delivery", "status", "--json"])
        assert status.exit_code == 0, status.output
        assert json.loads(status.stdout)["counts"] == {"queued": 2}
        assert json.loads(status.stdout)["due"] == 1

        sent = cli.invoke(app, ["delivery", "send", "--json"])
        assert sent.exit_code == 0, sent.output
        assert json.loads(sent.stdout)["sent"] == 1
        assert len(list((tmp_path / "maildir" / "new").iterdir())) == 1

        # A worker that died holding a message: the sweep marks it, review shows it, --drop decides.
        with rt.uow() as uow:
            repository.claim_due(uow.session, uow.now() + timedelta(days=2), 10, "dead")
            uow.session.flush()
        with rt.uow() as uow:
            service.sweep_stale(uow, timedelta(seconds=-3 * 86400))
        listed = cli.invoke(app, ["delivery", "review", "--json"])
        assert [m["public_id"] for m in json.loads(listed.stdout)] == [stuck.public_id]
        dropped = cli.invoke(app, ["delivery", "review", "--drop", stuck.public_id, "--json"])
        assert dropped.exit_code == 0 and json.loads(dropped.stdout)["status"] == "failed"
        wrong = cli.invoke(app, ["delivery", "review", "--requeue", first.public_id])
        assert wrong.exit_code == 1 and "not in review" in wrong.output

        # A 5.7.x pause shows in status; resume clears it.
        with rt.uow() as uow:
            service.pause(uow.session, "550 5.7.1 blocked", uow.now())
        paused = cli.invoke(app, ["delivery", "status"])
        assert "SENDING PAUSED" in paused.output and "5.7.1" in paused.output
        assert "sending resumed" in cli.invoke(app, ["delivery", "resume"]).output
        assert json.loads(cli.invoke(app, ["delivery", "status", "--json"]).stdout)["paused"] is False

        test = cli.invoke(app, ["send-test", "--template", "plain_test", "--to", "cli@example.org"])
        assert test.exit_code == 0, test.output
        assert len(list((tmp_path / "maildir" / "new").iterdir())) == 2
        missing = cli.invoke(app, ["send-test", "--template", "plain_test", "--to", "nobody@example.org"])
        assert missing.exit_code == 1 and "no contact" in missing.output
    finally:
        rt.database.engine.dispose()
