"""The Faust app: three agents and a timer that move records and state to the core.

::

    alerts.raw ──parse──▶ <id>-alerts-by-fingerprint ──dedup, route──▶
        <id>-changes-by-service ──correlate──▶ impacts
    (bad input ──▶ alerts.deadletter)

Each agent reads one topic; the stage for a partition (``correlator.stages``) holds
the table keys that hash to it, so the agent reading a partition is the only
writer of its state. No business rule lives here.

Time: with ``Clock.WALL`` each stage runs at the wall clock and a timer sends a
tick (an empty batch) to every partition this worker owns, so group wait and
resolve timeout fire while no alert comes. With ``Clock.EVENT`` time is the
highest record timestamp seen, carried in the batches; when it moves, the stage
that moved it sends ticks to the partitions downstream it sent nothing to.
"""

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, Generic, TypeVar, cast

import faust
from faust.types import TP, EventT, FutureMessage, Message, RecordMetadata, StreamT

from correlator import codec
from correlator.alert import Alert
from correlator.correlation import ServiceState
from correlator.deadletter import dead_letter
from correlator.dedup import AlertState
from correlator.event import ImpactEvent
from correlator.parse import AlertParser
from correlator.rebase import rebase
from correlator.settings import CoreSettings
from correlator.stages import Change, CorrelationStage, DedupStage, Tally
from correlator.stream import compat, store, web
from correlator.stream.connection import bootstrap_servers, credentials
from correlator.stream.merge import ChangeKey, Merge, arrived_key, expired_key, offer
from correlator.stream.metrics import Readings, WorkerMetrics
from correlator.stream.records import (
    AlertBatch,
    Arrival,
    ChangeBatch,
    alert_batch_from,
    alert_batch_to,
    change_batch_from,
    change_batch_to,
    partition_of,
)
from correlator.stream.reload import TopologyFile
from correlator.stream.settings import Clock, WorkerSettings
from correlator.stream.state import (
    ALERT_STATE,
    MERGE,
    SERVICE_STATE,
    PartitionView,
    Stamped,
    StateCodec,
)
from correlator.stream.topics import (
    ALERT_TABLE,
    MERGE_TABLE,
    SERVICE_TABLE,
    by_fingerprint_topic,
    by_service_topic,
    prepare_topics,
)
from correlator.stream.watch import BrokerWatch
from correlator.topology import Topology

T = TypeVar("T")


