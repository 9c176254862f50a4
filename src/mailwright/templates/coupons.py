"""Coupon code pools: the shop uploads codes, each recipient is handed one, never the same one twice."""

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mailwright.core.errors import Conflict, InvalidInput
from mailwright.templates.models import CouponCode

_CLAIM_ATTEMPTS = 5


class CouponPoolExhausted(Conflict):
    """No unclaimed code is left in the pool."""

    code = "coupon_pool_exhausted"


def upload_codes(session: Session, pool: str, codes: Iterable[str], now: datetime) -> int:
    """Add codes to a pool (codes already in it are skipped); returns how many were added."""
    if not pool.strip():
        raise InvalidInput("a coupon pool needs a name", field="pool")
    wanted = list(dict.fromkeys(c.strip() for c in codes if c and c.strip()))
    if any(len(c) > 100 for c in wanted):
        raise InvalidInput("a coupon code is at most 100 characters", field="codes")
    existing = set(
        session.scalars(select(CouponCode.code).where(CouponCode.pool == pool, CouponCode.code.in_(wanted)))
    )
    fresh = [c for c in wanted if c not in existing]
    session.add_all(CouponCode(pool=pool, code=c, created_at=now, details={}) for c in fresh)
    session.flush()
    return len(fresh)


def remaining(session: Session, pool: str) -> int:
    """Unclaimed codes left in a pool."""
    return int(
        session.scalar(select(func.count()).where(CouponCode.pool == pool, CouponCode.claimed_at.is_(None)))
        or 0
    )


def claim(session: Session, pool: str, claim_key: str, now: datetime) -> str:
    """The pool's code for this claim key: the one it already has, or a fresh one taken atomically."""
    for _ in range(_CLAIM_ATTEMPTS):
        held = _held(session, pool, claim_key)
        if held is not None:
            return held
        free = (
            select(CouponCode.id)
            .where(CouponCode.pool == pool, CouponCode.claimed_at.is_(None))
            .order_by(CouponCode.id)
            .limit(1)
        )
        if session.get_bind().dialect.name == "postgresql":
            # Concurrent senders skip each other's row instead of queueing on it.
            free = free.with_for_update(skip_locked=True)
        statement = (
            update(CouponCode)
            # The `claimed_at IS NULL` guard makes the update a compare-and-set: a row someone else
            # claimed between our select and our update is not taken twice.
            .where(CouponCode.id == free.scalar_subquery(), CouponCode.claimed_at.is_(None))
            .values(claim_key=claim_key, claimed_at=now)
            .returning(CouponCode.code)
            .execution_options(synchronize_session=False)
        )
        try:
            with session.begin_nested():
                code = session.scalar(statement)
        except IntegrityError:
            continue  # the same key claimed concurrently: read its code on the next turn
        if code is not None:
            return str(code)
        if remaining(session, pool) == 0:
            raise CouponPoolExhausted(f"coupon pool {pool!r} has no unclaimed code left", field="pool")
    raise CouponPoolExhausted(f"could not claim a code from pool {pool!r}", field="pool")


def _held(session: Session, pool: str, claim_key: str) -> str | None:
    return session.scalar(
        select(CouponCode.code).where(CouponCode.pool == pool, CouponCode.claim_key == claim_key)
    )
