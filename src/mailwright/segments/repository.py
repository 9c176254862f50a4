"""Segment queries: definitions, members, counts and overlaps."""

from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import BigInteger, Select, String, bindparam, func, literal_column, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from mailwright.contacts.models import Contact
from mailwright.core.db import table_of
from mailwright.segments.dialects import SQLiteDialect
from mailwright.segments.models import Segment, SegmentMembership

C = table_of(Contact)
M = table_of(SegmentMembership)


def prepare(session: Session) -> str:
    """Make the connection ready for compiled segment queries; returns the dialect name.

    SQLite has no SHA-256 of its own: the suppression condition calls one registered here (per
    connection, and cheap to repeat).
    """
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        import hashlib

        raw: Any = session.connection().connection.driver_connection
        raw.create_function(
            SQLiteDialect.SHA256_FUNCTION,
            1,
            lambda value: None if value is None else hashlib.sha256(value.encode("utf-8")).hexdigest(),
            deterministic=True,
        )
    return dialect


def by_id(session: Session, segment_id: int) -> Segment | None:
    """A segment by id."""
    return session.get(Segment, segment_id)


def by_name(session: Session, name: str) -> Segment | None:
    """A segment by its unique name."""
    return session.scalars(select(Segment).where(Segment.name == name)).first()


def all_segments(session: Session, *, enabled_only: bool = False) -> list[Segment]:
    """Every segment, by id."""
    stmt = select(Segment).order_by(Segment.id)
    if enabled_only:
        stmt = stmt.where(Segment.enabled.is_(True))
    return list(session.scalars(stmt))


def builtin_keys(session: Session) -> set[str]:
    """Keys of the built-ins already installed (even if renamed or disabled since)."""
    return {k for k in session.scalars(select(Segment.builtin).where(Segment.builtin.is_not(None))) if k}


def count(session: Session, target: Select[tuple[int]]) -> int:
    """How many contacts a compiled definition selects."""
    return int(session.execute(select(func.count()).select_from(target.subquery())).scalar_one())


def sample(session: Session, target: Select[tuple[int]], limit: int) -> list[Any]:
    """Some of the contacts a compiled definition selects, lowest ids first."""
    ids = target.subquery()
    stmt = (
        select(C.c.id, C.c.email, C.c.first_name)
        .where(C.c.id.in_(select(ids.c.id)))
        .order_by(C.c.id)
        .limit(limit)
    )
    return list(session.execute(stmt))


def overlaps(session: Session, target: Select[tuple[int]]) -> dict[int, int]:
    """Per stored segment, how many of the selected contacts are members of it."""
    ids = target.subquery()
    stmt = (
        select(M.c.segment_id, func.count())
        .where(M.c.contact_id.in_(select(ids.c.id)))
        .group_by(M.c.segment_id)
    )
    return {int(sid): int(n) for sid, n in session.execute(stmt)}


def members(session: Session, segment_id: int, *, limit: int, offset: int) -> list[Any]:
    """A page of members, earliest entries first."""
    stmt = (
        select(C.c.id, C.c.email, C.c.first_name, M.c.entered_at)
        .select_from(M.join(C, C.c.id == M.c.contact_id))
        .where(M.c.segment_id == segment_id)
        .order_by(M.c.entered_at, M.c.contact_id)
        .limit(limit)
        .offset(offset)
    )
    return list(session.execute(stmt))


def member_count(session: Session, segment_id: int) -> int:
    """How many contacts are members now."""
    stmt = select(func.count()).select_from(M).where(M.c.segment_id == segment_id)
    return int(session.execute(stmt).scalar_one())


def segment_ids_of(session: Session, contact_id: int) -> list[int]:
    """The segments a contact is in now."""
    return list(session.scalars(select(M.c.segment_id).where(M.c.contact_id == contact_id)))


def contacts_created_since(session: Session, contact_ids: Sequence[int], since: Any) -> list[int]:
    """Those of these contacts whose profile was created at or after `since`."""
    stmt = select(C.c.id).where(C.c.id.in_(list(contact_ids)), C.c.created_at >= since)
    return list(session.scalars(stmt))


def member_ids(session: Session, segment_ids: Sequence[int]) -> set[int]:
    """Contacts in any of these segments now."""
    if not segment_ids:
        return set()
    stmt = select(M.c.contact_id).where(M.c.segment_id.in_(list(segment_ids))).distinct()
    return {int(i) for i in session.scalars(stmt)}


def id_rows(session: Session, ids: Sequence[int]) -> Select[Any]:
    """A one-column (`id`) table of these ids from a single bound parameter (a JSON array or an array)."""
    if session.get_bind().dialect.name == "postgresql":
        return select(func.unnest(bindparam(None, list(ids), type_=ARRAY(BigInteger))).label("id"))
    as_json = bindparam(None, orjson.dumps(list(ids)).decode(), type_=String)
    return select(literal_column("value").label("id")).select_from(func.json_each(as_json))
