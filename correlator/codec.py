"""The core's values as JSON bytes: what changelog tables and repartition topics carry.

Explicit per type rather than pickle: a record written by one version of
correlator must stay readable by the next, and a human with kcat can read it.
Every ``*_from`` inverts its ``*_to`` exactly (a property test holds them to it).
"""

from typing import Any

import orjson

from correlator.alert import Alert
from correlator.correlation import Incident, IncidentAlert, ServiceState
from correlator.dedup import AlertState
from correlator.event import Assessment
from correlator.health import Health
from correlator.rootcause import Candidate
from correlator.stages import Change

Json = dict[str, Any]


def dumps(value: Json) -> bytes:
    return orjson.dumps(value)


def loads(data: bytes) -> Json:
    value: Json = orjson.loads(data)
    return value


def alert_to(alert: Alert) -> Json:
    return {
        "fingerprint": alert.fingerprint,
        "labels": alert.labels,
        "annotations": alert.annotations,
        "firing": alert.firing,
        "starts_at": alert.starts_at,
        "ends_at": alert.ends_at,
        "received_at": alert.received_at,
        "generator_url": alert.generator_url,
        "source_format": alert.source_format,
    }


def alert_from(raw: Json) -> Alert:
    return Alert(**raw)


def alert_state_to(state: AlertState) -> Json:
    return {
        "alert": alert_to(state.alert),
        "firing": state.firing,
        "last_seen": state.last_seen,
        "seen": state.seen,
        "flips": list(state.flips),
        "flapping": state.flapping,
    }


def alert_state_from(raw: Json) -> AlertState:
    return AlertState(
        alert=alert_from(raw["alert"]),
        firing=raw["firing"],
        last_seen=raw["last_seen"],
        seen=raw["seen"],
        flips=tuple(raw["flips"]),
        flapping=raw["flapping"],
    )


def incident_alert_to(alert: IncidentAlert) -> Json:
    return {
        "fingerprint": alert.fingerprint,
        "name": alert.name,
        "severity": alert.severity,
        "node": alert.node,
        "starts_at": alert.starts_at,
        "health": alert.health.value,
        "flapping": alert.flapping,
        "summary": alert.summary,
    }


def incident_alert_from(raw: Json) -> IncidentAlert:
    return IncidentAlert(**{**raw, "health": Health(raw["health"])})


def _candidate_to(candidate: Candidate) -> Json:
    return {
        "node": candidate.node,
        "kind": candidate.kind,
        "confidence": candidate.confidence,
        "explains": list(candidate.explains),
        "fingerprints": list(candidate.fingerprints),
    }


def _candidate_from(raw: Json) -> Candidate:
    return Candidate(
        node=raw["node"],
        kind=raw["kind"],
        confidence=raw["confidence"],
        explains=tuple(raw["explains"]),
        fingerprints=tuple(raw["fingerprints"]),
    )


def _assessment_to(assessment: Assessment) -> Json:
    return {
        "status": assessment.status.value,
        "priority": assessment.priority,
        "candidates": [_candidate_to(c) for c in assessment.candidates],
        "path": list(assessment.path),
        "affected": list(assessment.affected),
        "alerts": [incident_alert_to(a) for a in assessment.alerts],
    }


def _assessment_from(raw: Json) -> Assessment:
    return Assessment(
        status=Health(raw["status"]),
        priority=raw["priority"],
        candidates=tuple(_candidate_from(c) for c in raw["candidates"]),
        path=tuple(raw["path"]),
        affected=tuple(raw["affected"]),
        alerts=tuple(incident_alert_from(a) for a in raw["alerts"]),
    )


def _incident_to(incident: Incident) -> Json:
    return {
        "seed": incident.seed,
        "created_at": incident.created_at,
        "alerts": [incident_alert_to(a) for a in incident.alerts.values()],
        "due_at": incident.due_at,
        "episode": incident.episode,
        "opened_at": incident.opened_at,
        "last": _assessment_to(incident.last) if incident.last else None,
        "emitted_at": incident.emitted_at,
        "basis": sorted([node, health.value, start] for node, health, start in incident.basis),
    }


def _incident_from(raw: Json) -> Incident:
    alerts = (incident_alert_from(a) for a in raw["alerts"])
    return Incident(
        seed=raw["seed"],
        created_at=raw["created_at"],
        alerts={alert.fingerprint: alert for alert in alerts},
        due_at=raw["due_at"],
        episode=raw["episode"],
        opened_at=raw["opened_at"],
        last=_assessment_from(raw["last"]) if raw["last"] else None,
        emitted_at=raw["emitted_at"],
        basis=frozenset((node, Health(health), start) for node, health, start in raw["basis"]),
    )


def service_state_to(state: ServiceState) -> Json:
    return {"service": state.service, "incidents": [_incident_to(i) for i in state.incidents]}


def service_state_from(raw: Json) -> ServiceState:
    return ServiceState(
        service=raw["service"], incidents=tuple(_incident_from(i) for i in raw["incidents"])
    )


def change_to(change: Change) -> Json:
    return {
        "service": change.service,
        "alert": incident_alert_to(change.alert),
        "firing": change.firing,
        "at": change.at,
    }


def change_from(raw: Json) -> Change:
    return Change(
        service=raw["service"],
        alert=incident_alert_from(raw["alert"]),
        firing=raw["firing"],
        at=raw["at"],
    )
