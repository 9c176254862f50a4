"""Save-time checks of a flow definition: shape, dangling edges, unreachable nodes, loops, templates."""

from collections.abc import Callable, Iterable
from typing import Any

from pydantic import ValidationError

from mailwright.flows.schemas import (
    NODE_TYPES,
    TRIGGER_TYPES,
    WAIT_TYPES,
    FlowDefinition,
    RandomSplitNode,
    SendEmailNode,
    ValidationIssue,
    ValidationReport,
    successors,
)
from mailwright.segments.schemas import first_error

# The discriminated unions add the chosen `type` to an error's location; the user never wrote it.
_TAGS = {"nodes": NODE_TYPES, "trigger": TRIGGER_TYPES}


def _clean(loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    out: list[int | str] = []
    for i, part in enumerate(loc):
        before = loc[i - 1] if i else None
        if isinstance(part, str) and (
            (before == "trigger" and part in _TAGS["trigger"])
            or (isinstance(before, int) and i >= 2 and loc[i - 2] == "nodes" and part in _TAGS["nodes"])
        ):
            continue
        out.append(part)
    return tuple(out)


def parse_definition(data: dict[str, Any]) -> tuple[FlowDefinition | None, list[ValidationIssue]]:
    """The typed definition, or the shape errors with the path of each (`nodes[2].template`)."""
    try:
        return FlowDefinition.model_validate(data), []
    except ValidationError as exc:
        _, _, errors = first_error(exc)
        cleaned = [_clean(tuple(e["loc"])) for e in exc.errors()]
        for error, loc in zip(errors, cleaned, strict=True):
            if loc and loc[0] in ("nodes", "trigger"):
                error["field"] = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
        issues = []
        nodes = data.get("nodes") if isinstance(data, dict) else None
        for error in errors:
            field = error["field"]
            node_id = None
            if field.startswith("nodes[") and isinstance(nodes, list):
                index = int(field[len("nodes[") : field.index("]")])
                if index < len(nodes) and isinstance(nodes[index], dict):
                    node_id = nodes[index].get("id")
            issues.append(ValidationIssue(field=field, message=error["message"], node=node_id))
        return None, issues


def check_graph(
    definition: FlowDefinition, template_exists: Callable[[str], bool] | None = None
) -> list[ValidationIssue]:
    """Graph checks: duplicate ids, dangling edges, unreachable nodes, send nodes, loops without a wait."""
    issues: list[ValidationIssue] = []
    nodes: dict[str, Any] = {}
    for index, node in enumerate(definition.nodes):
        if node.id in nodes:
            issues.append(
                ValidationIssue(
                    field=f"nodes[{index}].id", message=f"node id {node.id!r} is used twice", node=node.id
                )
            )
        nodes[node.id] = node
    if definition.start not in nodes:
        issues.append(
            ValidationIssue(field="start", message=f"start node {definition.start!r} does not exist")
        )
    for index, node in enumerate(definition.nodes):
        for edge, target in successors(node):
            if target not in nodes:
                issues.append(
                    ValidationIssue(
                        field=f"nodes[{index}].{edge}",
                        message=f"node {node.id!r} points to {target!r}, which does not exist (dangling edge)",
                        node=node.id,
                    )
                )
        if isinstance(node, SendEmailNode):
            issues.extend(_check_send(index, node, template_exists))
        if isinstance(node, RandomSplitNode) and node.mode == "thompson":
            issues.extend(_check_thompson(index, node))
    if definition.start in nodes:
        reached = _reachable(definition.start, nodes)
        for index, node in enumerate(definition.nodes):
            if node.id not in reached:
                issues.append(
                    ValidationIssue(
                        field=f"nodes[{index}]",
                        message=f"node {node.id!r} is unreachable from the start node",
                        node=node.id,
                    )
                )
    issues.extend(_loops_without_wait(definition, nodes))
    return issues


def _check_send(
    index: int, node: SendEmailNode, template_exists: Callable[[str], bool] | None
) -> Iterable[ValidationIssue]:
    names = [node.template] if node.template else []
    names += [v.template for v in node.variants]
    if not names:
        yield ValidationIssue(
            field=f"nodes[{index}].template", message=f"send node {node.id!r} has no template", node=node.id
        )
        return
    if template_exists is None:
        return
    for name in names:
        if not template_exists(name):
            yield ValidationIssue(
                field=f"nodes[{index}].template",
                message=f"send node {node.id!r} uses unknown template {name!r}",
                node=node.id,
            )


def _check_thompson(index: int, node: RandomSplitNode) -> Iterable[ValidationIssue]:
    # A bandit moves traffic between branches, so a holdout would no longer be a fixed random share;
    # and its history names each branch by its label, which must tell the branches apart.
    seen: set[str] = set()
    for position, branch in enumerate(node.branches):
        field = f"nodes[{index}].branches[{position}]"
        if branch.holdout:
            yield ValidationIssue(
                field=f"{field}.holdout",
                message=f"thompson split {node.id!r} cannot have a holdout branch; "
                "keep the holdout in a fixed split before it",
                node=node.id,
            )
        label = branch.label or branch.next
        if label in seen:
            yield ValidationIssue(
                field=f"{field}.label",
                message=f"thompson split {node.id!r} has two branches labelled {label!r}; "
                "give each branch its own label",
                node=node.id,
            )
        seen.add(label)


def _reachable(start: str, nodes: dict[str, Any]) -> set[str]:
    seen = {start}
    stack = [start]
    while stack:
        for _, target in successors(nodes[stack.pop()]):
            if target in nodes and target not in seen:
                seen.add(target)
                stack.append(target)
    return seen


def nodes_on_cycles(definition: FlowDefinition) -> frozenset[str]:
    """Ids of the nodes a run can visit more than once (a reminder loop through a wait)."""
    nodes = definition.node_map()
    return frozenset(
        node_id
        for node_id, node in nodes.items()
        if any(node_id in _reachable(target, nodes) for _, target in successors(node) if target in nodes)
    )


def _loops_without_wait(definition: FlowDefinition, nodes: dict[str, Any]) -> list[ValidationIssue]:
    # A cycle among non-wait nodes would spin a run forever in one step: find one with a DFS on the
    # graph restricted to non-wait nodes (a cycle through a wait node is a legitimate reminder loop).
    graph = {
        node_id: [t for _, t in successors(n) if t in nodes and nodes[t].type not in WAIT_TYPES]
        for node_id, n in nodes.items()
        if n.type not in WAIT_TYPES
    }
    state: dict[str, int] = {}
    issues: list[ValidationIssue] = []
    reported: set[str] = set()
    for root in graph:
        if state.get(root):
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        path: list[str] = []
        while stack:
            node_id, i = stack.pop()
            if i == 0:
                state[node_id] = 1
                path.append(node_id)
            targets = graph[node_id]
            if i < len(targets):
                stack.append((node_id, i + 1))
                target = targets[i]
                if state.get(target) == 1:
                    cycle = path[path.index(target) :]
                    if not reported & set(cycle):
                        reported.update(cycle)
                        index = next(k for k, n in enumerate(definition.nodes) if n.id == target)
                        issues.append(
                            ValidationIssue(
                                field=f"nodes[{index}]",
                                message="loop without a wait: " + " -> ".join([*cycle, target]),
                                node=target,
                            )
                        )
                elif not state.get(target):
                    stack.append((target, 0))
            else:
                state[node_id] = 2
                path.pop()
    return issues


def validate(data: dict[str, Any], template_exists: Callable[[str], bool] | None = None) -> ValidationReport:
    """Every save-time check; `ok` only when there is no issue."""
    definition, issues = parse_definition(data)
    if definition is not None:
        issues = check_graph(definition, template_exists)
    return ValidationReport(ok=not issues, issues=issues)
