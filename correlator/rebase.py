"""A service's incidents carried over to a new version of the topology.

A topology file can change under a running worker. Open incidents keep their
keys; an alert on a node the new topology no longer has, or that no longer
affects this business service, leaves its incident as if it had resolved, and
the incident is assessed again on the new graph (which may update or resolve
its impact). A business service the new topology no longer has is dropped:
there is no service left to report on.
"""

from correlator.correlation import ServiceState, apply
from correlator.event import ImpactEvent
from correlator.settings import CoreSettings
from correlator.topology import Kind, Topology


def rebase(
    state: ServiceState, topology: Topology, now: float, settings: CoreSettings
) -> tuple[ServiceState | None, list[ImpactEvent]]:
    """``state`` on ``topology``; None when its business service is gone."""
    service = topology.nodes.get(state.service)
    if service is None or service.kind is not Kind.BUSINESS_SERVICE:
        return None, []
    stranded = [
        alert
        for incident in state.incidents
        for alert in incident.alerts.values()
        if alert.node not in topology.nodes
        or state.service not in topology.business_services_of(alert.node)
    ]
    events: list[ImpactEvent] = []
    for alert in stranded:
        state, emitted = apply(state, alert, False, now, topology, settings)
        events += emitted
    return state, events
