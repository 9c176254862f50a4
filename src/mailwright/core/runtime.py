"""The running installation: settings, clock, database and job registry, wired once."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from mailwright.core.clock import Clock, SystemClock
from mailwright.core.db import Database, make_engine
from mailwright.core.jobs import JobRegistry, JobRunner
from mailwright.core.settings import Settings
from mailwright.core.uow import UnitOfWork, open_unit_of_work


class Runtime:
    """Everything a request, a job or a CLI command needs, built from settings."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        database: Database | None = None,
        registry: JobRegistry | None = None,
        worker_id: str = "worker",
    ) -> None:
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        if database is None:
            path = settings.sqlite_path()
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
            database = Database(
                make_engine(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
            )
        self.database = database
        self.registry = registry or JobRegistry()
        # Set when a commit queued jobs: the embedded worker wakes at once instead of at its next poll,
        # so an accepted event reaches segments and flows in milliseconds, not up to a poll interval.
        self.jobs_queued = threading.Event()
        self.runner = JobRunner(
            self.database,
            self.clock,
            self.registry,
            worker_id=worker_id,
            backoff_seconds=settings.job_backoff_seconds,
            lock_timeout=timedelta(seconds=settings.job_lock_timeout_seconds),
        )

    @contextmanager
    def uow(self) -> Iterator[UnitOfWork]:
        """A unit of work; with inline jobs on, the jobs it queued run right after it commits."""
        hook = self._run_inline if self.settings.inline_jobs else self.jobs_queued.set
        with open_unit_of_work(self.database, self.clock, on_jobs_committed=hook) as uow:
            uow.job_attempts = self.settings.job_max_attempts
            yield uow

    def _run_inline(self) -> None:
        self.runner.tick(self.clock.now())
