"""The core's two stateful stages, each over any mapping of its state.

``DedupStage`` holds alert states by fingerprint and turns notifications into
``Change`` records, one per business service an alert state change can hurt.
``CorrelationStage`` holds service states by business service and turns changes
into impact events. In ``replay`` one of each holds everything, in plain dicts;
in the worker there is one of each per Kafka partition, over a view of a Faust
table, and the changes travel between them through a repartition topic.

Each stage keeps its own clock, which never goes back, and a heap of timers. A
stage runs every timer due up to the time of what it is given before handling it,
each timer at its own due time, so a stage fed the same records in the same order
emits the same output, whether in one process or across Kafka.
"""

import heapq
from collections import Counter
from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass, field
from typing import Generic, NamedTuple, TypeVar

from correlator import correlation, dedup
from correlator.alert import Alert
from correlator.correlation import IncidentAlert, ServiceState
from correlator.event import EventType, ImpactEvent
from correlator.routing import route
from correlator.settings import CoreSettings
from correlator.topology import Topology


@dataclass(slots=True)
class Tally:
    """What happened so far, for the replay summary and the worker's metrics."""

    received: Counter[str] = field(default_factory=Counter)
    """Alerts parsed, by input format."""
    invalid: Counter[str] = field(default_factory=Counter)
    """Rejections, by reason."""
    deduplicated: int = 0
    flapping: int = 0
    unmatched: Counter[str] = field(default_factory=Counter)
    """Alert state changes that matched no node, by alert name."""
    impacts: Counter[tuple[str, str]] = field(default_factory=Counter)
    """Events emitted, by (type, priority)."""
    incidents: set[str] = field(default_factory=set)
    """Incident keys opened."""

    def count_event(self, event: ImpactEvent) -> None:
        self.impacts[(event.type.value, event.priority)] += 1
        if event.type is EventType.OPENED:
            self.incidents.add(str(event.document["incident_key"]))


State = TypeVar("State")
Output = TypeVar("Output")


class Change(NamedTuple):
    """An alert turning firing or resolved on a node of one business service, at ``at``."""

    service: str
    alert: IncidentAlert
    firing: bool
    at: float


class _Timers:
    """Keys by due time. A popped key is checked against its state: stale entries are harmless."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, str]] = []

    def push(self, due: float, key: str) -> None:
        heapq.heappush(self._heap, (due, key))

    @property
    def next_due(self) -> float:
        """The earliest time a timer may be due (inf: none); stale entries make it early."""
        return self._heap[0][0] if self._heap else float("inf")

    def pop_due(self, now: float) -> tuple[float, str] | None:
        if self._heap and self._heap[0][0] <= now:
            return heapq.heappop(self._heap)
        return None


class _Stage(Generic[State, Output]):
    """State over a mapping, a heap of timers, and a clock that never goes back."""

    def __init__(
        self,
        states: MutableMapping[str, State],
        topology: Topology,
        settings: CoreSettings,
        tally: Tally,
    ) -> None:
        self.states = states
        self.topology = topology
        self.settings = settings
        self.tally = tally
        self.now = float("-inf")
        self._timers = _Timers()
        for key, state in states.items():
            due = self._due(state)
            if due is not None:
                self._timers.push(due, key)

    @property
    def next_due(self) -> float:
        return self._timers.next_due

    def advance(self, now: float) -> list[Output]:
        """Run every timer due up to ``now``, each at its own due time."""
        out: list[Output] = []
        timers = self._timers
        while (entry := timers.pop_due(now)) is not None:
            due, key = entry
            if due > self.now:
                self.now = due
            out += self._fire(key)
        if now > self.now:
            self.now = now
        return out

    def _due(self, state: State) -> float | None:
        raise NotImplementedError

    def _fire(self, key: str) -> list[Output]:
        raise NotImplementedError


class DedupStage(_Stage[dedup.AlertState, Change]):
    def receive(self, alerts: Iterable[Alert], at: float) -> list[Change]:
        """Notifications that arrived at ``at``, after the timers due by then."""
        changes = self.advance(at)
        received, states, now, settings = self.tally.received, self.states, self.now, self.settings
        for alert in alerts:
            received[alert.source_format] += 1
            previous = states.get(alert.fingerprint)
            step = dedup.observe(previous, alert, now, settings)
            changes += self._store(alert.fingerprint, previous, step)
        return changes

    def _due(self, state: dedup.AlertState) -> float:
        return dedup.due(state, self.settings)

    def _fire(self, fingerprint: str) -> list[Change]:
        state = self.states.get(fingerprint)
        if state is None:
            return []
        due = dedup.due(state, self.settings)
        if due > self.now:
            self._timers.push(due, fingerprint)
            return []
        step = dedup.expire(state, self.now, self.settings)
        if step is None:
            return []
        changes = self._store(fingerprint, state, step)
        if step.state is not None:
            self._timers.push(dedup.due(step.state, self.settings), fingerprint)
        return changes

    def _store(
        self, fingerprint: str, previous: dedup.AlertState | None, step: dedup.Step
    ) -> list[Change]:
        if step.state is None:
            self.states.pop(fingerprint, None)
        elif step.state is not previous:
            self.states[fingerprint] = step.state
            if previous is None:
                self._timers.push(dedup.due(step.state, self.settings), fingerprint)
        if step.decision in (dedup.Decision.REPEAT, dedup.Decision.HELD, dedup.Decision.STALE):
            self.tally.deduplicated += 1
        elif step.decision is dedup.Decision.FLAPPING:
            self.tally.flapping += 1
        if step.transition is None:
            return []
        return self._fan_out(step.transition)

    def _fan_out(self, transition: dedup.Transition) -> list[Change]:
        routed = route(self.topology, transition, self.settings)
        if routed.alert is None:
            if transition.firing:
                self.tally.unmatched[transition.alert.name] += 1
            return []
        return [
            Change(service, routed.alert, transition.firing, self.now)
            for service in routed.services
        ]


class CorrelationStage(_Stage[ServiceState, ImpactEvent]):
    def receive(self, change: Change) -> list[ImpactEvent]:
        """One change, after the timers due by its time."""
        events = self.advance(change.at)
        before = self.states.get(change.service) or ServiceState(change.service)
        after, emitted = correlation.apply(
            before, change.alert, change.firing, self.now, self.topology, self.settings
        )
        return events + self._store(change.service, before, after, emitted)

    def _due(self, state: ServiceState) -> float | None:
        return correlation.next_due(state)

    def open_incidents(self) -> int:
        return sum(state.open_impacts() for state in self.states.values())

    def _fire(self, service: str) -> list[ImpactEvent]:
        state = self.states.get(service)
        if state is None:
            return []
        after, emitted = correlation.tick(state, self.now, self.topology, self.settings)
        return self._store(service, None, after, emitted)

    def _store(
        self,
        service: str,
        before: ServiceState | None,
        after: ServiceState,
        events: list[ImpactEvent],
    ) -> list[ImpactEvent]:
        """Keep ``after`` and its timer (``before`` None: its own timer just fired)."""
        if after.incidents:
            if after is not before:
                self.states[service] = after
        else:
            self.states.pop(service, None)
        due = correlation.next_due(after)
        if due is not None and (before is None or due != correlation.next_due(before)):
            self._timers.push(due, service)
        for event in events:
            self.tally.count_event(event)
        return events
