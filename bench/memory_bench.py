"""Memory per open alert and per open incident, from RSS growth in fresh processes.

Method. Each run is a fresh ``python -m bench.memory_bench`` that loads the large
topology and feeds a ``Pipeline`` clusters of distinct firing alerts as webhook
payloads: each cluster on one node and up to two nodes that need it, arriving a
few seconds apart on the simulated clock, with a resolve timeout too long to ever
fire. So alerts stay open, group waits pass, incidents open impacts (and hold
their assessments), and nothing is ever freed. Resident memory (VmRSS, after
``gc.collect()``) is read once a warm-up has used up what loading freed, and
again after the measured clusters and a final ``advance``.

* Per open alert: RSS growth / open alerts in a run of big clusters (1,000,000
  alerts in 25,000 clusters of 40). This is the gross cost: dedup state, the
  alert, its share of incidents, its copies in every business service it
  affects, timers, and the topology caches filled on the way.
* Per open incident: a second run of many small clusters (40,000 of 3 alerts,
  about 100,000 incidents as a cluster hits several business services). Solving
  ``growth = a * alerts + i * incidents`` for the two runs, whose alert-to-incident
  ratios differ some thirtyfold, separates the cost that follows alerts (``a``,
  reported as the marginal per-alert figure) from the cost that follows incidents
  (``i``), so the incident figure is not inflated by the alerts inside it.
"""

import gc
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from itertools import count, islice
from pathlib import Path
from typing import Any

import orjson

from bench.alerts import make_identity, notification, webhook
from bench.cache import progress
from bench.figures import Figure, current_rss
from bench.generate import load_targets, topology_files
from bench.scale import Scale
from bench.stormgen import T0
from bench.topogen import Target
from correlator.pipeline import Pipeline
from correlator.settings import CoreSettings
from correlator.timestamps import format_timestamp
from correlator.topology import Kind, load_topology

NAMES = (
    "memory_per_open_alert_bytes",
    "memory_per_open_alert_marginal_bytes",
    "memory_per_open_incident_bytes",
)
NEVER = 1e12
"""A resolve timeout no run reaches: alerts must stay open to be measured."""
WARM_UP_GROWTH = 16 << 20
SERVICE_SPREAD = 6000.0
"""Seconds between clusters, times the number of business services: keeps consecutive
clusters on one service mostly further apart than the correlation window."""


def run(scale: Scale) -> list[Figure]:
    files = topology_files(scale.large_nodes)
    # Side by side: each process measures only its own memory; only "seconds" feels the company.
    runs = [
        _start(files.topology, files.targets, scale.big_clusters, scale.big_cluster_alerts),
        _start(files.topology, files.targets, scale.small_clusters, scale.small_cluster_alerts),
    ]
    many, few = (_finish(run) for run in runs)
    per_alert, per_incident = _solve(many, few)
    method = "rss_delta: VmRSS growth while feeding (after a warm-up, gc.collect() before readings)"
    common = {"topology_nodes": many["nodes"], "method": method}
    return [
        Figure(
            "memory_per_open_alert_bytes",
            many["growth"] / many["alerts"],
            "bytes",
            {
                **common,
                "n": many["alerts"],
                "incidents": many["incidents"],
                "open_impacts": many["open_impacts"],
                "alert_service_pairs": many["pairs"],
                "rss_growth_bytes": many["growth"],
                "seconds": many["seconds"],
                "note": "gross: includes the alert's share of incidents and fan-out",
            },
        ),
        Figure(
            "memory_per_open_alert_marginal_bytes",
            per_alert,
            "bytes",
            {
                **common,
                "method": f"{method}; two runs, growth = a*alerts + i*incidents solved for a",
            },
        ),
        Figure(
            "memory_per_open_incident_bytes",
            per_incident,
            "bytes",
            {
                **common,
                "n": few["incidents"],
                "alerts": few["alerts"],
                "open_impacts": few["open_impacts"],
                "rss_growth_bytes": few["growth"],
                "seconds": few["seconds"],
                "other_run": {"alerts": many["alerts"], "incidents": many["incidents"]},
                "method": f"{method}; two runs, growth = a*alerts + i*incidents solved for i",
            },
        ),
    ]


