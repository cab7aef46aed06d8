"""What travels on the worker's two repartition topics, and which partition a key lives on.

A record carries a batch: all the alerts of one batch of messages that belong to
one partition, or all the changes one batch of a dedup stage made for one partition.
One record a batch rather than one a key keeps the per-record cost of the
broker and of Faust off the hot path. A batch with nothing in it is a tick: it
moves the receiving stage's clock, so its timers fire.

The worker chooses partitions itself (``partition_of``) instead of leaving it to
the producer's partitioner: a batch has no single key, and the stage that reads a
partition owns exactly the table keys that hash to it.
"""

import zlib
from collections.abc import Sequence
from typing import Any, NamedTuple

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


def alert_batch_to(batch: AlertBatch) -> bytes:
    arrivals = [[a.at, a.offset, a.position, codec.alert_to(a.alert)] for a in batch.arrivals]
    return codec.dumps({"at": batch.at, "arrivals": arrivals})


def alert_batch_from(data: bytes) -> AlertBatch:
    raw = codec.loads(data)
    arrivals = [
        Arrival(at, offset, position, codec.alert_from(alert))
        for at, offset, position, alert in raw["arrivals"]
    ]
    return AlertBatch(raw["at"], arrivals)


def change_batch_to(batch: ChangeBatch) -> bytes:
    changes = [[list(key), codec.change_to(change)] for key, change in batch.changes]
    return codec.dumps(
        {"source": batch.source, "at": batch.at, "changes": changes, "received": batch.received}
    )


def change_batch_from(data: bytes) -> ChangeBatch:
    raw = codec.loads(data)
    changes = [(change_key(key), codec.change_from(change)) for key, change in raw["changes"]]
    return ChangeBatch(raw["source"], raw["at"], changes, raw["received"])


def change_key(raw: Sequence[Any]) -> ChangeKey:
    at, phase, tiebreak, index = raw
    return (at, phase, tiebreak, index)
