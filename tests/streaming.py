"""Helpers for tests that need a Kafka-wire broker: the broker itself, workers, topic I/O.

``broker_for_tests`` picks the broker as DEVELOPERS.md says: ``CORRELATOR_TEST_BROKER``
if set, else a testcontainers Apache Kafka if a Docker engine answers, else the
embedded Tansu. Tests share one broker and keep out of each other's way with
their own app id and topic names (``worker_env``).
"""

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from correlator.stream.broker import EmbeddedBroker, free_port

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
