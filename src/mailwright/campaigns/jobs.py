"""Background entry points of campaigns: start the due ones, decide the due A/B tests.

Both are long jobs: a start snapshots the recipients in one short transaction and queues them in
batches of their own, so on SQLite ingestion keeps getting the write lock in between. Both are safe to
run twice (see sending.py), as a long job given back after a crash must be.
"""

import logging
from datetime import timedelta
from typing import Any

from mailwright.campaigns import service
from mailwright.core.jobs import JobRegistry, UnitOfWorkFactory
from mailwright.core.settings import get_settings

log = logging.getLogger(__name__)

START_JOB = "campaigns.start_due"
DECIDE_JOB = "campaigns.decide_due"


def start_due(open_uow: UnitOfWorkFactory, args: dict[str, Any]) -> None:
    """Start every scheduled campaign whose time has come (by the job's clock)."""
    for report in service.start_due(open_uow, get_settings()):
        log.info(
            "campaign %s: %d snapshotted, %d queued, now %s",
            report.campaign_id,
            report.snapshotted,
            report.queued,
            report.status,
        )


def decide_due(open_uow: UnitOfWorkFactory, args: dict[str, Any]) -> None:
    """Decide every A/B test whose waiting period is over and queue the winner for the rest."""
    for report in service.decide_due(open_uow, get_settings()):
        log.info(
            "campaign %s: decided=%s, %d queued, now %s",
            report.campaign_id,
            report.decided,
            report.queued,
            report.status,
        )


def register(registry: JobRegistry) -> None:
    """Register both periodic jobs (every `campaign_check_seconds`, on the worker's clock)."""
    every = timedelta(seconds=get_settings().campaign_check_seconds)
    registry.register_long(START_JOB, start_due, every=every)
    registry.register_long(DECIDE_JOB, decide_due, every=every)
