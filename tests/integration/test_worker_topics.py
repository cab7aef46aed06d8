"""``correlator worker`` at start and on bad input, as an operator sees it.

At start the worker prints its settings (secrets masked), creates the topics it
needs with the configured partition counts, and refuses to run against internal
topics whose partition count differs: it would restore state onto the wrong
partitions. Bad input on ``alerts.raw`` goes to the dead-letter topic with where
it came from, and the good alerts of the same message still make their impact.
"""

import asyncio
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from streaming import Broker, Names, WorkerProcess, consume, produce, worker_env
from support import SHOP_YAML, T0, generic, webhook

from correlator.settings import CoreSettings

pytestmark = pytest.mark.integration

CORRELATOR = str(Path(sys.executable).parent / "correlator")
PASSWORD = "pa55-w0rd-not-to-print"


def describe(broker: Broker, topics: list[str]) -> dict[str, int]:
    """Partition count of each topic that exists."""

    async def read() -> dict[str, int]:
        admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            present = [topic for topic in topics if topic in existing]
            found = await admin.describe_topics(present) if present else []
            return {topic["topic"]: len(topic["partitions"]) for topic in found}
        finally:
            await admin.close()

    return asyncio.run(read())


def create_topic(broker: Broker, name: str, partitions: int) -> None:
    async def make() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(name, partitions, 1)])
        finally:
            await admin.close()

    asyncio.run(make())


def internal_topics(app_id: str) -> list[str]:
    return [
        f"{app_id}-alerts-by-fingerprint",
        f"{app_id}-changes-by-service",
        f"{app_id}-alert-states-changelog",
        f"{app_id}-service-states-changelog",
        f"{app_id}-merges-changelog",
    ]


