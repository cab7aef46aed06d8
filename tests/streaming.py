"""Helpers for tests that need a Kafka-wire broker: the broker itself, workers, topic I/O.

``broker_for_tests`` picks the broker as DEVELOPERS.md says: ``CORRELATOR_TEST_BROKER``
if set, else a testcontainers Apache Kafka if a Docker engine answers, else the
embedded Tansu. Tests share one broker and keep out of each other's way with
their own app id and topic names (``worker_env``).
"""

import asyncio
import difflib
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from correlator.pipeline import Pipeline
from correlator.replay import replay
from correlator.settings import CoreSettings
from correlator.stream.broker import EmbeddedBroker, free_port
from correlator.stream.feed import records
from correlator.topology import load_topology

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "topologies"
READY = "[^Worker]: Ready"
"""What Faust logs once the worker consumes (tables recovered, partitions assigned)."""


@dataclass(frozen=True, slots=True)
class Broker:
    url: str
    """``kafka://host:port``, what CORRELATOR_BROKER takes."""
    bootstrap: str
    """``host:port``, what aiokafka takes."""
    kind: str
    """``external``, ``testcontainers`` or ``embedded``."""


@contextmanager
def broker_for_tests(log_dir: Path) -> Iterator[Broker]:
    external = os.environ.get("CORRELATOR_TEST_BROKER")
    if external:
        bootstrap = external.removeprefix("kafka://")
        yield Broker(f"kafka://{bootstrap}", bootstrap, "external")
        return
    if _docker_answers():
        from testcontainers.community.kafka import KafkaContainer

        with KafkaContainer().with_kraft() as kafka:
            bootstrap = kafka.get_bootstrap_server()
            yield Broker(f"kafka://{bootstrap}", bootstrap, "testcontainers")
        return
    with EmbeddedBroker(log_dir / "broker.log") as embedded:
        yield Broker(embedded.url, embedded.bootstrap, "embedded")


def _docker_answers() -> bool:
    """True when a Docker engine responds; quick to say no on machines without one."""
    host = os.environ.get("DOCKER_HOST", "")
    if not host and not Path("/var/run/docker.sock").exists():
        return False
    import docker
    from docker.errors import DockerException
    from requests.exceptions import RequestException

    try:
        docker.from_env(timeout=3).ping()
    except (DockerException, RequestException, OSError):
        return False
    return True


@dataclass(frozen=True, slots=True)
class Names:
    """One test's own app id and topics on a shared broker."""

    app_id: str
    raw: str
    impacts: str
    deadletter: str

    @classmethod
    def fresh(cls) -> "Names":
        tag = uuid.uuid4().hex[:8]
        return cls(f"t{tag}", f"raw-{tag}", f"impacts-{tag}", f"deadletter-{tag}")


def worker_env(
    broker: Broker,
    names: Names,
    topology: Path,
    data_dir: Path,
    **settings: object,
) -> dict[str, str]:
    """Environment for a ``correlator worker`` process; ``settings`` by flag name, snake case."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("CORRELATOR_")}
    values: dict[str, object] = {
        "broker": broker.url,
        "topology": topology,
        "app_id": names.app_id,
        "raw_topic": names.raw,
        "impacts_topic": names.impacts,
        "deadletter_topic": names.deadletter,
        "partitions": 4,
        "raw_partitions": 1,
        "session_timeout": "3s",
        "web_port": free_port(),
        "web_host": "127.0.0.1",
        "data_dir": data_dir,
        **settings,
    }
    env.update({f"CORRELATOR_{key.upper()}": str(value) for key, value in values.items()})
    return env


class WorkerProcess:
    """A ``correlator worker`` in its own process, logging to a file."""

    def __init__(self, env: Mapping[str, str], log: Path) -> None:
        self.log = log
        self._out = log.open("ab")
        self.process = subprocess.Popen(
            [str(Path(sys.executable).parent / "correlator"), "worker"],
            env=dict(env),
            stdout=self._out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Until the worker has joined its group and recovered its tables."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if READY in self.output():
                return
            if self.process.poll() is not None:
                msg = f"worker exited with {self.process.returncode}:\n{self.output()[-3000:]}"
                raise AssertionError(msg)
            time.sleep(0.1)
        msg = f"worker not ready after {timeout:.0f} s:\n{self.output()[-3000:]}"
        raise AssertionError(msg)

    def kill(self) -> None:
        """SIGKILL: no goodbye, no commit, no flush."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self._out.close()

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, as an orchestrator stops it; the exit code."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._out.close()
        return self.process.returncode

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def produce(broker: Broker, topic: str, records: Sequence[tuple[bytes, float | None]]) -> None:
    """Send ``(value, timestamp seconds or None)`` records, in order, and wait for the acks."""

    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
        await producer.start()
        try:
            for value, at in records:
                stamp = round(at * 1000) if at is not None else None
                await producer.send(topic, value, timestamp_ms=stamp)
            await producer.flush()
        finally:
            await producer.stop()

    asyncio.run(send())


def consume(
    broker: Broker,
    topic: str,
    *,
    at_least: int = 1,
    timeout: float = 60.0,
    idle: float = 3.0,
) -> list[bytes]:
    """Values on ``topic`` from the start: once ``at_least`` came, until ``idle`` s bring none.

    Returns what came by ``timeout`` if fewer did: the caller's assertion says what is missing.
    """

    async def read() -> list[bytes]:
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=broker.bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        values: list[bytes] = []
        deadline = time.monotonic() + timeout
        last_new = time.monotonic()
        try:
            while time.monotonic() < deadline:
                batches = await consumer.getmany(timeout_ms=200)
                fresh = [record.value for batch in batches.values() for record in batch]
                if fresh:
                    values += fresh
                    last_new = time.monotonic()
                if len(values) >= at_least and time.monotonic() - last_new > idle:
                    break
        finally:
            await consumer.stop()
        return values

    return asyncio.run(read())


