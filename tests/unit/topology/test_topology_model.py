"""Questions asked of a loaded topology: who depends on a node, and which business services."""

import pytest

from correlator.topology import Topology, parse_topology

SHOP = b"""\
version: 1
name: shop
nodes:
  - {id: checkout, kind: business_service, criticality: 1, depends_on: [frontend, checkoutservice]}
  - {id: browse, kind: business_service, criticality: 3, depends_on: [frontend]}
  - {id: reports, kind: business_service, criticality: 4, depends_on: [warehouse]}
  - {id: frontend, kind: application, depends_on: [cartservice]}
  - {id: checkoutservice, kind: service, depends_on: [payments-db]}
  - {id: cartservice, kind: service, depends_on: [redis-cart, cart-replicas]}
  - {id: redis-cart, kind: cache}
  - {id: cart-replicas, kind: group, members: [cart-0, cart-1, cart-2], min_healthy: 2}
  - {id: cart-0, kind: host}
  - {id: cart-1, kind: host}
  - {id: cart-2, kind: host}
  - {id: payments-db, kind: database}
  - {id: batch-job, kind: application, depends_on: [payments-db]}
  - {id: warehouse, kind: database, depends_on: [etl]}
  - {id: etl, kind: service, depends_on: [warehouse]}
  - {id: lonely, kind: external}
"""


@pytest.fixture(scope="module")
def shop() -> Topology:
    return parse_topology(SHOP, "shop.yaml")


@pytest.mark.parametrize(
    ("node_id", "services"),
    [
        pytest.param("cartservice", ("browse", "checkout"), id="two-services-share-a-node"),
        pytest.param("cart-1", ("browse", "checkout"), id="group-member-is-transitive"),
        pytest.param("redis-cart", ("browse", "checkout"), id="three-hops"),
        pytest.param("payments-db", ("checkout",), id="only-one-service"),
        pytest.param("batch-job", (), id="under-no-service"),
        pytest.param("lonely", (), id="isolated-node"),
        pytest.param("checkout", ("checkout",), id="a-service-affects-itself"),
        pytest.param("etl", ("reports",), id="through-a-cycle"),
    ],
)
def test_business_services_of(shop: Topology, node_id: str, services: tuple[str, ...]) -> None:
    assert shop.business_services_of(node_id) == services


@pytest.mark.parametrize(
    ("node_id", "ancestors"),
    [
        pytest.param(
            "cart-replicas",
            {"cartservice", "frontend", "checkout", "browse"},
            id="group",
        ),
        pytest.param(
            "payments-db", {"checkoutservice", "checkout", "batch-job"}, id="two-dependents"
        ),
        pytest.param("checkout", set(), id="top"),
        pytest.param("warehouse", {"etl", "reports"}, id="through-cycle"),
    ],
)
def test_ancestors_are_everything_that_needs_the_node(
    shop: Topology, node_id: str, ancestors: set[str]
) -> None:
    assert shop.ancestors(node_id) == ancestors


@pytest.mark.parametrize(
    ("node_id", "service", "path"),
    [
        pytest.param(
            "cart-1",
            "browse",
            ("cart-1", "cart-replicas", "cartservice", "frontend", "browse"),
            id="through-group",
        ),
        pytest.param(
            "payments-db",
            "checkout",
            ("payments-db", "checkoutservice", "checkout"),
            id="short",
        ),
        pytest.param("etl", "reports", ("etl", "warehouse", "reports"), id="through-cycle"),
        pytest.param("checkout", "checkout", ("checkout",), id="itself"),
    ],
)
def test_path_runs_from_node_up_to_business_service(
    shop: Topology, node_id: str, service: str, path: tuple[str, ...]
) -> None:
    assert shop.path(node_id, service) == path


def test_group_members_count_as_needs(shop: Topology) -> None:
    group = shop.nodes["cart-replicas"]

    assert group.needs == ("cart-0", "cart-1", "cart-2")
    assert set(shop.graph.successors("cart-replicas")) == {"cart-0", "cart-1", "cart-2"}
    assert shop.nodes["cartservice"].needs == ("redis-cart", "cart-replicas")


def test_business_services_lists_only_business_services(shop: Topology) -> None:
    assert sorted(node.id for node in shop.business_services()) == ["browse", "checkout", "reports"]
    assert len(shop) == 16
