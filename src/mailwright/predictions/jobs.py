"""Background entry points of the predictions domain."""

import logging
from datetime import timedelta
from typing import Any

from mailwright.core.jobs import JobRegistry, UnitOfWorkFactory

log = logging.getLogger(__name__)

REFRESH_JOB = "predictions.refresh"
# Nightly by default; the worker's clock decides when a day has passed (a simulated one in tests and demos).
REFRESH_EVERY = timedelta(days=1)


def refresh(open_uow: UnitOfWorkFactory, args: dict[str, Any]) -> None:
    """Retrain every model and rescore the whole shop as of the job's clock.

    Read, fit and write are separate steps so the fitting (minutes on a large shop) holds no
    transaction: on SQLite, ingestion keeps its write lock meanwhile.
    """
    # Imported here: the models pull in pandas and scikit-learn, which the API process need not load.
    from mailwright.predictions.service import load_shop_data, store, train

    with open_uow() as uow:
        data = load_shop_data(uow.session, uow.now())
    trained = train(data)
    with open_uow() as uow:
        summary = store(uow.session, trained)
    fallbacks = [f"{m.figure}: {m.model} ({m.reason})" for m in summary.models if m.fallback]
    log.info(
        "predictions refreshed as of %s: %d contacts, %d recommendations; fallbacks: %s",
        summary.as_of.isoformat(),
        summary.contacts_scored,
        summary.recommendations,
        "; ".join(fallbacks) or "none",
    )


def register(registry: JobRegistry) -> None:
    """Register the nightly refresh."""
    registry.register_long(REFRESH_JOB, refresh, every=REFRESH_EVERY)
