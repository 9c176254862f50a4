import base64
import itertools
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from mailwright.contacts import service as contacts
from mailwright.core.runtime import Runtime

_ids = itertools.count(1)


def auth(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


@pytest.fixture
def make_contact(client: TestClient, write_key: str, runtime: Runtime) -> Callable[..., int]:
    """Create a contact through the Segment identify API; returns its id."""

    def make(email: str, **traits: object) -> int:
        n = next(_ids)
        r = client.post(
            "/v1/identify",
            headers=auth(write_key),
            json={
                "userId": f"tpl-{n}-{email}",
                "messageId": f"tpl-m-{n}-{email}",
                "timestamp": "2026-11-01T10:00:00Z",
                "traits": {"email": email, "subscribed": True, **traits},
            },
        )
        assert r.status_code == 200, r.text
        with runtime.uow() as uow:
            found = contacts.find_by_email(uow.session, email)
            assert found is not None
            return found.id

    return make
