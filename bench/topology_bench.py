"""Topology load time and memory, and how matching scales with topology size.

Load is measured in a fresh interpreter (``python -m bench.topology_bench``) because
peak RSS is a high-water mark: in the parent it would include whatever ran before.
The large topology loads in several such processes and the fastest counts, as
other processes on the machine can only slow a load down.
Matching runs in the same child after the load figures are taken, on alert label
sets generated over that topology (some matching nothing).

The generator builds topologies domain by domain, so the small topology's nodes
are also in the large one, and the small one's label sets are valid on both. The
ratio compares the two on those same label sets: equal rates show that matching
does not scan the nodes. Each topology's own label sets touch ten times more index
entries on the large one, so that rate also shows what CPU caches cost.
"""

import gc
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson

from bench.cache import progress
from bench.figures import Figure, current_rss, peak_rss, timed
from bench.generate import TopologyFiles, topology_files
from bench.scale import Scale, short
from correlator.topology import Topology, load_topology

NAMES = (
    "topology_load_seconds",
    "topology_load_peak_rss_bytes",
    "topology_load_peak_rss_delta_bytes",
    "match_per_second",
    "match_rate_large_vs_small_ratio",
)
TARGET_SECONDS = 5.0
TARGET_BYTES = 1 << 30
LOAD_RUNS = 3
MATCH_SECONDS = 1.0
MATCH_ROUNDS = 5


def run(scale: Scale) -> list[Figure]:
    small_files = topology_files(scale.small_nodes)
    small = _child(small_files, small_files.labels)
    large_files = topology_files(scale.large_nodes)
    runs = [
        _child(large_files, small_files.labels, f", run {number} of {LOAD_RUNS}")
        for number in range(1, LOAD_RUNS + 1)
    ]
    large = min(runs, key=lambda measured: float(measured["load_seconds"]))
    highest = max(runs, key=lambda measured: int(measured["peak_rss"]))
    peak = int(highest["peak_rss"])
    small_name = f"match_per_second_at_{short(scale.small_nodes)}_nodes"
    large_name = f"match_per_second_at_{short(scale.large_nodes)}_nodes"
    nodes = {"nodes": large["nodes"], "file_bytes": large["file_bytes"]}
    return [
        Figure(
            "topology_load_seconds",
            large["load_seconds"],
            "s",
            {
                **nodes,
                "target": f"< {TARGET_SECONDS}",
                "runs": [measured["load_seconds"] for measured in runs],
                "method": f"load_topology, JSON file, fastest of {LOAD_RUNS} fresh processes",
            },
        ),
        Figure(
            "topology_load_peak_rss_bytes",
            peak,
            "bytes",
            {
                **nodes,
                "target": f"< {TARGET_BYTES}",
                "method": f"ru_maxrss, highest of {LOAD_RUNS} fresh processes",
            },
        ),
        Figure(
            "topology_load_peak_rss_delta_bytes",
            peak - highest["baseline_rss"],
            "bytes",
            {
                **nodes,
                "target": f"< {TARGET_BYTES}",
                "baseline_rss": highest["baseline_rss"],
                "method": "ru_maxrss after load minus VmRSS after imports",
            },
        ),
        _match_figure(small_name, small),
        _match_figure(large_name, large),
        Figure(
            "match_rate_large_vs_small_ratio",
            large["common_match_per_second"] / small["match_per_second"],
            "ratio",
            {
                "baseline": small_name,
                "target": "~1 (no scan of all nodes)",
                "method": f"the {short(scale.small_nodes)} topology's label sets on both",
                "own_label_sets_ratio": round(
                    large["match_per_second"] / small["match_per_second"], 3
                ),
            },
        ),
    ]


def _match_figure(name: str, measured: dict[str, Any]) -> Figure:
    return Figure(
        name,
        measured["match_per_second"],
        "matches/s",
        {
            "n": measured["matches"],
            "nodes": measured["nodes"],
            "label_sets": measured["label_sets"],
            "matched_share": measured["matched_share"],
            "load_seconds": measured["load_seconds"],
        },
    )


def _child(files: TopologyFiles, common_labels: Path, run: str = "") -> dict[str, Any]:
    progress(f"loading {files.topology.name} ({files.nodes} nodes) in a fresh process{run}")
    command = [sys.executable, "-m", "bench.topology_bench"]
    command += [str(files.topology), str(files.labels), str(common_labels)]
    done = subprocess.run(command, check=True, capture_output=True)
    measured: dict[str, Any] = orjson.loads(done.stdout)
    return measured


def measure(topology_path: Path, labels_path: Path, common_path: Path) -> dict[str, Any]:
    """In the child: load figures first (nothing else allocated yet), then matching."""
    gc.collect()
    baseline_rss, peak_after_imports = current_rss(), peak_rss()
    topology, load_seconds = timed(lambda: load_topology(topology_path))
    peak = peak_rss()
    samples: list[dict[str, str]] = orjson.loads(labels_path.read_bytes())
    matches, seconds, matched = _match(topology, samples)
    common: list[dict[str, str]] = orjson.loads(common_path.read_bytes())
    common_matches, common_seconds, _ = _match(topology, common)
    return {
        "nodes": len(topology),
        "file_bytes": topology_path.stat().st_size,
        "load_seconds": round(load_seconds, 3),
        "baseline_rss": baseline_rss,
        "peak_rss_after_imports": peak_after_imports,
        "peak_rss": peak,
        "label_sets": len(samples),
        "matches": matches,
        "match_per_second": matches / seconds,
        "matched_share": round(matched / len(samples), 3),
        "common_match_per_second": common_matches / common_seconds,
    }


def _match(topology: Topology, samples: list[dict[str, str]]) -> tuple[int, float, int]:
    """Calls and seconds of the fastest of several rounds: other processes only slow rounds down."""
    matched = sum(1 for labels in samples if topology.match(labels) is not None)
    best: tuple[int, float] = (0, float("inf"))
    for _ in range(MATCH_ROUNDS):
        calls, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < MATCH_SECONDS / MATCH_ROUNDS:
            for labels in samples:
                topology.match(labels)
            calls += len(samples)
        best = max(best, (calls, elapsed), key=lambda pair: pair[0] / pair[1])
    return best[0], best[1], matched


if __name__ == "__main__":
    result = measure(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
    sys.stdout.buffer.write(orjson.dumps(result))
