"""The worker's Prometheus metrics.

What the core counts (alerts, rejections, dedup, impacts) is read from its
``Tally`` at scrape time, the same tally replay summarises, so nothing on the
hot path touches prometheus-client for it. What only the shell knows (ingest
requests, dead letters sent, topology reloads, latency, lag, the broker) is
counted here.
"""

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from correlator.stages import Tally
from correlator.topology import Topology

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


@dataclass(frozen=True, slots=True)
class Readings:
    """What a scrape reads from the worker, besides its tally."""

    topology: Callable[[], Topology]
    open_incidents: Callable[[], int]
    lag: Callable[[], Mapping[tuple[str, int], int]]
    """Records not yet read, by (topic, partition)."""
    broker_up: Callable[[], bool]


class WorkerMetrics:
    def __init__(self, tally: Tally, readings: Readings) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(_TallyCollector(tally, readings))
        self.latency = Histogram(
            "correlator_processing_latency_seconds",
            "From an alert's receipt (its record's timestamp) to the impact event it caused, "
            "for events a record caused; from the timer's tick for those a timer caused "
            "(group wait, group interval, resolve timeout).",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.deadletters = Counter(
            "correlator_deadletter_records",
            "Records sent to the dead-letter topic, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.ingest = Counter(
            "correlator_ingest_requests",
            "HTTP ingest requests, by endpoint and status code.",
            ["endpoint", "code"],
            registry=self.registry,
        )
        self.reloads = Counter(
            "correlator_topology_reloads",
            "Topology files read again after a change, by result (ok or invalid).",
            ["result"],
            registry=self.registry,
        )


class _TallyCollector(Collector):
    def __init__(self, tally: Tally, readings: Readings) -> None:
        self._tally = tally
        self._readings = readings

    def collect(self) -> Iterator[Metric]:
        yield from self._alerts()
        yield GaugeMetricFamily(
            "correlator_incidents_open",
            "Impacts opened and not yet resolved, on this worker's partitions.",
            value=self._readings.open_incidents(),
        )
        impacts = CounterMetricFamily(
            "correlator_impacts_emitted",
            "Impact events sent to the impacts topic.",
            labels=["type", "priority"],
        )
        for (kind, priority), count in sorted(self._tally.impacts.items()):
            impacts.add_metric([kind, priority], count)
        yield impacts
        yield from self._topology_metrics()
        lag = GaugeMetricFamily(
            "correlator_consumer_lag",
            "Records on a partition this worker reads that it has not read yet.",
            labels=["topic", "partition"],
        )
        for (topic, partition), behind in sorted(self._readings.lag().items()):
            lag.add_metric([topic, str(partition)], behind)
        yield lag
        yield GaugeMetricFamily(
            "correlator_broker_up",
            "1 while the broker answers, 0 while it does not.",
            value=1 if self._readings.broker_up() else 0,
        )

    def _alerts(self) -> Iterator[Metric]:
        tally = self._tally
        received = CounterMetricFamily(
            "correlator_alerts_received", "Alerts parsed, by input format.", labels=["format"]
        )
        for name, count in sorted(tally.received.items()):
            received.add_metric([name], count)
        yield received
        invalid = CounterMetricFamily(
            "correlator_alerts_invalid",
            "Messages or alerts rejected, by reason.",
            labels=["reason"],
        )
        for reason, count in sorted(tally.invalid.items()):
            invalid.add_metric([reason], count)
        yield invalid
        yield CounterMetricFamily(
            "correlator_alerts_deduplicated",
            "Notifications that changed nothing downstream (repeats, held flaps, stale resolves).",
            value=tally.deduplicated,
        )
        yield CounterMetricFamily(
            "correlator_alerts_unmatched",
            "Alert state changes that matched no topology node.",
            value=sum(tally.unmatched.values()),
        )

    def _topology_metrics(self) -> Iterator[Metric]:
        topology = self._readings.topology()
        yield GaugeMetricFamily(
            "correlator_topology_nodes", "Nodes in the loaded topology.", value=len(topology)
        )
        info = GaugeMetricFamily(
            "correlator_topology_version_info",
            "The loaded topology's version (a hash of its content), as a label.",
            labels=["version", "name"],
        )
        info.add_metric([topology.version, topology.name], 1)
        yield info
