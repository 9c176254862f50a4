"""Database engine, column types shared by every domain, and the unit of work."""

import hashlib
import threading
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import (
    JSON,
    BigInteger,
    ColumnElement,
    DateTime,
    Engine,
    Integer,
    MetaData,
    Select,
    Table,
    bindparam,
    create_engine,
    event,
    func,
    literal_column,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, QueryableAttribute, Session, sessionmaker
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator

from mailwright.core.clock import ensure_utc

# Named constraints let Alembic drop and alter them the same way on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base for every table; one MetaData for the whole schema."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both engines (SQLite has no time zones of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Store UTC; SQLite gets a naive UTC value so string comparison orders correctly."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        utc = ensure_utc(value)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Always hand back an aware UTC datetime."""
        return None if value is None else ensure_utc(value)

    def bind_processor(self, dialect: Dialect) -> Any:
        """On SQLite, write the text form directly (the same format SQLAlchemy's DATETIME uses)."""
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        def to_text(value: datetime | None) -> str | None:
            # One step instead of two processors: this runs for every timestamp of every ingested event.
            if value is None:
                return None
            if value.tzinfo is None:
                raise ValueError("naive datetime given to a UTC column")
            return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")

        return to_text

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        """On SQLite, parse the stored text straight into an aware UTC datetime."""
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)

        def from_text(value: str | datetime | None) -> datetime | None:
            if value is None:
                return None
            moment = datetime.fromisoformat(value) if isinstance(value, str) else value
            return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

        return from_text


# JSONB on PostgreSQL (indexable, compact), plain JSON text on SQLite.
JsonType = JSON().with_variant(JSONB(), "postgresql")
# 64-bit keys on PostgreSQL; SQLite only auto-increments a column declared INTEGER.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def _json_dumps(value: Any) -> str:
    # orjson is several times faster than the json module on the ingest path (event properties).
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def make_engine(url: str, *, sqlite_synchronous: str = "NORMAL") -> Engine:
    """An engine with the pragmas and transaction handling Mailwright relies on."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    if not url.startswith("sqlite"):
        # psycopg prepares a query after five runs, and PostgreSQL may then keep a generic plan made
        # while a table was empty (a sequential scan) long after the table has grown; a new shop starts
        # empty, so that plan would stick. Custom plans keep the prepared statements but plan each run
        # with its actual values.
        return create_engine(
            url,
            connect_args={"options": "-c plan_cache_mode=force_custom_plan"},
            pool_pre_ping=True,
            pool_size=10,
            max_overflow=20,
            json_serializer=_json_dumps,
            json_deserializer=orjson.loads,
        )
    memory = url in ("sqlite://", "sqlite:///:memory:")
    engine = create_engine(
        url,
        json_serializer=_json_dumps,
        json_deserializer=orjson.loads,
        connect_args={"check_same_thread": False, "timeout": 30},
        poolclass=StaticPool if memory else None,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the sqlite3 module so BEGIN is ours (needed for SAVEPOINT too).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={sqlite_synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        # A 64 MB page cache and memory-mapped reads: SQLite's 2 MB default makes every batch re-read
        # index pages of the events table from the OS once the shop has some history.
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.execute("PRAGMA mmap_size=268435456")
        cursor.execute("PRAGMA temp_store=MEMORY")
        # Checkpoint every ~40 MB of WAL instead of 4 MB: a batch dirties index and profile pages all
        # over the file, and the same hot pages are then copied back once per checkpoint, not ten times.
        cursor.execute("PRAGMA wal_autocheckpoint=10000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # IMMEDIATE takes the write lock up front: two writers wait for each other instead of deadlocking.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


class Database:
    """The engine and the session factory of one installation."""

    def __init__(self, engine: Engine, session_factory: sessionmaker[Session] | None = None) -> None:
        self.engine = engine
        self.session_factory = session_factory or sessionmaker(engine, expire_on_commit=False)
        # SQLite runs one write transaction at a time (BEGIN IMMEDIATE). Threads of this process queue
        # on a lock instead of in SQLite's busy handler, which polls with sleeps of up to 100 ms.
        self.transaction_lock: threading.RLock | None = (
            threading.RLock() if engine.dialect.name == "sqlite" else None
        )

    @property
    def dialect(self) -> str:
        """'sqlite' or 'postgresql'."""
        return self.engine.dialect.name


def allocate_ids(session: Session, table: Table, count: int) -> list[int]:
    """Reserve `count` primary keys of `table` so bulk inserts need no RETURNING round trip per row.

    The ORM inserts rows one by one when it must read back each generated key; with keys given up
    front it sends one executemany. PostgreSQL hands out keys from the table's sequence; SQLite has no
    sequence, but the write transaction (BEGIN IMMEDIATE) is exclusive, so max(id) is stable while we
    hold it and the next free key is remembered on the session for later calls in the same transaction.
    """
    if count <= 0:
        return []
    # No autoflush: the rows waiting for these keys must not be flushed (and keyed) by this very query.
    with session.no_autoflush:
        return _allocate(session, table, count)


def _allocate(session: Session, table: Table, count: int) -> list[int]:
    if session.get_bind().dialect.name == "postgresql":
        rows = session.execute(
            text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"),
            {"table": table.name, "n": count},
        )
        return [int(r[0]) for r in rows]
    cache: dict[str, int] = session.info.setdefault("next_ids", {})
    start = cache.get(table.name)
    if start is None:
        start = int(session.execute(text(f"SELECT coalesce(max(id), 0) + 1 FROM {table.name}")).scalar_one())
    cache[table.name] = start + count
    return list(range(start, start + count))


def table_of(model: type[Base]) -> Table:
    """The Core table behind a mapped class (typed: plain `__table__` is only a FromClause to mypy)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


