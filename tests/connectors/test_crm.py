"""HubSpot and Zoho: contacts in by modification time, computed properties back, tokens refreshed, limits waited."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session
from tests.conftest import START

from mailwright.connectors import service
from mailwright.connectors.http import HttpOptions, override_http
from mailwright.connectors.schemas import ConnectionIn
from mailwright.contacts import service as contacts
from mailwright.contacts.models import Contact
from mailwright.contacts.schemas import ContactPredictionData
from mailwright.core.clock import ManualClock
from mailwright.core.errors import InvalidInput
from mailwright.core.runtime import Runtime
from mailwright.events import service as events
from mailwright.events.schemas import ContactEvent


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class FakeHubSpot:
    """Contacts v3 search / batch update / properties and OAuth v1 token, as HubSpot documents them."""

    def __init__(self) -> None:
        self.contacts: dict[str, dict[str, Any]] = {}
        self.properties: set[str] = {"email", "firstname", "lastname", "phone", "city", "lifecyclestage"}
        self.valid_token = "new-access-token"
        self.refreshes = 0
        self.throttle_next_search = True
        self.updates: list[dict[str, Any]] = []
        self.searches: list[dict[str, Any]] = []

    def add(self, rid: str, email: str, modified: datetime, **props: str) -> None:
        self.contacts[rid] = {
            "email": email,
            "lastmodifieddate": modified.isoformat().replace("+00:00", "Z"),
            **props,
        }

    def handler(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/oauth/v1/token":
            form = dict(x.split("=", 1) for x in request.content.decode().split("&"))
            if form.get("refresh_token") != "refresh-me":
                return httpx.Response(
                    400, json={"status": "BAD_REFRESH_TOKEN", "message": "missing or invalid refresh token"}
                )
            self.refreshes += 1
            return httpx.Response(
                200,
                json={
                    "token_type": "bearer",
                    "refresh_token": "refresh-me",
                    "access_token": self.valid_token,
                    "expires_in": 1800,
                },
            )
        if request.headers.get("authorization") != f"Bearer {self.valid_token}":
            return httpx.Response(
                401,
                json={
                    "status": "error",
                    "message": "The OAuth token used to make this call expired 2 hour(s) ago.",
                    "category": "EXPIRED_AUTHENTICATION",
                },
            )
        if path == "/crm/v3/objects/contacts/search":
            if self.throttle_next_search:
                self.throttle_next_search = False
                return httpx.Response(
                    429,
                    headers={
                        "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
                        "X-HubSpot-RateLimit-Max": "100",
                        "X-HubSpot-RateLimit-Remaining": "0",
                    },
                    json={
                        "status": "error",
                        "message": "You have reached your ten_secondly_rolling limit.",
                        "errorType": "RATE_LIMIT",
                        "policyName": "TEN_SECONDLY_ROLLING",
                    },
                )
            body = json.loads(request.content)
            self.searches.append(body)
            since = None
            for group in body.get("filterGroups", []):
                for f in group["filters"]:
                    assert f["propertyName"] == "lastmodifieddate" and f["operator"] == "GTE"
                    since = int(f["value"])
            rows = sorted(self.contacts.items(), key=lambda kv: kv[1]["lastmodifieddate"])
            if since is not None:
                rows = [
                    r
                    for r in rows
                    if _ms(datetime.fromisoformat(r[1]["lastmodifieddate"].replace("Z", "+00:00"))) >= since
                ]
            start = int(body.get("after") or 0)
            page = rows[start : start + body["limit"]]
            results = [
                {
                    "id": rid,
                    "properties": {k: props.get(k) for k in body["properties"]} | {"hs_object_id": rid},
                    "createdAt": "2026-01-01T00:00:00Z",
                    "updatedAt": props["lastmodifieddate"],
                    "archived": False,
                }
                for rid, props in page
            ]
            payload: dict[str, Any] = {"total": len(rows), "results": results}
            if start + body["limit"] < len(rows):
                payload["paging"] = {"next": {"after": str(start + body["limit"]), "link": "?after=..."}}
            return httpx.Response(200, json=payload, headers={"X-HubSpot-RateLimit-Remaining": "99"})
        if path.startswith("/crm/v3/properties/contacts/"):
            name = path.rsplit("/", 1)[1]
            if name in self.properties:
                return httpx.Response(200, json={"name": name, "type": "string"})
            return httpx.Response(
                404,
                json={
                    "status": "error",
                    "message": f"Unable to find property {name}",
                    "category": "OBJECT_NOT_FOUND",
                },
            )
        if path == "/crm/v3/properties/contacts":
            self.properties.add(json.loads(request.content)["name"])
            return httpx.Response(201, json=json.loads(request.content))
        if path == "/crm/v3/objects/contacts/batch/update":
            inputs = json.loads(request.content)["inputs"]
            for item in inputs:
                unknown = set(item["properties"]) - self.properties
                if unknown:
                    return httpx.Response(
                        400, json={"status": "error", "message": f"Property values were not valid: {unknown}"}
                    )
                self.contacts[item["id"]].update(item["properties"])
            self.updates.append({i["id"]: i["properties"] for i in inputs})
            return httpx.Response(
                200, json={"status": "COMPLETE", "results": [{"id": i["id"]} for i in inputs]}
            )
        return httpx.Response(404, json={"message": f"no route {path}"})


@pytest.fixture
def hubspot(runtime: Runtime) -> FakeHubSpot:
    with runtime.uow() as uow:
        service.create_connection(
            uow.session,
            ConnectionIn(
                name="crm",
                kind="hubspot",
                config={
                    "client_id": "cid",
                    "client_secret": "csecret",
                    "refresh_token": "refresh-me",
                    "access_token": "expired-token",
                    "access_token_expires_at": "2030-01-01T00:00:00+00:00",
                },
            ),
            uow.now(),
        )
    return FakeHubSpot()


def test_hubspot_pull_then_push_with_refresh_rate_limit_and_conflict_rule(
    runtime: Runtime,
    session: Session,
    clock: ManualClock,
    hubspot: FakeHubSpot,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("mailwright.connectors.crm.hubspot.PAGE_SIZE", 2)
    hubspot.add(
        "101",
        "ada@example.com",
        START - timedelta(days=3),
        firstname="Ada",
        lastname="Lovelace",
        lifecyclestage="customer",
    )
    hubspot.add("102", "bob@example.com", START - timedelta(days=2), firstname="Bob", lifecyclestage="lead")
    hubspot.add(
        "103",
        "cy@example.com",
        START - timedelta(days=1),
        firstname="Cy",
        lifecyclestage="subscriber",
        city="Leeds",
    )
    slept: list[float] = []
    options = HttpOptions(transport=httpx.MockTransport(hubspot.handler), sleep=slept.append, now=clock.now)

    # The mapping is shown and confirmed before the first sync.
    with pytest.raises(InvalidInput) as refused:
        service.sync_connection(runtime.uow, "crm", options=options)
    assert refused.value.field == "field_mapping"
    with runtime.uow() as uow:
        rows = service.mapping_rows(uow.session, "crm")
        service.confirm_mapping(uow.session, "crm", uow.now())
    assert ("pull", "lifecyclestage", "properties.crm_lifecycle_stage") in [
        (r.direction, r.crm_property, r.mailwright_field) for r in rows
    ]
    assert ("push", "mailwright_rfm_segment", "rfm_segment") in [
        (r.direction, r.crm_property, r.mailwright_field) for r in rows
    ]

    report = service.sync_connection(runtime.uow, "crm", options=options)
    assert report.error is None, report.error
    assert report.pulled["contacts"] == 3 and len(hubspot.searches) == 2  # two pages
    assert hubspot.refreshes == 1  # the stored token had expired: refreshed once, then kept
    assert slept[0] == 10.0  # the 429 waited for HubSpot's 10-second window
    ada = contacts.find_by_email(session, "ada@example.com")
    assert ada is not None and (ada.first_name, ada.last_name, ada.properties["crm_lifecycle_stage"]) == (
        "Ada",
        "Lovelace",
        "customer",
    )
    with runtime.uow() as uow:
        stored = service.connection_data(uow.session, "crm")
    assert stored.config["access_token"] == "new-access-token"
    assert stored.cursor["contacts"] == (START - timedelta(days=1)).isoformat()

    # Mailwright computes values; the next sync pushes them (creating the custom properties once).
    session.execute(
        update(Contact).where(Contact.id == ada.id).values(rfm_segment="Champions", lifecycle_stage="active")
    )
    session.flush()
    with runtime.uow() as uow:
        contacts.replace_predictions(
            uow.session,
            [
                ContactPredictionData(
                    contact_id=ada.id,
                    computed_at=START,
                    version="t",
                    horizon_days=90,
                    status="ok",
                    churn_risk=0.125,
                    predicted_revenue_minor=12345,
                    currency="GBP",
                )
            ],
        )
        events.record_contact_events(
            uow, [ContactEvent(ada.id, "Email Opened", START, "open:x:0")], notify=False
        )
    second = service.sync_connection(runtime.uow, "crm", options=options)
    assert second.error is None, second.error
    assert hubspot.contacts["101"]["mailwright_rfm_segment"] == "Champions"
    assert hubspot.contacts["101"]["mailwright_churn_risk"] == "0.125"
    assert hubspot.contacts["101"]["mailwright_predicted_value"] == "123.45"
    assert hubspot.contacts["101"]["mailwright_last_email_engagement"].startswith("2026-11-02T09:00")
    assert "mailwright_lifecycle_stage" in hubspot.properties
    pushes = len(hubspot.updates)
    assert service.sync_connection(runtime.uow, "crm", options=options).pushed == 0  # nothing changed
    assert len(hubspot.updates) == pushes

    # Conflict rule: Bob's name changed here after HubSpot's record did, so ours stays; Cy's CRM change is newer.
    bob = contacts.find_by_email(session, "bob@example.com")
    assert bob is not None
    clock.advance(timedelta(hours=1))
    with runtime.uow() as uow:
        from mailwright.events.schemas import IncomingEvent

        events.ingest(
            uow,
            [
                IncomingEvent(
                    message_id="rename-bob",
                    type="identify",
                    name="Identify",
                    occurred_at=clock.now(),
                    source="api",
                    email="bob@example.com",
                    profile={"first_name": "Robert"},
                )
            ],
        )
    hubspot.add("102", "bob@example.com", START - timedelta(hours=1), firstname="Bobby")
    hubspot.add("103", "cy@example.com", clock.now() + timedelta(minutes=5), firstname="Cyrus")
    third = service.sync_connection(runtime.uow, "crm", options=options)
    session.expire_all()
    assert contacts.find_by_email(session, "bob@example.com").first_name == "Robert"  # type: ignore[union-attr]
    assert contacts.find_by_email(session, "cy@example.com").first_name == "Cyrus"  # type: ignore[union-attr]
    assert third.pulled.get("kept_mailwright_value", 0) >= 1


def test_hubspot_bad_refresh_token_is_reported_on_the_connection(
    runtime: Runtime, hubspot: FakeHubSpot
) -> None:
    with runtime.uow() as uow:
        service.update_connection(
            uow.session,
            "crm",
            service.ConnectionPatch(config={"refresh_token": "revoked", "access_token": ""}),
            uow.now(),
        )
        service.confirm_mapping(uow.session, "crm", uow.now())
    report = service.sync_connection(
        runtime.uow, "crm", options=HttpOptions(transport=httpx.MockTransport(hubspot.handler))
    )
    assert report.error is not None and "refused the refresh token" in report.error


class FakeZoho:
    """Zoho accounts OAuth v2 and CRM v2 /Contacts as documented (data + info.more_records, 304 when unchanged)."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.token = "1000.zoho-access"
        self.puts: list[list[dict[str, Any]]] = []
        self.modified_since: list[str | None] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "accounts.zoho.eu":
            if request.url.params.get("refresh_token") != "1000.refresh":
                return httpx.Response(200, json={"error": "invalid_code"})
            return httpx.Response(
                200,
                json={
                    "access_token": self.token,
                    "api_domain": "https://www.zohoapis.eu",
                    "token_type": "Bearer",
                    "expires_in": 3600,
                },
            )
        assert request.url.host == "www.zohoapis.eu"
        if request.headers.get("authorization") != f"Zoho-oauthtoken {self.token}":
            return httpx.Response(
                401,
                json={
                    "code": "INVALID_TOKEN",
                    "details": {},
                    "message": "invalid oauth token",
                    "status": "error",
                },
            )
        if request.method == "PUT":
            data = json.loads(request.content)["data"]
            self.puts.append(data)
            return httpx.Response(
                200,
                json={
                    "data": [
                        {
                            "code": "SUCCESS",
                            "details": {"id": d["id"]},
                            "message": "record updated",
                            "status": "success",
                        }
                        for d in data
                    ]
                },
            )
        since = request.headers.get("if-modified-since")
        self.modified_since.append(since)
        rows = [
            r
            for r in self.records
            if since is None or datetime.fromisoformat(r["Modified_Time"]) >= datetime.fromisoformat(since)
        ]
        if not rows:
            return httpx.Response(304 if since else 204)
        page, per_page = int(request.url.params["page"]), int(request.url.params["per_page"])
        chunk = rows[(page - 1) * per_page : page * per_page]
        return httpx.Response(
            200,
            json={
                "data": chunk,
                "info": {
                    "per_page": per_page,
                    "count": len(chunk),
                    "page": page,
                    "more_records": page * per_page < len(rows),
                },
            },
        )


