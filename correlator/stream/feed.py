"""Produce a replay-format alert file to ``alerts.raw``: the demo's alert stream, and backtests.

Each line goes out as one record: an envelope's ``value`` with its
``received_at`` as the record timestamp (``keep_time``) or now, a bare body as
it is. With ``speed`` the records are spaced as their ``received_at`` are,
that many times faster, as a live source would send them.
"""

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import orjson
from aiokafka import AIOKafkaProducer

from correlator.timestamps import TimestampError, parse_timestamp


@dataclass(frozen=True, slots=True)
class Record:
    value: bytes
    received_at: float | None
    """The envelope's arrival time; None for a bare body or a broken envelope."""


def records(lines: Iterable[bytes]) -> Iterable[Record]:
    """Lines of a replay file as records; a line that is no envelope goes out as it is."""
    for line in lines:
        body = line.rstrip(b"\r\n")
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError:
            yield Record(body, None)
            continue
        if not (isinstance(document, Mapping) and {"value", "received_at"} <= document.keys()):
            yield Record(body, None)
            continue
        try:
            received_at = parse_timestamp(document["received_at"])
        except TimestampError:
            yield Record(body, None)
            continue
        yield Record(orjson.dumps(document["value"]), received_at)


async def feed(
    producer: AIOKafkaProducer,
    topic: str,
    lines: Iterable[bytes],
    *,
    keep_time: bool,
    speed: float | None = None,
    max_pause: float = float("inf"),
) -> float | None:
    """Send every line; return the last arrival time sent (None if no envelope had one).

    ``max_pause`` caps the recorded silence waited out between two records (before
    the speed-up), so that days between two recordings pass in moments.
    """
    last: float | None = None
    for record in records(lines):
        if speed is not None and last is not None and record.received_at is not None:
            await asyncio.sleep(min(max(0.0, record.received_at - last), max_pause) / speed)
        timestamp = record.received_at if keep_time else None
        await producer.send(
            topic,
            record.value,
            timestamp_ms=round(timestamp * 1000) if timestamp is not None else None,
        )
        last = record.received_at if record.received_at is not None else last
    await producer.flush()
    return last
