"""The outbound webhook node's job: a signed POST of the run's contact and trigger, retried with backoff."""

import hashlib
import hmac
import json
from typing import Any

import httpx

from mailwright.contacts import service as contacts
from mailwright.core.errors import NotFound
from mailwright.core.uow import UnitOfWork
from mailwright.flows import repository
from mailwright.flows.models import FlowRun
from mailwright.flows.schemas import WebhookNode

SIGNATURE_HEADER = "X-Mailwright-Signature"
DELIVERY_HEADER = "X-Mailwright-Delivery"
TIMEOUT_SECONDS = 10.0


def sign(secret: str, body: bytes) -> str:
    """The signature header's value: `sha256=` and the hex HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def payload(uow: UnitOfWork, run: FlowRun, flow_name: str, node: WebhookNode) -> dict[str, Any]:
    """What the receiver gets: the flow, the run, the contact and the trigger event."""
    try:
        profile = contacts.get_profile(uow.session, run.contact_id)
        contact: dict[str, Any] = {"id": profile.id, "email": profile.email, "first_name": profile.first_name}
    except NotFound:
        contact = {"id": run.contact_id}
    return {
        "flow": flow_name,
        "flow_id": run.flow_id,
        "version": run.version,
        "run_id": run.id,
        "node_id": node.id,
        "contact": contact,
        "trigger": run.trigger,
        "sent_at": uow.now().isoformat(),
    }


def deliver(uow: UnitOfWork, args: dict[str, Any]) -> None:
    """POST once; a non-2xx answer or a network error raises, so the job runner retries with backoff.

    The delivery id header (`<run>:<node>`) lets the receiver drop a repeat after a lost acknowledgement.
    """
    run = uow.session.get(FlowRun, int(args["run_id"]))
    if run is None:
        return
    flow = repository.load_version(uow.session, int(args["flow_id"]), int(args["version"]))
    node = flow.definition.node_map().get(str(args["node_id"]))
    if not isinstance(node, WebhookNode):
        return
    body = json.dumps(payload(uow, run, flow.name, node), sort_keys=True, default=str).encode()
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(node.secret, body),
        DELIVERY_HEADER: f"{run.id}:{node.id}",
    }
    with httpx.Client(timeout=TIMEOUT_SECONDS) as client:
        response = client.post(node.url, content=body, headers=headers)
    if response.status_code >= 300:
        raise RuntimeError(f"webhook {node.url} answered {response.status_code}")
    repository.insert_history(
        uow.session,
        [
            {
                "run_id": run.id,
                "node_id": node.id,
                "action": "webhook",
                "outcome": "delivered",
                "explanation": f"{node.url} answered {response.status_code}",
                "at": uow.now(),
            }
        ],
    )
