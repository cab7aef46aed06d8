"""A synthetic enterprise topology, built from identical-shaped domains of 500 nodes.

Real topologies are not one tangle: they are business units (here *domains*), each
with a few business services over applications, services, datastores, hosts and a
rack network, plus a little sharing across units. Building the graph domain by
domain keeps ancestor sets (and so the fan-out of one alert) realistic at any size,
and makes node count exactly ``500 * domains``.

Next to the topology document the generator lists *targets*: for every node that
alerts can land on, label sets that satisfy one of its selectors, and which
alerting nodes depend on it (for cascades). Alert generators need nothing else.
"""

import random
from dataclasses import dataclass, field
from typing import Any

DOMAIN_NODES = 500
_HOSTS, _SERVICES, _GROUPS, _RACKS = 200, 170, 40, 13
_APPS, _BUSINESS = 20, 5
_DATASTORES = (
    ("database", 18, "mysqld-exporter", 9104),
    ("cache", 16, "redis-exporter", 9121),
    ("queue", 16, "kafka-exporter", 9308),
)
_WORDS = (
    "cart",
    "checkout",
    "catalog",
    "search",
    "payments",
    "identity",
    "shipping",
    "pricing",
    "orders",
    "inventory",
    "ledger",
    "billing",
    "media",
    "reviews",
)


