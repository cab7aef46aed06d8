"""Impact propagation up the dependency graph, redundancy aware."""

import random
from typing import Any

import networkx as nx
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import shop

from correlator.health import Health
from correlator.impact import _layers, _spans, _walk, propagate
from correlator.topology import Topology, parse_topology

D, G, OK = Health.DOWN, Health.DEGRADED, Health.OK


@pytest.mark.parametrize(
    ("alerting", "status"),
    [
        pytest.param({}, OK, id="nothing alerting"),
        pytest.param({"redis-cart": D}, D, id="a needed cache down takes the service down"),
        pytest.param({"redis-cart": G}, G, id="degraded flows up as degraded"),
        pytest.param({"cart-0": D}, G, id="one replica of three, min_healthy 2"),
        pytest.param({"cart-0": D, "cart-1": D}, D, id="two replicas of three: below min_healthy"),
        pytest.param({"cart-0": G, "cart-1": G, "cart-2": G}, G, id="degraded members still stand"),
        pytest.param({"catalog-db": D}, OK, id="not under checkout"),
        pytest.param({"frontend": G, "payment": D}, D, id="worst of everything needed"),
    ],
)
def test_checkout_health(alerting: dict[str, Health], status: Health) -> None:
    assert propagate(shop(), "checkout", alerting).status is status


def test_affected_nodes_are_the_path_of_non_ok_nodes() -> None:
    result = propagate(shop(), "checkout", {"cart-0": D})
    assert result.affected == (
        "cart-0",
        "cart-replicas",
        "cartservice",
        "checkout",
        "checkoutservice",
    )


LOOPS = b"""
version: 1
name: loops
nodes:
  - {id: shop, kind: business_service, criticality: 2, depends_on: [orders]}
  - {id: orders, kind: service, depends_on: [shipping]}
  - {id: shipping, kind: service, depends_on: [orders, db]}
  - {id: db, kind: database}
  - {id: search, kind: business_service, criticality: 3, depends_on: [index, db]}
  - {id: index, kind: service, depends_on: [index-db]}
  - {id: index-db, kind: database, depends_on: [index-db]}
  - {id: blog, kind: business_service, criticality: 4, depends_on: [cms, db]}
  - {id: cms, kind: service, depends_on: [db]}
"""


def test_cycles_terminate() -> None:
    topology = parse_topology(LOOPS, "loops.yaml")
    assert propagate(topology, "shop", {"db": D}).status is D
    assert propagate(topology, "shop", {"orders": G}).status is G


def test_layers_refuse_a_cycle_below_and_only_below() -> None:
    """A cycle (or a node that needs itself) below a business service means the full
    walk; one elsewhere in the graph does not."""
    topology = parse_topology(LOOPS, "loops.yaml")
    assert _layers(topology, "shop") is None
    assert _layers(topology, "search") is None
    assert _layers(topology, "blog") is not None


def test_layers_put_each_node_after_everything_it_needs() -> None:
    for topology in (*TOPOLOGIES.values(), parse_topology(LOOPS, "loops.yaml")):
        for service in (node.id for node in topology.business_services()):
            order = _layers(topology, service)
            if order is None:
                continue
            assert set(order) == nx.descendants(topology.graph, service) | {service}
            for node_id in order:
                assert all(order[need] < order[node_id] for need in topology.nodes[node_id].needs)


def _layered(seed: int = 3, layers: int = 6, width: int = 30) -> Topology:
    """A random acyclic topology: each layer needs nodes of lower ones; a third are groups."""
    rng = random.Random(seed)
    nodes: list[dict[str, Any]] = []
    lower: list[str] = []
    for layer in range(layers):
        current = []
        for index in range(width):
            node: dict[str, Any] = {"id": f"n{layer}-{index}", "kind": "service"}
            picked = rng.sample(lower, min(len(lower), rng.randint(1, 4)))
            if picked and rng.random() < 0.3:
                node |= {"kind": "group", "members": picked}
                node["min_healthy"] = rng.randint(1, len(picked))
            elif picked:
                node["depends_on"] = picked
            nodes.append(node)
            current.append(node["id"])
        lower += current
    for index in range(5):
        needs = rng.sample(lower[-2 * width :], 4)
        nodes.append(
            {"id": f"bs{index}", "kind": "business_service", "criticality": 1, "depends_on": needs}
        )
    document = {"version": 1, "name": "layered", "nodes": nodes}
    return parse_topology(orjson.dumps(document), "layered.json")


TOPOLOGIES = {"shop": shop(), "layered": _layered(), "narrow": _layered(seed=5, width=6)}


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_spans_equal_the_full_walk(data: st.DataObject) -> None:
    """The shortcut below acyclic business services says what the post-order walk says."""
    topology = TOPOLOGIES[data.draw(st.sampled_from(sorted(TOPOLOGIES)))]
    service = data.draw(st.sampled_from(sorted(n.id for n in topology.business_services())))
    below = sorted(nx.descendants(topology.graph, service) | {service})
    alerting = data.draw(
        st.dictionaries(st.sampled_from(below), st.sampled_from([D, G, OK]), max_size=12)
    )
    order = _layers(topology, service)
    assert order is not None
    assert _spans(topology, service, alerting, order) == _walk(topology, service, alerting)