def chronological_lines(sample: Path) -> list[bytes]:
    """Every alert file of the sample, one after the other in recorded time."""
    files = sorted((sample / "alerts").glob("*.jsonl"), key=lambda f: f.read_bytes()[:60])
    return [line for path in files for line in path.read_bytes().splitlines()]


def replayed(topology: Path, lines: Sequence[bytes]) -> list[bytes]:
    """What ``correlator replay`` writes for ``lines``, one event a value."""
    events: list[bytes] = []
    pipeline = Pipeline(load_topology(topology), CoreSettings())
    replay(pipeline, lines, "sample", lambda event: events.append(event.to_json()))
    return events


def timed_records(lines: Sequence[bytes]) -> list[tuple[bytes, float | None]]:
    """Replay lines as ``produce`` takes them: the envelope's value at its ``received_at``."""
    return [(record.value, record.received_at) for record in records(lines)]


def flush_record(sent: Sequence[tuple[bytes, float | None]]) -> tuple[bytes, float]:
    """An empty message ``group_wait`` after the last one: on the event clock it moves
    time as far as replay's end of input does, so the last group waits end."""
    last = max(at for _, at in sent if at is not None)
    return b"[]", last + CoreSettings().group_wait


def by_service(events: Sequence[bytes]) -> dict[str, list[bytes]]:
    """Events per business service, in the order they were written (a partition's order)."""
    grouped: dict[str, list[bytes]] = {}
    for event in events:
        grouped.setdefault(orjson.loads(event)["business_service"]["id"], []).append(event)
    return grouped


def first_copies(events: Sequence[bytes]) -> tuple[list[bytes], list[bytes]]:
    """``events`` split by ``event_id``: each id's first copy in order, and the repeats."""
    seen: set[str] = set()
    first: list[bytes] = []
    repeats: list[bytes] = []
    for event in events:
        event_id = orjson.loads(event)["event_id"]
        if event_id in seen:
            repeats.append(event)
        else:
            seen.add(event_id)
            first.append(event)
    return first, repeats


ASSIGNED = "Setting newly assigned partitions"
"""What aiokafka logs after a rebalance, followed by Faust's table of the partitions given."""
_ROW = re.compile(r"\|\s*(\S+)\s*\|\s*\{([0-9, -]*)\}\s*\|")


def assignment(worker: WorkerProcess) -> dict[str, set[int]]:
    """The partitions the worker was given at its latest rebalance, by topic, from its log."""
    log = worker.output()
    at = log.rfind(ASSIGNED)
    if at < 0:
        return {}
    table = log[at + len(ASSIGNED) :].split(" for group ", 1)[0]
    given: dict[str, set[int]] = {}
    for row in _ROW.finditer(table):
        numbers: set[int] = set()
        for part in filter(None, (item.strip() for item in row[2].split(","))):
            first, _, last = part.partition("-")
            numbers.update(range(int(first), int(last or first) + 1))
        given[row[1]] = numbers
    return given


def alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie waiting for its parent is not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def metric(env: Mapping[str, str], name: str) -> float:
    """The sum of a metric's samples on the worker's ``/metrics`` page (0 if it has none)."""
    url = f"http://{env['CORRELATOR_WEB_HOST']}:{env['CORRELATOR_WEB_PORT']}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        page = response.read().decode()
    return sum(
        sample.value
        for family in text_string_to_metric_families(page)
        for sample in family.samples
        if sample.name == name
    )


def assert_nothing_lost_or_made_up(written: list[bytes], expected: list[bytes]) -> list[bytes]:
    """Distinct events are replay's, in replay's order per service; repeats are exact copies."""
    distinct, repeats = first_copies(written)
    first = {orjson.loads(event)["event_id"]: event for event in distinct}
    for repeat in repeats:
        assert repeat == first[orjson.loads(repeat)["event_id"]], "a repeat differs from its first"
    written_by, expected_by = by_service(distinct), by_service(expected)
    for service in sorted(written_by.keys() | expected_by.keys()):
        got, want = written_by.get(service, []), expected_by.get(service, [])
        assert got == want, f"{service}: events differ from replay's\n{_event_diff(want, got)}"
    return repeats


def _event_diff(want: list[bytes], got: list[bytes]) -> str:
    """A unified diff of two services' events, one short line each: what a reader needs first."""

    def brief(event: bytes) -> str:
        document = orjson.loads(event)
        cause = (document.get("root_cause") or {}).get("node")
        return (
            f"{document['type']} {document['status']} {document['priority']} cause={cause} "
            f"alerts={len(document['alerts'])} at={document['updated_at']}"
        )

    lines = difflib.unified_diff(
        [brief(e) for e in want], [brief(e) for e in got], "replay", "worker", lineterm="", n=1
    )
    return "\n".join(lines) or "(same in brief: a field outside the brief differs)"


def web_json(
    port: str, path: str, body: bytes | None = None, headers: Mapping[str, str] | None = None
) -> tuple[int, dict[str, object]]:
    """Status and JSON body of a request to a worker's web port: GET, or POST with ``body``."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=body, headers=dict(headers or {})
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, orjson.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, orjson.loads(error.read())
