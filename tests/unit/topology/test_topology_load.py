"""Loading and validating topology files: good files load, bad ones name file, node and reason."""

import json
import re
from itertools import pairwise
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from correlator.errors import TopologyError
from correlator.topology import Kind, Topology, load_topology, parse_topology

GOOD_YAML = """\
version: 1
name: shop
nodes:
  - id: checkout
    kind: business_service
    name: Checkout
    criticality: 1
    revenue_per_hour: 12000
    depends_on: [frontend, checkoutservice]
  - id: browse
    kind: business_service
    name: Browse
    criticality: 3
    depends_on: [frontend]
  - id: frontend
    kind: application
    match: {service: frontend}
    depends_on: [cartservice]
  - id: checkoutservice
    kind: service
    match:
      - {service: checkoutservice, namespace: boutique}
      - {pod: "~checkout-.*"}
    depends_on: [cartservice, payments-db]
  - id: cartservice
    kind: service
    match: [{service: cartservice, namespace: boutique}]
    depends_on: [redis-cart, cart-replicas]
  - id: redis-cart
    kind: cache
  - id: cart-replicas
    kind: group
    members: [cart-0, cart-1, cart-2]
    min_healthy: 2
  - {id: cart-0, kind: host}
  - {id: cart-1, kind: host}
  - {id: cart-2, kind: host}
  - id: payments-db
    kind: database
"""

EXPECTED_KINDS = {
    "checkout": Kind.BUSINESS_SERVICE,
    "browse": Kind.BUSINESS_SERVICE,
    "frontend": Kind.APPLICATION,
    "checkoutservice": Kind.SERVICE,
    "cartservice": Kind.SERVICE,
    "redis-cart": Kind.CACHE,
    "cart-replicas": Kind.GROUP,
    "cart-0": Kind.HOST,
    "cart-1": Kind.HOST,
    "cart-2": Kind.HOST,
    "payments-db": Kind.DATABASE,
}
EXPECTED_EDGES = {
    ("checkout", "frontend"),
    ("checkout", "checkoutservice"),
    ("browse", "frontend"),
    ("frontend", "cartservice"),
    ("checkoutservice", "cartservice"),
    ("checkoutservice", "payments-db"),
    ("cartservice", "redis-cart"),
    ("cartservice", "cart-replicas"),
    ("cart-replicas", "cart-0"),
    ("cart-replicas", "cart-1"),
    ("cart-replicas", "cart-2"),
}


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def document(*nodes: dict[Any, Any]) -> dict[str, Any]:
    return {"version": 1, "name": "t", "nodes": list(nodes)}


def write_yaml(tmp_path: Path, doc: dict[str, Any]) -> Path:
    return write(tmp_path, "topology.yaml", yaml.safe_dump(doc, sort_keys=False))


@pytest.mark.parametrize(
    ("name", "text"),
    [
        pytest.param("topology.yaml", GOOD_YAML, id="yaml"),
        pytest.param("topology.json", json.dumps(yaml.safe_load(GOOD_YAML), indent=2), id="json"),
    ],
)
def test_good_file_loads_nodes_kinds_and_edges(tmp_path: Path, name: str, text: str) -> None:
    topology = load_topology(write(tmp_path, name, text))

    assert topology.name == "shop"
    assert {node_id: node.kind for node_id, node in topology.nodes.items()} == EXPECTED_KINDS
    assert set(topology.graph.edges) == EXPECTED_EDGES
    checkout = topology.nodes["checkout"]
    assert (checkout.name, checkout.criticality, checkout.revenue_per_hour) == (
        "Checkout",
        1,
        12000.0,
    )
    group = topology.nodes["cart-replicas"]
    assert (group.members, group.min_healthy) == (("cart-0", "cart-1", "cart-2"), 2)
    assert len(topology.nodes["checkoutservice"].selectors) == 2
    assert re.fullmatch(r"shop@[0-9a-f]{12}", topology.version)


def test_version_is_stable_for_same_content_and_changes_with_content(tmp_path: Path) -> None:
    first = load_topology(write(tmp_path, "a.yaml", GOOD_YAML)).version
    again = load_topology(write(tmp_path, "b.yaml", GOOD_YAML)).version
    changed = load_topology(
        write(tmp_path, "c.yaml", GOOD_YAML.replace("min_healthy: 2", "min_healthy: 1"))
    ).version

    assert first == again
    assert changed != first
    assert changed.startswith("shop@")


HOST = {"id": "h", "kind": "host"}
SERVICE = {"id": "svc", "kind": "service"}

