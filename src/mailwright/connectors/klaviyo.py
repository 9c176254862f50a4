"""Klaviyo profile exports: email marketing consent with its timestamp, and suppressions.

Columns as Klaviyo writes them: "Email", "First Name", "Last Name", "Phone Number", "City", "Country",
"Email Marketing Consent" (SUBSCRIBED / UNSUBSCRIBED / NEVER_SUBSCRIBED), "Email Marketing Consent
Timestamp", and "Email Suppression Reason" (or "Suppressions"): HARD_BOUNCE and INVALID_EMAIL are
bounces, SPAM_COMPLAINT a complaint (both suppressed here), UNSUBSCRIBE / USER_SUPPRESSED mean
unsubscribed.
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
from mailwright.core.errors import InvalidInput
from mailwright.events.imports.csv_reader import CsvRow

SOURCE = "klaviyo"
FIELDS = {
    "email": ("email", "email_address"),
    "first_name": ("first_name",),
    "last_name": ("last_name",),
    "phone": ("phone_number", "phone"),
    "city": ("city",),
    "country": ("country",),
    "consent": ("email_marketing_consent", "email_consent", "accepts_marketing"),
    "consent_at": ("email_marketing_consent_timestamp", "email_consent_timestamp"),
    "suppression": ("email_suppression_reason", "suppressions", "suppression_reason"),
    "suppressed_at": ("email_suppression_timestamp",),
    "created_at": ("profile_created_on", "created"),
}
BOUNCES = {"HARD_BOUNCE": "bounced", "INVALID_EMAIL": "bounced", "SPAM_COMPLAINT": "complaint"}
UNSUBSCRIBES = {"UNSUBSCRIBE", "UNSUBSCRIBED", "USER_SUPPRESSED", "MANUAL"}
CONSENTS = {
    "SUBSCRIBED": "subscribed",
    "UNSUBSCRIBED": "unsubscribed",
    "NEVER_SUBSCRIBED": "never_subscribed",
    "TRUE": "subscribed",
    "FALSE": "never_subscribed",
}


def read_row(row: CsvRow, file_label: str, zone: ZoneInfo) -> Person:
    """One profile as a Person: suppressions first, then the consent Klaviyo recorded."""
    email = email_of(row)
    profile = profile_of(row)
    reasons = [
        r.strip().upper().replace(" ", "_") for r in (row.get("suppression") or "").split(",") if r.strip()
    ]
    for reason in reasons:
        if reason in BOUNCES:
            return Person(
                email=email,
                status="suppressed",
                at=time_of(row, ("suppressed_at", "consent_at"), zone),
                profile=profile,
                suppression_reason=BOUNCES[reason],
            )
    raw = (row.get("consent") or "").strip().upper().replace(" ", "_")
    if raw and raw not in CONSENTS:
        raise InvalidInput(
            f"{row.column('consent')} must be SUBSCRIBED, UNSUBSCRIBED or NEVER_SUBSCRIBED, got {raw!r}",
            field=row.column("consent"),
        )
    status = CONSENTS.get(raw, "never_subscribed")
    if any(reason in UNSUBSCRIBES for reason in reasons):
        status = "unsubscribed"
    at = time_of(row, ("consent_at", "suppressed_at"), zone)
    return Person(email=email, status=status, at=at, profile=profile)


def import_export(
    path: Path, uows: UowFactory, *, now: datetime, dry_run: bool = False, notify: bool = False
) -> MovingInReport:
    """Import a Klaviyo profile export (CSV or zip); `--dry-run` counts without writing."""
    report = MovingInReport(source=SOURCE, path=str(path))
    people = read_people(path, fields=FIELDS, reader=read_row, zone=ZoneInfo("UTC"), report=report)
    return apply(SOURCE, people, uows, report, now=now, dry_run=dry_run, notify=notify)