class Worker:
    """One worker process: the Faust app, its per-partition stages and its tally."""

    def __init__(
        self,
        settings: WorkerSettings,
        topology: Topology,
        core: CoreSettings,
        on_event: Callable[[ImpactEvent], object] | None = None,
    ) -> None:
        compat.install(settings.fetch_max_wait)
        self.settings = settings
        self.topology = topology
        self.core = core
        self.tally = Tally()
        self.parser = AlertParser(core.limits)
        self.on_event = on_event
        self.app = faust_app(settings, core.limits.max_body_bytes)
        self._record_limit = self.app.conf.producer_max_request_size // 2
        """Bytes of a batch record: half what the producer may send, leaving room to spare."""
        self._dedup: dict[int, tuple[DedupStage, PartitionView[AlertState]]] = {}
        self._correlation: dict[int, tuple[CorrelationStage, PartitionView[ServiceState]]] = {}
        self._raw_clock = float("-inf")
        self._ticked: dict[TP, tuple[float, float]] = {}
        """Per partition, the due time last ticked for and when."""
        self._read_topics = {
            settings.raw_topic,
            by_fingerprint_topic(settings),
            by_service_topic(settings),
        }
        self._state_topics = {
            by_fingerprint_topic(settings),
            by_service_topic(settings),
        }
        self._wire()

    def _wire(self) -> None:
        app, settings = self.app, self.settings
        self.raw = _bytes_topic(app, settings.raw_topic)
        self.by_fingerprint = _bytes_topic(app, by_fingerprint_topic(settings))
        self.by_service = _bytes_topic(app, by_service_topic(settings))
        self.impacts = _bytes_topic(app, settings.impacts_topic)
        self.deadletter = _bytes_topic(app, settings.deadletter_topic)
        self.alert_table = _state_table(app, ALERT_TABLE, ALERT_STATE, settings.partitions)
        self.service_table = _state_table(app, SERVICE_TABLE, SERVICE_STATE, settings.partitions)
        self.merge_table = _state_table(app, MERGE_TABLE, MERGE, settings.partitions)
        app.agent(self.raw, name="parse")(self._parse_agent)
        app.agent(self.by_fingerprint, name="dedup")(self._dedup_agent)
        app.agent(self.by_service, name="correlate")(self._correlate_agent)
        if settings.clock is Clock.WALL:
            app.timer(settings.tick_interval, name="tick")(self._tick)
        self.watch = BrokerWatch(bootstrap_servers(settings), self._broker_returned)
        app.timer(WATCH_INTERVAL, name="watch")(self.watch.probe)
        readings = Readings(
            topology=lambda: self.topology,
            open_incidents=self.open_incidents,
            lag=self.lag,
            broker_up=lambda: self.watch.reachable,
        )
        self.metrics = WorkerMetrics(self.tally, readings)
        self.topology_file = TopologyFile(
            settings.topology, self.topology, self._swap_topology, self.metrics.reloads
        )
        app.timer(settings.topology_check_interval, name="topology")(self.topology_file.check)
        web.register(self)
        app.on_partitions_revoked.connect(self._forget_stages)
        app.on_partitions_assigned.connect(self._forget_stages)

    def not_ready(self) -> list[str]:
        problems = []
        if not self.watch.reachable:
            problems.append(f"broker unreachable: {self.settings.broker}")
        if self.app.in_recovery:
            problems.append("reading state back from the changelogs")
        if not any(tp.topic in self._state_topics for tp in self.app.consumer.assignment()):
            problems.append(
                "no partitions assigned yet (joining the group, or more workers than partitions)"
            )
        return problems

    async def _broker_returned(self) -> None:
        """Topics the broker lost are made again, and the consumer told so that it reads them."""
        created = await prepare_topics(self.settings, attempts=3)
        if created:
            log.warning(
                "the broker had lost topics %s: created them again; open incidents are kept in "
                "this worker's memory, but state written before the loss is gone from Kafka",
                ", ".join(created),
            )
            compat.forget_offsets(self.app, created)
            for table in (self.alert_table, self.service_table, self.merge_table):
                _forget_stamps(table)
            await compat.refresh_metadata(self.app)

    async def _forget_stages(self, *_: Any, **__: Any) -> None:
        """Partitions moved: stages rebuild their timers from the tables when next needed."""
        self._dedup.clear()
        self._correlation.clear()

    def _swap_topology(self, topology: Topology) -> None:
        """From now on, ``topology``; correlation stages rebase their state on their next step."""
        self.topology = topology
        for stage, _ in self._dedup.values():
            stage.topology = topology

    def service_states(self) -> list[ServiceState]:
        """Every business service state this worker holds (its partitions only)."""
        return [stamped.value for stamped in self.service_table.values()]

    def partitions_held(self) -> list[int]:
        topic = self.by_service.get_topic_name()
        return sorted(tp.partition for tp in self.app.consumer.assignment() if tp.topic == topic)

    def lag(self) -> dict[tuple[str, int], int]:
        """Records not yet read, per partition of the topics the agents read."""
        consumer = self.app.consumer
        behind = {}
        for tp in consumer.assignment():
            if tp.topic not in self._read_topics:
                continue
            end = consumer.highwater(tp)
            position = compat.read_offset(self.app, tp)
            if end is not None:
                behind[(tp.topic, tp.partition)] = max(
                    0, end - (position + 1 if position is not None else 0)
                )
        return behind

    def open_incidents(self) -> int:
        return sum(state.open_impacts() for state in self.service_states())

    async def _parse_agent(self, stream: StreamT[bytes]) -> None:
        await in_batches(stream, self.settings, self._parse_batch)

    async def _dedup_agent(self, stream: StreamT[bytes]) -> None:
        await in_batches(stream, self.settings, self._dedup_batch)

    async def _correlate_agent(self, stream: StreamT[bytes]) -> None:
        await in_batches(stream, self.settings, self._correlate_batch)

    async def _parse_batch(self, events: list[EventT[bytes]]) -> None:
        """The batch's alerts to the partitions of their fingerprints: one record a partition.

        In event time, when the batch moves the clock, to every partition, so that
        the dedup stages' timers fire while alerts come to other partitions only.
        """
        arrivals: list[Arrival] = []
        moved = False
        at = self._raw_clock
        for event in events:
            alerts = await self._parse(event.message)
            at = self._arrival_time(event.message)
            moved = moved or at > self._raw_clock
            self._raw_clock = at
            offset = event.message.offset
            arrivals += [Arrival(at, offset, index, alert) for index, alert in enumerate(alerts)]
            await asyncio.sleep(0)  # the web server (ingest, probes) shares this loop
        batches = _by_partition(
            arrivals, lambda arrival: arrival.alert.fingerprint, self.settings.partitions
        )
        await self._send_by_partition(
            self.by_fingerprint,
            batches,
            moved and self.settings.clock is Clock.EVENT,
            lambda part: alert_batch_to(AlertBatch(at, part), self._record_limit),
        )

    def _arrival_time(self, message: Message) -> float:
        """The parser's clock as ``message`` comes: the highest record timestamp so far, or
        the wall clock."""
        if self.settings.clock is Clock.EVENT:
            return max(self._raw_clock, message.timestamp)
        return time.time()

    async def _parse(self, message: Message) -> list[Alert]:
        """The message's valid alerts; its bad input to the dead letters."""
        body: bytes = message.value or b""
        received_at = message.timestamp
        parsed = self.parser.parse_body(body, received_at)
        source = {"topic": message.topic, "partition": message.partition, "offset": message.offset}
        limit = self.core.limits.max_deadletter_raw_bytes
        for rejection in parsed.rejections:
            self.tally.invalid[rejection.reason.value] += 1
            letter = dead_letter(rejection, body, received_at, source, limit)
            await self.deadletter.send(key=message.key, value=codec.dumps(letter))
            self.metrics.deadletters.labels(rejection.reason.value).inc()
        return parsed.alerts

    async def _dedup_batch(self, events: list[EventT[bytes]]) -> None:
        """One change batch per partition read and partition written, for the whole batch."""
        stages = _PerPartition(self._dedup_stage, _second)
        changes: dict[int, list[tuple[ChangeKey, Change]]] = defaultdict(list)
        received: dict[int, float] = {}
        clocks: dict[int, tuple[float, float]] = {}  # partition: its clock before, and now
        for event in events:
            offset = event.message.offset
            stage, view = stages.at(event.message.partition, offset)
            partition = view.partition
            before = clocks.get(partition, (stage.now, stage.now))[0]
            made, earliest = self._dedup_step(stage, view, offset, alert_batch_from(event.value))
            changes[partition] += made
            if earliest is not None:
                received[partition] = min(received.get(partition, earliest), earliest)
            clocks[partition] = before, stage.now
        sent: list[Awaitable[RecordMetadata]] = []
        for partition, (before, now) in clocks.items():
            step = ChangeBatch(partition, now, changes[partition], received.get(partition))
            sent += await self._send_changes(step, before)
        await _stored(sent, stages.written())

    def _dedup_step(
        self, stage: DedupStage, view: PartitionView[AlertState], offset: int, batch: AlertBatch
    ) -> tuple[list[tuple[ChangeKey, Change]], float | None]:
        """The changes one record makes, and the earliest receipt of the alerts that made them."""
        changes: list[tuple[ChangeKey, Change]] = []
        received = None
        for arrival in batch.arrivals:
            changes += [(expired_key(change), change) for change in stage.advance(arrival.at)]
            alert = arrival.alert
            if view.applied(alert.fingerprint, offset):
                continue  # read again after a crash; its effect is in the state already
            arrived = stage.receive([alert], arrival.at)
            changes += [(arrived_key(c.at, arrival.offset, arrival.position), c) for c in arrived]
            if arrived and (received is None or alert.received_at < received):
                received = alert.received_at
        changes += [(expired_key(change), change) for change in stage.advance(batch.at)]
        return changes, received

    async def _send_changes(
        self, step: ChangeBatch, before: float
    ) -> list[Awaitable[RecordMetadata]]:
        """A step's changes to the partitions of their services; in event time, when the
        clock moved from ``before``, the clock to all."""
        batches = _by_partition(
            step.changes, lambda item: item[1].service, self.settings.partitions
        )
        return await self._send_by_partition(
            self.by_service,
            batches,
            step.at > before and self.settings.clock is Clock.EVENT,
            lambda part: change_batch_to(step._replace(changes=part), self._record_limit),
        )

    async def _send_by_partition(
        self,
        topic: faust.TopicT,
        batches: Mapping[int, list[T]],
        ticks: bool,
        records: Callable[[list[T]], list[bytes]],
    ) -> list[Awaitable[RecordMetadata]]:
        """Each partition's batch as its records; with ``ticks``, an empty one where none."""
        sent = []
        for partition in range(self.settings.partitions):
            part = batches.get(partition, [])
            if part or ticks:
                for value in records(part):
                    sent.append(await topic.send(value=value, partition=partition))
        return sent

    async def _correlate_batch(self, events: list[EventT[bytes]]) -> None:
        sent: list[Awaitable[RecordMetadata]] = []
        emitted: list[ImpactEvent] = []
        stages = _PerPartition(self._correlation_stage, _second)
        merges = _PerPartition(self._merges, lambda merge: merge)
        for event in events:
            partition, offset = event.message.partition, event.message.offset
            batch = change_batch_from(event.value)
            stage, view = stages.at(partition, offset)
            impacts = self._rebase(stage, view, batch.at)
            if self.settings.clock is Clock.EVENT:
                merge = merges.at(partition, offset)
                impacts += self._merge(merge, batch, stage, view, offset)
            else:
                changes = [change for _, change in batch.changes]
                impacts += self._apply(changes, stage, view, offset) + stage.advance(batch.at)
            sent += [
                await self.impacts.send(key=impact.key.encode(), value=impact.to_json())
                for impact in impacts
            ]
            self._observe_latency(batch, len(impacts))
            emitted += impacts
        stored = await _stored(sent, stages.written())
        # The merge's stamp says a step is stored whole: it goes once the states did, as
        # they are on another topic and a crash between the two would skip their changes.
        await _stored([*sent, *stored], merges.written())
        for impact in emitted:
            if self.on_event is not None:
                self.on_event(impact)

    def _rebase(
        self, stage: CorrelationStage, view: PartitionView[ServiceState], at: float
    ) -> list[ImpactEvent]:
        """After a topology change: this partition's incidents carried over to the new one."""
        if stage.topology is self.topology:
            return []
        now = stage.now if stage.now > float("-inf") else at
        events: list[ImpactEvent] = []
        for service in list(view):
            state, emitted = rebase(view[service], self.topology, now, self.core)
            events += emitted
            if state is None or not state.incidents:
                del view[service]
            else:
                view[service] = state
        stage.topology = self.topology
        for event in events:
            self.tally.count_event(event)
        return events

    def _observe_latency(self, batch: ChangeBatch, events: int) -> None:
        if self.settings.clock is Clock.WALL:
            origin = batch.received if batch.received is not None else batch.at
            for _ in range(events):
                self.metrics.latency.observe(time.time() - origin)

    def _apply(
        self,
        changes: Iterable[Change],
        stage: CorrelationStage,
        view: PartitionView[ServiceState],
        offset: int,
    ) -> list[ImpactEvent]:
        """The changes whose service does not have the effect of this input already."""
        events: list[ImpactEvent] = []
        for change in changes:
            if not view.applied(change.service, offset):
                events += stage.receive(change)
        return events

    def _merge(
        self,
        merges: PartitionView[Merge],
        batch: ChangeBatch,
        stage: CorrelationStage,
        view: PartitionView[ServiceState],
        offset: int,
    ) -> list[ImpactEvent]:
        key = f"merge-{merges.partition}"
        if merges.applied(key, offset):
            return []  # read again after a crash; the whole step is stored already
        merge = merges.get(key) or Merge.empty(self.settings.partitions)
        merge, ready = offer(merge, batch.source, batch.at, batch.changes)
        merges[key] = merge
        events = self._apply(ready, stage, view, offset)
        if merge.watermark is not None:
            events += stage.advance(merge.watermark)
        return events

    async def _tick(self) -> None:
        """Wall clock: an empty batch to each partition this worker reads whose timers are due.

        Checked often (``tick_interval``) but sent only when a stage's earliest timer
        is due, or a correlation stage has a new topology to rebase on, so group wait
        ends on time without a stream of idle ticks. A partition whose stage is not
        built yet gets one tick a second until it is.
        """
        if not self.watch.reachable:
            return
        now = time.time()
        for tp in self.app.consumer.assignment():
            if tp.topic == self.by_fingerprint.get_topic_name():
                dedup = self._dedup.get(tp.partition)
                due = dedup[0].next_due if dedup else float("-inf")
                [tick] = alert_batch_to(AlertBatch(now))
                channel = self.by_fingerprint
            elif tp.topic == self.by_service.get_topic_name():
                correlation = self._correlation.get(tp.partition)
                due = correlation[0].next_due if correlation else float("-inf")
                if correlation and correlation[0].topology is not self.topology:
                    due = min(due, now)  # a new topology to rebase on: due at once
                [tick] = change_batch_to(ChangeBatch(-1, now))
                channel = self.by_service
            else:
                continue
            last_due, last_sent = self._ticked.get(tp, (None, 0.0))
            if due <= now and (due != last_due or now - last_sent >= TICK_RESEND):
                self._ticked[tp] = (due, now)
                await channel.send(value=tick, partition=tp.partition)

    def _dedup_stage(self, partition: int) -> tuple[DedupStage, PartitionView[AlertState]]:
        if partition not in self._dedup:
            view = PartitionView(self.alert_table, partition, self.settings.partitions)
            self._dedup[partition] = DedupStage(view, self.topology, self.core, self.tally), view
        return self._dedup[partition]

    def _correlation_stage(
        self, partition: int
    ) -> tuple[CorrelationStage, PartitionView[ServiceState]]:
        if partition not in self._correlation:
            view = PartitionView(self.service_table, partition, self.settings.partitions)
            stage = CorrelationStage(view, self.topology, self.core, self.tally)
            self._correlation[partition] = stage, view
        return self._correlation[partition]

    def _merges(self, partition: int) -> PartitionView[Merge]:
        """The merge of a correlation partition: one key, written only from that partition."""
        return PartitionView(self.merge_table, partition, self.settings.partitions)


