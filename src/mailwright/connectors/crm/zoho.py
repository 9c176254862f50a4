"""Zoho CRM (REST API v2): OAuth refresh-token flow, Contacts read by If-Modified-Since, batch updates.

Zoho's custom fields are created in its setup pages (the API cannot), so the README lists the
fields to add; a push to a missing field comes back as an error naming it.
"""

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from mailwright.connectors import common as c
from mailwright.connectors.crm import sync as crm_sync
from mailwright.connectors.crm.sync import Counters, CrmRecord
from mailwright.connectors.http import (
    ApiClient,
    HttpOptions,
    UpstreamAuthError,
    UpstreamError,
    raise_for_status,
)
from mailwright.connectors.schemas import SyncReport
from mailwright.connectors.service import ConnectionData, save_config
from mailwright.core.jobs import UnitOfWorkFactory

ACCOUNTS_URL = "https://accounts.zoho.com"
API_DOMAIN = "https://www.zohoapis.com"
PER_PAGE = 200


class Zoho:
    """A Zoho CRM organisation reached with an OAuth refresh token (the access token lasts an hour)."""

    kind = "zoho"

    def __init__(
        self,
        data: ConnectionData,
        options: HttpOptions,
        *,
        save_tokens: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.config = dict(data.config)
        self.options = options
        self.save_tokens = save_tokens
        self.counters = Counters()
        self.accounts = ApiClient(
            str(self.config.get("accounts_url") or ACCOUNTS_URL), options=options, service="Zoho"
        )
        self.api = ApiClient(
            str(self.config.get("api_domain") or API_DOMAIN), options=options, service="Zoho CRM"
        )
        self.counters.waits = self.api.waits

    def close(self) -> None:
        """Release connections."""
        self.accounts.close()
        self.api.close()

    def _token(self) -> str:
        expires = self.config.get("access_token_expires_at")
        fresh = expires and datetime.fromisoformat(str(expires)) > self.options.now() + timedelta(minutes=1)
        if not self.config.get("access_token") or not fresh:
            self._refresh()
        return str(self.config["access_token"])

    def _refresh(self) -> None:
        """POST /oauth/v2/token with grant_type=refresh_token; Zoho reports a bad token as 200 + "error"."""
        response = self.accounts.request(
            "POST",
            "/oauth/v2/token",
            params={
                "refresh_token": self.config["refresh_token"],
                "client_id": self.config["client_id"],
                "client_secret": self.config["client_secret"],
                "grant_type": "refresh_token",
            },
        )
        self.counters.requests += 1
        raise_for_status(response, "Zoho accounts")
        body = response.json()
        if "error" in body or "access_token" not in body:
            raise UpstreamAuthError(
                f"Zoho refused the refresh token: {body.get('error', 'no access_token')}",
                field="config.refresh_token",
            )
        expires_at = self.options.now() + timedelta(seconds=int(body.get("expires_in") or 3600))
        changes = {"access_token": body["access_token"], "access_token_expires_at": expires_at.isoformat()}
        if body.get("api_domain"):
            changes["api_domain"] = str(body["api_domain"]).rstrip("/")
            if changes["api_domain"] != str(self.api.client.base_url).rstrip("/"):
                self.api.client.base_url = httpx.URL(changes["api_domain"])
        self.config.update(changes)
        if self.save_tokens is not None:
            self.save_tokens(changes)

    def _call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        for attempt in (1, 2):
            headers = {"Authorization": f"Zoho-oauthtoken {self._token()}", **kwargs.pop("headers", {})}
            response = self.api.request(method, url, headers=headers, **kwargs)
            self.counters.requests += 1
            if response.status_code == 401 and attempt == 1:
                # INVALID_TOKEN: expired early or revoked; one refresh, then the error stands.
                self.config["access_token"] = None
                kwargs["headers"] = {k: v for k, v in headers.items() if k != "Authorization"}
                continue
            return response
        return response

    def pages(self, since: datetime | None, properties: list[str]) -> Iterator[list[CrmRecord]]:
        """Contacts modified since the cursor (If-Modified-Since), oldest first, 200 a page."""
        fields = ",".join(sorted({*properties, "Modified_Time"}))
        page = 1
        while True:
            headers = (
                {"If-Modified-Since": since.astimezone(UTC).isoformat(timespec="seconds")} if since else {}
            )
            response = self._call(
                "GET",
                "/crm/v2/Contacts",
                params={
                    "fields": fields,
                    "page": page,
                    "per_page": PER_PAGE,
                    "sort_by": "Modified_Time",
                    "sort_order": "asc",
                },
                headers=headers,
            )
            if response.status_code in (204, 304):
                return  # nothing (more) changed
            raise_for_status(response, "Zoho CRM")
            payload = response.json()
            records = [self._record(i, r) for i, r in enumerate(c.objects(payload, "data", "data"))]
            yield records
            if not (payload.get("info") or {}).get("more_records") or not records:
                return
            page += 1

    def _record(self, index: int, raw: dict[str, Any]) -> CrmRecord:
        path = f"data[{index}]"
        remote_id = c.ident(c.required(raw, "id", f"{path}.id"), f"{path}.id")
        modified = c.when(c.required(raw, "Modified_Time", f"{path}.Modified_Time"), f"{path}.Modified_Time")
        assert modified is not None
        return CrmRecord(remote_id, modified, raw)

    def ensure_properties(self, names: list[str]) -> None:
        """Nothing to do through the API: Zoho's custom fields are made in its setup (see the README)."""

    def update(self, changes: list[tuple[str, dict[str, Any]]]) -> None:
        """PUT up to 100 records; a record Zoho refuses fails the push with Zoho's reason."""
        data = [{"id": rid, **values} for rid, values in changes]
        response = self._call("PUT", "/crm/v2/Contacts", json={"data": data})
        raise_for_status(response, "Zoho CRM")
        for i, item in enumerate(c.objects(response.json(), "data", "data")):
            if str(item.get("status")).lower() != "success":
                raise UpstreamError(
                    f"Zoho CRM refused the update of {changes[i][0]}: {item.get('code')} {item.get('message')} "
                    f"{item.get('details') or ''}",
                    field="field_mapping.push",
                )


def sync(open_uow: UnitOfWorkFactory, data: ConnectionData, options: HttpOptions, report: SyncReport) -> None:
    """Pull changed Zoho contacts, then push Mailwright's computed fields."""

    def save_tokens(changes: dict[str, Any]) -> None:
        with open_uow() as uow:
            save_config(uow.session, data.id, changes, uow.now())

    crm = Zoho(data, options, save_tokens=save_tokens)
    try:
        crm_sync.run(open_uow, data, crm, report)
    finally:
        crm.close()
