"""``correlator topology show`` output: the overview and one node's dependency tree."""

import re

import orjson
import pytest

from correlator.topology import Topology, parse_topology
from correlator.topology.render import dependency_tree, overview

SHOP = b"""\
version: 1
name: shop
nodes:
  - id: checkout
    kind: business_service
    name: Checkout
    criticality: 1
    revenue_per_hour: 12000
    depends_on: [frontend, checkoutservice]
  - {id: browse, kind: business_service, name: Browse, criticality: 3, depends_on: [frontend]}
  - {id: frontend, kind: application, depends_on: [cartservice]}
  - {id: checkoutservice, kind: service, depends_on: [cartservice, payments-db]}
  - {id: cartservice, kind: service, depends_on: [redis-cart, cart-replicas]}
  - {id: redis-cart, kind: cache}
  - {id: cart-replicas, kind: group, members: [cart-0, cart-1, cart-2], min_healthy: 2}
  - {id: cart-0, kind: host}
  - {id: cart-1, kind: host}
  - {id: cart-2, kind: host}
  - {id: payments-db, kind: database}
  - {id: batch-job, kind: application, depends_on: [payments-db]}
  - {id: a, kind: service, depends_on: [b]}
  - {id: b, kind: service, depends_on: [c]}
  - {id: c, kind: service, depends_on: [a, cart-0]}
"""


@pytest.fixture(scope="module")
def shop() -> Topology:
    return parse_topology(SHOP, "shop.yaml")


def test_overview_counts_nodes_by_kind(shop: Topology) -> None:
    text = overview(shop)

    assert text.splitlines()[0] == f"topology shop  version {shop.version}"
    assert "15 nodes, 16 dependencies" in text
    counts = dict(re.findall(r"^  ([a-z_]+) +(\d+)$", text, flags=re.MULTILINE))
    assert counts == {
        "business_service": "2",
        "application": "2",
        "service": "5",
        "database": "1",
        "cache": "1",
        "host": "3",
        "group": "1",
    }


def test_overview_lists_business_services_most_critical_first(shop: Topology) -> None:
    text = overview(shop)
    services = text.split("business services:\n", 1)[1].splitlines()

    assert len(services) == 2
    assert services[0].split() == ["checkout", "Checkout", "(criticality", "1,", "12,000/h)"]
    assert services[1].split() == ["browse", "Browse", "(criticality", "3)"]


def test_dependency_tree_down_to_the_leaves(shop: Topology) -> None:
    assert dependency_tree(shop, "checkoutservice") == "\n".join(
        [
            "checkoutservice (service)",
            "├── cartservice (service)",
            "│   ├── redis-cart (cache)",
            "│   └── cart-replicas (group, min_healthy 2 of 3)",
            "│       ├── cart-0 (host)",
            "│       ├── cart-1 (host)",
            "│       └── cart-2 (host)",
            "└── payments-db (database)",
            "can affect: checkout",
        ]
    )


def test_shared_dependency_is_expanded_once(shop: Topology) -> None:
    lines = dependency_tree(shop, "checkout").splitlines()

    assert lines[0] == "checkout (business_service)"
    assert sum("cartservice (service)" in line for line in lines) == 2
    assert sum(line.endswith("cartservice (service)  (expanded above)") for line in lines) == 1
    assert sum("cart-1 (host)" in line for line in lines) == 1
    assert lines[-1] == "can affect: no business service"


@pytest.mark.parametrize(
    ("node_id", "last_line"),
    [
        pytest.param("cart-0", "can affect: browse, checkout", id="leaf-two-services"),
        pytest.param("payments-db", "can affect: checkout", id="one-service"),
        pytest.param("batch-job", "can affect: no business service", id="no-service"),
        pytest.param("a", "can affect: no business service", id="cycle-no-service"),
    ],
)
def test_can_affect_lists_business_services(shop: Topology, node_id: str, last_line: str) -> None:
    assert dependency_tree(shop, node_id).splitlines()[-1] == last_line


def test_cycle_is_marked_not_followed(shop: Topology) -> None:
    assert dependency_tree(shop, "a") == "\n".join(
        [
            "a (service)",
            "└── b (service)",
            "    └── c (service)",
            "        ├── a (service)  <- cycle",
            "        └── cart-0 (host)",
            "can affect: no business service",
        ]
    )


def test_self_dependency_is_marked_as_cycle() -> None:
    topology = parse_topology(
        b"version: 1\nname: t\nnodes:\n  - {id: s, kind: service, depends_on: [s]}\n", "t.yaml"
    )
    assert dependency_tree(topology, "s").splitlines()[:2] == [
        "s (service)",
        "└── s (service)  <- cycle",
    ]


def test_dense_cyclic_graph_prints_each_node_once() -> None:
    size = 300
    nodes = [
        {"id": f"n{i}", "kind": "service", "depends_on": [f"n{j}" for j in range(size) if j != i]}
        for i in range(size)
    ]
    topology = parse_topology(
        orjson.dumps({"version": 1, "name": "dense", "nodes": nodes}), "dense.json"
    )

    lines = dependency_tree(topology, "n0").splitlines()

    expanded = [line for line in lines if not line.endswith(("<- cycle", "(expanded above)"))]
    assert len(expanded) == size + 1  # every node once, plus the "can affect" line
    assert len(lines) < size * size


def test_very_deep_chain_does_not_crash() -> None:
    # a ring of 1,500 services: the tree is 1,500 levels deep
    size = 1500
    nodes = [
        {"id": f"n{i}", "kind": "service", "depends_on": [f"n{(i + 1) % size}"]}
        for i in range(size)
    ]
    topology = parse_topology(
        orjson.dumps({"version": 1, "name": "ring", "nodes": nodes}), "ring.json"
    )

    lines = dependency_tree(topology, "n0").splitlines()

    assert len(lines) == size + 2
    assert lines[-2].endswith("n0 (service)  <- cycle")
