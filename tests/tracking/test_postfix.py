"""A real MTA: Mailwright sends through a private Postfix on loopback to an unknown local user, and
reads the RFC 3464 report Postfix generates from the bounce Maildir.

The Postfix instance is our own: its own configuration directory, queue, port and log under a temporary
directory, listening on 127.0.0.1 only, with every non-local transport set to `error:` so nothing can
leave the machine. It needs Debian's `postfix` package and root (Postfix's master runs as root and
drops to the `postfix` user); without them the test is skipped and says why.
"""

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from tests.tracking.conftest import FIXTURES, MakeContact

from mailwright.contacts import service as contacts
from mailwright.core.runtime import Runtime
from mailwright.delivery import service as delivery
from mailwright.delivery.models import OutboxMessage
from mailwright.events import service as events
from mailwright.templates import service as templates
from mailwright.templates.schemas import TemplateIn, VariantIn
from mailwright.tracking import bounces, inbound

POSTFIX = shutil.which("postfix") or ("/usr/sbin/postfix" if Path("/usr/sbin/postfix").exists() else None)


def _unavailable() -> str | None:
    if POSTFIX is None:
        return "Postfix is not installed (apt-get install -y postfix, 'Local only')"
    if os.geteuid() != 0:
        return "a private Postfix instance needs root (its master process runs as root)"
    if not Path("/usr/lib/postfix/sbin/master").exists():
        return "Postfix daemons not found in /usr/lib/postfix/sbin"
    return None


pytestmark = pytest.mark.skipif(_unavailable() is not None, reason=_unavailable() or "")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _postfix(conf: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # `script` gives Postfix a terminal, so its errors reach us instead of an absent syslog.
    return subprocess.run(
        ["script", "-qc", f"{POSTFIX} -c {conf} {' '.join(args)}", "/dev/null"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _master_cf(port: int) -> str:
    lines = []
    for line in Path("/etc/postfix/master.cf").read_text().splitlines():
        if line.startswith("smtp ") and " inet " in line:
            line = f"127.0.0.1:{port} inet n - n - - smtpd"
        elif line and not line[0].isspace() and not line.startswith("#"):
            parts = line.split()
            if len(parts) >= 8 and parts[4] in ("y", "-"):
                parts[4] = "n"  # no chroot: the instance lives in a temporary directory
                line = " ".join(parts)
        lines.append(line)
    return "\n".join(lines) + "\n"


@pytest.fixture
def postfix() -> Iterator[tuple[int, Path]]:
    """A private Postfix on 127.0.0.1:<free port>; yields the port and the bounce Maildir."""
    root = Path(tempfile.mkdtemp(prefix="mw-postfix-"))
    root.chmod(0o755)  # local(8) delivers to the Maildir as `nobody`
    conf, queue, data, maildir = root / "conf", root / "queue", root / "data", root / "bounce" / "Maildir"
    for folder in (conf, queue, data, *(maildir / sub for sub in ("new", "cur", "tmp"))):
        folder.mkdir(parents=True)
    for folder in (root / "bounce", maildir, *(maildir / sub for sub in ("new", "cur", "tmp"))):
        folder.chmod(0o777)
    shutil.chown(data, user="postfix")
    port = _free_port()
    (conf / "master.cf").write_text(_master_cf(port))
    (conf / "main.cf").write_text(
        "\n".join(
            [
                "compatibility_level = 3.6",
                f"queue_directory = {queue}",
                f"data_directory = {data}",
                "myhostname = localhost",
                "myorigin = localhost",
                "mydestination = localhost, bounces.example.com",  # local to this Postfix: never looked up in DNS
                "inet_interfaces = loopback-only",
                "inet_protocols = ipv4",
                "mynetworks = 127.0.0.0/8",
                # Nothing leaves the machine: every non-local destination is refused.
                "relayhost =",
                "default_transport = error:mail outside this test is not deliverable",
                "relay_transport = error:mail outside this test is not deliverable",
                # Accept unknown local users at RCPT, so local(8) bounces them with a real DSN.
                "local_recipient_maps =",
                "recipient_delimiter = +",
                f"alias_maps = hash:{conf}/aliases",
                f"alias_database = hash:{conf}/aliases",
                f"maillog_file_prefixes = {root}",
                f"maillog_file = {root}/maillog",
                f"syslog_name = postfix-mw{port}",
                "smtputf8_enable = no",
                "biff = no",
                "",
            ]
        )
    )
    (conf / "aliases").write_text(f"bounce: {maildir}/\n")
    subprocess.run(["postalias", str(conf / "aliases")], check=True, timeout=30)
    started = _postfix(conf, "start")
    if "startup failed" in started.stdout or started.returncode != 0:
        log = (root / "maillog").read_text() if (root / "maillog").exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"postfix did not start: {started.stdout} {log}")
    try:
        yield port, maildir
    finally:
        _postfix(conf, "stop")
        shutil.rmtree(root, ignore_errors=True)


BOUNCE_ME = TemplateIn(
    name="postfix_test",
    kind="marketing",
    variants={
        "en": VariantIn(
            subject="Hello",
            body_format="html",
            body='<html><body><p>Hi</p><a href="{{ message.unsubscribe_url }}">Unsubscribe</a></body></html>',
        )
    },
)


def test_real_postfix_dsn_for_an_unknown_user_suppresses_the_address(
    runtime: Runtime, postfix: tuple[int, Path], make_contact: MakeContact, session: Session
) -> None:
    port, maildir = postfix
    runtime.settings = runtime.settings.model_copy(
        update={
            "sender": "smtp",
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "bounce_domain": "bounces.example.com",
        }
    )
    with runtime.uow() as uow:
        templates.save_template(uow, BOUNCE_ME, runtime.settings)
    contact = make_contact("nosuchuser@bounces.example.com")
    with runtime.uow() as uow:
        queued = delivery.enqueue(
            uow,
            contact_id=contact,
            template_name="postfix_test",
            idempotency_key="pf:1",
            source_kind="campaign",
        )
    report = delivery.send_due(runtime, worker_id="postfix-test")
    assert report.sent == 1, report  # Postfix accepted it at RCPT; the failure comes later, as a DSN

    deadline = time.monotonic() + 30
    while not any((maildir / "new").iterdir()) and time.monotonic() < deadline:
        time.sleep(0.2)
    (dsn_path,) = list((maildir / "new").iterdir())
    raw = dsn_path.read_bytes()
    assert b"report-type=delivery-status" in raw
    parsed = bounces.parse(raw)
    assert parsed.public_ids[0] == queued.public_id
    assert [(f.kind, f.status) for f in parsed.failures] == [("hard", "5.1.1")]

    assert inbound.poll_maildir(runtime, maildir) == 1
    message = session.scalars(select(OutboxMessage).where(OutboxMessage.public_id == queued.public_id)).one()
    session.refresh(message)
    assert message.status == "bounced"
    assert contacts.suppression_reason(session, "nosuchuser@bounces.example.com") == "hard_bounce"
    (bounced,) = events.list_events(session, contact_id=contact, name="Email Bounced")
    assert bounced.properties["status"] == "5.1.1"


@pytest.mark.nodb
def test_the_recorded_postfix_dsn_fixture_is_what_postfix_writes() -> None:
    """The DSN captured from this Postfix (3.7) parses the same way in every environment."""
    report = bounces.parse((FIXTURES / "postfix_real_local_unknown.eml").read_bytes())
    assert report.public_ids[0] == "01jtestpublicid0000000000a"
    assert [(f.recipient, f.kind, f.status) for f in report.failures] == [
        ("nosuchuser@localhost", "hard", "5.1.1")
    ]
