"""Replay throughput on an alert storm, against the floor any Python reader of the same file has.

The absolute rate depends on the machine; the ratio to the parse floor (decode each
line with orjson, walk every alert's labels) mostly does not, so the ratio is
what tells whether the core's own work is in proportion.
"""

from pathlib import Path

import orjson

from bench.cache import metadata, progress
from bench.figures import Figure, timed
from bench.generate import storm_file, topology_files
from bench.scale import Scale
from bench.stormgen import StormSpec
from correlator.event import ImpactEvent
from correlator.pipeline import Pipeline
from correlator.replay import ReplayResult, replay
from correlator.settings import CoreSettings
from correlator.topology import load_topology

NAMES = (
    "replay_alerts_per_second",
    "replay_parse_floor_alerts_per_second",
    "replay_vs_parse_ratio",
)
TARGET_RATE = 50_000
TARGET_RATIO = 0.25


def run(scale: Scale) -> list[Figure]:
    topology = topology_files(scale.small_nodes)
    spec = StormSpec(alerts=scale.storm_alerts, fingerprints=scale.storm_fingerprints)
    storm = storm_file(spec, topology)
    facts = metadata(storm)
    progress(f"parse floor on {storm.name}")
    floors = [timed(lambda: parse_floor(storm))]
    progress(f"replaying {storm.name} over {topology.topology.name}")
    pipeline = Pipeline(load_topology(topology.topology), CoreSettings())
    result, seconds = timed(lambda: _replay(pipeline, storm))
    progress("parse floor again (the better of two runs counts)")
    floors.append(timed(lambda: parse_floor(storm)))
    alerts = sum(result.tally.received.values())
    floor_alerts, floor_seconds = min(floors, key=lambda pair: pair[1])
    rate, floor_rate = alerts / seconds, floor_alerts / floor_seconds
    tally = result.tally
    return [
        Figure(
            "replay_alerts_per_second",
            rate,
            "alerts/s",
            {
                "n": alerts,
                "seconds": round(seconds, 3),
                "target": f">= {TARGET_RATE}",
                "lines": result.lines,
                "topology_nodes": scale.small_nodes,
                "fingerprints": facts["fingerprints"],
                "simulated_hours": _hours(facts),
                "deduplicated": tally.deduplicated,
                "flapping": tally.flapping,
                "unmatched_changes": sum(tally.unmatched.values()),
                "incidents_opened": len(tally.incidents),
                "events": sum(tally.impacts.values()),
            },
        ),
        Figure(
            "replay_parse_floor_alerts_per_second",
            floor_rate,
            "alerts/s",
            {
                "n": floor_alerts,
                "seconds": round(floor_seconds, 3),
                "runs": len(floors),
                "method": "orjson.loads per line, len() of every alert's labels",
            },
        ),
        Figure(
            "replay_vs_parse_ratio",
            rate / floor_rate,
            "ratio",
            {
                "baseline": "replay_parse_floor_alerts_per_second",
                "target": f">= {TARGET_RATIO}",
            },
        ),
    ]


def parse_floor(path: Path) -> int:
    """What reading the storm costs before any correlation: the floor for a Python tool."""
    alerts = 0
    with path.open("rb") as lines:
        for line in lines:
            for alert in orjson.loads(line)["value"]["alerts"]:
                if len(alert["labels"]) >= 0:
                    alerts += 1
    return alerts


def _replay(pipeline: Pipeline, storm: Path) -> ReplayResult:
    with storm.open("rb") as lines:
        return replay(pipeline, lines, str(storm), _discard)


def _discard(event: ImpactEvent) -> None:
    """Events are built (that is part of the cost) but not written anywhere."""


def _hours(facts: dict[str, object]) -> float:
    seconds = facts.get("simulated_seconds", 0)
    return round(seconds / 3600, 1) if isinstance(seconds, int | float) else 0.0