# Past this many distinct keys a transaction takes one global lock instead (PostgreSQL's lock table is
# shared and finite: max_locks_per_transaction x max_connections).
_MAX_KEY_LOCKS = 512
_GLOBAL_KEY = "mailwright:global-ingest"


def lock_keys(session: Session, keys: Iterable[str]) -> None:
    """Serialize concurrent transactions that touch the same natural keys, until this one ends.

    Two PostgreSQL transactions that both see "no contact for user 42" would both create one; holding a
    transaction-scoped advisory lock per key (taken in sorted order, so two batches never deadlock)
    makes the second wait and then see the first one's rows. SQLite needs nothing: it runs one write
    transaction at a time.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    wanted = set(keys)
    if not wanted:
        return
    if len(wanted) > _MAX_KEY_LOCKS:
        wanted = {_GLOBAL_KEY}
    ids = sorted(
        {
            int.from_bytes(hashlib.blake2b(k.encode(), digest_size=8).digest(), "big", signed=True)
            for k in wanted
        }
    )
    session.execute(
        text(
            "SELECT count(pg_advisory_xact_lock(k)) FROM (SELECT unnest(CAST(:ids AS bigint[])) AS k ORDER BY k) s"
        ),
        {"ids": ids},
    )


def in_values(
    session: Session, column: ColumnElement[Any] | QueryableAttribute[Any], values: Sequence[Any]
) -> ColumnElement[bool]:
    """`column IN values` as one bound parameter, so the statement is compiled once for any list length.

    A plain `in_()` expands to one placeholder per value and is re-rendered for every new length; on the
    ingest path that costs more than the query itself. SQLite reads the list from a JSON array
    (json_each), PostgreSQL from an array parameter (= ANY).
    """
    if session.get_bind().dialect.name == "postgresql":
        return column == func.any(bindparam(None, list(values), type_=ARRAY(column.type)))
    items: Select[Any] = select(literal_column("value")).select_from(
        func.json_each(bindparam(None, _json_dumps(list(values))))
    )
    return column.in_(items.scalar_subquery())
