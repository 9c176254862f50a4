"""Background entry points of analytics: attribute new orders as they arrive, and sweep for any missed."""

from datetime import timedelta
from typing import Any

from mailwright.analytics.attribution import attribute_orders
from mailwright.core.jobs import JobRegistry
from mailwright.core.settings import get_settings
from mailwright.core.uow import UnitOfWork

ATTRIBUTE_JOB = "analytics.attribute"
EVENTS_INGESTED_JOB = "events.ingested"
ORDER_EVENTS = frozenset({"Order Completed"})


def on_ingested(uow: UnitOfWork, args: dict[str, Any]) -> None:
    """Attribute the new orders of the contacts a batch with orders touched."""
    if ORDER_EVENTS & set(args.get("names", [])):
        attribute_orders(uow, get_settings(), contact_ids=[int(c) for c in args.get("contact_ids", [])])


def sweep(uow: UnitOfWork, args: dict[str, Any]) -> None:
    """Attribute any order still without an attribution (imports, missed jobs)."""
    attribute_orders(uow, get_settings())


def register(registry: JobRegistry) -> None:
    """Attribute orders of the contacts an ingested batch touched, and every 10 minutes any left over."""
    registry.subscribe(EVENTS_INGESTED_JOB, on_ingested)
    registry.register(ATTRIBUTE_JOB, sweep, every=timedelta(minutes=10))
