"""Impact propagation: node health flows from alerting nodes up ``depends_on`` to business services.

A node is as bad as the worst of its own alerts and of everything it needs. A group
is different: it is the redundancy of its members, so it stays merely *degraded*
while at least ``min_healthy`` members are not down, and goes *down* only when fewer
are left.
"""

from collections.abc import Mapping
from dataclasses import dataclass

from correlator.health import Health, worst
from correlator.topology import Kind, Node, Topology


@dataclass(frozen=True, slots=True)
class Propagation:
    status: Health
    """The business service's health."""
    affected: tuple[str, ...]
    """Every node between the alerting ones and the business service that is not ok, sorted."""


def propagate(
    topology: Topology, business_service: str, alerting: Mapping[str, Health]
) -> Propagation:
    """Health of ``business_service`` given the health its alerts give to some nodes."""
    reach: set[str] = set()
    for node_id in alerting:
        reach.add(node_id)
        reach |= topology.ancestors(node_id)
    health = _evaluate(topology, business_service, alerting, reach)
    affected = tuple(sorted(n for n, h in health.items() if h is not Health.OK))
    return Propagation(health.get(business_service, Health.OK), affected)


def _evaluate(
    topology: Topology, root: str, alerting: Mapping[str, Health], reach: set[str]
) -> dict[str, Health]:
    """Post-order walk from ``root`` over nodes in ``reach``; a cycle back-edge counts as ok."""
    health: dict[str, Health] = {}
    on_path: set[str] = set()
    stack: list[tuple[str, bool]] = [(root, False)]
    while stack:
        node_id, children_done = stack.pop()
        if node_id in health:
            continue
        node = topology.nodes[node_id]
        if children_done:
            on_path.discard(node_id)
            health[node_id] = _health(node, alerting.get(node_id, Health.OK), health)
            continue
        on_path.add(node_id)
        stack.append((node_id, True))
        stack.extend(
            (need, False)
            for need in node.needs
            if need in reach and need not in health and need not in on_path
        )
    return health


def _health(node: Node, own: Health, known: Mapping[str, Health]) -> Health:
    result = own
    for dependency in node.depends_on:
        result = worst(result, known.get(dependency, Health.OK))
    if node.kind is Kind.GROUP:
        result = worst(result, _group_health(node, known))
    return result


def _group_health(group: Node, known: Mapping[str, Health]) -> Health:
    states = [known.get(member, Health.OK) for member in group.members]
    standing = sum(1 for state in states if state is not Health.DOWN)
    if standing < group.min_healthy:
        return Health.DOWN
    return Health.DEGRADED if any(state is not Health.OK for state in states) else Health.OK