class _PerPartition(Generic[T]):
    """What a batch uses on each partition it reads (a stage and its view, or a view), fixed
    for the batch: should a rebalance make the worker forget its stages while a batch is
    under way, the batch goes on with the ones it began with, and flushes their views.
    """

    def __init__(self, make: Callable[[int], T], view: Callable[[T], PartitionView[Any]]) -> None:
        self._make = make
        self._view = view
        self._taken: dict[int, T] = {}
        self._last: dict[int, int] = {}

    def at(self, partition: int, offset: int) -> T:
        """The one for ``partition``, which the batch has now read up to ``offset``."""
        self._last[partition] = offset
        if partition not in self._taken:
            self._taken[partition] = self._make(partition)
        return self._taken[partition]

    def written(self) -> list[tuple[PartitionView[Any], int]]:
        """Each view, with the last offset read on its partition: the stamp for its writes."""
        return [(self._view(taken), self._last[p]) for p, taken in self._taken.items()]


def _second(pair: tuple[Any, T]) -> T:
    return pair[1]


async def _stored(
    sent: Sequence[Awaitable[Any]], views: Sequence[tuple[PartitionView[Any], int]]
) -> list[FutureMessage]:
    """Each view's held writes, stamped with its last offset, once everything ``sent`` is acked.

    Returns the changelog records' futures.
    """
    held = [(view, offset) for view, offset in views if view.held]
    if not held:
        return []
    await asyncio.gather(*sent)
    return [future for view, offset in held for future in view.flush(offset)]


