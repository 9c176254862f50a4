"""HubSpot CRM (contacts API v3): search by modification time, batch update, custom properties, OAuth refresh.

HubSpot limits apps per 10-second window and says so in X-HubSpot-RateLimit-* headers; a 429 without
Retry-After waits for the window, and a response that reports the budget spent pauses before the next call.
"""

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx

from mailwright.connectors import common as c
from mailwright.connectors.crm import sync as crm_sync
from mailwright.connectors.crm.sync import Counters, CrmRecord
from mailwright.connectors.http import ApiClient, HttpOptions, UpstreamAuthError, raise_for_status
from mailwright.connectors.schemas import SyncReport
from mailwright.connectors.service import ConnectionData, save_config
from mailwright.core.jobs import UnitOfWorkFactory

BASE_URL = "https://api.hubapi.com"
PAGE_SIZE = 100
# The search endpoint returns at most 10,000 results per query; past that the query restarts from
# the newest modification time seen.
SEARCH_CAP = 10_000


def rate_limit_wait(response: httpx.Response) -> float | None:
    """Seconds to wait per HubSpot's rate-limit headers: the window on a 429, or when the budget is spent."""
    interval = response.headers.get("X-HubSpot-RateLimit-Interval-Milliseconds")
    seconds = int(interval) / 1000 if interval and interval.isdecimal() else 10.0
    if response.status_code == 429:
        return seconds
    remaining = response.headers.get("X-HubSpot-RateLimit-Remaining")
    if remaining is not None and remaining.strip() == "0":
        return seconds
    return None


class HubSpot:
    """A HubSpot account reached with a private app token or OAuth (refreshed when it expires)."""

    kind = "hubspot"

    def __init__(
        self,
        data: ConnectionData,
        options: HttpOptions,
        *,
        save_tokens: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.data = data
        self.options = options
        self.config = dict(data.config)
        self.save_tokens = save_tokens
        self.counters = Counters()
        self.api = ApiClient(
            str(self.config.get("base_url") or BASE_URL),
            options=options,
            service="HubSpot",
            rate_limit_wait=rate_limit_wait,
        )
        self.counters.waits = self.api.waits

    def close(self) -> None:
        """Release connections."""
        self.api.close()

    def _token(self) -> str:
        if self.config.get("refresh_token") and not self.config.get("token"):
            expires = self.config.get("access_token_expires_at")
            fresh = expires and datetime.fromisoformat(str(expires)) > self.options.now() + timedelta(
                minutes=1
            )
            if not self.config.get("access_token") or not fresh:
                self._refresh()
            return str(self.config["access_token"])
        return str(self.config.get("token") or "")

    def _refresh(self) -> None:
        """Trade the refresh token for a new access token (HubSpot OAuth v1) and keep it."""
        for key in ("client_id", "client_secret", "refresh_token"):
            if not self.config.get(key):
                raise UpstreamAuthError(f"HubSpot OAuth needs config.{key}", field=f"config.{key}")
        response = self.api.request(
            "POST",
            "/oauth/v1/token",
            data={
                "grant_type": "refresh_token",
                "client_id": self.config["client_id"],
                "client_secret": self.config["client_secret"],
                "refresh_token": self.config["refresh_token"],
            },
        )
        self.counters.requests += 1
        if response.status_code in (400, 401):
            raise UpstreamAuthError(
                f"HubSpot refused the refresh token: {response.text[:200]}", field="config.refresh_token"
            )
        raise_for_status(response, "HubSpot")
        body = response.json()
        expires_at = self.options.now() + timedelta(seconds=int(body.get("expires_in") or 1800))
        changes = {"access_token": body["access_token"], "access_token_expires_at": expires_at.isoformat()}
        if body.get("refresh_token"):
            changes["refresh_token"] = body["refresh_token"]
        self.config.update(changes)
        if self.save_tokens is not None:
            self.save_tokens(changes)

    def _call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """A request with the bearer token; an expired OAuth token is refreshed once and the call repeated."""
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {self._token()}"}
            response = self.api.request(method, url, headers=headers, **kwargs)
            self.counters.requests += 1
            if response.status_code == 401 and attempt == 1 and self.config.get("refresh_token"):
                self.config["access_token"] = None
                self.config.pop("token", None)
                continue
            return response
        return response

    def pages(self, since: datetime | None, properties: list[str]) -> Iterator[list[CrmRecord]]:
        """Contacts modified at or after `since`, oldest first, through the search endpoint."""
        wanted = sorted({*properties, "lastmodifieddate"})
        after: str | None = None
        while True:
            body: dict[str, Any] = {
                "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
                "properties": wanted,
                "limit": PAGE_SIZE,
            }
            if since is not None:
                millis = str(int(since.timestamp() * 1000))
                body["filterGroups"] = [
                    {"filters": [{"propertyName": "lastmodifieddate", "operator": "GTE", "value": millis}]}
                ]
            if after is not None:
                body["after"] = after
            response = self._call("POST", "/crm/v3/objects/contacts/search", json=body)
            raise_for_status(response, "HubSpot")
            payload = response.json()
            records = [self._record(i, r) for i, r in enumerate(c.objects(payload, "results", "results"))]
            yield records
            after = ((payload.get("paging") or {}).get("next") or {}).get("after")
            if not after or not records:
                return
            if int(after) >= SEARCH_CAP:
                since, after = records[-1].modified_at, None

    def _record(self, index: int, raw: dict[str, Any]) -> CrmRecord:
        path = f"results[{index}]"
        remote_id = c.ident(c.required(raw, "id", f"{path}.id"), f"{path}.id")
        values = c.obj(raw, "properties", f"{path}.properties")
        modified = c.when(values.get("lastmodifieddate"), f"{path}.properties.lastmodifieddate") or c.when(
            raw.get("updatedAt"), f"{path}.updatedAt"
        )
        return CrmRecord(remote_id, modified or self.options.now(), values)

    def ensure_properties(self, names: list[str]) -> None:
        """Create Mailwright's custom contact properties (text) where HubSpot does not have them yet."""
        for name in names:
            response = self._call("GET", f"/crm/v3/properties/contacts/{name}")
            if response.status_code == 200:
                continue
            if response.status_code != 404:
                raise_for_status(response, "HubSpot")
            created = self._call(
                "POST",
                "/crm/v3/properties/contacts",
                json={
                    "name": name,
                    "label": name.replace("_", " ").title(),
                    "type": "string",
                    "fieldType": "text",
                    "groupName": "contactinformation",
                    "description": "Computed by Mailwright",
                },
            )
            if created.status_code != 409:  # created meanwhile: fine
                raise_for_status(created, "HubSpot")

    def update(self, changes: list[tuple[str, dict[str, Any]]]) -> None:
        """Batch-update contact properties (values sent as strings, as HubSpot stores them)."""
        inputs = [
            {"id": rid, "properties": {k: str(v) for k, v in values.items()}} for rid, values in changes
        ]
        response = self._call("POST", "/crm/v3/objects/contacts/batch/update", json={"inputs": inputs})
        raise_for_status(response, "HubSpot")


def sync(open_uow: UnitOfWorkFactory, data: ConnectionData, options: HttpOptions, report: SyncReport) -> None:
    """Pull changed HubSpot contacts, then push Mailwright's computed properties."""

    def save_tokens(changes: dict[str, Any]) -> None:
        with open_uow() as uow:
            save_config(uow.session, data.id, changes, uow.now())

    crm = HubSpot(data, options, save_tokens=save_tokens)
    try:
        crm_sync.run(open_uow, data, crm, report)
    finally:
        crm.close()
