"""A recorded alert file through the real worker gives what replay gives, event for event.

On the event clock the worker's time is the records' timestamps, and the
event-time merge applies changes in replay's order at any partition count; so the
events, timestamps and keys included, are byte for byte replay's.
"""

from collections import defaultdict
from pathlib import Path

import orjson
import pytest
from streaming import SAMPLES, Broker, Names, WorkerProcess, consume, produce, worker_env

from correlator.pipeline import Pipeline
from correlator.replay import replay
from correlator.settings import CoreSettings
from correlator.stream.feed import records
from correlator.topology import load_topology

pytestmark = pytest.mark.integration


def chronological_lines(sample: Path) -> list[bytes]:
    """Every alert file of the sample, one after the other in recorded time."""
    files = sorted((sample / "alerts").glob("*.jsonl"), key=lambda f: f.read_bytes()[:60])
    return [line for path in files for line in path.read_bytes().splitlines()]


def by_service(events: list[bytes]) -> dict[str, list[bytes]]:
    """Events per business service, in the order they were written (a partition's order)."""
    grouped: dict[str, list[bytes]] = defaultdict(list)
    for event in events:
        grouped[orjson.loads(event)["business_service"]["id"]].append(event)
    return dict(grouped)


@pytest.mark.parametrize("name", ["online-boutique", "sock-shop", "hotel-reservation"])
def test_worker_on_the_event_clock_writes_what_replay_writes(
    broker: Broker, tmp_path: Path, name: str
) -> None:
    sample = SAMPLES / name
    lines = chronological_lines(sample)
    expected: list[bytes] = []
    pipeline = Pipeline(load_topology(sample / "topology.yaml"), CoreSettings())
    replay(pipeline, lines, "sample", lambda event: expected.append(event.to_json()))
    assert len(expected) > 20

    names = Names.fresh()
    env = worker_env(broker, names, sample / "topology.yaml", tmp_path / "data", clock="event")
    worker = WorkerProcess(env, tmp_path / "worker.log")
    try:
        worker.wait_ready()
        sent = [(record.value, record.received_at) for record in records(lines)]
        last = max(at for _, at in sent if at is not None)
        produce(broker, names.raw, [*sent, (b"[]", last + CoreSettings().group_wait)])
        written = consume(broker, names.impacts, at_least=len(expected), timeout=120)
    finally:
        worker.stop()
    written_by, expected_by = by_service(written), by_service(expected)
    assert {k: len(v) for k, v in written_by.items()} == {k: len(v) for k, v in expected_by.items()}
    assert written_by == expected_by
