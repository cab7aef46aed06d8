"""Open incidents carried over to a changed topology: keys kept, stranded alerts let go."""

from support import SHOP_YAML, T0, generic, pipeline, shop, webhook

from correlator.pipeline import Pipeline
from correlator.rebase import rebase
from correlator.settings import CoreSettings
from correlator.topology import Topology, parse_topology

SETTINGS = CoreSettings()
REDIS = (
    '  - {id: redis-cart, kind: cache, match: [{service: redis-cart}, {pod: "~redis-cart-.*"}]}\n'
)
CHECKOUT = (
    "  - {id: checkout, kind: business_service, name: Checkout, criticality: 1,\n"
    "     revenue_per_hour: 12000, depends_on: [frontend, checkoutservice]}\n"
)


def edited(*replacements: tuple[str, str]) -> Topology:
    text = SHOP_YAML
    for old, new in replacements:
        assert old in text
        text = text.replace(old, new)
    return parse_topology(text.encode(), "shop.yaml")


def with_redis_down() -> Pipeline:
    p = pipeline()
    p.receive_document(webhook(generic("RedisDown", service="redis-cart")), T0)
    opened = p.advance(T0 + SETTINGS.group_wait)
    assert {event.key for event in opened} == {"checkout"}
    return p


def test_an_unchanged_topology_changes_nothing() -> None:
    state = with_redis_down().services["checkout"]
    assert rebase(state, shop(), T0 + 20, SETTINGS) == (state, [])


def test_an_alert_on_a_node_that_is_gone_resolves_its_impact_under_the_same_key() -> None:
    state = with_redis_down().services["checkout"]
    topology = edited(
        (REDIS, ""), ("depends_on: [redis-cart, cart-replicas]", "depends_on: [cart-replicas]")
    )
    after, events = rebase(state, topology, T0 + 20, SETTINGS)
    assert [event.type.value for event in events] == ["impact.resolved"]
    assert events[0].document["incident_key"] == state.incidents[0].key
    assert events[0].document["topology_version"] == topology.version != shop().version
    assert after is not None
    assert not after.incidents


def test_an_alert_on_a_node_that_no_longer_affects_the_service_lets_go_of_it() -> None:
    state = with_redis_down().services["checkout"]
    topology = edited(("depends_on: [redis-cart, cart-replicas]", "depends_on: [cart-replicas]"))
    assert "redis-cart" in topology.nodes
    _, events = rebase(state, topology, T0 + 20, SETTINGS)
    assert [event.type.value for event in events] == ["impact.resolved"]


def test_a_business_service_that_is_gone_is_dropped() -> None:
    state = with_redis_down().services["checkout"]
    assert rebase(state, edited((CHECKOUT, "")), T0 + 20, SETTINGS) == (None, [])


def test_a_node_that_stays_keeps_its_incident_open() -> None:
    state = with_redis_down().services["checkout"]
    after, events = rebase(state, edited(("12000", "15000")), T0 + 20, SETTINGS)
    assert events == []
    assert after == state
