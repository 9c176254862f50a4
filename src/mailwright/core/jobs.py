"""The database-backed job runner: named jobs, ids as arguments, retries with backoff, many workers."""

import logging
import traceback
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from mailwright.core.clock import Clock
from mailwright.core.db import Database
from mailwright.core.models import Job, JobSchedule
from mailwright.core.uow import UnitOfWork, open_unit_of_work

log = logging.getLogger(__name__)

JobHandler = Callable[[UnitOfWork, dict[str, Any]], None]
UnitOfWorkFactory = Callable[[], AbstractContextManager[UnitOfWork]]
# A long job opens its own short transactions (read, then write) so that on SQLite it does not hold
# the one write lock while it computes for minutes.
LongJobHandler = Callable[[UnitOfWorkFactory, dict[str, Any]], None]


@dataclass(frozen=True)
class Periodic:
    """A job queued again every `every`, starting at the first tick."""

    name: str
    every: timedelta


@dataclass
class JobRegistry:
    """Job names and their handlers; higher layers register, lower layers only queue by name."""

    handlers: dict[str, JobHandler] = field(default_factory=dict)
    long_handlers: dict[str, LongJobHandler] = field(default_factory=dict)
    periodic: list[Periodic] = field(default_factory=list)
    subscribers: dict[str, list[JobHandler]] = field(default_factory=dict)

    def register(self, name: str, handler: JobHandler, *, every: timedelta | None = None) -> None:
        """Bind a handler to a job name (and optionally run it periodically)."""
        if name in self.handlers or name in self.long_handlers:
            raise ValueError(f"job {name!r} is registered twice")
        self.handlers[name] = handler
        if every is not None:
            self.periodic.append(Periodic(name, every))

    def subscribe(self, name: str, handler: JobHandler) -> None:
        """Add a handler to a job name that several domains react to (fan-out, e.g. `events.ingested`).

        Every subscriber runs in the job's one transaction, in registration order; a failure retries them all,
        so subscribers must be idempotent.
        """
        if name in self.long_handlers:
            raise ValueError(f"job {name!r} is a long job; it cannot have subscribers")
        current = self.handlers.get(name)
        # The chain so far is whatever is bound now (a plain handler, or an earlier fan-out, which runs its own).
        chain: list[JobHandler] = [current, handler] if current is not None else [handler]
        self.subscribers.setdefault(name, []).append(handler)

        def fan_out(uow: UnitOfWork, args: dict[str, Any]) -> None:
            for subscriber in chain:
                subscriber(uow, args)

        self.handlers[name] = fan_out

    def register_long(self, name: str, handler: LongJobHandler, *, every: timedelta | None = None) -> None:
        """Bind a handler that opens its own units of work (for work that computes for a long time)."""
        if name in self.handlers or name in self.long_handlers:
            raise ValueError(f"job {name!r} is registered twice")
        self.long_handlers[name] = handler
        if every is not None:
            self.periodic.append(Periodic(name, every))


@dataclass(frozen=True)
class JobOutcome:
    """What happened to one claimed job."""

    job_id: int
    name: str
    status: str
    error: str | None = None


def _mark_done(job: Job, now: datetime) -> None:
    job.status = "done"
    job.finished_at = now
    job.last_error = None


def backoff(attempt: int, base_seconds: float) -> timedelta:
    """Exponential backoff: base, 2x base, 4x base ... capped at one hour."""
    return timedelta(seconds=min(base_seconds * (2 ** max(attempt - 1, 0)), 3600.0))


