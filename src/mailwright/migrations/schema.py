"""Every table of every domain, gathered on the one MetaData for Alembic."""

from sqlalchemy import MetaData

from mailwright.analytics import models as analytics_models
from mailwright.campaigns import models as campaign_models
from mailwright.catalog import models as catalog_models
from mailwright.connectors import models as connector_models
from mailwright.contacts import models as contact_models
from mailwright.core import models as core_models
from mailwright.core.db import Base
from mailwright.delivery import models as delivery_models
from mailwright.events import models as event_models
from mailwright.flows import models as flow_models
from mailwright.orders import models as order_models
from mailwright.segments import models as segment_models
from mailwright.templates import models as template_models
from mailwright.tracking import models as tracking_models

# Importing the modules registers their tables; naming them keeps the imports from looking unused.
DOMAIN_MODELS = (
    core_models,
    contact_models,
    catalog_models,
    order_models,
    event_models,
    segment_models,
    template_models,
    delivery_models,
    flow_models,
    campaign_models,
    connector_models,
    tracking_models,
    analytics_models,
)


def target_metadata() -> MetaData:
    """The schema the migrations must produce."""
    return Base.metadata