WATCH_INTERVAL = 1.0
TICK_RESEND = 1.0
"""A tick not yet answered (the stage's earliest timer unchanged) is sent again after this."""
log = logging.getLogger("correlator.worker")


async def in_batches(
    stream: StreamT[bytes],
    settings: WorkerSettings,
    handle: Callable[[list[EventT[bytes]]], Awaitable[None]],
) -> None:
    """Records a batch at a time, each batch acknowledged (so committed) once handled.

    One batch's outputs are acknowledged together, so the wait for the broker
    is paid once a batch rather than once a record. And only a finished batch
    is acknowledged: Faust acknowledges a record once its stream moves on,
    even when a stop cancels the agent half way through the record's step.
    """
    taking = cast(faust.Stream[bytes], stream)
    async for taken in taking.noack_take(settings.batch_size, settings.batch_wait):
        events = cast(list[EventT[bytes]], taken)  # typed as values, but events they are
        await handle(events)
        for event in events:
            await taking.ack(event)


def _by_partition(
    items: Iterable[T], key: Callable[[T], str], partitions: int
) -> dict[int, list[T]]:
    batches: dict[int, list[T]] = defaultdict(list)
    for item in items:
        batches[partition_of(key(item), partitions)].append(item)
    return batches


def _forget_stamps(table: Any) -> None:
    """Offsets start again on topics made again: no stored value has the effect of any of them.

    Written to the local store only: the changelog was lost with the topics.
    """
    for key, stamped in list(table.data.items()):
        table.data[key] = Stamped(-1, stamped.value)


