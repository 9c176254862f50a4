"""Invariants of the save-time checks, on random graphs (Hypothesis)."""

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailwright.flows.schemas import WAIT_TYPES, FlowDefinition, successors
from mailwright.flows.validation import nodes_on_cycles, validate

pytestmark = pytest.mark.nodb

IDS = [f"n{i}" for i in range(6)]


@st.composite
def graphs(draw: st.DrawFn) -> dict[str, Any]:
    count = draw(st.integers(min_value=1, max_value=6))
    ids = IDS[:count]
    target = st.sampled_from([*ids, "missing"])
    nodes: list[dict[str, Any]] = []
    for node_id in ids:
        kind = draw(st.sampled_from(["send", "wait", "condition", "exit", "tag"]))
        if kind == "send":
            nodes.append(
                {"id": node_id, "type": "send_email", "template": "t", "next": draw(st.none() | target)}
            )
        elif kind == "wait":
            nodes.append({"id": node_id, "type": "wait", "hours": 1, "next": draw(target)})
        elif kind == "condition":
            nodes.append(
                {
                    "id": node_id,
                    "type": "condition",
                    "condition": {"type": "ordered_since_start"},
                    "yes": draw(target),
                    "no": draw(target),
                }
            )
        elif kind == "tag":
            nodes.append(
                {"id": node_id, "type": "update_profile", "add_tags": ["x"], "next": draw(st.none() | target)}
            )
        else:
            nodes.append({"id": node_id, "type": "exit"})
    return {"trigger": {"type": "api"}, "start": draw(st.sampled_from(ids)), "nodes": nodes}


@settings(max_examples=300, deadline=None)
@given(graphs())
def test_an_accepted_graph_has_no_dangling_edge_no_stranded_node_and_waits_on_every_loop(
    data: dict[str, Any],
) -> None:
    report = validate(data, template_exists=lambda name: name == "t")
    definition = FlowDefinition.model_validate(data)
    nodes = definition.node_map()
    edges = [(n.id, t) for n in definition.nodes for _, t in successors(n)]
    if not report.ok:
        assert all(issue.field for issue in report.issues)
        return
    assert all(t in nodes for _, t in edges)
    reached, stack = {definition.start}, [definition.start]
    while stack:
        for _, t in successors(nodes[stack.pop()]):
            if t not in reached:
                reached.add(t)
                stack.append(t)
    assert reached == set(nodes)
    # No run can come back to a node without passing a wait: no cycle among the other nodes.
    for node_id in nodes_on_cycles(definition) - {n for n in nodes if nodes[n].type in WAIT_TYPES}:
        seen: set[str] = set()
        stack = [t for _, t in successors(nodes[node_id]) if nodes[t].type not in WAIT_TYPES]
        while stack:
            current = stack.pop()
            assert current != node_id, f"loop without a wait through {node_id}"
            if current not in seen:
                seen.add(current)
                stack.extend(t for _, t in successors(nodes[current]) if nodes[t].type not in WAIT_TYPES)