INVALID = [
    # (nodes, node the error must name, reason pattern)
    pytest.param(
        [{"id": "a", "kind": "service", "depends_on": ["ghost"]}],
        "a",
        r"unknown node 'ghost'",
        id="unknown-dependency",
    ),
    pytest.param([HOST, {"id": "h", "kind": "cache"}], "h", r"duplicate id", id="duplicate-id"),
    pytest.param(
        [HOST, {"id": "g", "kind": "group", "members": ["h", "ghost"]}],
        "g",
        r"member 'ghost' is not a node",
        id="group-member-missing",
    ),
    pytest.param(
        [HOST, SERVICE, {"id": "g", "kind": "group", "members": ["h", "svc"], "min_healthy": 3}],
        "g",
        r"'min_healthy' is 3 but the group has only 2",
        id="min-healthy-larger-than-group",
    ),
    pytest.param(
        [HOST, {"id": "g", "kind": "group", "members": ["h"], "min_healthy": 0}],
        "g",
        r"'min_healthy' must be a whole number",
        id="min-healthy-zero",
    ),
    pytest.param(
        # two entries naming one host: the group really has one member, so 2 can never be healthy
        [HOST, {"id": "g", "kind": "group", "members": ["h", "h"], "min_healthy": 2}],
        "g",
        r"min_healthy|duplicate|member",
        id="min-healthy-counts-repeated-member-twice",
    ),
    pytest.param(
        [HOST, {"id": "g", "kind": "group", "members": []}],
        "g",
        r"non-empty 'members'",
        id="group-without-members",
    ),
    pytest.param(
        [{"id": "a", "kind": "servce"}], "a", r"kind 'servce' is not one of", id="bad-kind"
    ),
    pytest.param([{"id": "a"}], "a", r"kind None is not one of", id="missing-kind"),
    pytest.param(
        [{"id": "b", "kind": "business_service", "criticality": 5}],
        "b",
        r"'criticality' must be 1",
        id="criticality-out-of-range",
    ),
    pytest.param(
        [{"id": "b", "kind": "business_service", "criticality": "high"}],
        "b",
        r"'criticality' must be 1",
        id="criticality-not-a-number",
    ),
    pytest.param(
        [{"id": "b", "kind": "business_service"}],
        "b",
        r"'criticality' must be 1",
        id="criticality-missing",
    ),
    pytest.param(
        [{"id": "b", "kind": "business_service", "criticality": True}],
        "b",
        r"'criticality' must be 1",
        id="criticality-boolean",
    ),
    pytest.param(
        # YAML `criticality: 2.0`; must be a clean error, not a crash
        [{"id": "b", "kind": "business_service", "criticality": 2.0}],
        "b",
        r"criticality",
        id="criticality-float",
    ),
    pytest.param(
        [{"id": "a", "kind": "service", "criticality": 1}],
        "a",
        r"'criticality' belongs on nodes of kind business_service",
        id="criticality-on-non-service",
    ),
    pytest.param(
        [{"id": "a", "kind": "service", "match": {"port": 8080}}],
        "a",
        r"not a string: port",
        id="selector-value-number",
    ),
    pytest.param(
        [{"id": "a", "kind": "service", "match": {"canary": True}}],
        "a",
        r"not a string: canary",
        id="selector-value-boolean",
    ),
    pytest.param(
        [{"id": "a", "kind": "service", "match": ["service=a"]}],
        "a",
        r"match\[0\] must be a non-empty map",
        id="selector-not-a-map",
    ),
    pytest.param(
        [{"id": "a", "kind": "service", "match": {}}],
        "a",
        r"match must be a non-empty map",
        id="selector-empty-map",
    ),
    pytest.param(
        [{"id": "a", "kind": "service", "match": {"pod": "~cart-(unclosed"}}],
        "a",
        r"bad regular expression",
        id="selector-bad-regex",
    ),
    pytest.param(
        [{"id": "a", "kind": "service", "depend_on": ["h"]}, HOST],
        "a",
        r"unknown key\(s\) depend_on",
        id="unknown-key-typo",
    ),
    pytest.param(
        # a stray numeric key next to a typo must still give a clean error, not a crash
        [{"id": "a", "kind": "service", 1: "x", "depend_on": []}],
        "a",
        r"unknown key\(s\)",
        id="unknown-keys-of-mixed-types",
    ),
    pytest.param(
        [{"id": "a", "kind": "service", "depends_on": "h"}, HOST],
        "a",
        r"'depends_on' must be a list of node ids",
        id="depends-on-not-a-list",
    ),
    pytest.param(
        [{"id": "a", "kind": "service", "revenue_per_hour": 10}],
        "a",
        r"'revenue_per_hour' belongs on nodes of kind business_service",
        id="revenue-on-non-service",
    ),
    pytest.param(
        [{"id": "b", "kind": "business_service", "criticality": 1, "revenue_per_hour": -1}],
        "b",
        r"'revenue_per_hour' must be a number >= 0",
        id="negative-revenue",
    ),
    pytest.param(
        [{"id": "h", "kind": "host", "members": ["x"]}],
        "h",
        r"'members' and 'min_healthy' belong on nodes of kind group",
        id="members-on-non-group",
    ),
]


