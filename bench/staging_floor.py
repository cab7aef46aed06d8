"""The staging floor: the worker's three stages with nothing to do, a bound on its throughput.

``stream_vs_forwarder_ratio`` compares the worker with a plain aiokafka forwarder
that hops once. The worker cannot hop once: DESIGN stages it as a Faust app whose
alerts cross two repartition topics, each hop paying Faust's per-record work,
batching and commits. This floor is that staging alone, with the worker's Faust
settings (``faust_app``), batching (``in_batches``), topics and partition counts;
each agent only decodes what it reads and regroups it for the next topic, with no
core, no tables and no impacts. No worker built on these stages outruns it, so its
own ratio to the forwarder is the most the worker's ratio can be.

``python -m bench.staging_floor BROKER_URL PARTITIONS WORK_DIR`` runs it; the
stream benchmark times it like the worker.
"""

import sys
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import faust
import orjson
from faust.types import EventT, StreamT

from correlator.settings import CoreSettings
from correlator.stream import compat
from correlator.stream.app import faust_app, in_batches
from correlator.stream.broker import free_port
from correlator.stream.records import partition_of
from correlator.stream.settings import WorkerSettings
from correlator.stream.topics import by_fingerprint_topic, by_service_topic

Alert = dict[str, Any]


def floor_settings(broker_url: str, partitions: int, work: Path) -> WorkerSettings:
    return WorkerSettings(
        topology="",
        broker=broker_url,
        app_id="floor",
        partitions=partitions,
        raw_topic="floor.raw",
        raw_partitions=1,
        impacts_topic="floor.impacts",
        deadletter_topic="floor.deadletter",
        web_port=free_port(),
        web_host="127.0.0.1",
        data_dir=str(work / "floor"),
    )


def floor_app(settings: WorkerSettings) -> faust.App:
    """Parse regroups by fingerprint, dedup by service label, correlate only decodes."""
    compat.install(settings.fetch_max_wait)
    app = faust_app(settings, CoreSettings().limits.max_body_bytes)
    by_fingerprint = app.topic(by_fingerprint_topic(settings), key_type=bytes, value_type=bytes)
    by_service = app.topic(by_service_topic(settings), key_type=bytes, value_type=bytes)

    async def parse(events: list[EventT[bytes]]) -> None:
        alerts = (alert for event in events for alert in orjson.loads(event.value)["alerts"])
        await _regroup(alerts, lambda alert: str(alert.get("fingerprint")), by_fingerprint)

    async def dedup(events: list[EventT[bytes]]) -> None:
        alerts = (alert for event in events for alert in orjson.loads(event.value))
        await _regroup(alerts, lambda alert: str(alert["labels"].get("service")), by_service)

    async def correlate(events: list[EventT[bytes]]) -> None:
        for event in events:
            orjson.loads(event.value)

    for topic, name, handle in (
        (app.topic(settings.raw_topic, key_type=bytes, value_type=bytes), "parse", parse),
        (by_fingerprint, "dedup", dedup),
        (by_service, "correlate", correlate),
    ):
        app.agent(topic, name=name)(_batched(settings, handle))
    return app


def _batched(
    settings: WorkerSettings, handle: Callable[[list[EventT[bytes]]], Any]
) -> Callable[[StreamT[bytes]], Any]:
    async def agent(stream: StreamT[bytes]) -> None:
        await in_batches(stream, settings, handle)

    return agent


async def _regroup(alerts: Iterable[Alert], key: Callable[[Alert], str], topic: Any) -> None:
    """One record per partition, as the worker sends its batches."""
    partitions = topic.app.conf.topic_partitions
    parts: dict[int, list[Alert]] = defaultdict(list)
    for alert in alerts:
        parts[partition_of(key(alert), partitions)].append(alert)
    for partition, part in parts.items():
        await topic.send(value=orjson.dumps(part), partition=partition)


def main(argv: Sequence[str]) -> None:
    broker_url, partitions, work = argv
    app = floor_app(floor_settings(broker_url, int(partitions), Path(work)))
    runner = faust.Worker(app, loglevel="warning", quiet=True, redirect_stdouts=False)
    runner.spinner = None
    runner.execute_from_commandline()


if __name__ == "__main__":
    main(sys.argv[1:])
