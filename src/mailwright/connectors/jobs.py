"""Background entry points of the connectors: scheduled pulls and outbound webhooks."""

import logging
from datetime import timedelta
from typing import Any

from mailwright.connectors.webhooks import jobs as webhook_jobs
from mailwright.connectors.webhooks.service import DELIVER_JOB
from mailwright.core.jobs import JobRegistry, UnitOfWorkFactory
from mailwright.events.service import EVENTS_INGESTED_JOB
from mailwright.tracking.privacy import ERASED_JOB

log = logging.getLogger(__name__)

SYNC_JOB = "connectors.sync"
# Magento and CRM pulls are incremental (a stored cursor), so a short period costs one request each.
SYNC_EVERY = timedelta(minutes=15)


def sync_all(open_uow: UnitOfWorkFactory, args: dict[str, Any]) -> None:
    """Pull every enabled Magento, HubSpot and Zoho connection from where it last stopped."""
    from mailwright.connectors import service

    for report in service.sync_scheduled(open_uow):
        if report.error:
            log.warning("sync of %s stopped: %s", report.connection, report.error)


def register(registry: JobRegistry) -> None:
    """Register the scheduled pulls, the webhook deliveries and the fan-out after ingestion."""
    registry.register_long(SYNC_JOB, sync_all, every=SYNC_EVERY)
    registry.register_long(DELIVER_JOB, webhook_jobs.deliver)
    registry.subscribe(EVENTS_INGESTED_JOB, webhook_jobs.on_events_ingested)
    registry.register(ERASED_JOB, webhook_jobs.on_contacts_erased)
