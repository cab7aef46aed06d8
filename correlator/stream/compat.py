"""Five adjustments to Faust's Kafka consumer, correct on Apache Kafka, needed on Tansu or by us.

1. End offsets from the Fetch response. Faust recovers a table by reading its
   changelog up to the partition's end offset, which it asks for with ListOffsets.
   Tansu (0.6) answers ListOffsets(latest) with the base offset of the last record
   batch plus one, not the last offset plus one, so recovery stopped early and
   lost the newest state (``tests/integration/test_broker_quirks.py`` reproduces
   it). The high watermark in a Fetch response is right on both brokers, so the
   end offsets are read by fetching the last batch.
2. The fetch long-poll. Faust hard-codes ``fetch_max_wait_ms=1500``. Apache Kafka
   answers a long-poll as soon as data arrives; Tansu answers only when the wait
   ends, which put up to 1.5 s on every hop of the pipeline. The wait is a
   setting here (``--fetch-max-wait``).
3. Stream partitions resumed only once sought. When recovery ends, Faust resumes the
   agents' partitions and then seeks them to their committed offsets. Records fetched
   in between reached the agents, and the seek left Faust believing it had read past
   the next few: a restarted worker skipped them (``test_crash``, repeated kills).
   The resume of stream partitions now waits for the seek that follows it.
4. Fetch only from partitions active when the fetch starts. Faust hands the consumer
   thread its live set of active partitions, and drops what comes back for a partition
   no longer in it. aiokafka reads an empty set as "every partition". When a rebalance
   paused everything while a fetch was on its way, the fetch returned the records of
   all partitions, Faust dropped them, and aiokafka's position had moved past them:
   the partition stalled (or lost records) until the next rebalance. Seen in one
   takeover out of three on a loaded machine, as a survivor that never read its raw
   partition again. The thread now fetches from a copy of the set, and from nothing
   when it is empty (``tests/integration/test_faust_consumer.py``).
5. Deliver a record without four tasks when nothing makes it wait. Faust hands each
   record to the streams inside ``wait_first(delivery, flow suspended)``, so that a
   rebalance can cut short a delivery stuck on a full buffer: four tasks and an
   ``asyncio.wait`` a record, and in a benchmark run more of the worker's CPU than
   the core's dedup and correlation. A delivery is now run inline up to its first
   wait; most finish without one, and one that waits goes on exactly as before.

And two reaches into Faust's consumer for a broker that lost its topics (the
embedded one keeps them in memory; Apache Kafka does not lose them), which Faust
has no API for: ``forget_offsets``, because Faust drops every record at an offset
below the last one it read, and a topic made again starts at offset 0; and
``refresh_metadata``, so that the topics made again are read at once rather than
at the next periodic metadata refresh (minutes).
"""

import asyncio
from collections.abc import Collection, Coroutine, Generator, Iterable, Mapping, Sequence
from typing import Any

import aiokafka
from aiokafka import TopicPartition
from faust.transport.drivers import aiokafka as faust_aiokafka
from mode.services import WaitResults

_FETCH_ROUNDS = 20
_FETCH_TIMEOUT_MS = 250


