"""Campaign data crossing the boundary: what the API and CLI accept, and what they show."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mailwright.campaigns.scheduling import parse_local_time

ScheduleKind = Literal["fixed", "local_time", "best_hour"]
WinnerMetric = Literal["opens", "clicks", "orders", "revenue_per_recipient"]


class VariantIn(BaseModel):
    """One arm of an A/B test: another template (content test) and/or a subject line of the template."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=20, pattern=r"^[A-Za-z0-9_-]+$")
    # None: the campaign's template.
    template_name: str | None = Field(default=None, max_length=100)
    # Index into the template's subject lines (0 = its main subject, 1.. = its subject_variants).
    subject_variant: int | None = Field(default=None, ge=0)


class AbTestIn(BaseModel):
    """An A/B test: the variants, the share of recipients who get them, how long to wait, and what wins."""

    model_config = ConfigDict(extra="forbid")

    variants: list[VariantIn] = Field(min_length=2, max_length=8)
    test_share: float = Field(default=0.2, gt=0, lt=1)
    wait_hours: float = Field(default=4.0, gt=0, le=24 * 14)
    metric: WinnerMetric = "opens"

    @field_validator("variants")
    @classmethod
    def _distinct(cls, variants: list[VariantIn]) -> list[VariantIn]:
        names = [v.name for v in variants]
        if len(set(names)) != len(names):
            raise ValueError("variant names must be distinct")
        if len({(v.template_name, v.subject_variant) for v in variants}) != len(variants):
            raise ValueError("two variants send the same template and subject: nothing would be tested")
        return variants


class ScheduleIn(BaseModel):
    """When to send: at an instant, at a local time per recipient, or at each recipient's best hour."""

    model_config = ConfigDict(extra="forbid")

    kind: ScheduleKind = "fixed"
    # When the campaign starts (recipients are snapshotted then); None: now. Fixed sends go out then.
    at: datetime | None = None
    # "HH:MM" in each contact's zone (local_time): the next such moment after the start.
    local_time: str | None = None
    throttle_per_hour: int | None = Field(default=None, gt=0)

    @field_validator("at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give a time zone (e.g. 2026-11-03T10:00:00+00:00)")
        return value

    @field_validator("local_time")
    @classmethod
    def _hhmm(cls, value: str | None) -> str | None:
        if value is not None:
            parse_local_time(value)
        return value

    @model_validator(mode="after")
    def _local_time_needed(self) -> "ScheduleIn":
        if self.kind == "local_time" and self.local_time is None:
            raise ValueError("local_time: a local_time schedule needs the time (HH:MM)")
        return self


class CampaignIn(BaseModel):
    """A new campaign (a draft until it is scheduled)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    template_name: str = Field(min_length=1, max_length=100)
    segment_ids: list[int] = Field(min_length=1)
    exclusion_segment_ids: list[int] = []
    topic: str | None = Field(default=None, max_length=50)
    ab_test: AbTestIn | None = None
    schedule: ScheduleIn | None = None
    # Recipients kept out at random (sent nothing) so the report can measure what the campaign earned.
    holdout_percent: float = Field(default=0.0, ge=0, le=50)


class CampaignUpdate(BaseModel):
    """Changes to a draft or scheduled campaign; fields left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    template_name: str | None = Field(default=None, min_length=1, max_length=100)
    segment_ids: list[int] | None = Field(default=None, min_length=1)
    exclusion_segment_ids: list[int] | None = None
    topic: str | None = None
    ab_test: AbTestIn | None = None
    # True removes the A/B test.
    remove_ab_test: bool = False
    holdout_percent: float | None = Field(default=None, ge=0, le=50)


class VariantProgress(BaseModel):
    """One variant's (or the whole campaign's) counts."""

    recipients: int = 0
    pending: int = 0
    queued: int = 0
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    opens: int = 0
    clicks: int = 0
    # Recipients kept as the campaign's holdout (whole-campaign figure only).
    held_out: int = 0


class CampaignOut(BaseModel):
    """A campaign, its schedule, its A/B test and decision, and its progress."""

    id: int
    name: str
    status: str
    template_name: str
    topic: str | None
    segment_ids: list[int]
    exclusion_segment_ids: list[int]
    schedule_kind: str
    scheduled_at: datetime | None
    local_time: str | None
    throttle_per_hour: int | None
    variants: list[dict[str, Any]]
    test_share: float | None
    test_wait_hours: float | None
    holdout_percent: float = 0.0
    winner_metric: str | None
    winner: str | None
    decision: dict[str, Any] | None
    decide_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    cancelled_at: datetime | None
    snapshot: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    progress: VariantProgress | None = None
    # Per variant name; "rest" holds the recipients still waiting for the winner.
    by_variant: dict[str, VariantProgress] = {}


class RecipientOut(BaseModel):
    """One recipient of the snapshot."""

    model_config = ConfigDict(from_attributes=True)

    contact_id: int
    variant: str | None
    phase: str
    status: str
    send_at: datetime | None
    outbox_public_id: str | None


class RunReport(BaseModel):
    """What one pass of a campaign job did."""

    campaign_id: int
    status: str
    snapshotted: int = 0
    queued: int = 0
    decided: bool = False
