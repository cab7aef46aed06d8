"""Correlation: the incidents of one business service, and the impact events they cause.

Theory of operation. All state here belongs to one business service (the Kafka key
of this stage). Alerts arrive as changes (firing or resolved) on nodes the service
depends on. A firing alert joins the oldest open incident that has an alert on a
*related* node which started within ``window`` of it; otherwise it starts a new
incident. Two nodes are related when one needs the other, directly or
not, or when one node needs both directly (siblings, such as the members of a
redundancy group, whose joint failure is what hurts). So a cascade is one
incident, and failures in disjoint parts of the graph, or further apart in time
than the window, are separate ones. An incident never merges into another: its key
stays what it was.

An incident's impact is re-assessed on every change (``impact.propagate`` and
``rootcause.rank``). Its first impact waits ``group_wait`` from the incident's
creation, so that a cascade lands in one event with the right root cause. Later
changes of status, priority or root cause go out at once; changes only to the
alerts, path or affected nodes go out at most once per ``group_interval``, so a
cascade of symptoms folds into a few updates (Alertmanager's group_interval):

=============================  ==================  ==================================
when                           event               afterwards
=============================  ==================  ==================================
health turns degraded or down  ``impact.opened``   a new ``incident_key`` (episode)
assessment changes             ``impact.updated``  status, priority, root cause, ...
health back to ok, or the      ``impact.resolved`` the key is finished; should the
incident's last alert resolves                     same incident hurt again, it opens
                                                   a new episode with a new key
=============================  ==================  ==================================

An incident whose alerts never hurt the service (info alerts only) emits nothing:
no invented impact. A redundancy group with enough healthy members still makes it
degraded, and that is reported.
"""

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from operator import attrgetter
from typing import NamedTuple

from correlator.event import Assessment, EventType, ImpactEvent, build_event
from correlator.health import RANK, Health, worst
from correlator.impact import propagate
from correlator.rootcause import Suspect, rank
from correlator.settings import CoreSettings
from correlator.topology import Topology


@dataclass(frozen=True, slots=True)
class IncidentAlert:
    """An alert as correlation sees it: on a node, with the health its severity means."""

    fingerprint: str
    name: str
    severity: str
    node: str
    starts_at: float
    health: Health
    flapping: bool = False
    summary: str = ""


class Incident(NamedTuple):
    """One incident of a business service.

    NamedTuples rather than dataclasses here and in ``ServiceState``: every alert
    change copies them with a change, and ``_replace`` is several times cheaper than
    ``dataclasses.replace`` on this hot path.
    """

    seed: str
    """Deterministic identity: the same alerts at the same times give the same seed."""
    created_at: float
    alerts: Mapping[str, IncidentAlert]
    due_at: float | None
    """When the incident must be looked at again: end of group wait, or of group interval."""
    episode: int = 0
    opened_at: float | None = None
    """When the current impact opened; None while none is open."""
    last: Assessment | None = None
    """What the last event said."""
    emitted_at: float = 0.0
    basis: frozenset[tuple[str, Health, float]] = frozenset()
    """The ``_basis`` of the alerts the last event was assessed on."""

    @property
    def key(self) -> str:
        return incident_key(self.seed, self.episode)


class ServiceState(NamedTuple):
    service: str
    incidents: tuple[Incident, ...] = ()
    """Oldest first. Every incident here has an alert: one whose last alert resolves is
    removed at once, so ``tick`` never removes one and its positions stay valid."""

    def open_impacts(self) -> int:
        return sum(1 for incident in self.incidents if incident.opened_at is not None)


def incident_key(seed: str, episode: int) -> str:
    return f"{seed}-{episode}"


