"""Background entry points of outbound webhooks: the fan-out after ingestion and each delivery."""

import logging
from typing import Any

from mailwright.connectors.webhooks import service
from mailwright.core.jobs import UnitOfWorkFactory
from mailwright.core.uow import UnitOfWork

log = logging.getLogger(__name__)


def on_events_ingested(uow: UnitOfWork, args: dict[str, Any]) -> None:
    """Queue deliveries for the new events of the touched contacts that some endpoint subscribed to."""
    contact_ids = [int(c) for c in args.get("contact_ids") or []]
    names = [str(n) for n in args.get("names") or []]
    queued = service.fan_out(uow, contact_ids, names)
    if queued:
        log.info("queued %d webhook deliveries", queued)


def deliver(open_uow: UnitOfWorkFactory, args: dict[str, Any]) -> None:
    """POST one delivery outside any transaction, then record the outcome (and the retry, if any)."""
    delivery_id = int(args["delivery_id"])
    with open_uow() as uow:
        prepared = service.prepare(uow.session, delivery_id, uow.now())
    if prepared is None:
        return
    result = service.post(prepared)
    with open_uow() as uow:
        status = service.record(uow, delivery_id, result)
    if not result.ok:
        log.warning("webhook delivery %s failed (%s): %s", delivery_id, status, result.error)


def on_contacts_erased(uow: UnitOfWork, args: dict[str, Any]) -> None:
    """An erased contact's data leaves the webhook log too; deliveries not yet sent are cancelled."""
    service.forget_contacts(uow.session, [int(c) for c in args.get("contact_ids", [])])
