"""The impact event: what ITSM tools and people downstream receive.

Its JSON Schema ships in ``correlator/schema/impact-event.schema.json``. Events are
deterministic: the same input gives byte-identical JSON and the same ``event_id``,
so consumers can drop repeats.
"""

import hashlib
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from typing import TYPE_CHECKING, Any

import orjson

from correlator.health import Health
from correlator.rootcause import Candidate
from correlator.timestamps import format_timestamp
from correlator.topology import Node

if TYPE_CHECKING:
    from correlator.correlation import IncidentAlert

SCHEMA_VERSION = 1


class EventType(StrEnum):
    OPENED = "impact.opened"
    UPDATED = "impact.updated"
    RESOLVED = "impact.resolved"


@dataclass(frozen=True, slots=True)
class Assessment:
    """An incident's impact at one moment: what an event reports, compared to spot changes."""

    status: Health
    priority: str | None
    candidates: tuple[Candidate, ...]
    path: tuple[str, ...]
    affected: tuple[str, ...]
    alerts: tuple["IncidentAlert", ...]


@dataclass(frozen=True, slots=True)
class ImpactEvent:
    key: str
    """The business service id: the Kafka key on ``impacts``."""
    type: EventType
    priority: str
    document: dict[str, Any]

    def to_json(self) -> bytes:
        return orjson.dumps(self.document, option=orjson.OPT_SORT_KEYS)


def schema() -> dict[str, Any]:
    """The JSON Schema every impact event validates against."""
    text = resources.files("correlator").joinpath("schema/impact-event.schema.json").read_bytes()
    loaded: dict[str, Any] = orjson.loads(text)
    return loaded


def build_event(
    kind: EventType,
    service: Node,
    key: str,
    assessment: Assessment,
    *,
    opened_at: float,
    now: float,
    topology_version: str,
) -> ImpactEvent:
    root = assessment.candidates[0] if assessment.candidates else None
    priority = assessment.priority or "P4"
    revenue = service.revenue_per_hour if assessment.status is not Health.OK else None
    # Every object's keys are written in sorted order, so plain ``orjson.dumps`` gives the
    # bytes that ``OPT_SORT_KEYS`` would, without sorting every object of every event.
    document: dict[str, Any] = {
        "affected_nodes": list(assessment.affected),
        "alerts": [
            {
                "fingerprint": alert.fingerprint,
                "flapping": alert.flapping,
                "name": alert.name,
                "node": alert.node,
                "severity": alert.severity,
                "starts_at": format_timestamp(alert.starts_at),
                "summary": alert.summary,
            }
            for alert in assessment.alerts
        ],
        "business_service": {
            "criticality": service.criticality,
            "id": service.id,
            "name": service.name,
        },
        "incident_key": key,
        "opened_at": format_timestamp(opened_at),
        "path": list(assessment.path),
        "priority": priority,
        "resolved_at": format_timestamp(now) if kind is EventType.RESOLVED else None,
        "revenue_at_risk_per_hour": revenue,
        "root_cause": _candidate(root) if root else None,
        "root_cause_candidates": [_candidate(c) for c in assessment.candidates],
        "schema_version": SCHEMA_VERSION,
        "status": assessment.status.value,
        "summary": _summary(kind, service, assessment, priority, root),
        "topology_version": topology_version,
        "type": kind.value,
        "updated_at": format_timestamp(now),
    }
    document["event_id"] = hashlib.sha256(orjson.dumps(document)).hexdigest()[:32]
    return ImpactEvent(service.id, kind, priority, document)


def _candidate(candidate: Candidate) -> dict[str, Any]:
    return {
        "alerts": list(candidate.fingerprints),
        "confidence": candidate.confidence,
        "explains": list(candidate.explains),
        "kind": candidate.kind,
        "node": candidate.node,
    }


def _summary(
    kind: EventType, service: Node, assessment: Assessment, priority: str, root: Candidate | None
) -> str:
    if kind is EventType.RESOLVED:
        return f"{service.name} recovered ({priority} resolved)"
    cause = f" because {root.node} ({root.kind}) failed" if root else ""
    alerts = len(assessment.alerts)
    text = f"{service.name} is {assessment.status.value} ({priority}){cause}; {alerts} alert(s)"
    if service.revenue_per_hour:
        text += f"; ~{service.revenue_per_hour:,.0f}/h revenue at risk"
    return text
