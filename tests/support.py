"""Builders shared by the tests: a small shop topology and alert documents."""

from typing import Any

from correlator.pipeline import Pipeline
from correlator.settings import CoreSettings
from correlator.timestamps import format_timestamp
from correlator.topology import Topology, parse_topology

T0 = 1_795_183_200.0  # 2026-11-20T14:00:00Z

SHOP_YAML = """
version: 1
name: shop
nodes:
  - {id: checkout, kind: business_service, name: Checkout, criticality: 1,
     revenue_per_hour: 12000, depends_on: [frontend, checkoutservice]}
  - {id: browse, kind: business_service, name: Browse, criticality: 3,
     depends_on: [frontend, catalog]}
  - {id: frontend, kind: service, match: {service: frontend}, depends_on: [lb]}
  - {id: checkoutservice, kind: service, match: {service: checkoutservice},
     depends_on: [cartservice, payment]}
  - {id: cartservice, kind: service, match: {service: cartservice},
     depends_on: [redis-cart, cart-replicas]}
  - {id: redis-cart, kind: cache, match: [{service: redis-cart}, {pod: "~redis-cart-.*"}]}
  - {id: cart-replicas, kind: group, members: [cart-0, cart-1, cart-2], min_healthy: 2}
  - {id: cart-0, kind: host, match: {instance: cart-0}}
  - {id: cart-1, kind: host, match: {instance: cart-1}}
  - {id: cart-2, kind: host, match: {instance: cart-2}}
  - {id: payment, kind: external, match: {service: payment}}
  - {id: catalog, kind: service, match: {service: catalog}, depends_on: [catalog-db]}
  - {id: catalog-db, kind: database, match: {service: catalog-db}}
  - {id: lb, kind: network, match: {service: lb}}
  - {id: orphan, kind: host, match: {instance: orphan}}
"""


def shop() -> Topology:
    return parse_topology(SHOP_YAML.encode(), "shop.yaml")


def generic(
    name: str,
    at: float = T0,
    severity: str = "critical",
    status: str = "firing",
    ends: float | None = None,
    **labels: str,
) -> dict[str, Any]:
    """A generic alert document, as a sender would post it."""
    document: dict[str, Any] = {
        "labels": {"alertname": name, "severity": severity, **labels},
        "status": status,
        "startsAt": format_timestamp(at),
    }
    if ends is not None:
        document["endsAt"] = format_timestamp(ends)
    return document


def webhook(*alerts: dict[str, Any]) -> dict[str, Any]:
    """Alertmanager webhook v4 payload around generic-shaped alerts."""
    shaped = []
    for alert in alerts:
        firing = alert["status"] == "firing"
        shaped.append(
            {
                "status": alert["status"],
                "labels": alert["labels"],
                "annotations": {"summary": f"{alert['labels']['alertname']} fired"},
                "startsAt": alert["startsAt"],
                "endsAt": "0001-01-01T00:00:00Z" if firing else alert["endsAt"],
                "generatorURL": "http://prometheus:9090/graph",
                "fingerprint": "0000000000000000",
            }
        )
    status = "firing" if any(a["status"] == "firing" for a in shaped) else "resolved"
    return {
        "receiver": "correlator",
        "status": status,
        "alerts": shaped,
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "version": "4",
        "groupKey": "{}:{}",
        "truncatedAlerts": 0,
    }


def pipeline(settings: CoreSettings | None = None, topology: Topology | None = None) -> Pipeline:
    return Pipeline(topology or shop(), settings or CoreSettings())