@dataclass(slots=True)
class Target:
    """A node alerts can be about, and how an alert's labels point at it."""

    node: str
    kind: str
    cluster: str
    namespace: str
    labels: list[dict[str, str]]
    """Alternative identifying label sets, each satisfying one of the node's selectors."""
    pod_prefix: str = ""
    """Set when a ``pod: ~<prefix>-...`` regex selector also picks this node."""
    parents: list[int] = field(default_factory=list)
    """Targets whose nodes need this one (directly or through a group): cascade candidates."""

    def to_json(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "kind": self.kind,
            "cluster": self.cluster,
            "namespace": self.namespace,
            "labels": self.labels,
            "pod_prefix": self.pod_prefix,
            "parents": self.parents,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> "Target":
        return cls(**raw)


@dataclass(slots=True)
class TopologyModel:
    document: dict[str, Any]
    targets: list[Target]


def build_topology(nodes: int, seed: int) -> TopologyModel:
    domains = max(1, round(nodes / DOMAIN_NODES))
    builder = _Builder()
    for domain in range(domains):
        builder.domain(domain, random.Random(f"topology:{seed}:{domain}"))
    _link_parents(builder.nodes, builder.targets)
    name = f"synthetic-{domains * DOMAIN_NODES}"
    return TopologyModel({"version": 1, "name": name, "nodes": builder.nodes}, builder.targets)


class _Builder:
    """Adds one domain at a time, bottom up, so ``depends_on`` only names nodes that exist."""

    def __init__(self) -> None:
        self.nodes: list[dict[str, Any]] = []
        self.targets: list[Target] = []
        self.cluster = ""

    def domain(self, d: int, rng: random.Random) -> None:
        prefix, self.cluster = f"d{d:03d}", f"k8s-{d:03d}"
        namespaces = [f"{word}-{d:03d}" for word in rng.sample(_WORDS, 4)]
        core = self._device(f"{prefix}-core", [])
        racks = [self._device(f"{prefix}-rack-{i:02d}", [core]) for i in range(_RACKS)]
        hosts = [self._host(f"{prefix}-host-{i:03d}", racks[i % _RACKS]) for i in range(_HOSTS)]
        on_hosts = _Dealer(hosts, rng)
        groups = [
            self.add(f"{prefix}-pool-{i:02d}", "group", members=on_hosts.distinct(3), min_healthy=2)
            for i in range(_GROUPS)
        ]
        datastores = [
            self._datastore(f"{prefix}-{kind}-{i:02d}", kind, job, port, placement)
            for kind, count, job, port in _DATASTORES
            for i in range(count)
            for placement in [rng.choice(groups) if rng.random() < 0.5 else on_hosts.one()]
        ]
        instance = f"https://{prefix}-psp.example.net/health"
        external = self.add(
            f"{prefix}-psp",
            "external",
            {"job": "blackbox", "instance": instance},
            name="Payment provider",
        )
        services: list[str] = []
        for i in range(_SERVICES):
            needs = (
                [rng.choice(groups)] if rng.random() < 0.3 else on_hosts.distinct(rng.randint(1, 2))
            )
            needs += rng.sample(datastores, rng.choice((0, 1, 1, 2)))
            needs += [external] if rng.random() < 0.1 else []
            needs += [rng.choice(services)] if services and rng.random() < 0.3 else []  # no cycles
            services.append(
                self._service(f"{prefix}-svc-{i:03d}", rng.choice(namespaces), needs, rng)
            )
        of_services = _Dealer(services, rng)
        apps = [
            self.add(
                f"{prefix}-app-{i:02d}",
                "application",
                {"app": f"{prefix}-app-{i:02d}", "namespace": namespace},
                namespace,
                depends_on=of_services.distinct(rng.randint(7, 12)),
            )
            for i in range(_APPS)
            for namespace in [rng.choice(namespaces)]
        ]
        of_apps = _Dealer(apps, rng)
        for i in range(_BUSINESS):
            needs = of_apps.distinct(rng.randint(4, 6))
            if d and rng.random() < 0.2:
                needs.append(f"d{d - 1:03d}-app-{rng.randrange(_APPS):02d}")
            extra: dict[str, Any] = {
                "criticality": rng.randint(1, 4),
                "depends_on": needs,
                "name": f"{rng.choice(_WORDS).title()} {d}.{i}",
            }
            if rng.random() < 0.5:
                extra["revenue_per_hour"] = rng.randrange(1_000, 50_000, 500)
            check = {"check": f"{prefix}-bs-{i}"} if rng.random() < 0.4 else None
            self.add(f"{prefix}-bs-{i}", "business_service", check, **extra)

    def add(
        self,
        node_id: str,
        kind: str,
        match: dict[str, str] | None = None,
        namespace: str = "",
        **fields: Any,
    ) -> str:
        """A node; with ``match``, also a target whose alerts carry exactly those labels."""
        self.nodes.append({"id": node_id, "kind": kind, **fields})
        if match is not None:
            self.nodes[-1]["match"] = match
            self.targets.append(Target(node_id, kind, self.cluster, namespace, [match]))
        return node_id

    def _device(self, node_id: str, uplinks: list[str]) -> str:
        self.add(node_id, "network", {"device": node_id}, depends_on=uplinks)
        self.targets[-1].labels[0] = {"device": node_id, "job": "snmp"}
        return node_id

    def _host(self, node_id: str, rack: str) -> str:
        self.add(node_id, "host", depends_on=[rack])
        self.nodes[-1]["match"] = [{"instance": f"{node_id}:9100"}, {"node": node_id}]
        labels = [
            {"instance": f"{node_id}:9100", "job": "node-exporter"},
            {"node": node_id, "job": "kube-state-metrics"},
        ]
        self.targets.append(Target(node_id, "host", self.cluster, "", labels))
        return node_id

    def _datastore(self, node_id: str, kind: str, job: str, port: int, placement: str) -> str:
        match = {"job": job, "instance": f"{node_id}:{port}"}
        return self.add(node_id, kind, match, depends_on=[placement])

    def _service(self, node_id: str, namespace: str, needs: list[str], rng: random.Random) -> str:
        match = {"namespace": namespace, "service": node_id}
        self.add(
            node_id,
            "service",
            match,
            namespace,
            depends_on=needs,
            owner=f"team-{namespace}",
            description=f"{node_id} in {namespace}",
        )
        if rng.random() < 0.2:  # kube-state-metrics alerts name only the pod
            pods = {"namespace": namespace, "pod": f"~{node_id}-[0-9a-f]{{6,10}}-[0-9a-z]{{5}}"}
            self.nodes[-1]["match"] = [match, pods]
            self.targets[-1].pod_prefix = node_id
        return node_id


class _Dealer:
    """Hands out items in shuffled rounds, so every one is used before any is used twice."""

    def __init__(self, items: list[str], rng: random.Random) -> None:
        self._items, self._rng, self._hand = items, rng, list[str]()

    def one(self) -> str:
        if not self._hand:
            self._hand = self._rng.sample(self._items, len(self._items))
        return self._hand.pop()

    def distinct(self, count: int) -> list[str]:
        dealt: list[str] = []
        while len(dealt) < min(count, len(self._items)):
            item = self.one()
            if item not in dealt:
                dealt.append(item)
        return dealt


def _link_parents(nodes: list[dict[str, Any]], targets: list[Target]) -> None:
    """Cascades climb from a failing node to what needs it; groups pass failure through."""
    position = {target.node: index for index, target in enumerate(targets)}
    dependents: dict[str, list[str]] = {}
    for node in nodes:
        for need in (*node.get("depends_on", ()), *node.get("members", ())):
            dependents.setdefault(need, []).append(node["id"])
    for target in targets:
        found: list[int] = []
        for parent in dependents.get(target.node, ()):
            if parent in position:
                found.append(position[parent])
            else:  # a group: its dependents are the ones that feel it
                found += [position[p] for p in dependents.get(parent, ()) if p in position]
        target.parents = sorted(set(found))
