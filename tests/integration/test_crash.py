"""A worker killed with SIGKILL mid-stream and started again loses nothing and invents nothing.

Kafka gives at-least-once: a worker killed after sending an event but before it
committed what it read reads that input again, so a restarted worker may write some
events twice. Each such repeat must be byte-for-byte its first copy (same
``event_id``, so consumers drop it), and the distinct events must be exactly what
``correlator replay`` writes: no alert, open incident or ``incident_key`` lost across
the restart, nothing made up. On the event clock replay's output is what one worker
that never dies writes (``test_parity``), so any difference is the crash's doing.
"""

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import orjson
import pytest
from streaming import (
    SAMPLES,
    Broker,
    Names,
    WorkerProcess,
    assert_nothing_lost_or_made_up,
    chronological_lines,
    consume,
    first_copies,
    flush_record,
    produce,
    timed_records,
    worker_env,
)

from correlator.pipeline import Pipeline
from correlator.replay import replay
from correlator.settings import CoreSettings
from correlator.topology import load_topology

pytestmark = pytest.mark.integration


def replay_with_progress(topology: Path, lines: Sequence[bytes]) -> list[tuple[int, bytes]]:
    """Replay's events, each with how many input lines had been read when it came out."""
    read = 0

    def counted() -> Iterator[bytes]:
        nonlocal read
        for line in lines:
            read += 1
            yield line

    events: list[tuple[int, bytes]] = []
    pipeline = Pipeline(load_topology(topology), CoreSettings())
    replay(pipeline, counted(), "sample", lambda event: events.append((read, event.to_json())))
    return events


def open_at(events: Sequence[bytes]) -> set[str]:
    """Incident keys opened and not resolved in ``events``."""
    opened: set[str] = set()
    for event in map(orjson.loads, events):
        if event["type"] == "impact.opened":
            opened.add(event["incident_key"])
        elif event["type"] == "impact.resolved":
            opened.discard(event["incident_key"])
    return opened


def longest_open_stretch(events: Sequence[bytes]) -> range:
    """The longest run of prefix lengths of ``events`` after which some incident is open.

    A kill lands somewhere in it when the worker is killed once its output reaches the
    run's start: how far past that the worker gets before it dies depends on timing.
    """
    best = run = range(0)
    for length in range(1, len(events) + 1):
        if open_at(events[:length]):
            run = range(run.start if run else length, length + 1)
            best = max(best, run, key=len)
        else:
            run = range(0)
    return best


def continued(before: list[bytes], after: list[bytes]) -> set[str]:
    """Incidents open in ``before`` that events in ``after`` (not in ``before``) go on with."""
    seen = {orjson.loads(event)["event_id"] for event in before}
    later = [orjson.loads(event) for event in after]
    keys = {event["incident_key"] for event in later if event["event_id"] not in seen}
    return open_at(before) & keys


def test_a_worker_killed_mid_stream_and_started_again_loses_no_impact(
    broker: Broker, tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    sample = SAMPLES / "sock-shop"
    lines = chronological_lines(sample)
    half = len(lines) // 2
    progress = replay_with_progress(sample / "topology.yaml", lines)
    expected = [event for _, event in progress]
    during_first_half = sum(1 for read, _ in progress if read <= half)
    open_stretch = longest_open_stretch(expected[:during_first_half])
    kill_after = open_stretch.start
    assert len(open_stretch) >= 20, "the sample's first half has no long open incident"
    sent = timed_records(lines)
    first_part, rest = sent[:half], [*sent[half:], flush_record(sent)]

    names = Names.fresh()
    env = worker_env(broker, names, sample / "topology.yaml", tmp_path / "data", clock="event")
    # One record at a time, slower, so that the kill lands mid-stream; the restarted
    # worker takes its default batches.
    worker = WorkerProcess({**env, "CORRELATOR_BATCH_SIZE": "1"}, tmp_path / "worker-1.log")
    try:
        worker.wait_ready()
        produce(broker, names.raw, first_part)
        consume(broker, names.impacts, at_least=kill_after, idle=0)
    finally:
        worker.kill()
    before = consume(broker, names.impacts, at_least=kill_after, idle=1)
    landed = len(before) in open_stretch
    assert landed, f"the kill landed after {len(before)} events, outside {open_stretch}"

    restarted = WorkerProcess(env, tmp_path / "worker-2.log")
    try:
        restarted.wait_ready(timeout=30)
        produce(broker, names.raw, rest)
        written = consume(broker, names.impacts, at_least=len(expected), timeout=60)
    finally:
        restarted.stop()
    repeats = assert_nothing_lost_or_made_up(written, expected)
    assert continued(before, written), "no incident open at the kill went on after the restart"
    record_property("written_before_kill", len(before))
    record_property("repeats", len(repeats))
    print(f"killed after {len(before)} of {len(expected)} events; {len(repeats)} written twice")


def test_a_worker_killed_again_and_again_through_a_backlog_loses_no_impact(
    broker: Broker, tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    """The whole stream is sent at once, so each kill lands while state is mid-flight.

    The killed workers take one record at a time: slower, so the kills land mid-stream.
    The last one takes its default batches, over what the others left half done.
    """
    sample = SAMPLES / "online-boutique"
    lines = chronological_lines(sample)
    progress = replay_with_progress(sample / "topology.yaml", lines)
    expected = [event for _, event in progress]
    kills = [len(expected) // 4, len(expected) // 2]
    sent = timed_records(lines)

    names = Names.fresh()
    env = worker_env(broker, names, sample / "topology.yaml", tmp_path / "data", clock="event")
    at_kills: list[list[bytes]] = []
    for run, kill_after in enumerate(kills, start=1):
        one_at_a_time = {**env, "CORRELATOR_BATCH_SIZE": "1"}
        worker = WorkerProcess(one_at_a_time, tmp_path / f"worker-{run}.log")
        try:
            worker.wait_ready(timeout=60 if run == 1 else 30)
            if run == 1:  # the worker makes the topics: alerts.raw must have one partition
                produce(broker, names.raw, [*sent, flush_record(sent)])
            consume(broker, names.impacts, at_least=kill_after, idle=0)
        finally:
            worker.kill()
        at_kills.append(consume(broker, names.impacts, at_least=kill_after, idle=1))
        distinct, _ = first_copies(at_kills[-1])
        # At least kill_after written (repeats included, as the kill waited for them), and
        # not yet every distinct event.
        landed = kill_after <= len(at_kills[-1]) and len(distinct) < len(expected)
        assert landed, f"kill {run} did not land mid-stream"

    last = WorkerProcess(env, tmp_path / f"worker-{len(kills) + 1}.log")
    try:
        last.wait_ready(timeout=30)
        written = consume(broker, names.impacts, at_least=len(expected), timeout=60)
    finally:
        last.stop()
    repeats = assert_nothing_lost_or_made_up(written, expected)
    # Where a kill lands depends on timing; one kill with an incident open across it is enough.
    assert any(continued(before, written) for before in at_kills), "no open incident went on"
    record_property("written_at_kills", [len(before) for before in at_kills])
    record_property("repeats", len(repeats))
    print(f"killed at {[len(b) for b in at_kills]} of {len(expected)}; {len(repeats)} twice")
