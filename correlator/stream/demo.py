"""``correlator demo``: broker, worker and a sample alert stream in one process, impacts on screen.

The embedded broker (Tansu, in memory) lives in a temporary directory with its
log; the worker runs on the event clock, so the recorded sample files play out
``speed`` times faster than they were recorded, group wait and resolve timeout
included. Ctrl-C stops the worker, then the broker; nothing is left behind.
"""

import asyncio
import shutil
import socket
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from aiokafka import AIOKafkaProducer

from correlator.console import event_line, service_column
from correlator.errors import FileAccessError
from correlator.event import ImpactEvent
from correlator.settings import CoreSettings
from correlator.stream.app import Worker
from correlator.stream.broker import EmbeddedBroker, free_port
from correlator.stream.connection import bootstrap_servers
from correlator.stream.feed import feed
from correlator.stream.settings import Clock, WorkerSettings
from correlator.stream.topics import prepare_topics
from correlator.stream.worker import run_worker
from correlator.topology import load_topology

SCENARIOS = ("cascade", "host-failure", "storm", "noise")
"""Played in this order when the sample has them; any other files after them."""
MAX_PAUSE = 90.0
"""Recorded silence longer than this (between two recordings) is cut to it."""


def run_demo(sample: Path, speed: float, web_port: int, core: CoreSettings) -> None:
    topology_file = sample / "topology.yaml"
    files = _alert_files(sample)
    topology = load_topology(topology_file)
    with (
        tempfile.TemporaryDirectory(prefix="correlator-demo-") as scratch,
        EmbeddedBroker(Path(scratch) / "broker.log") as broker,
    ):
        settings = WorkerSettings(
            topology=str(topology_file),
            broker=broker.url,
            partitions=4,
            raw_partitions=1,
            clock=Clock.EVENT,
            session_timeout=3.0,
            web_port=_free_or_other(web_port),
            web_host="127.0.0.1",
            data_dir=str(Path(scratch) / "faust"),
        )
        asyncio.run(prepare_topics(settings, attempts=5))
        _say(
            f"broker   {broker.url} (embedded Tansu, in memory; log {broker.log_path})",
            f"metrics  http://127.0.0.1:{settings.web_port}/metrics",
            f"impacts  kcat -b {broker.bootstrap} -t {settings.impacts_topic} -C"
            "  (not Debian 12's kcat: its librdkafka 2.0.2 cannot parse this broker's replies)",
            f"stream   {len(files)} sample file(s) from {sample}, {speed:g}x recorded speed;"
            " Ctrl-C stops",
            "",
        )
        width = service_column(topology)
        worker = Worker(settings, topology, core, on_event=lambda event: _show(event, width))
        worker.app.task(lambda: _stream(settings, files, speed))
        run_worker(
            settings,
            topology,
            core,
            loglevel="warning",
            worker=worker,
            on_quit=lambda: _leave_nothing(broker, Path(scratch)),
        )


async def _stream(settings: WorkerSettings, files: Sequence[Path], speed: float) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers(settings), linger_ms=5)
    await producer.start()
    try:
        last = None
        for path in files:
            _say(f"--- streaming {path.name}")
            with path.open("rb") as lines:
                last = (
                    await feed(
                        producer,
                        settings.raw_topic,
                        lines,
                        keep_time=True,
                        speed=speed,
                        max_pause=MAX_PAUSE,
                    )
                    or last
                )
        if last is not None:
            # An empty batch an hour later: the clock moves on and every timer fires.
            await producer.send_and_wait(
                settings.raw_topic, b"[]", timestamp_ms=round((last + 3600) * 1000)
            )
        _say("--- sample stream finished; the worker keeps running: Ctrl-C stops")
    finally:
        await producer.stop()


def _leave_nothing(broker: EmbeddedBroker, scratch: Path) -> None:
    """What the ``with`` blocks would do, for a quit that skips them."""
    broker.stop()
    shutil.rmtree(scratch, ignore_errors=True)


def _show(event: ImpactEvent, service_width: int) -> None:
    _say(event_line(event.document, service_width))


def _say(*lines: str) -> None:
    for line in lines:
        print(line, flush=True)


def _alert_files(sample: Path) -> list[Path]:
    if not (sample / "topology.yaml").is_file():
        msg = f"{sample}: no topology.yaml; --sample takes a directory of topologies/"
        raise FileAccessError(msg)
    found = sorted((sample / "alerts").glob("*.jsonl"))
    if not found:
        msg = f"{sample / 'alerts'}: no *.jsonl alert files to stream"
        raise FileAccessError(msg)
    rank = {name: position for position, name in enumerate(SCENARIOS)}
    return sorted(found, key=lambda path: (rank.get(path.stem, len(rank)), path.name))


def _free_or_other(port: int) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            other = free_port()
            print(f"port {port} is taken; metrics on {other} instead", file=sys.stderr)
            return other
    return port