@pytest.mark.parametrize(("nodes", "node_id", "reason"), INVALID)
def test_invalid_node_is_rejected_naming_file_node_and_reason(
    tmp_path: Path, nodes: list[dict[Any, Any]], node_id: str, reason: str
) -> None:
    path = write_yaml(tmp_path, document(*nodes))

    with pytest.raises(TopologyError) as caught:
        load_topology(path)

    error = caught.value
    assert error.path == str(path)
    assert any(node == node_id and re.search(reason, text) for node, text in error.problems), (
        error.problems
    )
    lines = str(error).splitlines()
    assert any(
        line.startswith(f"{path}: node {node_id!r}: ") and re.search(reason, line) for line in lines
    ), str(error)


@pytest.mark.parametrize(
    ("doc", "reason"),
    [
        pytest.param({"version": 2, "name": "t", "nodes": [HOST]}, r"'version' must be 1", id="v2"),
        pytest.param({"version": 1, "nodes": [HOST]}, r"'name' must be", id="no-name"),
        pytest.param({"version": 1, "name": "t", "nodes": []}, r"'nodes' must be", id="no-nodes"),
        pytest.param([HOST], r"expected a mapping", id="top-level-list"),
        pytest.param(
            {"version": 1, "name": "t", "nodes": [{"id": "has space", "kind": "host"}]},
            r"nodes\[0\]: 'id' must be",
            id="bad-id",
        ),
        pytest.param(
            {"version": 1, "name": "t", "nodes": ["just-a-string"]},
            r"nodes\[0\]: expected a mapping",
            id="node-not-a-map",
        ),
    ],
)
def test_invalid_file_level_problem_names_file_and_reason(
    tmp_path: Path, doc: object, reason: str
) -> None:
    path = write(tmp_path, "topology.yaml", yaml.safe_dump(doc))

    with pytest.raises(TopologyError) as caught:
        load_topology(path)

    assert any(re.search(reason, text) for _, text in caught.value.problems), caught.value.problems
    assert str(caught.value).startswith(f"{path}: ")


@pytest.mark.parametrize(
    "broken",
    [
        pytest.param({"id": "db", "kind": "databse"}, id="bad-kind"),
        pytest.param({"id": "db", "kind": "database", "match": {"port": 5432}}, id="bad-selector"),
        pytest.param({"id": "db", "kind": "database", "owner": 7}, id="bad-owner"),
    ],
)
def test_a_broken_node_is_not_also_called_unknown(tmp_path: Path, broken: dict[str, Any]) -> None:
    # "depends on unknown node 'db'" would send the user hunting for a node that is right there
    path = write_yaml(
        tmp_path, document({"id": "app", "kind": "service", "depends_on": ["db"]}, broken)
    )

    with pytest.raises(TopologyError) as caught:
        load_topology(path)

    assert [node for node, _ in caught.value.problems] == ["db"], caught.value.problems


@pytest.mark.parametrize(
    ("members", "reason"),
    [
        pytest.param("cart-0", "'members' must be a list of node ids", id="not-a-list"),
        pytest.param([], "a group needs a non-empty 'members' list", id="empty"),
        pytest.param(None, "a group needs a non-empty 'members' list", id="missing"),
    ],
)
def test_a_group_without_a_members_list_is_told_once(
    tmp_path: Path, members: object, reason: str
) -> None:
    group: dict[str, Any] = {"id": "g", "kind": "group", "min_healthy": 1}
    if members is not None:
        group["members"] = members
    path = write_yaml(tmp_path, document(group, {"id": "cart-0", "kind": "host"}))

    with pytest.raises(TopologyError) as caught:
        load_topology(path)

    assert caught.value.problems == [("g", reason)]


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    doc = document(
        {"id": "a", "kind": "service", "depends_on": ["ghost"]},
        {"id": "b", "kind": "warehouse"},
        {"id": "c", "kind": "service", "match": {"port": 80}, "depends_on": ["phantom"]},
        {"id": "g", "kind": "group", "members": ["a", "nope"]},
        {"id": "a", "kind": "host"},
        {"id": "c", "kind": "host"},
        {"id": "b", "kind": "host"},
    )
    path = write_yaml(tmp_path, {**doc, "version": 2})

    with pytest.raises(TopologyError) as caught:
        load_topology(path)

    problems = caught.value.problems
    assert {node for node, _ in problems} == {None, "a", "b", "c", "g"}
    # A node with one bad field still has its references and its id checked.
    c_problems = sorted(reason for node, reason in problems if node == "c")
    assert len(c_problems) == 3
    assert "depends on unknown node 'phantom'" in c_problems
    assert any(reason.startswith("duplicate id") for reason in c_problems)
    assert any(node is None and "'version' must be 1" in reason for node, reason in problems)
    # A node whose kind is unknown still has an id a later node may not take.
    assert ("b", "duplicate id: another node already has it") in problems
    assert len(problems) == 9
    assert len(str(caught.value).splitlines()) == 9


