"""The unit of work handed to every service: a session, the clock, and a way to queue jobs."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from mailwright.core.clock import Clock
from mailwright.core.db import Database
from mailwright.core.models import Job


class UnitOfWork:
    """One transaction: services add to the session, only the unit of work commits.

    Side effects registered with `after_commit` run once the transaction is durable, never before,
    and never if it rolls back. Jobs queued with `enqueue` are rows in the same transaction.
    """

    def __init__(self, database: Database, clock: Clock, *, job_attempts: int = 5) -> None:
        self.database = database
        self.clock = clock
        self.session: Session = database.session_factory()
        self.job_attempts = job_attempts
        self.queued_jobs = 0
        self._after_commit: list[Callable[[], None]] = []

    def now(self) -> datetime:
        """The injected clock's current time."""
        return self.clock.now()

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run a side effect once this transaction has committed."""
        self._after_commit.append(callback)

    def enqueue(self, name: str, *, run_at: datetime | None = None, **args: Any) -> None:
        """Queue a named job (arguments are ids and small values) in this transaction."""
        now = self.clock.now()
        self.session.add(
            Job(
                name=name,
                args=args,
                status="queued",
                run_at=run_at or now,
                attempts=0,
                max_attempts=self.job_attempts,
                created_at=now,
            )
        )
        self.queued_jobs += 1

    def commit(self) -> None:
        """Commit, then run the side effects recorded during the transaction."""
        self.session.commit()
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            callback()

    def rollback(self) -> None:
        """Undo the transaction and forget its side effects."""
        self.session.rollback()
        self._after_commit = []
        self.queued_jobs = 0

    def close(self) -> None:
        """Release the connection."""
        self.session.close()


@contextmanager
def open_unit_of_work(
    database: Database, clock: Clock, *, on_jobs_committed: Callable[[], None] | None = None
) -> Iterator[UnitOfWork]:
    """A unit of work that commits when the block ends and rolls back if it raises."""
    lock = database.transaction_lock
    if lock is not None:
        lock.acquire()
    try:
        with _unit_of_work(database, clock, on_jobs_committed) as uow:
            yield uow
    finally:
        if lock is not None:
            lock.release()


@contextmanager
def _unit_of_work(
    database: Database, clock: Clock, on_jobs_committed: Callable[[], None] | None
) -> Iterator[UnitOfWork]:
    uow = UnitOfWork(database, clock)
    try:
        yield uow
        if on_jobs_committed is not None and uow.queued_jobs:
            uow.after_commit(on_jobs_committed)
        uow.commit()
    except BaseException:
        uow.rollback()
        raise
    finally:
        uow.close()
