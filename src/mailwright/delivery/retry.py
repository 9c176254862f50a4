"""What a sender's answer means: sent, try again later, a hard bounce, or the sender's own problem."""

from datetime import timedelta
from typing import Literal

from mailwright.delivery.senders.base import SendResult

Outcome = Literal["sent", "retry", "hard_bounce", "sender_blocked"]
# Authentication and policy replies without an enhanced status: the sender's problem, not the recipient's.
_SENDER_CODES = frozenset({530, 534, 535, 538})
_MAX_BACKOFF = timedelta(hours=6)


def classify(result: SendResult) -> Outcome:
    """Map one result: 4xx and connection errors retry; 5.7.x, auth and MAIL FROM refusals are the
    sender's problem; any other 5xx is a hard bounce of the recipient (5.2.2, mailbox full, is soft)."""
    if result.ok:
        return "sent"
    code = result.code
    if result.connection_error or code is None:
        return "retry"
    status = result.enhanced_status or ""
    if code >= 500 and (status.startswith("5.7.") or code in _SENDER_CODES or result.stage == "mail"):
        return "sender_blocked"
    if code < 500 or status == "5.2.2":
        return "retry"
    return "hard_bounce"


def next_attempt_delay(attempts: int, base_seconds: float) -> timedelta:
    """Exponential backoff after the n-th failed attempt: base, 2x, 4x ... capped at six hours."""
    return min(timedelta(seconds=base_seconds * (2 ** max(attempts - 1, 0))), _MAX_BACKOFF)
