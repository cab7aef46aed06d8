"""Impact propagation: node health flows from alerting nodes up ``depends_on`` to business services.

A node is as bad as the worst of its own alerts and of everything it needs. A group
is different: it is the redundancy of its members, so it stays merely *degraded*
while at least ``min_healthy`` members are not down, and goes *down* only when fewer
are left.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from correlator.health import BY_RANK, RANK, Health
from correlator.topology import Kind, Node, Topology

_OK, _DEGRADED, _DOWN = (RANK[health] for health in BY_RANK)


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
    return _propagate(topology, business_service, frozenset(alerting.items()))


@lru_cache(maxsize=1 << 16)
def _propagate(
    topology: Topology, business_service: str, alerting: frozenset[tuple[str, Health]]
) -> Propagation:
    """Memoised: in a storm many alerts land on nodes already alerting, changing nothing here.

    Keyed on the topology object itself, which is immutable; a replaced topology's
    entries age out of the cache.
    """
    ranks = {node_id: RANK[health] for node_id, health in alerting}
    reach: set[str] = set(ranks)
    for node_id in ranks:
        reach |= topology.ancestors(node_id)
    ranked = _evaluate(topology, business_service, ranks, reach)
    affected = tuple(sorted(n for n, rank in ranked.items() if rank))
    return Propagation(BY_RANK[ranked.get(business_service, _OK)], affected)


def _evaluate(
    topology: Topology, root: str, alerting: Mapping[str, int], reach: set[str]
) -> dict[str, int]:
    """Post-order walk from ``root`` over nodes in ``reach``; a cycle back-edge counts as ok.

    Health is an int rank here (ok 0, degraded 1, down 2): this is the hot loop.
    """
    ranks: dict[str, int] = {}
    on_path: set[str] = set()
    stack: list[tuple[str, bool]] = [(root, False)]
    nodes = topology.nodes
    while stack:
        node_id, children_done = stack.pop()
        if node_id in ranks:
            continue
        node = nodes[node_id]
        if children_done:
            on_path.discard(node_id)
            ranks[node_id] = _rank(node, alerting.get(node_id, _OK), ranks)
            continue
        on_path.add(node_id)
        stack.append((node_id, True))
        for need in node.needs:
            if need in reach and need not in ranks and need not in on_path:
                stack.append((need, False))
    return ranks


def _rank(node: Node, own: int, known: Mapping[str, int]) -> int:
    rank = own
    for dependency in node.depends_on:
        found = known.get(dependency, _OK)
        if found > rank:
            rank = found
    if node.kind is Kind.GROUP:
        rank = max(rank, _group_rank(node, known))
    return rank


def _group_rank(group: Node, known: Mapping[str, int]) -> int:
    ranks = [known.get(member, _OK) for member in group.members]
    standing = sum(1 for rank in ranks if rank < _DOWN)
    if standing < group.min_healthy:
        return _DOWN
    return _DEGRADED if any(ranks) else _OK
