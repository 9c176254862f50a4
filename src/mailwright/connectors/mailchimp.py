"""Mailchimp audience exports: subscribed, unsubscribed and cleaned members (CSV files or their zip).

Mailchimp names each file after its list (`subscribed_members_export_<id>.csv`, ...); a lone CSV with
UNSUB_TIME or CLEAN_TIME columns is recognised by them. Times are read as UTC (Mailchimp writes them
without a zone); "cleaned" addresses bounced there and go on the suppression list.
"""

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from mailwright.connectors.moving_in import (
    MovingInReport,
    Person,
    UowFactory,
    apply,
    email_of,
    profile_of,
    read_people,
    time_of,
)
from mailwright.events.imports.csv_reader import CsvRow

SOURCE = "mailchimp"
FIELDS = {
    "email": ("email_address", "email"),
    "first_name": ("first_name", "fname"),
    "last_name": ("last_name", "lname"),
    "phone": ("phone_number", "phone"),
    "country": ("cc",),
    "optin_time": (),
    "confirm_time": (),
    "last_changed": (),
    "unsub_time": (),
    "unsub_reason": (),
    "clean_time": (),
    "member_rating": (),
}


def status_of(row: CsvRow, file_label: str) -> str:
    """The list a row comes from: the file name says it, else the columns the row has."""
    name = file_label.lower()
    if name.startswith("cleaned") or "clean_time" in row.headers:
        return "suppressed"
    if name.startswith("unsubscribed") or "unsub_time" in row.headers:
        return "unsubscribed"
    return "subscribed"


def read_row(row: CsvRow, file_label: str, zone: ZoneInfo) -> Person:
    """One member as a Person with the consent date Mailchimp recorded."""
    status = status_of(row, file_label)
    times = {
        "subscribed": ("confirm_time", "optin_time", "last_changed"),
        "unsubscribed": ("unsub_time", "last_changed"),
        "suppressed": ("clean_time", "last_changed"),
    }[status]
    profile = profile_of(row)
    rating = row.get("member_rating")
    if rating and rating.isdecimal():
        profile["properties"] = {"mailchimp_member_rating": int(rating)}
    return Person(
        email=email_of(row),
        status=status,
        at=time_of(row, times, zone),
        profile=profile,
        suppression_reason="bounced",
    )


def import_export(
    path: Path, uows: UowFactory, *, now: datetime, dry_run: bool = False, notify: bool = False
) -> MovingInReport:
    """Import a Mailchimp audience export (CSV or zip); `--dry-run` counts without writing."""
    report = MovingInReport(source=SOURCE, path=str(path))
    people = read_people(path, fields=FIELDS, reader=read_row, zone=ZoneInfo("UTC"), report=report)
    return apply(SOURCE, people, uows, report, now=now, dry_run=dry_run, notify=notify)
