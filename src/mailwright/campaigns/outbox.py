"""What campaigns ask of delivery about the messages they queued: their status, and withdrawing them.

Only through `delivery.service`, in bulk: a large campaign's `show` and cancel cost a few queries per
five thousand recipients.
"""

from collections.abc import Sequence

from sqlalchemy.orm import Session

from mailwright.core.uow import UnitOfWork
from mailwright.delivery import service as delivery

CANCEL_REASON = "campaign cancelled"
# Outcomes of a message that never reached the recipient.
NOT_DELIVERED = frozenset({"skipped", "failed", "bounced"})


def message_states(session: Session, public_ids: Sequence[str]) -> dict[str, str]:
    """The outbox status of each message the campaign queued (public id -> status)."""
    return delivery.message_statuses(session, public_ids)


def skip_queued(uow: UnitOfWork, public_ids: Sequence[str]) -> int:
    """Mark still-queued messages skipped ("campaign cancelled"); returns how many were withdrawn."""
    if not public_ids:
        return 0
    return delivery.skip_queued(uow, list(public_ids), reason=CANCEL_REASON)