def test_zoho_refreshes_its_token_reads_pages_and_stops_on_304(
    runtime: Runtime, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("mailwright.connectors.crm.zoho.PER_PAGE", 1)
    zoho = FakeZoho()
    zoho.records = [
        {
            "id": "5725767000000411001",
            "Email": "dee@example.com",
            "First_Name": "Dee",
            "Last_Name": "Ng",
            "Lead_Source": "Trade Show",
            "Modified_Time": "2026-10-01T10:00:00+05:30",
        },
        {
            "id": "5725767000000411002",
            "Email": "eli@example.com",
            "First_Name": "Eli",
            "Last_Name": None,
            "Lead_Source": None,
            "Modified_Time": "2026-10-02T10:00:00+05:30",
        },
    ]
    with runtime.uow() as uow:
        service.create_connection(
            uow.session,
            ConnectionIn(
                name="zoho",
                kind="zoho",
                config={
                    "client_id": "1000.CID",
                    "client_secret": "secret",
                    "refresh_token": "1000.refresh",
                    "accounts_url": "https://accounts.zoho.eu",
                },
            ),
            uow.now(),
        )
        service.confirm_mapping(uow.session, "zoho", uow.now())
    options = HttpOptions(
        transport=httpx.MockTransport(zoho.handler), sleep=lambda _s: None, now=lambda: START
    )
    report = service.sync_connection(runtime.uow, "zoho", options=options)
    assert report.error is None, report.error
    assert report.pulled["contacts"] == 2
    dee = contacts.find_by_email(session, "dee@example.com")
    assert dee is not None and dee.properties["crm_lead_source"] == "Trade Show"
    with runtime.uow() as uow:
        stored = service.connection_data(uow.session, "zoho")
    assert stored.config["api_domain"] == "https://www.zohoapis.eu"
    assert stored.cursor["contacts"] == datetime(2026, 10, 2, 4, 30, tzinfo=UTC).isoformat()

    session.execute(update(Contact).where(Contact.id == dee.id).values(rfm_segment="At Risk"))
    session.flush()
    again = service.sync_connection(runtime.uow, "zoho", options=options)
    assert again.error is None, again.error
    assert zoho.modified_since[-1] == "2026-10-02T04:30:00+00:00"
    assert zoho.puts and zoho.puts[-1][0]["Mailwright_RFM_Segment"] == "At Risk"

    with runtime.uow() as uow:
        service.update_connection(
            uow.session,
            "zoho",
            service.ConnectionPatch(config={"refresh_token": "1000.revoked", "access_token": ""}),
            uow.now(),
        )
    failed = service.sync_connection(runtime.uow, "zoho", options=options)
    assert failed.error is not None and "invalid_code" in failed.error


def test_connections_api_configures_shows_the_mapping_and_syncs(
    client: TestClient, admin_token: str, session: Session, clock: ManualClock
) -> None:
    auth = {"Authorization": f"Bearer {admin_token}"}
    hubspot = FakeHubSpot()
    hubspot.valid_token = "pat-na1-secret-token"
    hubspot.throttle_next_search = False
    hubspot.add("201", "api@example.com", START - timedelta(days=1), firstname="Api")
    bad = client.post(
        "/api/v1/connections", json={"name": "crm", "kind": "hubspot", "config": {}}, headers=auth
    )
    assert bad.status_code == 400 and bad.json()["field"] == "config.token"
    created = client.post(
        "/api/v1/connections",
        json={"name": "crm", "kind": "hubspot", "config": {"token": "pat-na1-secret-token"}},
        headers=auth,
    )
    assert created.status_code == 201, created.text
    assert created.json()["config"]["token"] == "****oken"  # secrets never come back whole
    assert (
        client.post(
            "/api/v1/connections",
            json={"name": "crm", "kind": "hubspot", "config": {"token": "x"}},
            headers=auth,
        ).status_code
        == 409
    )
    mapping = client.get("/api/v1/connections/crm/mapping", headers=auth).json()
    assert {"direction": "pull", "crm_property": "email", "mailwright_field": "email"} in mapping
    refused = client.post("/api/v1/connections/crm/sync", headers=auth)
    assert refused.status_code == 400 and refused.json()["field"] == "field_mapping"
    assert client.post("/api/v1/connections/crm/mapping/confirm", headers=auth).status_code == 200
    with override_http(transport=httpx.MockTransport(hubspot.handler)):
        synced = client.post("/api/v1/connections/crm/sync", headers=auth)
    assert synced.status_code == 200 and synced.json()["error"] is None, synced.text
    assert contacts.find_by_email(session, "api@example.com") is not None
    assert client.delete("/api/v1/connections/crm", headers=auth).status_code == 204
    assert client.get("/api/v1/connections", headers=auth).json() == []
