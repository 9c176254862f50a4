"""Profiles written in bulk: identity resolution and profile changes for a whole ingest batch.

The hot path of ingestion. A batch of a hundred events touches up to a hundred profiles; loading each
as an ORM object and flushing it row by row costs more than everything else together, so this module
works on ids and plain rows: one query for the identities, one executemany per kind of change, and SQL
that keeps roll-ups monotonic (an older event never moves `last_event_at` backwards) without reading
the rows first. Merges of two existing profiles are rare and take the ORM path.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, bindparam, case, func, insert, literal, or_, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import cast

from mailwright.contacts import repository
from mailwright.contacts.models import Contact, ContactIdentity
from mailwright.core.db import UtcDateTime, allocate_ids, table_of

Key = tuple[str, str]
ACTIVITY_COLUMNS = {"site": "last_site_activity_at", "open": "last_open_at", "click": "last_click_at"}
CONTACTS = table_of(Contact)
_FILLABLE = (
    "email",
    "external_id",
    "first_name",
    "last_name",
    "phone",
    "locale",
    "timezone",
    "country",
    "city",
    "currency",
    "birthday",
    "signup_source",
)


@dataclass(frozen=True)
class Merge:
    """A profile folded into another; the caller moves the other domains' rows (events, orders)."""

    source_id: int
    target_id: int


@dataclass
class _Pending:
    """What the batch does to one profile, applied at `write`."""

    fields: dict[str, Any] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)
    consent: tuple[str, str, datetime] | None = None
    activity: dict[str, datetime] = field(default_factory=dict)


