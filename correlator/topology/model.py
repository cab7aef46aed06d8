"""The loaded service topology: nodes, their dependency graph, and the questions asked of it.

A ``Topology`` is immutable once built. Edges run from a node to what it needs
(``depends_on`` and a group's ``members``), so failure flows against the edges:
from a dependency up to the nodes that depend on it, and on to business services.
"""

from collections.abc import Callable, Iterator, Mapping
from enum import StrEnum
from functools import lru_cache
from typing import NamedTuple

import networkx as nx

from correlator.topology.selectors import Selector, SelectorIndex

_CACHE_SIZE = 1 << 14


class Kind(StrEnum):
    BUSINESS_SERVICE = "business_service"
    APPLICATION = "application"
    SERVICE = "service"
    DATABASE = "database"
    CACHE = "cache"
    QUEUE = "queue"
    HOST = "host"
    NETWORK = "network"
    EXTERNAL = "external"
    GROUP = "group"


class Node(NamedTuple):
    """Immutable; a named tuple because a 100,000-node topology builds 100,000 of them
    (a frozen dataclass's ``__init__`` costs four times as much)."""

    id: str
    kind: Kind
    name: str
    depends_on: tuple[str, ...] = ()
    members: tuple[str, ...] = ()
    min_healthy: int = 1
    """For groups: members that must be healthy for the group to be merely degraded."""
    criticality: int | None = None
    revenue_per_hour: float | None = None
    selectors: tuple[Selector, ...] = ()
    description: str = ""
    owner: str = ""

    @property
    def needs(self) -> tuple[str, ...]:
        """Every node whose failure flows up to this one."""
        return self.depends_on + self.members


class Topology:
    def __init__(self, name: str, version: str, nodes: Mapping[str, Node]) -> None:
        self.name = name
        self.version = version
        """``name@<content hash>``: carried by every impact event."""
        self.nodes = nodes
        self.graph = nx.DiGraph()
        self.graph.add_nodes_from(nodes)
        self.graph.add_edges_from((node.id, need) for node in nodes.values() for need in node.needs)
        self._index = SelectorIndex(
            (node.id, selector) for node in nodes.values() for selector in node.selectors
        )
        self.ancestors: Callable[[str], frozenset[str]] = lru_cache(_CACHE_SIZE)(self._ancestors)
        self.business_services_of: Callable[[str], tuple[str, ...]] = lru_cache(_CACHE_SIZE)(
            self._business_services_of
        )
        self.path: Callable[[str, str], tuple[str, ...]] = lru_cache(_CACHE_SIZE)(self._path)
        self.dependents: Callable[[str], frozenset[str]] = lru_cache(_CACHE_SIZE)(self._dependents)
        self.relatives: Callable[[str], frozenset[str]] = lru_cache(_CACHE_SIZE)(self._relatives)
        """Nodes whose alerts may join an incident with this node's: one needs the other,
        directly or not, or some node directly needs both."""
        self._matched: Callable[[tuple[tuple[str, str], ...]], str | None] = lru_cache(_CACHE_SIZE)(
            self._match
        )

    def __len__(self) -> int:
        return len(self.nodes)

    def match(self, labels: Mapping[str, str]) -> str | None:
        """The node an alert with these labels is about, if any.

        Memoised on the label pairs: every state change of an alert asks again, and the
        answer does not depend on their order (the most specific selector wins).
        """
        return self._matched(tuple(labels.items()))

    def _match(self, items: tuple[tuple[str, str], ...]) -> str | None:
        return self._index.match(dict(items))

    def business_services(self) -> Iterator[Node]:
        return (node for node in self.nodes.values() if node.kind is Kind.BUSINESS_SERVICE)

    def cycles(self) -> list[list[str]]:
        """One dependency cycle from each strongly connected part (legal; shown as a warning)."""
        found = []
        for component in nx.strongly_connected_components(self.graph):
            if len(component) > 1 or any(self.graph.has_edge(n, n) for n in component):
                edges = nx.find_cycle(self.graph.subgraph(component))
                found.append([edge[0] for edge in edges] + [edges[-1][1]])
        return sorted(found)

    def _relatives(self, node_id: str) -> frozenset[str]:
        """The node, every node that needs it or that it needs (directly or not), and
        every node needed directly by one of the nodes that need it directly (siblings)."""
        siblings = {
            need for parent in self.dependents(node_id) for need in self.nodes[parent].needs
        }
        descendants: set[str] = nx.descendants(self.graph, node_id)
        return self.ancestors(node_id) | descendants | siblings | {node_id}

    def _dependents(self, node_id: str) -> frozenset[str]:
        """The nodes that directly need this one."""
        return frozenset(self.graph.predecessors(node_id))

    def _ancestors(self, node_id: str) -> frozenset[str]:
        """Every node that needs this one, directly or not."""
        return frozenset(nx.ancestors(self.graph, node_id))

    def _business_services_of(self, node_id: str) -> tuple[str, ...]:
        """The business services whose health this node can affect, itself included."""
        reach = self.ancestors(node_id) | {node_id}
        return tuple(sorted(n for n in reach if self.nodes[n].kind is Kind.BUSINESS_SERVICE))

    def _path(self, node_id: str, business_service: str) -> tuple[str, ...]:
        """Node ids from ``node_id`` up to ``business_service`` along a shortest dependency path."""
        down = nx.shortest_path(self.graph, business_service, node_id)
        return tuple(reversed(down))
