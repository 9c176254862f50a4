"""Bad definitions are refused with the path of the offending node, through the service and the API."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from mailwright.core.errors import InvalidInput
from mailwright.core.runtime import Runtime
from mailwright.segments import service
from mailwright.segments.schemas import SegmentIn, SegmentUpdate
from mailwright.segments.validation import parse_definition

SUBSCRIBED = {"type": "consent", "statuses": ["subscribed"]}


def tree(root: dict[str, Any]) -> dict[str, Any]:
    return {"version": 1, "root": root}


def three(third: dict[str, Any]) -> dict[str, Any]:
    return tree({"type": "and", "conditions": [SUBSCRIBED, SUBSCRIBED, third]})


BAD: list[tuple[str, dict[str, Any], str]] = [
    (
        "numeric operator on a text column",
        three({"type": "property", "field": "email", "operator": "gt", "value": 3}),
        "root.conditions[2].operator",
    ),
    (
        "unknown field in a node",
        three({"type": "consent", "statuses": ["subscribed"], "status": "x"}),
        "root.conditions[2].status",
    ),
    (
        "unknown profile field",
        three({"type": "property", "field": "shoe_size", "operator": "eq", "value": 3}),
        "root.conditions[2].field",
    ),
    (
        "a word where a number belongs",
        three({"type": "property", "field": "order_count", "operator": "gte", "value": "many"}),
        "root.conditions[2].value",
    ),
    (
        "a list where a date belongs",
        three({"type": "property", "field": "last_order_at", "operator": "before", "value": [1]}),
        "root.conditions[2].value",
    ),
    (
        "is_set with a value",
        three({"type": "property", "field": "city", "operator": "is_set", "value": "x"}),
        "root.conditions[2].value",
    ),
    ("unknown node type", three({"type": "telepathy"}), "root.conditions[2].type"),
    (
        "unknown consent status",
        tree({"type": "not", "condition": {"type": "consent", "statuses": ["maybe"]}}),
        "root.condition.statuses[0]",
    ),
    (
        "bad count operator inside a filter",
        tree(
            {
                "type": "performed",
                "event": "Product Viewed",
                "where": [{"property": "category", "operator": "matches", "value": "x"}],
            }
        ),
        "root.where[0].operator",
    ),
    (
        "at least zero times",
        tree({"type": "performed", "event": "Product Viewed", "count": 0}),
        "root.count",
    ),
    ("empty and", tree({"type": "and", "conditions": []}), "root.conditions"),
    ("unknown RFM name", tree({"type": "rfm_segment", "segments": ["Whales"]}), "root.segments[0]"),
    ("wrong version", {"version": 9, "root": SUBSCRIBED}, "version"),
    ("ordered needs one target", tree({"type": "ordered"}), "root"),
    ("bucket range", tree({"type": "random_bucket", "seed": 1, "from_pct": 50, "to_pct": 10}), "root.to_pct"),
    ("country code", tree({"type": "location", "field": "country", "values": ["Germany"]}), "root.values"),
]


@pytest.mark.parametrize(("label", "definition", "path"), BAD, ids=[b[0] for b in BAD])
def test_invalid_definitions_name_the_offending_path(
    label: str, definition: dict[str, Any], path: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_definition(definition)
    assert caught.value.field == path, caught.value.message
    assert path in caught.value.message


def test_a_reference_to_a_missing_segment_is_refused(runtime: Runtime) -> None:
    with runtime.uow() as uow, pytest.raises(InvalidInput) as caught:
        service.create_segment(
            uow,
            SegmentIn(name="x", definition=tree({"type": "segment_membership", "segment_id": 999})),
            runtime.settings,
        )
    assert caught.value.field == "root.segment_id"


def test_a_cycle_of_segments_is_refused_with_the_path_and_nothing_changes(runtime: Runtime) -> None:
    with runtime.uow() as uow:
        a = service.create_segment(
            uow, SegmentIn(name="A", definition=tree(SUBSCRIBED)), runtime.settings
        ).segment
        b = service.create_segment(
            uow,
            SegmentIn(name="B", definition=tree({"type": "segment_membership", "segment_id": a.id})),
            runtime.settings,
        ).segment
        c = service.create_segment(
            uow,
            SegmentIn(
                name="C",
                definition=tree(
                    {
                        "type": "or",
                        "conditions": [SUBSCRIBED, {"type": "segment_membership", "segment_id": b.id}],
                    }
                ),
            ),
            runtime.settings,
        ).segment
    cyclic = tree(
        {"type": "and", "conditions": [SUBSCRIBED, {"type": "segment_membership", "segment_id": c.id}]}
    )
    with pytest.raises(InvalidInput) as caught, runtime.uow() as uow:
        service.update_segment(uow, a.id, SegmentUpdate(definition=cyclic), runtime.settings)
    assert caught.value.field == "root.conditions[1].segment_id"
    assert "cycle" in caught.value.message
    with runtime.uow() as uow:
        assert service.get_segment(uow.session, a.id).definition == tree(SUBSCRIBED)
    # A segment may not refer to itself either.
    with pytest.raises(InvalidInput), runtime.uow() as uow:
        service.update_segment(
            uow,
            a.id,
            SegmentUpdate(definition=tree({"type": "segment_membership", "segment_id": a.id})),
            runtime.settings,
        )


def test_the_api_answers_400_with_the_path(client: TestClient, admin_token: str) -> None:
    response = client.post(
        "/api/v1/segments",
        headers={"Authorization": f"Bearer {admin_token}"},
        json={
            "name": "broken",
            "definition": three({"type": "property", "field": "email", "operator": "gt", "value": 3}),
        },
    )
    assert response.status_code == 400
    problem = response.json()
    assert problem["field"] == "root.conditions[2].operator"
    assert "root.conditions[2].operator" in problem["detail"]
