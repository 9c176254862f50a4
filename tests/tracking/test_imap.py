"""The IMAP poller against a real IMAP server: a private Dovecot on loopback, plain login, one Maildir.

Needs Debian's `dovecot-imapd` and root (Dovecot's master drops privileges); skipped otherwise, saying why.
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
from pydantic import SecretStr
from sqlalchemy.orm import Session
from tests.tracking.conftest import MakeContact, MakeMessage
from tests.tracking.test_bounces import fixture

from mailwright.contacts import service as contacts
from mailwright.core.errors import InvalidInput
from mailwright.core.runtime import Runtime
from mailwright.delivery.models import OutboxMessage
from mailwright.tracking import inbound

DOVECOT = shutil.which("dovecot") or ("/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None)


def _unavailable() -> str | None:
    if DOVECOT is None or shutil.which("doveadm") is None:
        return "Dovecot is not installed (apt-get install -y dovecot-imapd)"
    if os.geteuid() != 0:
        return "a private Dovecot instance needs root"
    return None


pytestmark = pytest.mark.skipif(_unavailable() is not None, reason=_unavailable() or "")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def dovecot() -> Iterator[tuple[int, Path]]:
    """A private Dovecot IMAP server on 127.0.0.1:<free port>; yields the port and the user's Maildir."""
    root = Path(tempfile.mkdtemp(prefix="mw-dovecot-"))
    root.chmod(0o755)
    port = _free_port()
    mail = root / "mail"
    maildir = mail / "bounces"
    for folder in (
        root / "run",
        root / "state",
        root / "log",
        *(maildir / sub for sub in ("new", "cur", "tmp")),
    ):
        folder.mkdir(parents=True, exist_ok=True)
    (root / "users").write_text("bounces:{PLAIN}secret\n")
    conf = root / "dovecot.conf"
    conf.write_text(
        f"""protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
instance_name = mw-{port}
log_path = {root}/log/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
mail_location = maildir:{mail}/%u
first_valid_uid = 0
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={mail}/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
"""
    )
    subprocess.run(["chown", "-R", "nobody:nogroup", str(mail)], check=True, timeout=30)
    subprocess.run([str(DOVECOT), "-c", str(conf)], check=True, timeout=30)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield port, maildir
    finally:
        subprocess.run(["doveadm", "-c", str(conf), "stop"], check=False, timeout=30)
        shutil.rmtree(root, ignore_errors=True)


def test_imap_poller_processes_unseen_reports_once(
    runtime: Runtime,
    dovecot: tuple[int, Path],
    make_contact: MakeContact,
    make_message: MakeMessage,
    session: Session,
) -> None:
    port, maildir = dovecot
    contact = make_contact("imap-bounce@example.com")
    message = make_message(contact)
    report = maildir / "new" / "1793610312.M1P1.host"
    report.write_bytes(fixture("postfix_user_unknown.eml", message.public_id, "imap-bounce@example.com"))
    shutil.chown(report, user="nobody", group="nogroup")
    runtime.settings = runtime.settings.model_copy(
        update={
            "imap_host": "127.0.0.1",
            "imap_port": port,
            "imap_ssl": False,
            "imap_user": "bounces",
            "imap_password": SecretStr("secret"),
        }
    )
    assert inbound.poll_imap(runtime) == 1
    row = session.get(OutboxMessage, message.id)
    assert row is not None
    session.refresh(row)
    assert row.status == "bounced"
    assert contacts.suppression_reason(session, "imap-bounce@example.com") == "hard_bounce"
    # Flagged \\Seen on the server: the next poll finds nothing.
    assert inbound.poll_imap(runtime) == 0


def test_imap_poller_without_settings_says_what_is_missing(runtime: Runtime) -> None:
    with pytest.raises(InvalidInput, match="imap_host"):
        inbound.poll_imap(runtime)
