"""What travels on the worker's two repartition topics, and which partition a key lives on.

A record carries a batch: all the alerts of one message that belong to one
partition, or all the changes one step of a dedup stage made for one partition.
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


class AlertBatch(NamedTuple):
    at: float
    """Arrival time: the records' timestamp, or the wall clock, as the worker's clock says."""
    offset: int = -1
    """Offset of the message on ``alerts.raw`` (-1 for a tick)."""
    alerts: Sequence[tuple[int, Alert]] = ()
    """Each alert with its position in the message."""


class ChangeBatch(NamedTuple):
    source: int
    """The dedup partition that sent it."""
    at: float
    """The sender's clock: it will send nothing that happens earlier."""
    changes: Sequence[tuple[ChangeKey, Change]] = ()
    received: float | None = None
    """Earliest receipt (record timestamp) of the alerts that caused these changes."""


def alert_batch_to(batch: AlertBatch) -> bytes:
    alerts = [[index, codec.alert_to(alert)] for index, alert in batch.alerts]
    return codec.dumps({"at": batch.at, "offset": batch.offset, "alerts": alerts})


def alert_batch_from(data: bytes) -> AlertBatch:
    raw = codec.loads(data)
    alerts = [(index, codec.alert_from(alert)) for index, alert in raw["alerts"]]
    return AlertBatch(raw["at"], raw["offset"], alerts)


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