def _solve(first: dict[str, Any], second: dict[str, Any]) -> tuple[float, float]:
    """Cramer's rule on growth = a * alerts + i * incidents for the two runs."""
    a1, i1, g1 = first["alerts"], first["incidents"], first["growth"]
    a2, i2, g2 = second["alerts"], second["incidents"], second["growth"]
    determinant = a1 * i2 - a2 * i1
    return (g1 * i2 - g2 * i1) / determinant, (a1 * g2 - a2 * g1) / determinant


def _start(
    topology: Path, targets: Path, clusters: int, per_cluster: int
) -> "subprocess.Popen[bytes]":
    progress(f"memory run: {clusters} clusters x {per_cluster} alerts, fresh process")
    command = [
        sys.executable,
        "-m",
        "bench.memory_bench",
        str(topology),
        str(targets),
        str(clusters),
        str(per_cluster),
    ]
    return subprocess.Popen(command, stdout=subprocess.PIPE)


def _finish(child: "subprocess.Popen[bytes]") -> dict[str, Any]:
    stdout, _ = child.communicate()
    if child.returncode:
        raise subprocess.CalledProcessError(child.returncode, child.args)
    measured: dict[str, Any] = orjson.loads(stdout)
    return measured


def measure(
    topology_path: Path, targets_path: Path, clusters: int, per_cluster: int
) -> dict[str, Any]:
    topology = load_topology(topology_path)
    targets = load_targets(targets_path)
    services = sum(1 for node in topology.nodes.values() if node.kind is Kind.BUSINESS_SERVICE)
    pipeline = Pipeline(topology, CoreSettings(resolve_timeout=NEVER))
    feed = _clusters(targets, per_cluster, SERVICE_SPREAD / services)
    warmup = _warm_up(pipeline, feed)
    before = current_rss(), len(pipeline.alerts), _incidents(pipeline)
    start = time.perf_counter()
    for body, at in islice(feed, clusters):
        pipeline.receive_body(body, at)
    pipeline.advance(pipeline.now + pipeline.settings.group_wait)
    seconds = time.perf_counter() - start
    gc.collect()
    after = current_rss(), len(pipeline.alerts), _incidents(pipeline)
    return {
        "nodes": len(topology),
        "growth": after[0] - before[0],
        "alerts": after[1] - before[1],
        "incidents": after[2] - before[2],
        "open_impacts": pipeline.open_incidents(),
        "pairs": sum(len(i.alerts) for s in pipeline.services.values() for i in s.incidents),
        "warmup_alerts": warmup,
        "seconds": round(seconds, 1),
    }


def _warm_up(pipeline: Pipeline, feed: Iterator[tuple[bytes, float]]) -> int:
    """Feed until resident memory grows: until then, alerts fill what loading freed.

    Loading a topology decodes a whole document and frees it; the allocator keeps
    that memory and hands it to the first alerts, which would then seem free.
    """
    gc.collect()
    loaded = current_rss()
    while current_rss() - loaded < WARM_UP_GROWTH:
        for body, at in islice(feed, 50):
            pipeline.receive_body(body, at)
        gc.collect()
    return len(pipeline.alerts)


def _clusters(
    targets: list[Target], per_cluster: int, spacing: float
) -> Iterator[tuple[bytes, float]]:
    """Webhook bodies, each a cluster of distinct firing alerts on a node and what needs it."""
    where, what = random.Random("clusters"), random.Random("alerts")
    for cluster in count():
        at = T0 + cluster * spacing
        root = where.randrange(len(targets))
        parents = targets[root].parents
        nodes = [root, *where.sample(parents, min(2, len(parents)))]
        alerts = []
        for position in range(per_cluster):
            variant = cluster * per_cluster + position
            identity = make_identity(targets, nodes[position % len(nodes)], variant, what)
            alerts.append(notification(identity, format_timestamp(at - what.uniform(0, 20)), None))
        yield orjson.dumps(webhook(("bench", "app", "critical"), alerts)), at


def _incidents(pipeline: Pipeline) -> int:
    return sum(len(state.incidents) for state in pipeline.services.values())


if __name__ == "__main__":
    arguments = sys.argv[1:]
    result = measure(Path(arguments[0]), Path(arguments[1]), int(arguments[2]), int(arguments[3]))
    sys.stdout.buffer.write(orjson.dumps(result))
