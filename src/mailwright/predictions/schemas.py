"""What a training and scoring run reports, and a contact's predictions as the CLI and API show them."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from mailwright.catalog.schemas import RecommendedProduct
from mailwright.contacts.schemas import ContactPredictionData


class ModelReport(BaseModel):
    """Which model serves one figure, whether it is a fallback and why, and its training-period backtest."""

    model_config = ConfigDict(frozen=True)

    figure: str
    model: str
    fallback: bool
    reason: str = ""
    validation: dict[str, dict[str, float]] = {}


class TrainingSummary(BaseModel):
    """The outcome of one training and scoring run."""

    model_config = ConfigDict(frozen=True)

    as_of: datetime
    version: str
    horizon_days: int
    currency: str
    customers: int
    orders: int
    latest_order_at: datetime | None
    contacts_scored: int
    recommendations: int
    related_products: int
    models: list[ModelReport]
    seconds: dict[str, float]


class ContactExplanation(BaseModel):
    """One contact's stored predictions and recommendations, with the models behind them."""

    model_config = ConfigDict(frozen=True)

    contact_id: int
    email: str | None
    predictions: ContactPredictionData | None
    recommendations: list[RecommendedProduct]
