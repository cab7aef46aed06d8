"""Open incidents as ``GET /api/v1/incidents`` lists them: what is hurting now, for people."""

from collections.abc import Iterable
from typing import Any

from correlator.correlation import ServiceState
from correlator.timestamps import format_timestamp
from correlator.topology import Topology


def open_incidents(states: Iterable[ServiceState], topology: Topology) -> list[dict[str, Any]]:
    """One entry per open impact, highest priority first, then oldest."""
    listed = []
    for state in states:
        service = topology.nodes.get(state.service)
        for incident in state.incidents:
            last = incident.last
            if incident.opened_at is None or last is None:
                continue
            root = last.candidates[0] if last.candidates else None
            listed.append(
                {
                    "incident_key": incident.key,
                    "business_service": {
                        "id": state.service,
                        "name": service.name if service else state.service,
                    },
                    "status": last.status.value,
                    "priority": last.priority,
                    "root_cause": root.node if root else None,
                    "confidence": root.confidence if root else None,
                    "alerts": len(incident.alerts),
                    "opened_at": format_timestamp(incident.opened_at),
                }
            )
    return sorted(listed, key=lambda entry: (entry["priority"] or "P9", entry["opened_at"]))
