"""Impact propagation: node health flows from alerting nodes up ``depends_on`` to business services.

A node is as bad as the worst of its own alerts and of everything it needs. A group
is different: it is the redundancy of its members, so it stays merely *degraded*
while at least ``min_healthy`` members are not down, and goes *down* only when fewer
are left.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import networkx as nx

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
    """Health of ``business_service`` given the health its alerts give to some nodes.

    Not memoised on ``alerting``: a hit saves less than the cache's garbage collection costs.
    """
    order = _layers(topology, business_service)
    if order is None:
        return _walk(topology, business_service, alerting)
    return _spans(topology, business_service, alerting, order)


def _spans(
    topology: Topology,
    business_service: str,
    alerting: Mapping[str, Health],
    order: Mapping[str, int],
) -> Propagation:
    """Propagation below a business service with no cycle and no unsatisfiable group.

    There a node is not ok exactly when a hurting alert sits on it or below it, so the
    affected nodes are the union of each hurting node's span (the nodes between it and
    the business service), and the status is the worst hurting health unless a group
    on the way holds a *down* back to degraded. Equal to ``_walk``, which a test checks.
    """
    spans = []
    down = []
    falls = False
    for node_id, health in alerting.items():
        if health is Health.OK:
            continue
        span = _span(topology, node_id, business_service)
        if not span.nodes:
            continue
        spans.append(span)
        if health is Health.DOWN:
            down.append(span)
            falls = falls or span.falls
    if not spans:
        return Propagation(Health.OK, ())
    if falls or (len(down) > 1 and _falls(topology, business_service, down, order)):
        status = Health.DOWN
    else:
        status = Health.DEGRADED
    if len(spans) == 1:
        return Propagation(status, spans[0].ordered)
    return Propagation(status, tuple(sorted(set().union(*(span.nodes for span in spans)))))


class _Span(NamedTuple):
    node: str
    nodes: frozenset[str]
    """The node, the business service and every node between them; empty if not below."""
    ordered: tuple[str, ...]
    """``nodes``, sorted."""
    falls: bool
    """A *down* of this node alone takes the business service down."""


@lru_cache(maxsize=1 << 16)
def _span(topology: Topology, node_id: str, business_service: str) -> _Span:
    order = _layers(topology, business_service)
    assert order is not None, "spans are only taken below acyclic business services"
    if node_id not in order:
        return _Span(node_id, frozenset(), (), False)
    nodes = frozenset(order.keys() & (topology.ancestors(node_id) | {node_id}))
    alone = _Span(node_id, nodes, tuple(sorted(nodes)), False)
    return alone._replace(falls=_falls(topology, business_service, [alone], order))


def _falls(
    topology: Topology, business_service: str, down: list[_Span], order: Mapping[str, int]
) -> bool:
    """Whether these nodes down take the business service down: at once when no group
    stands in the way, else layer by layer, as a group falls when too few members stand."""
    region = frozenset().union(*(span.nodes for span in down))
    if not any(topology.nodes[node_id].kind is Kind.GROUP for node_id in region):
        return True
    nodes = topology.nodes
    fallen = {span.node for span in down}
    for node_id in sorted(region, key=order.__getitem__):
        node = nodes[node_id]
        if node_id in fallen or not fallen.isdisjoint(node.depends_on):
            fallen.add(node_id)
        elif node.kind is Kind.GROUP:
            lost = sum(1 for member in node.members if member in fallen)
            if len(node.members) - lost < node.min_healthy:
                fallen.add(node_id)
    return business_service in fallen


@lru_cache(maxsize=1 << 10)
def _layers(topology: Topology, business_service: str) -> Mapping[str, int] | None:
    """Positions of the nodes below, each after everything it needs; None where ``_spans``
    does not hold: a cycle, or a node that is not ``_plain``.

    One depth-first search from the business service gives both: the order in which
    it finishes nodes is such an order, and an edge back to a node it has not
    finished closes a cycle. A subgraph view costs about twenty times as much.
    """
    finished: list[str] = []
    open_: set[str] = set()
    for _, node_id, label in nx.dfs_labeled_edges(topology.graph, business_service):
        if label == "forward":
            open_.add(node_id)
        elif label == "reverse":
            open_.discard(node_id)
            finished.append(node_id)
        elif node_id in open_:
            return None
    if not all(_plain(topology.nodes[node_id]) for node_id in finished):
        return None
    return {node_id: position for position, node_id in enumerate(finished)}


def _plain(node: Node) -> bool:
    """Members only on groups, and never more required healthy than there are."""
    if node.kind is Kind.GROUP:
        return node.min_healthy <= len(node.members)
    return not node.members


def _walk(topology: Topology, business_service: str, alerting: Mapping[str, Health]) -> Propagation:
    ranks = {node_id: RANK[health] for node_id, health in alerting.items()}
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
