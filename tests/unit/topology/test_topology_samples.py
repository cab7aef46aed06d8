"""Every sample topology shipped in ``topologies/`` is valid and of a useful size."""

from pathlib import Path

import pytest

from correlator.topology import Kind, load_topology

SAMPLES = sorted((Path(__file__).parents[3] / "topologies").glob("*/topology.yaml"))


def test_at_least_three_samples_ship_with_a_group_and_a_cycle() -> None:
    assert len(SAMPLES) >= 3, SAMPLES
    topologies = [load_topology(path) for path in SAMPLES]
    assert any(
        node.kind is Kind.GROUP for topology in topologies for node in topology.nodes.values()
    )
    assert any(topology.cycles() for topology in topologies)


@pytest.mark.parametrize("path", SAMPLES, ids=[path.parent.name for path in SAMPLES])
def test_sample_validates_with_30_to_150_nodes(path: Path) -> None:
    topology = load_topology(path)

    assert 30 <= len(topology) <= 150
    assert any(True for _ in topology.business_services())
