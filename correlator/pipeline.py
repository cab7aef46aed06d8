"""The whole flow in one process: parse, dedup, route, correlate, on a clock the caller drives.

``replay`` and the tests use this. The worker runs the same two stages, one pair
per Kafka partition, with the changes between them on a repartition topic and
their state in Faust tables; fed the same records in the same order, both emit
the same events.

The clock never goes backwards: an arrival older than what was already seen is
processed at the current time, so timers and events stay in order.
"""

from dataclasses import dataclass

from correlator.correlation import ServiceState
from correlator.dedup import AlertState
from correlator.event import ImpactEvent
from correlator.parse import AlertParser, Parsed, Rejection
from correlator.settings import CoreSettings
from correlator.stages import Change, CorrelationStage, DedupStage, Tally
from correlator.topology import Topology


@dataclass(frozen=True, slots=True)
class Received:
    events: list[ImpactEvent]
    rejections: list[Rejection]


class Pipeline:
    def __init__(self, topology: Topology, settings: CoreSettings) -> None:
        self.topology = topology
        self.settings = settings
        self.parser = AlertParser(settings.limits)
        self.tally = Tally()
        self.alerts: dict[str, AlertState] = {}
        self.services: dict[str, ServiceState] = {}
        self.dedup = DedupStage(self.alerts, topology, settings, self.tally)
        self.correlation = CorrelationStage(self.services, topology, settings, self.tally)

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
        return self._correlate(self.dedup.advance(now), now)

    @property
    def now(self) -> float:
        return max(self.dedup.now, self.correlation.now)

    @property
    def clock(self) -> float | None:
        """The simulated time, None until the first alert or ``advance`` set it."""
        return None if self.now == float("-inf") else self.now

    def open_incidents(self) -> int:
        return self.correlation.open_incidents()

    def _receive(self, parsed: Parsed, received_at: float | None) -> Received:
        for rejection in parsed.rejections:
            self.tally.invalid[rejection.reason.value] += 1
        if not parsed.alerts:
            return Received([], parsed.rejections)
        arrival = (
            received_at if received_at is not None else max(a.received_at for a in parsed.alerts)
        )
        changes = self.dedup.receive(parsed.alerts, arrival)
        return Received(self._correlate(changes, arrival), parsed.rejections)

    def _correlate(self, changes: list[Change], now: float) -> list[ImpactEvent]:
        events: list[ImpactEvent] = []
        for change in changes:
            events += self.correlation.receive(change)
        return events + self.correlation.advance(now)
