import threading
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select
from tests.conftest import START

from mailwright.core.clock import ManualClock
from mailwright.core.db import Database, make_engine
from mailwright.core.jobs import JobRegistry, JobRunner, backoff
from mailwright.core.models import Job
from mailwright.core.runtime import Runtime
from mailwright.core.settings import Settings
from mailwright.core.uow import UnitOfWork


def make_runtime(runtime: Runtime, registry: JobRegistry, *, inline: bool) -> Runtime:
    settings = runtime.settings.model_copy(update={"inline_jobs": inline, "job_max_attempts": 3})
    return Runtime(settings, clock=runtime.clock, database=runtime.database, registry=registry)


def jobs(runtime: Runtime) -> list[Job]:
    with runtime.uow() as uow:
        return list(uow.session.scalars(select(Job).order_by(Job.id)))


def test_job_runs_after_commit_and_not_after_rollback(runtime: Runtime) -> None:
    seen: list[Any] = []
    registry = JobRegistry()
    registry.register("remember", lambda _uow, args: seen.append(args["contact_id"]))
    rt = make_runtime(runtime, registry, inline=True)
    with rt.uow() as uow:
        uow.enqueue("remember", contact_id=1)
        assert seen == []  # not before the commit
    assert seen == [1]
    with pytest.raises(RuntimeError), rt.uow() as uow:
        uow.enqueue("remember", contact_id=2)
        raise RuntimeError("request failed")
    assert seen == [1]
    assert [j.status for j in jobs(rt)] == ["done"]


def test_failing_job_retries_with_backoff_then_dies(runtime: Runtime, clock: ManualClock) -> None:
    calls: list[int] = []

    def flaky(_uow: UnitOfWork, args: dict[str, Any]) -> None:
        calls.append(1)
        raise ValueError("store API down")

    registry = JobRegistry()
    registry.register("flaky", flaky)
    rt = make_runtime(runtime, registry, inline=False)
    rt.runner.backoff_seconds = 60
    with rt.uow() as uow:
        uow.enqueue("flaky")
    rt.runner.tick()
    job = jobs(rt)[0]
    assert (job.status, job.attempts) == ("queued", 1)
    assert "store API down" in (job.last_error or "")
    assert job.run_at == clock.now() + timedelta(seconds=60)
    rt.runner.tick()  # not due yet
    assert len(calls) == 1
    clock.advance(timedelta(seconds=60))
    rt.runner.tick()
    assert jobs(rt)[0].run_at == clock.now() + timedelta(seconds=120)
    clock.advance(timedelta(minutes=5))
    rt.runner.tick()
    job = jobs(rt)[0]
    assert (job.status, job.attempts, len(calls)) == ("dead", 3, 3)


def test_failed_job_leaves_nothing_half_written(runtime: Runtime) -> None:
    def half(uow: UnitOfWork, args: dict[str, Any]) -> None:
        uow.enqueue("follow-up")
        uow.session.flush()
        raise RuntimeError("boom after writing")

    registry = JobRegistry()
    registry.register("half", half)
    registry.register("follow-up", lambda _u, _a: None)
    rt = make_runtime(runtime, registry, inline=False)
    with rt.uow() as uow:
        uow.enqueue("half")
    rt.runner.tick()
    assert [j.name for j in jobs(rt)] == ["half"]


def test_stale_running_job_is_given_back(runtime: Runtime, clock: ManualClock) -> None:
    registry = JobRegistry()
    registry.register("work", lambda _u, _a: None)
    rt = make_runtime(runtime, registry, inline=False)
    with rt.uow() as uow:
        uow.enqueue("work")
    assert rt.runner.claim(clock.now(), 10)  # a worker claims it, then dies
    assert rt.runner.tick() == 0
    clock.advance(rt.runner.lock_timeout + timedelta(seconds=1))
    assert rt.runner.tick() == 1
    assert jobs(rt)[0].status == "done"


def test_periodic_job_is_queued_once_per_period(runtime: Runtime, clock: ManualClock) -> None:
    seen: list[int] = []
    registry = JobRegistry()
    registry.register("nightly", lambda _u, _a: seen.append(1), every=timedelta(days=1))
    rt = make_runtime(runtime, registry, inline=False)
    rt.runner.tick()
    rt.runner.tick()
    assert len(seen) == 1
    clock.advance(timedelta(days=1))
    rt.runner.tick()
    assert len(seen) == 2


@pytest.mark.parametrize("attempt", [1, 2, 5, 30])
def test_backoff_doubles_and_is_capped(attempt: int) -> None:
    delay = backoff(attempt, 10)
    assert delay == timedelta(seconds=min(10 * 2 ** (attempt - 1), 3600))


def test_several_workers_run_each_job_exactly_once(fresh_database_url: str) -> None:
    clock = ManualClock(START)
    database = Database(make_engine(fresh_database_url, sqlite_synchronous="OFF"))
    ran: Counter[int] = Counter()
    lock = threading.Lock()

    def work(_uow: UnitOfWork, args: dict[str, Any]) -> None:
        with lock:
            ran[args["n"]] += 1

    registry = JobRegistry()
    registry.register("work", work)
    settings = Settings(database_url=fresh_database_url, _env_file=None)  # type: ignore[call-arg]
    rt = Runtime(settings, clock=clock, database=database, registry=registry)
    with rt.uow() as uow:
        for n in range(300):
            uow.enqueue("work", n=n)
    runners = [JobRunner(database, clock, registry, worker_id=f"w{i}") for i in range(4)]
    threads = [threading.Thread(target=r.tick, kwargs={"limit": 7}) for r in runners]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(ran) == list(range(300))
    assert set(ran.values()) == {1}
    with rt.uow() as uow:
        by_worker = Counter(uow.session.scalars(select(Job.locked_by)))
    database.engine.dispose()
    assert sum(by_worker.values()) == 300


def test_long_job_holds_no_transaction_while_it_computes(fresh_database_url: str) -> None:
    clock = ManualClock(START)
    database = Database(make_engine(fresh_database_url))
    settings = Settings(database_url=fresh_database_url, _env_file=None)  # type: ignore[call-arg]
    registry = JobRegistry()
    seen: list[str] = []

    def long(open_uow: Any, args: dict[str, Any]) -> None:
        with open_uow() as uow:
            seen.append(uow.session.scalar(select(Job.name).where(Job.status == "running")))
        # "Computing": another process's writer must get through now (on SQLite it would wait for the
        # write lock if the job's own transaction were still open).
        other = make_engine(fresh_database_url)  # its own pool, as another process would have
        with other.begin() as conn:
            conn.execute(
                insert(Job).values(
                    name="noted",
                    args={},
                    status="done",
                    run_at=START,
                    attempts=0,
                    max_attempts=1,
                    created_at=START,
                )
            )
        other.dispose()
        with open_uow() as uow:
            uow.enqueue("follow-up")

    registry.register_long("refresh", long, every=timedelta(days=1))
    registry.register("follow-up", lambda _u, _a: seen.append("follow-up"))
    runtime = Runtime(settings, clock=clock, database=database, registry=registry)
    assert runtime.runner.tick() == 2  # the periodic long job, then the job it queued
    with runtime.uow() as uow:
        statuses = dict(uow.session.execute(select(Job.name, Job.status)).all())
    database.engine.dispose()
    assert seen == ["refresh", "follow-up"]
    assert statuses == {"refresh": "done", "noted": "done", "follow-up": "done"}
