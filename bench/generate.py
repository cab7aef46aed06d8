"""The benchmark inputs, generated deterministically and cached under ``bench/.cache/``.

A topology comes as three files: the topology document (JSON, what
``load_topology`` reads), its targets (how alerts land on nodes, for the alert
generators) and a sample of alert label sets (for matching). A storm is a JSONL
file of replay envelopes over one topology.
"""

from dataclasses import asdict, dataclass
from pathlib import Path

import orjson

from bench.cache import cached_file
from bench.stormgen import StormSpec, identities, write_storm
from bench.topogen import Target, build_topology

TOPOLOGY_SEED = 1
LABEL_SAMPLES = 20_000


@dataclass(frozen=True, slots=True)
class TopologyFiles:
    nodes: int
    topology: Path
    targets: Path
    labels: Path
    """A JSON list of alert label sets over this topology (some matching no node)."""


def topology_files(nodes: int, seed: int = TOPOLOGY_SEED) -> TopologyFiles:
    params = {"nodes": nodes, "seed": seed}
    model = None

    def write(kind: str, path: Path) -> dict[str, object]:
        nonlocal model
        if model is None:
            model = build_topology(nodes, seed)
        if kind == "topology":
            path.write_bytes(orjson.dumps(model.document))
        else:
            path.write_bytes(orjson.dumps([target.to_json() for target in model.targets]))
        return {"nodes": len(model.document["nodes"]), "targets": len(model.targets)}

    topology = cached_file("topology", ".json", params, lambda p: write("topology", p))
    targets_path = cached_file("targets", ".json", params, lambda p: write("targets", p))

    def write_labels(path: Path) -> dict[str, object]:
        spec = StormSpec(alerts=0, fingerprints=min(LABEL_SAMPLES, nodes * 2), seed=seed)
        samples = [identity.labels for identity in identities(spec, load_targets(targets_path))]
        path.write_bytes(orjson.dumps(samples))
        return {"samples": len(samples)}

    labels = cached_file("labels", ".json", params, write_labels)
    return TopologyFiles(nodes, topology, targets_path, labels)


def storm_file(spec: StormSpec, topology: TopologyFiles) -> Path:
    """The storm ``spec`` over ``topology``, as replay input."""
    params = {"storm": asdict(spec), "topology": topology.topology.name}
    targets = topology.targets
    return cached_file(
        "storm", ".jsonl", params, lambda path: write_storm(spec, load_targets(targets), path)
    )


def load_targets(path: Path) -> list[Target]:
    return [Target.from_json(raw) for raw in orjson.loads(path.read_bytes())]
