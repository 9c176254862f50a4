"""A sender that delivers into a local Maildir: the demo's default, it needs no mail server."""

import mailbox
import threading
from pathlib import Path

from mailwright.delivery.senders.base import SendResult


class MaildirSender:
    """Writes each message into `new/` of a Maildir, as a local delivery agent would."""

    name = "maildir"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._box: mailbox.Maildir | None = None
        self._lock = threading.Lock()

    def _maildir(self) -> mailbox.Maildir:
        if self._box is None:
            for sub in ("tmp", "new", "cur"):  # also when the folder exists but is empty
                (self.path / sub).mkdir(parents=True, exist_ok=True)
            self._box = mailbox.Maildir(str(self.path), create=False)
        return self._box

    def send(self, envelope_from: str, recipients: list[str], message: bytes) -> SendResult:
        """Add the message, with the Return-Path and Delivered-To lines a delivery agent writes."""
        # Maildir files use the local line ending; the delivering agent records the envelope.
        trace = f"Return-Path: <{envelope_from}>\nDelivered-To: {', '.join(recipients)}\n".encode()
        data = trace + message.replace(b"\r\n", b"\n")
        try:
            with self._lock:
                key = self._maildir().add(data)
        except OSError as exc:
            return SendResult.unreachable(f"maildir {self.path}: {exc}")
        return SendResult.accepted(detail=f"stored as {key}")

    def close(self) -> None:
        """Nothing stays open between messages."""
        self._box = None
