"""What travels on the worker's two repartition topics, and which partition a key lives on.

A record carries a batch: all the alerts of one batch of messages that belong to
one partition, or all the changes one batch of a dedup stage made for one partition.
One record a batch rather than one a key keeps the per-record cost of the
broker and of Faust off the hot path. A batch with nothing in it is a tick: it
moves the receiving stage's clock, so its timers fire.

A batch larger than the producer may send (a storm of big messages) goes as
several records, in order. Only the last carries the sender's clock; each other
carries the time of the next one's first item, as items come in time order: the
receiver runs no timer early.

The worker chooses partitions itself (``partition_of``) instead of leaving it to
the producer's partitioner: a batch has no single key, and the stage that reads a
partition owns exactly the table keys that hash to it.
"""

import zlib
from collections.abc import Sequence
from typing import Any, NamedTuple

import orjson

from correlator import codec
from correlator.alert import Alert
from correlator.stages import Change
from correlator.stream.merge import ChangeKey


def partition_of(key: str, partitions: int) -> int:
    return zlib.crc32(key.encode()) % partitions


class Arrival(NamedTuple):
    at: float
    """The parser's clock when the message came: its timestamp, or the wall clock."""
    offset: int
    """Offset of the message on ``alerts.raw``."""
    position: int
    """The alert's position in the message."""
    alert: Alert


class AlertBatch(NamedTuple):
    at: float
    """The parser's clock after the batch: it will send nothing that arrives earlier."""
    arrivals: Sequence[Arrival] = ()
    """In the order the messages came."""


class ChangeBatch(NamedTuple):
    source: int
    """The dedup partition that sent it."""
    at: float
    """The sender's clock: it will send nothing that happens earlier."""
    changes: Sequence[tuple[ChangeKey, Change]] = ()
    received: float | None = None
    """Earliest receipt (record timestamp) of the alerts that caused these changes."""


UNLIMITED = 2**62


def alert_batch_to(batch: AlertBatch, limit: int = UNLIMITED) -> list[bytes]:
    """``batch`` as records of at most about ``limit`` bytes each."""
    arrivals = [
        (a.at, orjson.dumps([a.at, a.offset, a.position, codec.alert_to(a.alert)]))
        for a in batch.arrivals
    ]
    return [
        b'{"at":%b,"arrivals":[%b]}' % (orjson.dumps(at), b",".join(items))
        for at, items in _split(arrivals, batch.at, limit)
    ]


def alert_batch_from(data: bytes) -> AlertBatch:
    raw = codec.loads(data)
    arrivals = [
        Arrival(at, offset, position, codec.alert_from(alert))
        for at, offset, position, alert in raw["arrivals"]
    ]
    return AlertBatch(raw["at"], arrivals)


def change_batch_to(batch: ChangeBatch, limit: int = UNLIMITED) -> list[bytes]:
    """``batch`` as records of at most about ``limit`` bytes each."""
    changes = [
        (key[0], orjson.dumps([list(key), codec.change_to(change)]))
        for key, change in batch.changes
    ]
    source, received = orjson.dumps(batch.source), orjson.dumps(batch.received)
    return [
        b'{"source":%b,"at":%b,"changes":[%b],"received":%b}'
        % (source, orjson.dumps(at), b",".join(items), received)
        for at, items in _split(changes, batch.at, limit)
    ]


def _split(
    items: Sequence[tuple[float, bytes]], at: float, limit: int
) -> list[tuple[float, list[bytes]]]:
    """Timed, encoded items in runs of at most ``limit`` bytes (an item larger goes alone),
    each with its clock: the next run's first time, and ``at`` for the last run."""
    runs: list[list[bytes]] = [[]]
    clocks: list[float] = []
    size = 0
    for time, item in items:
        if runs[-1] and size + len(item) > limit:
            runs.append([])
            clocks.append(time)
            size = 0
        runs[-1].append(item)
        size += len(item) + 1
    return list(zip([*clocks, at], runs, strict=True))


def change_batch_from(data: bytes) -> ChangeBatch:
    raw = codec.loads(data)
    changes = [(change_key(key), codec.change_from(change)) for key, change in raw["changes"]]
    return ChangeBatch(raw["source"], raw["at"], changes, raw["received"])


def change_key(raw: Sequence[Any]) -> ChangeKey:
    at, phase, tiebreak, index = raw
    return (at, phase, tiebreak, index)
