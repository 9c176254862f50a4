"""Connector data crossing the boundary: connections, sync reports, webhook endpoints and their log."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ConnectionIn(BaseModel):
    """A new connection (or new settings of one): its kind, name and configuration."""

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    kind: str
    config: dict[str, Any] = {}
    field_mapping: dict[str, Any] | None = None
    enabled: bool = True


class ConnectionPatch(BaseModel):
    """Changes to a connection; None keeps what is stored."""

    config: dict[str, Any] | None = None
    field_mapping: dict[str, Any] | None = None
    enabled: bool | None = None


class ConnectionOut(BaseModel):
    """A connection as shown: secrets masked, sync position and last error."""

    id: int
    name: str
    kind: str
    config: dict[str, Any]
    field_mapping: dict[str, Any]
    enabled: bool
    cursor: dict[str, Any]
    last_synced_at: datetime | None
    last_error: str | None
    mapping_confirmed_at: datetime | None
    created_at: datetime
    updated_at: datetime


class SyncReport(BaseModel):
    """What one sync run did, per resource, and where it stopped."""

    connection: str
    kind: str
    started_at: datetime
    pulled: dict[str, int] = {}
    events_stored: int = 0
    events_unchanged: int = 0
    pushed: int = 0
    requests: int = 0
    waited_seconds: float = 0.0
    cursor: dict[str, Any] = {}
    error: str | None = None


class MappingRow(BaseModel):
    """One mapped field: which way it goes, the CRM property and the Mailwright field."""

    direction: str
    crm_property: str
    mailwright_field: str


class EndpointIn(BaseModel):
    """A new outbound webhook endpoint."""

    url: str = Field(min_length=1, max_length=2000)
    events: list[str] = Field(min_length=1)
    secret: str | None = Field(default=None, min_length=16, max_length=200)
    description: str | None = Field(default=None, max_length=200)


class EndpointPatch(BaseModel):
    """Changes to an endpoint; enabling it again clears its failure streak."""

    url: str | None = Field(default=None, min_length=1, max_length=2000)
    events: list[str] | None = None
    enabled: bool | None = None
    description: str | None = Field(default=None, max_length=200)


class EndpointOut(BaseModel):
    """An endpoint as listed (the secret only right after creation)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    url: str
    event_names: list[str]
    description: str | None
    enabled: bool
    disabled_reason: str | None
    disabled_at: datetime | None
    consecutive_failures: int
    failing_since: datetime | None
    created_at: datetime
    secret: str | None = None


class AttemptOut(BaseModel):
    """One POST of a delivery."""

    model_config = ConfigDict(from_attributes=True)

    attempt: int
    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int
    next_attempt_at: datetime | None


class DeliveryOut(BaseModel):
    """One event sent (or being sent) to one endpoint, with its attempts."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    public_id: str
    endpoint_id: int
    event_id: int
    event_name: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None
    log: list[AttemptOut] = []
