"""A recorded alert file through the real worker gives what replay gives, event for event.

On the event clock the worker's time is the records' timestamps, and the
event-time merge applies changes in replay's order at any partition count; so the
events, timestamps and keys included, are byte for byte replay's.
"""

from pathlib import Path

import pytest
from streaming import (
    SAMPLES,
    Broker,
    Names,
    WorkerProcess,
    by_service,
    chronological_lines,
    consume,
    flush_record,
    produce,
    replayed,
    timed_records,
    worker_env,
)

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("name", ["online-boutique", "sock-shop", "hotel-reservation"])
def test_worker_on_the_event_clock_writes_what_replay_writes(
    broker: Broker, tmp_path: Path, name: str
) -> None:
    sample = SAMPLES / name
    lines = chronological_lines(sample)
    expected = replayed(sample / "topology.yaml", lines)
    assert len(expected) > 20

    names = Names.fresh()
    env = worker_env(broker, names, sample / "topology.yaml", tmp_path / "data", clock="event")
    worker = WorkerProcess(env, tmp_path / "worker.log")
    try:
        worker.wait_ready()
        sent = timed_records(lines)
        produce(broker, names.raw, [*sent, flush_record(sent)])
        written = consume(broker, names.impacts, at_least=len(expected), timeout=120)
    finally:
        worker.stop()
    written_by, expected_by = by_service(written), by_service(expected)
    assert {k: len(v) for k, v in written_by.items()} == {k: len(v) for k, v in expected_by.items()}
    assert written_by == expected_by
