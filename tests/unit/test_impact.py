"""Impact propagation up the dependency graph, redundancy aware."""

import pytest
from support import shop

from correlator.health import Health
from correlator.impact import propagate
from correlator.topology import parse_topology

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


def test_cycles_terminate() -> None:
    topology = parse_topology(
        b"""
version: 1
name: loop
nodes:
  - {id: shop, kind: business_service, criticality: 2, depends_on: [orders]}
  - {id: orders, kind: service, depends_on: [shipping]}
  - {id: shipping, kind: service, depends_on: [orders, db]}
  - {id: db, kind: database}
""",
        "loop.yaml",
    )
    assert propagate(topology, "shop", {"db": D}).status is D
    assert propagate(topology, "shop", {"orders": G}).status is G