class BatchProfiles:
    """Resolve identities to contact ids across a batch, collect profile changes, write them in bulk."""

    def __init__(self, session: Session, now: datetime) -> None:
        self.session = session
        self.now = now
        self.merges: list[Merge] = []
        self._key_to_id: dict[Key, int] = {}
        self._looked_up: set[Key] = set()
        self._merged_into: dict[int, int] = {}
        self._external_ids: dict[int, str | None] = {}
        self._new_ids: list[int] = []
        self._new_rows: dict[int, dict[str, Any]] = {}
        self._new_identities: list[dict[str, Any]] = []
        self._pending: dict[int, _Pending] = defaultdict(_Pending)
        self._id_pool: list[int] = []

    def preload(self, keys: list[Key]) -> None:
        """Load the contact ids behind these identity keys with one query."""
        wanted = [k for k in set(keys) if k not in self._looked_up]
        if not wanted:
            return
        self._looked_up.update(wanted)
        for key, contact_id in repository.identities_for(self.session, wanted).items():
            self._key_to_id[key] = contact_id
            if key[0] == "user_id":
                self._external_ids[contact_id] = key[1]

    def known(self, key: Key) -> bool:
        """Whether a (loaded) identity key already belongs to a profile."""
        return key in self._key_to_id

    def reserve(self, count: int) -> None:
        """Reserve ids for up to `count` new profiles in one round trip (unused ones are just gaps)."""
        self._id_pool.extend(allocate_ids(self.session, table_of(Contact), count))

    def final(self, contact_id: int) -> int:
        """Follow merges made in this batch to the surviving profile."""
        while contact_id in self._merged_into:
            contact_id = self._merged_into[contact_id]
        return contact_id

    def resolve(self, *, user_id: str | None, anonymous_id: str | None, email: str | None) -> int:
        """The id of the one profile these identifiers belong to, created or merged as needed."""
        keys: list[Key] = []
        if user_id:
            keys.append(("user_id", user_id))
        if email:
            keys.append(("email", email))
        if anonymous_id:
            keys.append(("anonymous_id", anonymous_id))
        self.preload(keys)
        matched: list[int] = []
        for key in keys:
            owner = self._key_to_id.get(key)
            if owner is not None:
                owner = self.final(owner)
                if owner not in matched:
                    matched.append(owner)
        if not matched:
            target = self._create(user_id, email)
        else:
            target = matched[0]
            for other in matched[1:]:
                if self._conflicting(target, other):
                    continue  # two known customers (different store ids) never merge
                self._merge(other, target)
        for key in keys:
            owner = self._key_to_id.get(key)
            if owner is None:
                self._attach(target, key)
        return target

    def _create(self, user_id: str | None, email: str | None) -> int:
        if not self._id_pool:
            self.reserve(1)
        contact_id = self._id_pool.pop(0)
        self._new_ids.append(contact_id)
        self._new_rows[contact_id] = {
            "id": contact_id,
            "email": None,
            "external_id": None,
            "consent_status": "never_subscribed",
            "properties": {},
            "order_count": 0,
            "revenue_minor": 0,
            "average_order_value_minor": 0,
            "created_at": self.now,
            "updated_at": self.now,
        }
        self._external_ids[contact_id] = user_id
        return contact_id

    def _attach(self, contact_id: int, key: Key) -> None:
        self._key_to_id[key] = contact_id
        self._new_identities.append(
            {"kind": key[0], "value": key[1], "contact_id": contact_id, "created_at": self.now}
        )
        column = {"user_id": "external_id", "email": "email"}.get(key[0])
        if column is None:
            return
        if key[0] == "user_id":
            self._external_ids[contact_id] = key[1]
        # The key was unknown, so no other profile holds this value: fill it where the profile has none.
        row = self._new_rows.get(contact_id)
        if row is not None:
            if row[column] is None:
                row[column] = key[1]
        else:
            self._pending[contact_id].fields.setdefault(f"fill:{column}", key[1])

    def _conflicting(self, a: int, b: int) -> bool:
        for contact_id in (a, b):
            if contact_id not in self._external_ids:
                self._external_ids[contact_id] = self.session.scalar(
                    select(Contact.external_id).where(Contact.id == contact_id)
                )
        ext_a, ext_b = self._external_ids[a], self._external_ids[b]
        return ext_a is not None and ext_b is not None and ext_a != ext_b

    def _merge(self, source: int, target: int) -> None:
        self._merged_into[source] = target
        for key, owner in list(self._key_to_id.items()):
            if owner == source:
                self._key_to_id[key] = target
        if self._external_ids.get(target) is None:
            self._external_ids[target] = self._external_ids.get(source)
        self.merges.append(Merge(source_id=source, target_id=target))

    def set_fields(self, contact_id: int, fields: dict[str, Any]) -> None:
        """Profile columns and custom properties from traits; later events of the batch win."""
        pending = self._pending[contact_id]
        for key, value in fields.items():
            if key == "email":
                continue  # identity decides the email, see resolve
            if key == "properties":
                pending.properties.update(value)
            else:
                pending.fields[key] = value

    def set_consent(self, contact_id: int, status: str, source: str, at: datetime) -> None:
        """A consent change; the newest in time wins, here and against what is stored."""
        pending = self._pending[contact_id]
        if pending.consent is None or at >= pending.consent[2]:
            pending.consent = (status, source, at)

    def note_activity(self, contact_id: int, kind: str | None, at: datetime) -> None:
        """Move `last_event_at` and the given activity roll-up forward to `at`."""
        activity = self._pending[contact_id].activity
        for column in ("last_event_at", ACTIVITY_COLUMNS.get(kind or "")):
            if column is not None and (column not in activity or at > activity[column]):
                activity[column] = at

    def write(self) -> list[Merge]:
        """Insert new profiles and identities, fold merged profiles, and apply every pending change."""
        # Changes recorded against a profile that was merged away go to the survivor.
        for source in [cid for cid in self._pending if cid in self._merged_into]:
            moved = self._pending.pop(source)
            target = self._pending[self.final(source)]
            target.fields = {**moved.fields, **target.fields}
            target.properties = {**moved.properties, **target.properties}
            target.consent = target.consent or moved.consent
            for column, at in moved.activity.items():
                if column not in target.activity or at > target.activity[column]:
                    target.activity[column] = at
        for contact_id, row in self._new_rows.items():
            pending = self._pending.pop(contact_id, None)
            if pending is None:
                continue
            for key, value in pending.fields.items():
                if key.startswith("fill:"):
                    column = key[5:]
                    row[column] = row[column] or value
                else:
                    row[key] = value
            row["properties"] = {**row["properties"], **pending.properties}
            if pending.consent is not None:
                row["consent_status"], row["consent_source"], row["consent_updated_at"] = pending.consent
            row.update(pending.activity)
        if self._new_rows:
            # One executemany needs the same keys in every row.
            columns = sorted({k for row in self._new_rows.values() for k in row})
            self.session.execute(
                insert(CONTACTS), [{c: row.get(c) for c in columns} for row in self._new_rows.values()]
            )
        if self._new_identities:
            self.session.execute(insert(table_of(ContactIdentity)), self._new_identities)
        for merge in self.merges:
            fold(self.session, merge.source_id, merge.target_id, self.now)
        self._write_updates()
        return self.merges

    def _write_updates(self) -> None:
        # One UPDATE per profile for all it gets in this batch (fields, properties, consent, activity),
        # so each row is rewritten once; profiles with the same kinds of change share one executemany.
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
        for contact_id, pending in self._pending.items():
            params: dict[str, Any] = {f"p_{k.replace(':', '_')}": v for k, v in pending.fields.items()}
            if pending.properties:
                params["p_properties"] = pending.properties
            if pending.consent is not None:
                params["p_consent_status"], params["p_consent_source"], params["p_consent_at"] = (
                    pending.consent
                )
            for column, at in pending.activity.items():
                params[f"a_{column}"] = at
            if not params:
                continue
            params["p_id"] = contact_id
            groups[tuple(sorted(params))].append(params)
        for signature, rows in groups.items():
            self.session.execute(
                update(CONTACTS).where(CONTACTS.c.id == bindparam("p_id")).values(self._values(signature)),
                rows,
            )

    def _values(self, signature: tuple[str, ...]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        if any(name.startswith("p_") and name != "p_id" for name in signature):
            values["updated_at"] = literal(self.now, UtcDateTime())
        for name in signature:
            if name in ("p_id", "p_consent_source", "p_consent_at"):
                continue
            if name == "p_properties":
                values["properties"] = _json_merge(
                    self.session, bindparam(name, type_=CONTACTS.c.properties.type)
                )
            elif name == "p_consent_status":
                # An older consent change never overwrites a newer one already stored.
                at = bindparam("p_consent_at", type_=UtcDateTime())
                newer = or_(CONTACTS.c.consent_updated_at.is_(None), CONTACTS.c.consent_updated_at <= at)
                values["consent_status"] = case((newer, bindparam(name)), else_=CONTACTS.c.consent_status)
                values["consent_source"] = case(
                    (newer, bindparam("p_consent_source")), else_=CONTACTS.c.consent_source
                )
                values["consent_updated_at"] = case((newer, at), else_=CONTACTS.c.consent_updated_at)
            elif name.startswith("p_fill_"):
                column = name[len("p_fill_") :]
                values[column] = func.coalesce(CONTACTS.c[column], bindparam(name))
            elif name.startswith("a_"):
                # Roll-ups only move forward: events can arrive out of order.
                column = name[2:]
                new = bindparam(name, type_=UtcDateTime())
                current = CONTACTS.c[column]
                values[column] = case((or_(current.is_(None), current < new), new), else_=current)
            else:
                column = name[2:]
                values[column] = bindparam(name, type_=CONTACTS.c[column].type)
        return values


def _json_merge(session: Session, new: Any) -> ColumnElement[Any]:
    # Custom properties merge key by key in the database, so the row need not be read first.
    if session.get_bind().dialect.name == "postgresql":
        return CONTACTS.c.properties.op("||")(cast(new, JSONB))
    return func.json_patch(CONTACTS.c.properties, new)


def fold(session: Session, source_id: int, target_id: int, now: datetime) -> None:
    """Merge one profile into another: identities move, the survivor keeps its values and fills gaps."""
    session.flush()
    source = session.get(Contact, source_id)
    target = session.get(Contact, target_id)
    if source is None or target is None:
        return
    session.execute(
        update(ContactIdentity).where(ContactIdentity.contact_id == source_id).values(contact_id=target_id)
    )
    moved = {c: getattr(source, c) for c in _FILLABLE if getattr(target, c) is None and getattr(source, c)}
    # Unique columns must leave the source before they land on the target.
    source.email = None
    source.external_id = None
    source.merged_into_id = target_id
    session.flush()
    for column, value in moved.items():
        setattr(target, column, value)
    target.properties = {**(source.properties or {}), **(target.properties or {})}
    for column in ("last_site_activity_at", "last_open_at", "last_click_at", "last_event_at"):
        mine, theirs = getattr(target, column), getattr(source, column)
        if theirs is not None and (mine is None or theirs > mine):
            setattr(target, column, theirs)
    if source.consent_updated_at and (
        target.consent_updated_at is None or source.consent_updated_at > target.consent_updated_at
    ):
        target.consent_status = source.consent_status
        target.consent_updated_at = source.consent_updated_at
        target.consent_source = source.consent_source
    target.updated_at = now
    session.flush()