def apply(
    state: ServiceState,
    alert: IncidentAlert,
    firing: bool,
    now: float,
    topology: Topology,
    settings: CoreSettings,
) -> tuple[ServiceState, list[ImpactEvent]]:
    """One alert change on a node of this service."""
    position = _position_of(state, alert.fingerprint)
    if position is None and not firing:
        return state, []
    if position is None:
        position = _related(state, alert, topology, settings.window)
        if position is None:
            incidents = (*state.incidents, _new_incident(state.service, alert, now, settings))
            state = ServiceState(state.service, incidents)
            position = len(incidents) - 1
    incident = state.incidents[position]
    alerts = dict(incident.alerts)
    if firing:
        alerts[alert.fingerprint] = alert
    else:
        del alerts[alert.fingerprint]
    incident = incident._replace(alerts=alerts)
    return _settle(state, position, incident, now, topology, settings)


def tick(
    state: ServiceState, now: float, topology: Topology, settings: CoreSettings
) -> tuple[ServiceState, list[ImpactEvent]]:
    """Let time pass: incidents whose group wait or group interval is over get assessed."""
    events: list[ImpactEvent] = []
    for position, incident in enumerate(state.incidents):
        if incident.due_at is not None and incident.due_at <= now:
            state, emitted = _settle(state, position, incident, now, topology, settings)
            events += emitted
    return state, events


def next_due(state: ServiceState) -> float | None:
    dues = [incident.due_at for incident in state.incidents if incident.due_at is not None]
    return min(dues, default=None)


def _settle(
    state: ServiceState,
    position: int,
    incident: Incident,
    now: float,
    topology: Topology,
    settings: CoreSettings,
) -> tuple[ServiceState, list[ImpactEvent]]:
    """Assess ``incident`` at ``now``, store it at ``position``, and say what changed."""
    incident, event = _assess(state.service, incident, now, topology, settings)
    incidents = list(state.incidents)
    if incident.alerts:
        incidents[position] = incident
    else:
        del incidents[position]
    return ServiceState(state.service, tuple(incidents)), [event] if event else []


def _assess(
    service: str, incident: Incident, now: float, topology: Topology, settings: CoreSettings
) -> tuple[Incident, ImpactEvent | None]:
    if not incident.alerts:
        return incident, _resolve(service, incident, now, topology)[1]
    group_wait_ends = incident.created_at + settings.group_wait
    if incident.episode == 0 and now < group_wait_ends:
        return incident._replace(due_at=group_wait_ends), None
    next_minor = incident.emitted_at + settings.group_interval
    basis = _basis(incident.alerts)
    if incident.last is not None and now < next_minor and basis == incident.basis:
        # Nothing that decides status, priority or root cause changed: a minor update
        # for the next group interval; assessing it now would be thrown away.
        return incident._replace(due_at=next_minor), None
    assessment = _assessment(service, incident.alerts, topology, settings)
    if incident.opened_at is None:
        if assessment.status is Health.OK:
            return incident._replace(due_at=None), None
        incident = incident._replace(episode=incident.episode + 1, opened_at=now)
        return _emit(EventType.OPENED, service, incident, assessment, basis, now, topology)
    if assessment.status is Health.OK:
        return _resolve(service, incident._replace(due_at=None), now, topology)
    if incident.last is None or assessment == incident.last:
        return incident._replace(due_at=None), None
    if _material(assessment, incident.last) or now >= next_minor:
        return _emit(EventType.UPDATED, service, incident, assessment, basis, now, topology)
    return incident._replace(due_at=next_minor), None


def _material(assessment: Assessment, last: Assessment) -> bool:
    """A change worth telling at once: it changes what an operator would do."""
    return (
        assessment.status != last.status
        or assessment.priority != last.priority
        or _root_node(assessment) != _root_node(last)
    )


def _basis(alerts: Mapping[str, IncidentAlert]) -> frozenset[tuple[str, Health, float]]:
    """Each hurting node's worst health and first start: all that status, priority and
    root cause are computed from (alerts that do not hurt change neither)."""
    nodes: dict[str, tuple[Health, float]] = {}
    for alert in alerts.values():
        if alert.health is Health.OK:
            continue
        known = nodes.get(alert.node)
        if known is None:
            nodes[alert.node] = (alert.health, alert.starts_at)
        else:
            nodes[alert.node] = (worst(known[0], alert.health), min(known[1], alert.starts_at))
    return frozenset((node, health, start) for node, (health, start) in nodes.items())


