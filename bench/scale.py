"""How big each benchmark runs: the sizes the targets are stated at, or a tenth for a smoke test."""

from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class Scale:
    storm_alerts: int = 1_000_000
    storm_fingerprints: int = 5_000
    small_nodes: int = 10_000
    """The topology the storm runs over."""
    large_nodes: int = 100_000
    """The topology loaded for time and memory, and the one the memory runs use."""
    big_clusters: int = 25_000
    """Alert clusters (each on a node and what needs it) in the run with many open alerts..."""
    big_cluster_alerts: int = 40
    """...of this many alerts each: 1,000,000 open alerts."""
    small_clusters: int = 40_000
    """Clusters in the run with many open incidents (about 100,000: a cluster hits several
    business services)..."""
    small_cluster_alerts: int = 3
    """...of only this many alerts each."""
    stream_nodes: int = 10_000
    """The topology the streaming worker runs on (domains of 500 nodes; probes need 3+)."""
    stream_alerts: int = 10_000
    """The storm through the worker (and the forwarder it is compared with)..."""
    stream_fingerprints: int = 5_000
    """...over this many distinct alerts."""
    stream_open_alerts: int = 100_000
    """Open alerts the worker holds when it is killed for the restart figure."""
    stream_latency_seconds: float = 30.0
    """How long probes measure impact latency under load."""

    def quick(self) -> "Scale":
        """Ten times smaller, and further where the core's cost grows faster than linearly.

        Replay and open-alert feeding cost more per alert the more a business service
        already holds (correlation scans it), so the storm is a twentieth and the
        memory runs a hundredth, to keep this a smoke test of under 30 seconds.
        """
        tenth = ("storm_fingerprints", "small_nodes", "large_nodes")
        hundredth = ("big_clusters", "small_clusters")
        return replace(
            self,
            stream_nodes=self.stream_nodes // 4,
            stream_alerts=self.stream_alerts // 20,
            stream_fingerprints=self.stream_fingerprints // 10,
            stream_open_alerts=self.stream_open_alerts // 100,
            stream_latency_seconds=self.stream_latency_seconds / 10,
            storm_alerts=self.storm_alerts // 20,
            **{name: getattr(self, name) // 10 for name in tenth},
            **{name: getattr(self, name) // 100 for name in hundredth},
        )


def short(count: int) -> str:
    """``10000`` -> ``10k``: node counts as they appear in figure names."""
    return f"{count // 1000}k" if count % 1000 == 0 and count >= 1000 else str(count)
