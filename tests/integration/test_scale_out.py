"""Two workers in one consumer group split the partitions and write what one worker writes.

Both run with the same app id (so the same group and changelogs) and each its own
web port and data directory. They split the four partitions of each state topic
between them (Faust logs the table it was given); while both run, each correlates
the business services of its partitions. When one stops, cleanly or killed, the
other is given its partitions, recovers their state from the changelogs and goes
on with the incidents the first had open. On the event clock the union of what
they write is replay's output, as one worker's is (``test_parity``).
"""

import time
from pathlib import Path

import orjson
import pytest
from streaming import (
    SAMPLES,
    Broker,
    Names,
    WorkerProcess,
    assert_nothing_lost_or_made_up,
    assignment,
    chronological_lines,
    consume,
    flush_record,
    metric,
    produce,
    replayed,
    timed_records,
    worker_env,
)

from correlator.stream.records import partition_of

pytestmark = pytest.mark.integration

PARTITIONS = 4


def shares(workers: list[WorkerProcess], topic: str, timeout: float = 30.0) -> list[set[int]]:
    """Each worker's partitions of ``topic``, once their latest assignments split all of them."""
    deadline = time.monotonic() + timeout
    while True:
        given = [assignment(worker).get(topic, set()) for worker in workers]
        split = sum(len(share) for share in given) == PARTITIONS
        if split and set().union(*given) == set(range(PARTITIONS)):
            return given
        if time.monotonic() > deadline:
            msg = f"partitions of {topic} not split between the workers: {given}"
            raise AssertionError(msg)
        time.sleep(0.2)


def service_partition(event: bytes) -> int:
    """The partition of the event's business service: where its state lives."""
    return partition_of(orjson.loads(event)["business_service"]["id"], PARTITIONS)


@pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL"])
def test_two_workers_split_the_partitions_and_one_takes_over_when_the_other_stops(
    broker: Broker, tmp_path: Path, how: str
) -> None:
    sample = SAMPLES / "online-boutique"  # its business services live on all four partitions
    lines = chronological_lines(sample)
    expected = replayed(sample / "topology.yaml", lines)
    assert {service_partition(event) for event in expected} == set(range(PARTITIONS))
    sent = timed_records(lines)
    half = len(sent) // 2
    first_part, rest = sent[:half], [*sent[half:], flush_record(sent)]

    names = Names.fresh()
    by_service_topic = f"{names.app_id}-changes-by-service"
    envs = [
        worker_env(broker, names, sample / "topology.yaml", tmp_path / f"data-{n}", clock="event")
        for n in (1, 2)
    ]
    assert envs[0]["CORRELATOR_WEB_PORT"] != envs[1]["CORRELATOR_WEB_PORT"]
    staying = WorkerProcess(envs[0], tmp_path / "worker-1.log")
    leaving = WorkerProcess(envs[1], tmp_path / "worker-2.log")
    try:
        staying.wait_ready()
        leaving.wait_ready()
        kept, handed_over = shares([staying, leaving], by_service_topic)
        assert kept and handed_over, "each worker has a share of the partitions"

        produce(broker, names.raw, first_part)
        before = consume(broker, names.impacts, at_least=len(expected) // 4)
        emitted = [metric(env, "correlator_impacts_emitted_total") for env in envs]
        assert emitted == [
            sum(1 for event in before if service_partition(event) in share)
            for share in (kept, handed_over)
        ], "each worker wrote the events of the services on its partitions"
        assert all(emitted), "both workers took part"

        if how == "SIGTERM":
            assert leaving.stop() == 0
        else:
            leaving.kill()
        assert shares([staying], by_service_topic) == [set(range(PARTITIONS))]

        produce(broker, names.raw, rest)
        written = consume(broker, names.impacts, at_least=len(expected), timeout=60)
    finally:
        staying.stop()
        leaving.stop()

    repeats = assert_nothing_lost_or_made_up(written, expected)

    # The takeover carried state: incidents the leaving worker had open go on.
    seen = {orjson.loads(event)["event_id"] for event in before}
    opened_there = {
        orjson.loads(event)["incident_key"]
        for event in before
        if service_partition(event) in handed_over
        and orjson.loads(event)["type"] == "impact.opened"
    }
    went_on = {
        document["incident_key"]
        for document in map(orjson.loads, written)
        if document["event_id"] not in seen and document["type"] != "impact.opened"
    }
    assert opened_there & went_on, "no incident the leaving worker had open went on after it left"
    print(f"{how}: shares {sorted(kept)} / {sorted(handed_over)}; {len(repeats)} written twice")
