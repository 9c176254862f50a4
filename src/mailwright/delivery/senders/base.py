"""The one interface every sender implements, and what a send attempt comes back with.

An HTTP ESP adapter (SES, Postmark, Mailgun ...) fits the same protocol: `send` posts the already
signed RFC 5322 bytes (their "raw message" endpoints) with the VERP envelope sender, and maps the
provider's answer onto a `SendResult`: accepted -> `SendResult.accepted()`, a throttling or 5xx HTTP
answer -> a temporary result (code 451), a rejected recipient -> code 550 with the provider's reason,
an account or authentication problem -> enhanced status 5.7.x so delivery pauses instead of
suppressing the recipient. `close` releases its HTTP client. Nothing else in delivery changes.
"""

import re
from dataclasses import dataclass
from typing import Protocol

_ENHANCED = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})\b")


@dataclass(frozen=True)
class SendResult:
    """The answer to one message: accepted, or refused with the SMTP code and enhanced status."""

    ok: bool
    code: int | None = None
    enhanced_status: str | None = None
    detail: str = ""
    # True when the message never reached a server that answered (connection refused, timeout, drop).
    connection_error: bool = False
    # Where SMTP refused it: "mail" (the sender), "rcpt" (the recipient) or "data" (the content).
    stage: str | None = None

    @classmethod
    def accepted(cls, code: int = 250, detail: str = "ok") -> "SendResult":
        """The server took the message."""
        return cls(ok=True, code=code, detail=detail)

    @classmethod
    def refused(cls, code: int, detail: str, *, stage: str = "rcpt") -> "SendResult":
        """The server answered with an error code; the enhanced status is read from the text."""
        return cls(
            ok=False, code=code, enhanced_status=enhanced_status_of(detail), detail=detail, stage=stage
        )

    @classmethod
    def unreachable(cls, detail: str) -> "SendResult":
        """No answer: the connection failed or dropped (always worth a retry)."""
        return cls(ok=False, detail=detail, connection_error=True)


def enhanced_status_of(text: str) -> str | None:
    """The RFC 3463 enhanced status code at the start of a reply text ("5.1.1 User unknown")."""
    match = _ENHANCED.match(text)
    return ".".join(match.groups()) if match else None


class Sender(Protocol):
    """Hands a finished message to the outside world (SMTP relay, Maildir, memory, an ESP's API)."""

    name: str

    def send(self, envelope_from: str, recipients: list[str], message: bytes) -> SendResult:
        """Deliver one message (CRLF line endings, already signed); never raises for a refusal."""
        ...

    def close(self) -> None:
        """Release connections and files."""
        ...