def _bytes_topic(app: faust.App, name: str) -> faust.TopicT:
    return app.topic(name, key_type=bytes, value_type=bytes)


def _state_table(app: faust.App, name: str, codec: StateCodec, partitions: int) -> Any:
    """A table of the core's values: Faust keeps them as they are, the changelog as JSON.

    Faust makes a table's changelog topic as the table is made, with serializers
    chosen from the key and value types; the topic is made again once ours are set,
    or recovery would read the changelog with the wrong ones.
    """
    table: Any = app.Table(name, key_type=str, partitions=partitions)
    table.key_serializer = "raw"
    table.value_serializer = codec
    table.changelog_topic = table._new_changelog_topic()
    return table


def faust_app(settings: WorkerSettings, max_body_bytes: int) -> faust.App:
    heartbeat = max(0.1, min(3.0, settings.session_timeout / 6))
    options: Mapping[str, Any] = {
        "broker": settings.broker,
        "broker_credentials": credentials(settings),
        "store": f"{store.SCHEME}://",
        "datadir": settings.data_dir,
        "topic_partitions": settings.partitions,
        "topic_replication_factor": settings.replication,
        "topic_disable_leader": True,
        "table_standby_replicas": 0,
        "consumer_auto_offset_reset": "earliest",
        "broker_session_timeout": settings.session_timeout,
        "broker_heartbeat_interval": heartbeat,
        "broker_rebalance_timeout": max(10.0, settings.session_timeout * 2),
        "broker_request_timeout": max(30.0, settings.session_timeout * 2),
        "broker_commit_interval": settings.commit_interval,
        "producer_linger": settings.batch_wait,
        "key_serializer": "raw",
        "value_serializer": "raw",
        "web_enabled": True,
        "web_port": settings.web_port,
        "web_bind": settings.web_host,
        "web_in_thread": False,
        "web_application_options": {"client_max_size": max_body_bytes + 1},
    }
    return faust.App(settings.app_id, **options)
