"""Alert label selectors and the index that finds an alert's node without scanning every node."""

import re
from collections.abc import Mapping

import pytest

from correlator.topology import Kind, Node, Topology
from correlator.topology.selectors import Selector, SelectorIndex


def index(*selectors: tuple[str, dict[str, str]]) -> SelectorIndex:
    return SelectorIndex((node_id, Selector.parse(pairs)) for node_id, pairs in selectors)


CART = {"service": "cart"}
CART_PROD = {"service": "cart", "namespace": "prod"}

MATCHES = [
    # (selectors in file order, alert labels, node expected)
    pytest.param([("a", CART)], {"service": "cart"}, "a", id="exact"),
    pytest.param([("a", CART)], {"service": "carts"}, None, id="exact-other-value"),
    pytest.param([("a", CART)], {"service": "Cart"}, None, id="exact-is-case-sensitive"),
    pytest.param(
        [("a", CART)], {"service": "cart", "pod": "cart-0", "env": "x"}, "a", id="extra-labels-ok"
    ),
    pytest.param([("a", CART_PROD)], {"service": "cart"}, None, id="missing-label-no-match"),
    pytest.param([("a", {"pod": "~cart-.*"})], {"pod": "cart-7"}, "a", id="regex-full-match"),
    pytest.param(
        [("a", {"pod": "~cart-[0-9]"})], {"pod": "cart-7x"}, None, id="regex-prefix-only-no-match"
    ),
    pytest.param([("a", {"pod": "~art-.*"})], {"pod": "cart-7"}, None, id="regex-inside-no-match"),
    pytest.param([("a", {"pod": "~.*"})], {"service": "x"}, None, id="regex-missing-label"),
    pytest.param(
        [("a", {"service": "cart", "pod": "~cart-.*"})],
        {"service": "cart", "pod": "redis-0"},
        None,
        id="exact-and-regex-both-needed",
    ),
    pytest.param(
        [("a", {"service": "a"}), ("a", {"pod": "~b-.*"})],
        {"pod": "b-1"},
        "a",
        id="list-means-any",
    ),
    pytest.param(
        [("general", CART), ("specific", CART_PROD)],
        {"service": "cart", "namespace": "prod"},
        "specific",
        id="more-specific-wins-listed-last",
    ),
    pytest.param(
        [("specific", CART_PROD), ("general", CART)],
        {"service": "cart", "namespace": "prod"},
        "specific",
        id="more-specific-wins-listed-first",
    ),
    pytest.param(
        [("general", CART), ("specific", CART_PROD)],
        {"service": "cart", "namespace": "dev"},
        "general",
        id="general-when-specific-does-not-match",
    ),
    pytest.param(
        [("general", CART), ("pod", {"service": "cart", "pod": "~cart-.*"})],
        {"service": "cart", "pod": "cart-1"},
        "pod",
        id="regex-condition-counts-for-specificity",
    ),
    pytest.param(
        [("first", CART), ("second", CART)], {"service": "cart"}, "first", id="tie-first-listed"
    ),
    pytest.param(
        [("second", CART), ("first", CART)], {"service": "cart"}, "second", id="tie-order-matters"
    ),
    pytest.param(
        [("by-pod", {"pod": "~cart-.*"}), ("by-service", CART)],
        {"service": "cart", "pod": "cart-1"},
        "by-pod",
        id="tie-regex-vs-exact-first-listed",
    ),
    pytest.param(
        [("by-service", CART), ("by-pod", {"pod": "~cart-.*"})],
        {"service": "cart", "pod": "cart-1"},
        "by-service",
        id="tie-exact-vs-regex-first-listed",
    ),
    pytest.param([("a", CART)], {}, None, id="no-labels"),
]


@pytest.mark.parametrize(("selectors", "labels", "expected"), MATCHES)
def test_index_finds_the_right_node(
    selectors: list[tuple[str, dict[str, str]]], labels: dict[str, str], expected: str | None
) -> None:
    assert index(*selectors).match(labels) == expected


@pytest.mark.parametrize(("selectors", "labels", "expected"), MATCHES)
def test_topology_match_agrees_with_file_order(
    selectors: list[tuple[str, dict[str, str]]], labels: dict[str, str], expected: str | None
) -> None:
    nodes: dict[str, Node] = {}
    for node_id, pairs in selectors:
        previous = nodes[node_id].selectors if node_id in nodes else ()
        nodes[node_id] = Node(
            node_id, Kind.SERVICE, node_id, selectors=(*previous, Selector.parse(pairs))
        )
    assert Topology("t", "t@0", nodes).match(labels) == expected


@pytest.mark.parametrize(
    ("pairs", "text"),
    [
        pytest.param({"b": "2", "a": "1"}, "{a=1, b=2}", id="exact-sorted"),
        pytest.param({"pod": "~cart-.*", "ns": "x"}, "{ns=x, pod=~cart-.*}", id="regex"),
    ],
)
def test_selector_describe(pairs: dict[str, str], text: str) -> None:
    assert Selector.parse(pairs).describe() == text


def test_bad_regex_raises_re_error() -> None:
    with pytest.raises(re.error, match="missing"):
        Selector.parse({"pod": "~cart-(unclosed"})


def count_matches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count ``Selector.matches`` calls (still delegating to the real method)."""
    calls = [0]
    real = Selector.matches

    def counting(selector: Selector, labels: Mapping[str, str]) -> bool:
        calls[0] += 1
        return real(selector, labels)

    monkeypatch.setattr(Selector, "matches", counting)
    return calls


SIZE = 50_000


@pytest.fixture(scope="module")
def big_index() -> SelectorIndex:
    """50,000 services across 10 namespaces, plus a few regex-only and shared-pair selectors."""
    selectors = [
        (f"svc-{i}", Selector.parse({"service": f"svc-{i}", "namespace": f"ns-{i % 10}"}))
        for i in range(SIZE)
    ]
    selectors += [
        ("any-pod-in-ns-3", Selector.parse({"namespace": "ns-3"})),
        ("redis-pods", Selector.parse({"pod": "~redis-[0-9]+"})),
    ]
    return SelectorIndex(selectors)


@pytest.mark.parametrize(
    ("labels", "expected", "most_calls"),
    [
        pytest.param(
            {"service": "svc-12345", "namespace": "ns-5", "severity": "critical"},
            "svc-12345",
            2,
            id="specific-service",
        ),
        pytest.param(
            {"service": "svc-49999", "namespace": "ns-9"}, "svc-49999", 2, id="last-listed"
        ),
        pytest.param(
            {"service": "svc-13", "namespace": "ns-3"}, "svc-13", 2, id="beats-namespace-only"
        ),
        pytest.param({"namespace": "ns-3", "pod": "x"}, "any-pod-in-ns-3", 2, id="namespace-only"),
        pytest.param({"pod": "redis-12"}, "redis-pods", 2, id="regex-only"),
        pytest.param({"service": "nope", "namespace": "ns-1"}, None, 2, id="no-match"),
        pytest.param({"service": "svc-7", "namespace": "ns-1"}, None, 2, id="wrong-namespace"),
    ],
)
def test_index_tests_only_candidate_selectors(
    big_index: SelectorIndex,
    monkeypatch: pytest.MonkeyPatch,
    labels: dict[str, str],
    expected: str | None,
    most_calls: int,
) -> None:
    calls = count_matches(monkeypatch)

    assert big_index.match(labels) == expected
    # a linear scan would test tens of thousands of selectors
    assert calls[0] <= most_calls
    if expected is not None:  # the counter really sees the index's calls
        assert calls[0] >= 1
