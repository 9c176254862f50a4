"""Moving in from another email tool: its contact exports become profiles with their consent kept.

Each person ends with one status from the whole import (a zip may hold several lists), the strictest
winning: cleaned/bounced (suppressed) > unsubscribed > subscribed > never subscribed. Nobody who had
unsubscribed or bounced there is subscribed here, and the consent keeps the date the other tool gave.
"""

import tempfile
import zipfile
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from mailwright.contacts import service as contacts
from mailwright.contacts.identity import normalize_country, normalize_email
from mailwright.core.errors import DomainError, InvalidInput
from mailwright.core.ids import sha256_hex
from mailwright.core.uow import UnitOfWork
from mailwright.events import service as events
from mailwright.events import vocabulary as v
from mailwright.events.imports.csv_reader import CsvRow, parse_datetime, read_table
from mailwright.events.imports.schemas import RejectedRow
from mailwright.events.schemas import IncomingEvent

UowFactory = Callable[[], AbstractContextManager[UnitOfWork]]

# Strictest first: a person found in several lists keeps the strictest status.
STATUS_RANK = {"suppressed": 0, "unsubscribed": 1, "subscribed": 2, "never_subscribed": 3}


class MovingInReport(BaseModel):
    """What an import from another email tool did, per consent status, and the rows it refused."""

    source: str
    path: str
    files: list[str] = []
    dry_run: bool = False
    rows: int = 0
    people: int = 0
    subscribed: int = 0
    unsubscribed: int = 0
    suppressed: int = 0
    never_subscribed: int = 0
    imported: int = 0
    unchanged: int = 0
    rejected: list[RejectedRow] = []


@dataclass
class Person:
    """One address as the export describes it, with its consent status and when it was set."""

    email: str
    status: str
    at: datetime | None
    profile: dict[str, Any] = field(default_factory=dict)
    suppression_reason: str | None = None
    line: int = 0
    file: str = ""


RowReader = Callable[[CsvRow, str, ZoneInfo], Person | None]


def csv_files(path: Path, workdir: Path) -> list[Path]:
    """The CSV files of an export: the file itself, or every .csv inside a zip."""
    if not path.is_file():
        raise InvalidInput(f"no such file: {path}", field="file")
    if not zipfile.is_zipfile(path):
        return [path]
    found: list[Path] = []
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            name = Path(info.filename).name
            if info.is_dir() or not name.lower().endswith(".csv") or name.startswith("."):
                continue
            target = workdir / f"{len(found)}_{name}"
            target.write_bytes(archive.read(info))
            found.append(target)
    if not found:
        raise InvalidInput(f"{path} is a zip without any .csv file", field="file")
    return found


def read_people(
    path: Path,
    *,
    fields: Mapping[str, Sequence[str]],
    reader: RowReader,
    zone: ZoneInfo,
    report: MovingInReport,
) -> dict[str, Person]:
    """Every person of the export by address, the strictest status kept; bad rows go to the report."""
    people: dict[str, Person] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for file in csv_files(path, Path(tmp)):
            label = file.name.split("_", 1)[1] if file.parent == Path(tmp) else file.name
            report.files.append(label)
            table = read_table(file, fields=fields, mapping={}, require_any=[("email",)])
            report.rows += len(table.rows) + len(table.malformed)
            for line, why in table.malformed:
                report.rejected.append(RejectedRow(line=line, column=None, reason=f"{label}: {why}"))
            for row in table.rows:
                try:
                    person = reader(row, label, zone)
                except DomainError as exc:
                    report.rejected.append(
                        RejectedRow(line=row.line, column=exc.field, reason=f"{label}: {exc.message}")
                    )
                    continue
                if person is None:
                    continue
                person.line, person.file = row.line, label
                known = people.get(person.email)
                if known is None or STATUS_RANK[person.status] < STATUS_RANK[known.status]:
                    if known is not None:
                        person.profile = {**known.profile, **person.profile}
                    people[person.email] = person
                else:
                    known.profile = {**person.profile, **known.profile}
    return people


def time_of(row: CsvRow, names: Sequence[str], zone: ZoneInfo) -> datetime | None:
    """The first of these time columns that has a value."""
    for name in names:
        value = row.get(name)
        if value:
            return parse_datetime(value, column=row.column(name), zone=zone)
    return None


def profile_of(row: CsvRow) -> dict[str, Any]:
    """Name, phone, city and country columns as profile fields."""
    profile: dict[str, Any] = {}
    for name in ("first_name", "last_name", "city"):
        value = row.get(name)
        if value:
            profile[name] = value[:200]
    phone = row.get("phone")
    if phone:
        profile["phone"] = phone[:50]
    country = row.get("country")
    if country:
        # Free-text countries ("Deutschland ") are not worth refusing a person for.
        with suppress(InvalidInput):
            profile["country"] = normalize_country(country, field=row.column("country"))
    return profile


def email_of(row: CsvRow) -> str:
    """The row's normalized address (InvalidInput naming the column when it is not one)."""
    raw = row.get("email")
    if not raw:
        raise InvalidInput("the email address is empty", field=row.column("email"))
    return normalize_email(raw, field=row.column("email"))


def _event(source: str, person: Person, now: datetime) -> IncomingEvent:
    consent = None if person.status == "suppressed" else person.status
    at = person.at or now
    digest = sha256_hex(f"{person.email}|{person.status}|{at.isoformat()}|{sorted(person.profile.items())}")[
        :16
    ]
    return IncomingEvent(
        message_id=f"{source}:import:{sha256_hex(person.email)[:24]}:{digest}",
        type="identify",
        name=v.IDENTIFY,
        occurred_at=at,
        source=source,
        email=person.email,
        properties={"imported_from": source, "status_there": person.status, "file": person.file},
        profile={
            **person.profile,
            "properties": {**person.profile.get("properties", {}), "imported_from": source},
        },
        # never_subscribed is no decision: it must not undo a sign-up made here since.
        consent=None if consent == "never_subscribed" else consent,
        consent_at=at if consent not in (None, "never_subscribed") else None,
    )


def apply(
    source: str,
    people: dict[str, Person],
    uows: UowFactory,
    report: MovingInReport,
    *,
    now: datetime,
    dry_run: bool,
    batch_size: int = 500,
    notify: bool = False,
) -> MovingInReport:
    """Store the people in batches: profiles and consent through ingestion, bounces on the suppression list."""
    report.people = len(people)
    for person in people.values():
        setattr(report, person.status, getattr(report, person.status) + 1)
    report.dry_run = dry_run
    report.rejected.sort(key=lambda r: (r.reason.split(":", 1)[0], r.line))
    if dry_run:
        return report
    ordered = sorted(people.values(), key=lambda p: (p.file, p.line))
    for start in range(0, len(ordered), batch_size):
        chunk = ordered[start : start + batch_size]
        with uows() as uow:
            result = events.ingest(uow, [_event(source, p, now) for p in chunk], notify=notify)
            for person in chunk:
                if person.status == "suppressed":
                    contacts.suppress(
                        uow.session,
                        person.email,
                        reason=person.suppression_reason or "bounced",
                        source=source,
                        now=uow.now(),
                    )
        report.imported += result.accepted
        report.unchanged += result.duplicates
    return report
