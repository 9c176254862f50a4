"""What campaigns ask of delivery about the messages they queued: their status, and withdrawing them.

Only through `delivery.service`, in bulk: a large campaign's `show` and cancel cost a few queries per
five thousand recipients.
"""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from mailwright.core.uow import UnitOfWork
from mailwright.delivery import service as delivery

CANCEL_REASON = "campaign cancelled"
# Outcomes of a message that never reached the recipient.
NOT_DELIVERED = frozenset({"skipped", "failed", "bounced"})


def message_states(
    session: Session, messages: Sequence[tuple[int, str]], *, since: datetime
) -> dict[str, str]:
    """The outbox status of each (contact id, public id) the campaign queued (public id -> status).

    `since` (when the campaign started) is kept for callers; the outbox is read by public id.
    """
    return delivery.message_statuses(session, [public_id for _, public_id in messages])


def skip_queued(uow: UnitOfWork, public_ids: Sequence[str]) -> int:
    """Mark still-queued messages skipped ("campaign cancelled"); returns how many were withdrawn."""
    if not public_ids:
        return 0
    return delivery.skip_queued(uow, list(public_ids), reason=CANCEL_REASON)
