"""The worker's Prometheus metrics, read from its tally at scrape time.

A collector rather than counters incremented along the way: the core counts in
its ``Tally`` (the same one replay summarises), and a scrape turns it into
metric families, so nothing on the hot path touches prometheus-client.
"""

from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from correlator.stages import Tally
from correlator.topology import Topology


class TallyCollector(Collector):
    def __init__(
        self, tally: Tally, topology: Callable[[], Topology], open_incidents: Callable[[], int]
    ) -> None:
        self._tally = tally
        self._topology = topology
        self._open_incidents = open_incidents

    def collect(self) -> Iterator[Metric]:
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
        yield GaugeMetricFamily(
            "correlator_incidents_open",
            "Impacts opened and not yet resolved, on this worker's partitions.",
            value=self._open_incidents(),
        )
        impacts = CounterMetricFamily(
            "correlator_impacts_emitted",
            "Impact events sent to the impacts topic.",
            labels=["type", "priority"],
        )
        for (kind, priority), count in sorted(tally.impacts.items()):
            impacts.add_metric([kind, priority], count)
        yield impacts
        topology = self._topology()
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