def install(fetch_max_wait: float) -> None:
    """Patch Faust's consumer thread class; idempotent, last call's wait wins."""
    thread = faust_aiokafka.AIOKafkaConsumerThread
    create = getattr(thread, "_correlator_create", thread._create_worker_consumer)

    def create_worker_consumer(self: Any, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer = create(self, transport)
        consumer._fetch_max_wait_ms = int(fetch_max_wait * 1000)
        return consumer

    async def highwaters(self: Any, partitions: Sequence[TopicPartition]) -> Mapping[Any, int]:
        consumer: aiokafka.AIOKafkaConsumer = self._ensure_consumer()
        if self.consumer.in_transaction:
            return {tp: consumer.last_stable_offset(tp) for tp in partitions}
        listed: Mapping[TopicPartition, int] = await consumer.end_offsets(list(partitions))
        return await fetched_end_offsets(consumer._client.hosts, self._auth(), listed)

    def auth(self: Any) -> Mapping[str, Any]:
        conf = self.app.conf
        return faust_aiokafka.credentials_to_aiokafka_auth(
            conf.broker_credentials, conf.ssl_context
        )

    _patch(
        thread,
        {
            "_correlator_create": create,
            "_create_worker_consumer": create_worker_consumer,
            "_highwaters": highwaters,
            "_auth": auth,
        },
    )
    _fetch_from_active_only(thread)
    _resume_streams_after_seek(faust_aiokafka.Consumer)
    _deliver_inline(faust_aiokafka.Consumer)


def _patch(cls: Any, methods: Mapping[str, Any]) -> None:
    for name, method in methods.items():
        setattr(cls, name, method)


def _fetch_from_active_only(thread_class: Any) -> None:
    """A fetch reads the partitions active when it starts, and none if none are."""
    fetch = getattr(thread_class, "_correlator_fetch", thread_class._fetch_records)

    async def fetch_records(
        self: Any,
        consumer: aiokafka.AIOKafkaConsumer,
        active_partitions: Collection[Any] | None,
        timeout: float | None = None,
        max_records: int | None = None,
    ) -> Mapping[Any, Any]:
        if active_partitions is not None:
            active_partitions = set(active_partitions)
            if not active_partitions:
                return {}
        fetched: Mapping[Any, Any] = await fetch(
            self, consumer, active_partitions, timeout=timeout, max_records=max_records
        )
        return fetched

    _patch(thread_class, {"_correlator_fetch": fetch, "_fetch_records": fetch_records})


def _resume_streams_after_seek(consumer_class: Any) -> None:
    """Resuming a stream partition waits for the next seek to committed offsets."""
    resume = getattr(consumer_class, "_correlator_resume", consumer_class.resume_partitions)
    seek = getattr(consumer_class, "_correlator_seek", consumer_class.perform_seek)

    def resume_partitions(self: Any, tps: Iterable[Any]) -> None:
        tps = set(tps)
        streams = {tp for tp in tps if not self._is_changelog_tp(tp)}
        self._correlator_deferred = getattr(self, "_correlator_deferred", set()) | streams
        resume(self, tps - streams)

    async def perform_seek(self: Any) -> None:
        try:
            await seek(self)
        finally:  # a seek that failed or was cut short must not leave the partitions paused
            deferred: set[Any] = getattr(self, "_correlator_deferred", set())
            self._correlator_deferred = set()
            resume(self, deferred & set(self.assignment()))

    _patch(
        consumer_class,
        {
            "_correlator_resume": resume,
            "_correlator_seek": seek,
            "resume_partitions": resume_partitions,
            "perform_seek": perform_seek,
        },
    )


def _deliver_inline(consumer_class: Any) -> None:
    """``wait_first`` returns at once when its first coroutine finishes without waiting."""
    wait_first = getattr(consumer_class, "_correlator_wait_first", consumer_class.wait_first)

    async def wait_first_inline(self: Any, *coros: Any, timeout: float | None = None) -> Any:
        first, others = (coros[0], coros[1:]) if coros else (None, ())
        if not asyncio.iscoroutine(first) or self._stopped.is_set() or self._crashed.is_set():
            return await wait_first(self, *coros, timeout=timeout)
        try:
            waiting_on = first.send(None)
        except StopIteration as finished:
            _close(others)
            return WaitResults([first], [finished.value], False)
        except BaseException:
            _close(others)
            raise
        return await wait_first(self, _Started(first, waiting_on), *others, timeout=timeout)

    _patch(
        consumer_class,
        {"_correlator_wait_first": wait_first, "wait_first": wait_first_inline},
    )


def _close(coros: Iterable[Any]) -> None:
    """Coroutines never started: closed, so that none is reported as never awaited."""
    for coro in coros:
        if asyncio.iscoroutine(coro):
            coro.close()


class _Started:
    """A coroutine run by hand up to its first wait, as an awaitable that goes on from there.

    Awaiting it is ``yield from`` the coroutine, minus the step already taken: what
    the coroutine waits on goes to the task that awaits this, and what the task
    sends or throws (a cancellation) goes back into the coroutine.
    """

    def __init__(self, coro: Coroutine[Any, Any, Any], waiting_on: Any) -> None:
        self._coro = coro
        self._waiting_on = waiting_on

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, waiting_on = self._coro, self._waiting_on
        while True:
            try:
                sent = yield waiting_on
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as error:  # a cancellation too: it goes into the coroutine
                try:
                    waiting_on = coro.throw(error)
                except StopIteration as finished:
                    return finished.value
            else:
                try:
                    waiting_on = coro.send(sent)
                except StopIteration as finished:
                    return finished.value


async def fetched_end_offsets(
    bootstrap: Any, auth: Mapping[str, Any], listed: Mapping[TopicPartition, int]
) -> dict[TopicPartition, int]:
    """The end offset of each partition, as the high watermark of a fetch of its last batch.

    ``listed`` are the end offsets ListOffsets gave: never past the true end, and
    at or after the start of the last batch.
    """
    ends = dict(listed)
    pending = [tp for tp, end in listed.items() if end > 0]
    if not pending:
        return ends
    reader = aiokafka.AIOKafkaConsumer(
        bootstrap_servers=[f"{host}:{port}" for host, port, _ in bootstrap],
        enable_auto_commit=False,
        **auth,
    )
    await reader.start()
    try:
        reader.assign(pending)
        for tp in pending:
            reader.seek(tp, listed[tp] - 1)
        for _ in range(_FETCH_ROUNDS):
            await reader.getmany(*pending, timeout_ms=_FETCH_TIMEOUT_MS)
            known = {tp: reader.highwater(tp) for tp in pending}
            if all(mark is not None for mark in known.values()):
                ends.update({tp: max(listed[tp], mark or 0) for tp, mark in known.items()})
                break
    finally:
        await reader.stop()
    return ends


async def refresh_metadata(app: Any) -> None:
    """Make the worker's consumer fetch metadata now; a changed topic triggers a rebalance."""
    thread = app.consumer._thread

    async def refresh() -> None:
        await thread._ensure_consumer()._client.force_metadata_update()

    await thread.call_thread(refresh)


def forget_offsets(app: Any, topics: Collection[str]) -> None:
    """Forget what was read and committed on ``topics``, as after a revoke."""
    consumer = app.consumer
    trackers = (
        consumer._read_offset,
        consumer._committed_offset,
        consumer._acked,
        consumer._acked_index,
        consumer._gap,
    )
    for tracker in trackers:
        for tp in [tp for tp in tracker if tp.topic in topics]:
            tracker.pop(tp, None)


def read_offset(app: Any, tp: Any) -> int | None:
    """The last offset the worker read on ``tp`` (None before the first)."""
    offset: int | None = app.consumer._read_offset.get(tp)
    return offset
