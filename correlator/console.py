"""Impact events and run summaries for people reading a terminal."""

from collections.abc import Mapping
from typing import Any

from correlator.stages import Tally
from correlator.topology import Topology

_NAMES_SHOWN = 2
_TYPE_LABEL = {
    "impact.opened": "OPENED",
    "impact.updated": "UPDATED",
    "impact.resolved": "RESOLVED",
}


def service_column(topology: Topology) -> int:
    """Width of the service column: the longest business service name, so columns line up."""
    return max((len(node.name) for node in topology.business_services()), default=0)


def event_line(document: Mapping[str, Any], service_width: int) -> str:
    """One line per event: when, what, priority, service, status, root cause, alerts, key."""
    service = document["business_service"]
    root = document["root_cause"]
    cause = (
        f"root cause {root['node']} ({root['kind']}, confidence {root['confidence']:.2f})"
        if root
        else "no root cause"
    )
    names = sorted({alert["name"] for alert in document["alerts"]})
    alerts = ", ".join(names[:_NAMES_SHOWN]) + (", ..." if len(names) > _NAMES_SHOWN else "")
    return (
        f"{document['updated_at']}  {_TYPE_LABEL[document['type']]:<8} {document['priority']}  "
        f"{service['name']:<{service_width}} {document['status']:<8} {cause}  "
        f"[{len(document['alerts'])} alert(s): {alerts}]  key={document['incident_key']}"
    )


def summary(
    tally: Tally,
    lines: int,
    open_incidents: int,
    first_rejection: str | None,
    deadletter: str | None,
) -> str:
    """``deadletter`` is the file rejected lines went to, if any."""
    received = sum(tally.received.values())
    kept = (
        ("all of them on stdout" if deadletter == "-" else f"all of them in {deadletter}")
        if deadletter
        else "--deadletter FILE keeps them all"
    )
    parts = [
        f"lines read: {lines}",
        f"alerts read: {received}{_breakdown(tally.received)}",
        f"invalid: {sum(tally.invalid.values())}{_breakdown(tally.invalid)}",
        *([f"  first: {first_rejection} ({kept})"] if first_rejection else []),
        f"deduplicated: {tally.deduplicated}",
        f"flapping: {tally.flapping}",
        f"unmatched: {sum(tally.unmatched.values())}{_breakdown(tally.unmatched, most=8)}",
        f"incidents: {len(tally.incidents)} ({open_incidents} still open at end of input)",
        f"impacts: {sum(tally.impacts.values())}{_breakdown(_joined(tally.impacts))}",
    ]
    return "\n".join(parts)


def _joined(counts: Mapping[tuple[str, str], int]) -> dict[str, int]:
    return {f"{kind} {priority}": count for (kind, priority), count in counts.items()}


def _breakdown(counts: Mapping[str, int], most: int | None = None) -> str:
    if not counts:
        return ""
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    shown = ", ".join(f"{name} {count}" for name, count in ranked[:most])
    more = f", +{len(ranked) - most} more" if most is not None and len(ranked) > most else ""
    return f" ({shown}{more})"