def _root_node(assessment: Assessment) -> str | None:
    return assessment.candidates[0].node if assessment.candidates else None


def _emit(
    kind: EventType,
    service: str,
    incident: Incident,
    assessment: Assessment,
    basis: frozenset[tuple[str, Health, float]],
    now: float,
    topology: Topology,
) -> tuple[Incident, ImpactEvent]:
    incident = incident._replace(due_at=None, last=assessment, emitted_at=now, basis=basis)
    return incident, _event(kind, service, incident, assessment, now, topology)


def _resolve(
    service: str, incident: Incident, now: float, topology: Topology
) -> tuple[Incident, ImpactEvent | None]:
    if incident.opened_at is None or incident.last is None:
        return incident, None
    final = replace(incident.last, status=Health.OK)
    event = _event(EventType.RESOLVED, service, incident, final, now, topology)
    return incident._replace(opened_at=None, last=None), event


def _event(
    kind: EventType,
    service: str,
    incident: Incident,
    assessment: Assessment,
    now: float,
    topology: Topology,
) -> ImpactEvent:
    assert incident.opened_at is not None
    return build_event(
        kind,
        topology.nodes[service],
        incident.key,
        assessment,
        opened_at=incident.opened_at,
        now=now,
        topology_version=topology.version,
    )


def _assessment(
    service: str, alerts: Mapping[str, IncidentAlert], topology: Topology, settings: CoreSettings
) -> Assessment:
    chronological = sorted(alerts.values(), key=_chronological)
    node_health: dict[str, Health] = {}
    firsts: dict[str, float] = {}
    fingerprints: dict[str, list[str]] = {}
    for alert in chronological:
        node, health = alert.node, alert.health
        known = node_health.get(node)
        if known is None or RANK[health] > RANK[known]:
            node_health[node] = health
        if health is Health.OK:
            continue
        found = fingerprints.get(node)
        if found is None:
            # In start order, a node's first hurting alert is its first start.
            firsts[node] = alert.starts_at
            fingerprints[node] = [alert.fingerprint]
        else:
            found.append(alert.fingerprint)
    propagation = propagate(topology, service, node_health)
    suspects = [
        Suspect(node, firsts[node], tuple(sorted(fps))) for node, fps in fingerprints.items()
    ]
    candidates = rank(topology, service, suspects)
    criticality = topology.nodes[service].criticality or 4
    return Assessment(
        status=propagation.status,
        priority=settings.priorities.priority(criticality, propagation.status),
        candidates=tuple(candidates),
        path=topology.path(candidates[0].node, service) if candidates else (),
        affected=propagation.affected,
        alerts=tuple(chronological),
    )


_chronological = attrgetter("starts_at", "fingerprint")


def _position_of(state: ServiceState, fingerprint: str) -> int | None:
    for position, incident in enumerate(state.incidents):
        if fingerprint in incident.alerts:
            return position
    return None


def _related(
    state: ServiceState, alert: IncidentAlert, topology: Topology, window: float
) -> int | None:
    """The oldest incident with an alert on a related node that started within the window."""
    relatives = topology.relatives(alert.node)
    for position, incident in enumerate(state.incidents):
        for member in incident.alerts.values():
            if member.node in relatives and abs(alert.starts_at - member.starts_at) <= window:
                return position
    return None


def _new_incident(
    service: str, alert: IncidentAlert, now: float, settings: CoreSettings
) -> Incident:
    # The creation time too: the same alert re-sent after its incident resolved (a
    # resolve timeout, say) must open a new incident under a new key.
    identity = f"{service}\x00{alert.fingerprint}\x00{alert.starts_at!r}\x00{now!r}".encode()
    seed = f"{service}-{hashlib.sha256(identity).hexdigest()[:16]}"
    return Incident(
        seed=seed,
        created_at=now,
        alerts={},
        due_at=now + settings.group_wait,
    )
