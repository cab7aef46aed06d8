"""Topology matching and fan-out: from an alert state change to the business services it hurts."""

from dataclasses import dataclass

from correlator.correlation import IncidentAlert
from correlator.dedup import Transition
from correlator.settings import CoreSettings
from correlator.topology import Topology


@dataclass(frozen=True, slots=True)
class Route:
    alert: IncidentAlert | None
    """None when the alert matches no node (counted as unmatched, kept visible)."""
    services: tuple[str, ...]
    """Business services the node can affect: one record each goes to correlation."""


def route(topology: Topology, transition: Transition, settings: CoreSettings) -> Route:
    alert = transition.alert
    node = topology.match(alert.labels)
    if node is None:
        return Route(None, ())
    incident_alert = IncidentAlert(
        fingerprint=alert.fingerprint,
        name=alert.name,
        severity=alert.severity,
        node=node,
        starts_at=alert.starts_at,
        health=settings.health_of(alert.severity),
        flapping=transition.flapping,
        summary=alert.annotations.get("summary", ""),
    )
    return Route(incident_alert, topology.business_services_of(node))
