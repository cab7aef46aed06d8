"""The whole flow in one process: parse, dedup, route, correlate, on a clock the caller drives.

``replay`` and the tests use this. The streaming worker runs the same stage
functions, but split across Kafka repartitions with state in Faust tables.

The clock never goes backwards: an arrival older than what was already seen is
processed at the current time, so timers and events stay in order.
"""

import heapq
from collections import Counter
from dataclasses import dataclass, field

from correlator import correlation, dedup
from correlator.correlation import ServiceState
from correlator.event import EventType, ImpactEvent
from correlator.parse import AlertParser, Parsed, Rejection
from correlator.routing import route
from correlator.settings import CoreSettings
from correlator.topology import Topology


@dataclass(slots=True)
class Tally:
    """What happened so far, for the replay summary (the worker exports the same as metrics)."""

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


@dataclass(frozen=True, slots=True)
class Received:
    events: list[ImpactEvent]
    rejections: list[Rejection]


class Pipeline:
    def __init__(self, topology: Topology, settings: CoreSettings) -> None:
        self.topology = topology
        self.settings = settings
        self.parser = AlertParser(settings.limits)
        self.now = float("-inf")
        self.tally = Tally()
        self.alerts: dict[str, dedup.AlertState] = {}
        self.services: dict[str, ServiceState] = {}
        self._alert_timers: list[tuple[float, str]] = []
        self._service_timers: list[tuple[float, str]] = []

    def receive_body(self, body: bytes, received_at: float | None) -> Received:
        """One raw message; ``received_at`` None means the alerts' own timestamps."""
        return self._receive(self.parser.parse_body(body, received_at), received_at)

    def receive_document(self, document: object, received_at: float | None) -> Received:
        """One message already decoded from JSON (a replay envelope's ``value``)."""
        return self._receive(self.parser.parse_document(document, received_at), received_at)

    def reject(self, rejection: Rejection) -> Received:
        """Count a message refused before parsing (a broken replay envelope, say)."""
        self.tally.invalid[rejection.reason.value] += 1
        return Received([], [rejection])

    def advance(self, now: float) -> list[ImpactEvent]:
        """Run every timer due up to ``now``, each at its own due time."""
        events: list[ImpactEvent] = []
        while True:
            alert_due = self._alert_timers[0][0] if self._alert_timers else float("inf")
            service_due = self._service_timers[0][0] if self._service_timers else float("inf")
            due = min(alert_due, service_due)
            if due > now:
                break
            self.now = max(self.now, due)
            if alert_due <= service_due:
                events += self._expire_alert(heapq.heappop(self._alert_timers)[1])
            else:
                events += self._tick_service(heapq.heappop(self._service_timers)[1])
        self.now = max(self.now, now)
        return events

    @property
    def clock(self) -> float | None:
        """The simulated time, None until the first alert or ``advance`` set it."""
        return None if self.now == float("-inf") else self.now

    def open_incidents(self) -> int:
        return sum(state.open_impacts() for state in self.services.values())

    def _receive(self, parsed: Parsed, received_at: float | None) -> Received:
        for rejection in parsed.rejections:
            self.tally.invalid[rejection.reason.value] += 1
        if not parsed.alerts:
            return Received([], parsed.rejections)
        arrival = (
            received_at if received_at is not None else max(a.received_at for a in parsed.alerts)
        )
        events = self.advance(arrival)
        for alert in parsed.alerts:
            self.tally.received[alert.source_format] += 1
            previous = self.alerts.get(alert.fingerprint)
            step = dedup.observe(previous, alert, self.now, self.settings)
            events += self._store_alert(alert.fingerprint, previous, step)
        return Received(events, parsed.rejections)

    def _expire_alert(self, fingerprint: str) -> list[ImpactEvent]:
        state = self.alerts.get(fingerprint)
        if state is None:
            return []
        due = dedup.due(state, self.settings)
        if due > self.now:
            heapq.heappush(self._alert_timers, (due, fingerprint))
            return []
        step = dedup.expire(state, self.now, self.settings)
        if step is None:
            return []
        events = self._store_alert(fingerprint, state, step)
        if step.state is not None:
            heapq.heappush(self._alert_timers, (dedup.due(step.state, self.settings), fingerprint))
        return events

    def _store_alert(
        self, fingerprint: str, previous: dedup.AlertState | None, step: dedup.Step
    ) -> list[ImpactEvent]:
        if step.state is None:
            self.alerts.pop(fingerprint, None)
        else:
            self.alerts[fingerprint] = step.state
            if previous is None:
                heapq.heappush(
                    self._alert_timers, (dedup.due(step.state, self.settings), fingerprint)
                )
        if step.decision in (dedup.Decision.REPEAT, dedup.Decision.HELD, dedup.Decision.STALE):
            self.tally.deduplicated += 1
        elif step.decision is dedup.Decision.FLAPPING:
            self.tally.flapping += 1
        if step.transition is None:
            return []
        return self._correlate(step.transition)

    def _correlate(self, transition: dedup.Transition) -> list[ImpactEvent]:
        routed = route(self.topology, transition, self.settings)
        if routed.alert is None:
            if transition.firing:
                self.tally.unmatched[transition.alert.name] += 1
            return []
        events: list[ImpactEvent] = []
        for service in routed.services:
            before = self.services.get(service) or ServiceState(service)
            after, emitted = correlation.apply(
                before, routed.alert, transition.firing, self.now, self.topology, self.settings
            )
            events += self._store_service(service, before, after, emitted)
        return events

    def _tick_service(self, service: str) -> list[ImpactEvent]:
        state = self.services.get(service)
        if state is None:
            return []
        after, emitted = correlation.tick(state, self.now, self.topology, self.settings)
        return self._store_service(service, None, after, emitted)

    def _store_service(
        self,
        service: str,
        before: ServiceState | None,
        after: ServiceState,
        events: list[ImpactEvent],
    ) -> list[ImpactEvent]:
        """Keep ``after`` and its group-wait timer (``before`` None: its own timer just fired)."""
        if after.incidents:
            self.services[service] = after
        else:
            self.services.pop(service, None)
        due = correlation.next_due(after)
        if due is not None and (before is None or due != correlation.next_due(before)):
            heapq.heappush(self._service_timers, (due, service))
        for event in events:
            self.tally.count_event(event)
        return events
