"""What ``correlator.stream.compat`` changes in Faust's consumer thread, on a real broker.

Faust's fetcher asks its consumer thread for the records of the partitions it has
active, handing over its live set of them, and drops whatever comes back for a
partition no longer in that set. aiokafka reads an empty set as "every partition"
and moves each partition it returns records for past them. So a fetch that found
the set emptied by a rebalance took the records of every partition, Faust dropped
them, and nothing moved the positions back: a worker that took over partitions
never read its raw partition again (one takeover in three, on a loaded machine).
"""

import asyncio
import functools
import uuid
from collections.abc import Callable, Coroutine
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from streaming import Broker

from correlator.stream import compat

pytestmark = pytest.mark.integration

RECORDS = 3


def thread_fetch(*, as_faust_ships_it: bool = False) -> Callable[..., Coroutine[Any, Any, Any]]:
    """The consumer thread's fetch, as the worker runs it (or as Faust ships it).

    The thread asks one thing of Faust's consumer when it fetches: whether the flow
    is on (it is, as after a rebalance).
    """
    compat.install(0.05)
    name = "_correlator_fetch" if as_faust_ships_it else "_fetch_records"
    thread = SimpleNamespace(consumer=SimpleNamespace(flow_active=True))
    return functools.partial(getattr(AIOKafkaConsumerThread, name), thread)


async def two_partitions(broker: Broker) -> tuple[str, AIOKafkaConsumer, AIOKafkaProducer]:
    """A fresh topic of two partitions, a producer, and a consumer assigned both."""
    topic = f"fetch-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 2, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=broker.bootstrap, enable_auto_commit=False, fetch_max_wait_ms=50
    )
    await producer.start()
    await consumer.start()
    consumer.assign([TopicPartition(topic, 0), TopicPartition(topic, 1)])
    await consumer.seek_to_beginning()
    return topic, consumer, producer


async def produce(producer: AIOKafkaProducer, topic: str, *partitions: int) -> None:
    for partition in partitions:
        for n in range(RECORDS):
            await producer.send_and_wait(topic, b"%d" % n, partition=partition)


async def fetch_while_a_rebalance_pauses_all(
    broker: Broker, fetch: Callable[..., Coroutine[Any, Any, Any]]
) -> tuple[dict[Any, list[Any]], list[int]]:
    """A fetch for partition 0 starts; every partition is paused; records come to 1, then 0.

    Returns what the fetch gave, and each partition's position after it.
    """
    topic, consumer, producer = await two_partitions(broker)
    active = {TopicPartition(topic, 0)}
    try:
        fetching = asyncio.create_task(fetch(consumer, active, timeout=5.0, max_records=100))
        await asyncio.sleep(0.3)  # the fetch waits for records
        active.clear()
        await produce(producer, topic, 1)
        await asyncio.sleep(0.5)
        await produce(producer, topic, 0)
        fetched = dict(await fetching)
        positions = [await consumer.position(TopicPartition(topic, p)) for p in (0, 1)]
        return fetched, positions
    finally:
        await consumer.stop()
        await producer.stop()


def values(fetched: dict[Any, list[Any]]) -> dict[int, list[bytes]]:
    """What a fetch gave; it returns once any record is there, so maybe not all of them."""
    return {tp.partition: [record.value for record in records] for tp, records in fetched.items()}


def test_a_fetch_reads_only_the_partitions_active_when_it_started(broker: Broker) -> None:
    fetch = thread_fetch()

    fetched, positions = asyncio.run(fetch_while_a_rebalance_pauses_all(broker, fetch))

    assert sorted(values(fetched)) == [0]
    assert positions[1] == 0, "partition 1 is read from where it was"


def test_without_the_change_the_paused_partitions_records_are_taken(broker: Broker) -> None:
    """The hazard itself: Faust's own fetch, handed a set that empties, takes everything."""
    fetch = thread_fetch(as_faust_ships_it=True)

    fetched, positions = asyncio.run(fetch_while_a_rebalance_pauses_all(broker, fetch))

    assert 1 in values(fetched), "the paused partition's records were taken"
    assert positions[1] > 0, "partition 1 moved past records its reader drops"


def test_a_fetch_with_no_active_partition_reads_nothing(broker: Broker) -> None:
    async def body() -> tuple[dict[Any, list[Any]], list[int]]:
        topic, consumer, producer = await two_partitions(broker)
        try:
            await produce(producer, topic, 0, 1)
            await asyncio.sleep(0.3)  # fetched in the background, waiting to be read
            fetched = await fetch(consumer, set(), timeout=0.5, max_records=100)
            return dict(fetched), [
                await consumer.position(TopicPartition(topic, p)) for p in (0, 1)
            ]
        finally:
            await consumer.stop()
            await producer.stop()

    fetch = thread_fetch()
    fetched, positions = asyncio.run(body())

    assert fetched == {}
    assert positions == [0, 0], "no partition moved past records nobody read"