@pytest.mark.parametrize(
    ("name", "text", "line"),
    [
        pytest.param(
            "t.yaml",
            "version: 1\nname: t\nnodes:\n  - id: a\n    kind: service: oops\n",
            5,
            id="yaml-mapping-in-value",
        ),
        pytest.param(
            "t.yaml",
            "version: 1\nname: t\nnodes:\n  - id: a\n  kind: host\n    depends_on: []\n",
            5,
            id="yaml-bad-indentation",
        ),
        pytest.param(
            "t.json",
            '{\n  "version": 1,\n  "name": "t",\n  "nodes": [\n'
            '    {"id": "a" "kind": "host"}\n  ]\n}',
            5,
            id="json-missing-comma",
        ),
        pytest.param(
            "t.json",
            '{\n  "version": 1,\n  "name": "t",\n  "nodes": [],\n}\n',
            4,  # the offending comma is on line 4
            id="json-trailing-comma",
        ),
    ],
)
def test_syntax_error_names_file_and_line(tmp_path: Path, name: str, text: str, line: int) -> None:
    path = write(tmp_path, name, text)

    with pytest.raises(TopologyError) as caught:
        load_topology(path)

    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert "syntax error" in message
    assert re.search(rf"\bline {line}\b", message), message


def test_a_tab_in_yaml_is_named_as_the_problem(tmp_path: Path) -> None:
    path = write(tmp_path, "t.yaml", "version: 1\nname: t\nnodes:\n\t- {id: a, kind: host}\n")

    with pytest.raises(TopologyError) as caught:
        load_topology(path)

    assert "line 4, column 1" in str(caught.value)
    assert "a tab: YAML indents with spaces only" in str(caught.value)


@pytest.mark.parametrize("make_path", ["missing", "directory"])
def test_unreadable_file_is_a_topology_error(tmp_path: Path, make_path: str) -> None:
    path = tmp_path / "nowhere.yaml"
    if make_path == "directory":
        path.mkdir()

    with pytest.raises(TopologyError) as caught:
        load_topology(path)

    assert str(caught.value).startswith(f"{path}: cannot read the file")


def is_cycle(topology: Topology, cycle: list[str]) -> bool:
    return (
        len(cycle) >= 2
        and cycle[0] == cycle[-1]
        and all(topology.graph.has_edge(a, b) for a, b in pairwise(cycle))
    )


def test_cycles_load_fine_and_are_reported(tmp_path: Path) -> None:
    path = write_yaml(
        tmp_path,
        document(
            {"id": "a", "kind": "service", "depends_on": ["b"]},
            {"id": "b", "kind": "service", "depends_on": ["a", "db"]},
            {"id": "db", "kind": "database"},
            {"id": "x", "kind": "service", "depends_on": ["y"]},
            {"id": "y", "kind": "service", "depends_on": ["z"]},
            {"id": "z", "kind": "service", "depends_on": ["x"]},
            {"id": "self", "kind": "service", "depends_on": ["self"]},
        ),
    )

    topology = load_topology(path)
    cycles = topology.cycles()

    assert len(cycles) == 3
    assert all(is_cycle(topology, cycle) for cycle in cycles), cycles
    assert [sorted(set(cycle)) for cycle in cycles] == [["a", "b"], ["self"], ["x", "y", "z"]]


def test_acyclic_topology_reports_no_cycles(tmp_path: Path) -> None:
    assert load_topology(write(tmp_path, "t.yaml", GOOD_YAML)).cycles() == []


def test_cycle_rich_graph_gives_one_cycle_per_strongly_connected_part() -> None:
    size = 2000
    blob = [
        {
            "id": f"n{i}",
            "kind": "service",
            "depends_on": [f"n{(i + 1) % size}", f"n{(i + 7) % size}", f"n{(i * 13 + 5) % size}"],
        }
        for i in range(size)
    ]
    ring = [{"id": f"r{i}", "kind": "host", "depends_on": [f"r{(i + 1) % 3}"]} for i in range(3)]
    topology = parse_topology(orjson.dumps(document(*blob, *ring)), "big.json")

    cycles = topology.cycles()

    assert len(cycles) == 2
    assert all(is_cycle(topology, cycle) for cycle in cycles)
    assert {cycle[0][0] for cycle in cycles} == {"n", "r"}
