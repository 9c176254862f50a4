"""Every table of every domain, gathered on the one MetaData for Alembic."""

from sqlalchemy import MetaData

from mailwright.catalog import models as catalog_models
from mailwright.contacts import models as contact_models
from mailwright.core import models as core_models
from mailwright.core.db import Base
from mailwright.delivery import models as delivery_models
from mailwright.events import models as event_models
from mailwright.orders import models as order_models
from mailwright.templates import models as template_models

# Importing the modules registers their tables; naming them keeps the imports from looking unused.
DOMAIN_MODELS = (
    core_models,
    contact_models,
    catalog_models,
    order_models,
    event_models,
    template_models,
    delivery_models,
)


def target_metadata() -> MetaData:
    """The schema the migrations must produce."""
    return Base.metadata