def run_worker_command(
    env: Mapping[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CORRELATOR, "worker"],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass(frozen=True, slots=True)
class Running:
    broker: Broker
    names: Names
    worker: WorkerProcess


@pytest.fixture(scope="module")
def running(broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """One worker on the event clock, started on a broker without its topics."""
    scratch = tmp_path_factory.mktemp("worker")
    topology = scratch / "shop.yaml"
    topology.write_text(SHOP_YAML, encoding="utf-8")
    names = Names.fresh()
    env = worker_env(
        broker,
        names,
        topology,
        scratch / "data",
        clock="event",
        partitions=3,
        raw_partitions=1,
        sasl_password=PASSWORD,
    )
    worker = WorkerProcess(env, scratch / "worker.log")
    try:
        worker.wait_ready()
        yield Running(broker, names, worker)
    finally:
        worker.stop()


def test_the_worker_creates_its_topics_with_the_configured_partition_counts(
    running: Running,
) -> None:
    names = running.names
    edge = [names.raw, names.impacts, names.deadletter]
    internal = internal_topics(names.app_id)

    found = describe(running.broker, edge + internal)

    assert found == {**dict.fromkeys(edge, 1), **dict.fromkeys(internal, 3)}
    assert "created topics: " in running.worker.output()


def test_the_worker_prints_its_settings_with_the_password_masked(running: Running) -> None:
    output = running.worker.output()

    assert "setting partitions = 3" in output
    assert f"setting app_id = {running.names.app_id}" in output
    assert "setting sasl_password = *****" in output
    assert PASSWORD not in output


def test_bad_input_goes_to_the_dead_letter_topic_and_good_alerts_still_make_impacts(
    running: Running,
) -> None:
    """An unreadable message, then a message of one good and one bad alert.

    On the event clock the ``[]`` record after group wait moves time on, so the
    good alert's impact comes out whatever the timing of the run.
    """
    broker, names = running.broker, running.names
    broken = b'{"alerts": [ not json'
    good = generic("RedisDown", at=T0, service="redis-cart")
    bad = generic("CartSlow", at=T0, service="cartservice") | {"startsAt": "yesterday"}
    mixed = orjson.dumps(webhook(good, bad))
    produce(
        broker,
        names.raw,
        [(broken, T0), (mixed, T0 + 1), (b"[]", T0 + 1 + CoreSettings().group_wait + 1)],
    )

    letters = [orjson.loads(v) for v in consume(broker, names.deadletter, at_least=2, idle=1)]
    impacts = [orjson.loads(v) for v in consume(broker, names.impacts, at_least=1, idle=1)]

    assert len(letters) == 2
    by_reason = {letter["reason"]: letter for letter in letters}
    assert set(by_reason) == {"invalid_json", "bad_timestamp"}
    unreadable, one_bad = by_reason["invalid_json"], by_reason["bad_timestamp"]
    assert set(unreadable) >= {"reason", "error", "received_at", "source", "raw"}
    assert unreadable["source"] == {"topic": names.raw, "partition": 0, "offset": 0}
    assert one_bad["source"] == {"topic": names.raw, "partition": 0, "offset": 1}
    assert unreadable["raw"] == broken.decode()
    assert unreadable["received_at"] == "2026-11-20T14:00:00.000Z"
    assert orjson.loads(one_bad["raw"]) == webhook(good, bad)["alerts"][1]
    assert "startsAt" in one_bad["error"]

    opened = [event for event in impacts if event["type"] == "impact.opened"]
    assert {event["business_service"]["id"] for event in opened} == {"checkout"}
    assert [alert["name"] for alert in opened[0]["alerts"]] == ["RedisDown"]
    assert opened[0]["root_cause"]["node"] == "redis-cart"


def test_the_worker_refuses_an_internal_topic_with_another_partition_count(
    broker: Broker, tmp_path: Path
) -> None:
    topology = tmp_path / "shop.yaml"
    topology.write_text(SHOP_YAML, encoding="utf-8")
    names = Names.fresh()
    existing = f"{names.app_id}-alerts-by-fingerprint"
    create_topic(broker, existing, 2)
    env = worker_env(broker, names, topology, tmp_path / "data", partitions=4)

    finished = run_worker_command(env)

    assert finished.returncode == 1, finished.stderr[-3000:]
    refusal = [line for line in finished.stderr.splitlines() if line.startswith("correlator: ")]
    message = "\n".join(refusal)
    assert f"{existing}: has 2 partitions, the worker needs 4" in message, finished.stderr[-3000:]
    assert "--partitions 2" in message
    assert "CORRELATOR_PARTITIONS" in message
    assert "delete" in message
    assert "Traceback" not in finished.stderr
    assert describe(broker, [existing]) == {existing: 2}


def test_following_the_refusal_advice_starts_the_worker(broker: Broker, tmp_path: Path) -> None:
    """The refusal says ``start with --partitions 2``; doing so must then work."""
    topology = tmp_path / "shop.yaml"
    topology.write_text(SHOP_YAML, encoding="utf-8")
    names = Names.fresh()
    existing = f"{names.app_id}-alerts-by-fingerprint"
    create_topic(broker, existing, 2)
    refused = run_worker_command(worker_env(broker, names, topology, tmp_path / "a", partitions=4))
    assert refused.returncode == 1
    assert "--partitions 2" in refused.stderr

    worker = WorkerProcess(
        worker_env(broker, names, topology, tmp_path / "b", partitions=2), tmp_path / "worker.log"
    )
    try:
        worker.wait_ready(timeout=60)
    finally:
        worker.stop()


@pytest.mark.parametrize(
    ("variable", "value"),
    [("CORRELATOR_PARTITIONS", "zero"), ("CORRELATOR_SESSION_TIMEOUT", "soon")],
)
def test_a_bad_variable_is_rejected_by_name(
    broker: Broker, tmp_path: Path, variable: str, value: str
) -> None:
    names = Names.fresh()
    env = worker_env(broker, names, tmp_path / "shop.yaml", tmp_path / "data")
    env[variable] = value

    finished = run_worker_command(env, timeout=30)

    assert finished.returncode == 1
    assert finished.stderr.startswith(f"correlator: {variable}: ")
    assert repr(value) in finished.stderr
    assert "Traceback" not in finished.stderr
    assert describe(broker, [names.raw, *internal_topics(names.app_id)]) == {}
