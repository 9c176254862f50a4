"""Test harness: a real database (SQLite always, PostgreSQL when MAILWRIGHT_TEST_DATABASE_URL is set).

Each test runs inside a transaction that is rolled back at the end; the code under test commits
savepoints, exactly as it commits real transactions. Tests that need committed data seen by another
process (a real server) ask for `fresh_database_url` instead.
"""

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from mailwright.api.app import create_app
from mailwright.core.clock import ManualClock
from mailwright.core.db import Database, make_engine
from mailwright.core.keys import create_key
from mailwright.core.runtime import Runtime
from mailwright.core.settings import Settings
from mailwright.migrations.runner import upgrade
from mailwright.worker.registry import build_registry

PG_URL = os.environ.get("MAILWRIGHT_TEST_DATABASE_URL")
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Pure-model tests do not touch the database, so the PostgreSQL run can skip them."""
    for item in items:
        uses_db = {"runtime", "database", "fresh_database_url"} & set(getattr(item, "fixturenames", ()))
        if "tests/predictions/" in str(item.fspath).replace(os.sep, "/") and not uses_db:
            item.add_marker(pytest.mark.nodb)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "nodb: does not use the database")


def _admin_engine(url: str) -> Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return create_engine(url, isolation_level="AUTOCOMMIT")


@contextmanager
def _scratch_postgres(url: str) -> Iterator[str]:
    """A new PostgreSQL database next to the given one, dropped afterwards (parallel runs never collide)."""
    name = f"mw_{uuid.uuid4().hex[:12]}"
    admin = _admin_engine(url)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """One migrated database for the whole run."""
    if PG_URL:
        with _scratch_postgres(PG_URL) as url:
            eng = make_engine(url)
            upgrade(eng)
            yield eng
            eng.dispose()
        return
    path = tmp_path_factory.mktemp("db") / "test.db"
    eng = make_engine(f"sqlite:///{path}", sqlite_synchronous="OFF")
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def settings() -> Settings:
    return Settings(  # type: ignore[call-arg]
        database_url=PG_URL or "sqlite://",
        inline_jobs=True,
        signing_key=SecretStr("test-signing-key"),
        _env_file=None,
    )


@pytest.fixture
def database(engine: Engine) -> Iterator[Database]:
    """A database whose every commit is a savepoint inside one transaction rolled back after the test."""
    connection = engine.connect()
    outer = connection.begin()
    factory = sessionmaker(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    yield Database(engine, session_factory=factory)
    outer.rollback()
    connection.close()


@pytest.fixture
def runtime(settings: Settings, clock: ManualClock, database: Database) -> Runtime:
    return Runtime(settings, clock=clock, database=database, registry=build_registry())


@pytest.fixture
def session(runtime: Runtime) -> Iterator[Session]:
    """A session on the test transaction, for reading back what the code under test wrote."""
    s = runtime.database.session_factory()
    yield s
    s.close()


@pytest.fixture
def write_key(runtime: Runtime) -> str:
    with runtime.uow() as uow:
        return create_key(uow.session, kind="write", name="test", now=uow.now())


@pytest.fixture
def admin_token(runtime: Runtime) -> str:
    with runtime.uow() as uow:
        return create_key(uow.session, kind="admin", name="test", now=uow.now())


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime), raise_server_exceptions=True) as c:
        yield c


@pytest.fixture
def fresh_database_url(tmp_path: Path) -> Iterator[str]:
    """A new, migrated, committed database of its own (SQLite file, or a new PostgreSQL database)."""
    if PG_URL:
        with _scratch_postgres(PG_URL) as url:
            eng = make_engine(url)
            upgrade(eng)
            eng.dispose()
            yield url
        return
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    eng = make_engine(url)
    upgrade(eng)
    eng.dispose()
    yield url


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent")
    return SHARED_DATA