class JobRunner:
    """Claims due jobs and runs each in its own transaction, together with marking it done."""

    def __init__(
        self,
        database: Database,
        clock: Clock,
        registry: JobRegistry,
        *,
        worker_id: str = "worker",
        backoff_seconds: float = 10.0,
        lock_timeout: timedelta = timedelta(minutes=10),
    ) -> None:
        self.database = database
        self.clock = clock
        self.registry = registry
        self.worker_id = worker_id
        self.backoff_seconds = backoff_seconds
        self.lock_timeout = lock_timeout

    def _uow(self) -> Any:
        return open_unit_of_work(self.database, self.clock)

    def schedule_periodic(self, now: datetime) -> int:
        """Queue every periodic job whose time has come; returns how many were queued."""
        queued = 0
        for periodic in self.registry.periodic:
            with self._uow() as uow:
                stmt = select(JobSchedule).where(JobSchedule.name == periodic.name)
                if self.database.dialect == "postgresql":
                    stmt = stmt.with_for_update(skip_locked=True)
                row = uow.session.scalars(stmt).first()
                if row is None:
                    uow.session.add(JobSchedule(name=periodic.name, next_run_at=now + periodic.every))
                    uow.enqueue(periodic.name, run_at=now)
                    queued += 1
                elif row.next_run_at <= now:
                    row.next_run_at = now + periodic.every
                    uow.enqueue(periodic.name, run_at=now)
                    queued += 1
        return queued

    def requeue_stale(self, now: datetime) -> int:
        """Give back jobs whose worker died: its transaction rolled back, so running them again is safe."""
        with self._uow() as uow:
            result = uow.session.execute(
                update(Job)
                .where(Job.status == "running", Job.locked_at < now - self.lock_timeout)
                .values(status="queued", locked_by=None, locked_at=None)
            )
            return int(getattr(result, "rowcount", 0) or 0)

    def claim(self, now: datetime, limit: int) -> list[int]:
        """Mark up to `limit` due jobs as running by this worker; SKIP LOCKED lets workers share a queue."""
        with self._uow() as uow:
            stmt = (
                select(Job.id)
                .where(Job.status == "queued", Job.run_at <= now)
                .order_by(Job.run_at, Job.id)
                .limit(limit)
            )
            if self.database.dialect == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True)
            ids = list(uow.session.scalars(stmt))
            if ids:
                uow.session.execute(
                    update(Job)
                    .where(Job.id.in_(ids))
                    .values(
                        status="running",
                        locked_by=self.worker_id,
                        locked_at=now,
                        attempts=Job.attempts + 1,
                    )
                )
            return ids

    def run_job(self, job_id: int) -> JobOutcome:
        """Run one claimed job: its work and its 'done' mark commit together or not at all.

        A long job instead runs its own transactions and is marked done after them; if its worker dies
        midway it is given back after the lock timeout and runs again, so such jobs must be idempotent.
        """
        try:
            long_handler: LongJobHandler | None = None
            with self._uow() as uow:
                job = uow.session.get(Job, job_id)
                if job is None or job.status != "running":
                    return JobOutcome(job_id, "?", "skipped")
                name, args = job.name, dict(job.args)
                long_handler = self.registry.long_handlers.get(name)
                if long_handler is None:
                    handler = self.registry.handlers.get(name)
                    if handler is None:
                        raise LookupError(f"no handler registered for job {name!r}")
                    handler(uow, args)
                    _mark_done(job, uow.now())
            if long_handler is not None:
                long_handler(self._uow, args)
                with self._uow() as uow:
                    job = uow.session.get(Job, job_id)
                    if job is not None:
                        _mark_done(job, uow.now())
            return JobOutcome(job_id, name, "done")
        except Exception as exc:
            error = "".join(traceback.format_exception_only(exc)).strip()
            log.warning("job %s failed: %s", job_id, error)
            return self._record_failure(job_id, error)

    def _record_failure(self, job_id: int, error: str) -> JobOutcome:
        with self._uow() as uow:
            job = uow.session.get(Job, job_id)
            if job is None:
                return JobOutcome(job_id, "?", "missing", error)
            now = uow.now()
            job.last_error = error[:4000]
            job.locked_by = None
            job.locked_at = None
            if job.attempts >= job.max_attempts:
                job.status = "dead"
                job.finished_at = now
            else:
                job.status = "queued"
                job.run_at = now + backoff(job.attempts, self.backoff_seconds)
            return JobOutcome(job_id, job.name, job.status, error)

    def tick(self, now: datetime | None = None, *, limit: int = 100, max_rounds: int = 1000) -> int:
        """Do all work due up to `now` (the clock's time by default); returns how many jobs ran."""
        moment = now or self.clock.now()
        self.requeue_stale(moment)
        self.schedule_periodic(moment)
        ran = 0
        for _ in range(max_rounds):
            ids = self.claim(moment, limit)
            if not ids:
                break
            for job_id in ids:
                self.run_job(job_id)
                ran += 1
        return ran
