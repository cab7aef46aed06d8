"""The streaming worker on the embedded broker: throughput, impact latency, memory, restart.

One run, one embedded Tansu broker, one ``correlator worker`` process (4 partitions,
``CORRELATOR_GROUP_WAIT=1s``, wall clock, every other setting its default), in phases:

1. *Forwarder* (the ceiling). A plain aiokafka process on the same broker consumes
   the storm's messages, parses each with orjson and produces every alert in it as
   its own record, committing after each fetched batch once its records are acked.
2. *Staging floor* (the most the worker can do). ``bench.staging_floor``: a Faust app
   with the worker's settings, batching, topics and partition counts whose agents
   only decode and regroup, timed like the worker.
3. *Throughput*. The same messages go to the worker's ``alerts.raw``. Each rate is
   alerts / (first send .. the moment the consumer group's committed offsets reach
   the end offsets on every topic it reads): for the worker ``alerts.raw`` and its two
   repartition topics, so the alerts were parsed, deduplicated and correlated, and
   what that sent downstream was read and committed too. The end of the topic sent
   to is what the sends got back; other ends are high watermarks of fetches (Tansu's
   ListOffsets is off by a batch, see ``correlator.stream.compat``), which can be a
   fetch behind, so a catch-up counts from when it was first seen once it still holds,
   with no commit moved, ``CONFIRM_SECONDS`` later. Commits are read by a consumer in
   the group's id that never subscribes, only calls ``committed``.
4. *Memory*: the worker's VmRSS after the storm.
5. *Latency* at a fifth of the measured rate: storm messages again, paced, and
   meanwhile probes. A probe is a critical alert with a fresh name on a business
   service node (its ``check`` selector) in domains the storm was kept off (and
   the domain their applications need), so it opens an incident of its own; its
   latency is the ``impact.opened`` record's timestamp minus the probe's send time
   minus the group wait. Then it is resolved (``impact.resolved`` awaited) and its
   lane fires the next probe.
6. *Restart*: distinct firing alerts that match no node (so the dedup stage holds
   them all as open alerts without the correlation stage's cost, which grows with
   the alerts a service holds) until the worker holds ``stream_open_alerts`` of
   them, then SIGKILL; recovery is the time from the new process's start until a
   probe sent at that moment has its ``impact.opened``, minus the group wait. It
   includes Python and Faust start, the old member's session timeout (3 s), the
   rebalance, and the replay of the tables' changelogs. A restarted worker that logs
   Faust's "Error in recovery" never gets there: then the run says so on stderr
   and reports no ``restart_recovery_seconds``.

Records go out without timestamps (the broker's clients stamp them now), as a live
Alertmanager's would. ``STREAM_BENCH_WORKER`` (a command line) runs another worker
build in place of ``correlator worker``, to compare a change; ``STREAM_BENCH_DIR``
keeps the broker's, worker's, forwarder's and floor's logs there instead of a temporary
directory.

Storm: ``bench.stormgen`` over ``bench.topogen`` at ``Scale.stream_nodes`` nodes,
``Scale.stream_alerts`` alerts, minus the messages of the probe domains' clusters.
"""

import asyncio
import os
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from bench import staging_floor, webhook
from bench.alerts import UNSET
from bench.alerts import webhook as webhook_payload
from bench.cache import progress
from bench.figures import Figure
from bench.generate import load_targets, storm_file, topology_files
from bench.scale import Scale
from bench.stormgen import StormSpec
from bench.topogen import DOMAIN_NODES, Target
from correlator.stream.broker import EmbeddedBroker, free_port
from correlator.stream.feed import records
from correlator.stream.topics import by_fingerprint_topic, by_service_topic, prepare_topics
from correlator.timestamps import format_timestamp

NAMES = (
    "stream_alerts_per_second",
    "stream_forwarder_alerts_per_second",
    "stream_vs_forwarder_ratio",
    "stream_staging_floor_alerts_per_second",
    "stream_staging_floor_vs_forwarder_ratio",
    "impact_latency_p50_seconds",
    "impact_latency_p99_seconds",
    "worker_rss_bytes",
    "restart_recovery_seconds",
    "webhook_alerts_per_second",
    "webhook_vs_stream_ratio",
    "webhook_request_latency_p99_seconds",
)
GROUP_WAIT = 1.0
LOAD_SHARE = 0.2
LANES = 8
PARTITIONS = 4
SESSION_TIMEOUT = 3.0
OPEN_BATCH = 500
"""Open alerts per message in the restart phase."""
READY = "[^Worker]: Ready"
RECOVERY_ERROR = b"Error in recovery"
"""What Faust logs when a changelog record fails to apply while it restores a table."""
PHASE_TIMEOUT = 300.0
CONFIRM_SECONDS = 0.1
"""How long a catch-up must hold to count: several fetches of the watch's reader."""
PROBE_TIMEOUT = 30.0
RESTART_TIMEOUT = 90.0
"""Longest wait for a restarted worker (recovery errors in its log end it sooner)."""
TARGET_RATIO = 0.5
TARGET_P99 = 0.5


@dataclass(frozen=True, slots=True)
class Storm:
    values: list[bytes]
    alerts: int
    lanes: list[Target]
    """Business services (with a ``check`` selector) the storm was kept off: probe lanes."""
    excluded: list[str]
    """Clusters whose messages were left out of the storm."""


def run(scale: Scale) -> list[Figure]:
    storm = _storm(scale)
    progress(
        f"stream: {storm.alerts} alerts in {len(storm.values)} messages, "
        f"{len(storm.lanes)} probe lanes, clusters {', '.join(storm.excluded)} left out"
    )
    with tempfile.TemporaryDirectory(prefix="stream-bench-") as work:
        directory = Path(os.environ.get("STREAM_BENCH_DIR") or work)
        with EmbeddedBroker(directory / "broker.log") as broker:
            topology = topology_files(scale.stream_nodes).topology
            return asyncio.run(_phases(scale, storm, broker, topology, directory))


def _storm(scale: Scale) -> Storm:
    files = topology_files(scale.stream_nodes)
    targets = load_targets(files.targets)
    domains = max(1, scale.stream_nodes // DOMAIN_NODES)
    lanes: list[Target] = []
    probe_domains = 0
    for domain in reversed(range(domains)):
        if len(lanes) >= LANES or probe_domains >= max(1, domains // 2):
            break
        prefix = f"d{domain:03d}-"
        checks = [
            t
            for t in targets
            if t.kind == "business_service" and t.node.startswith(prefix) and t.labels
        ]
        lanes += checks[: LANES - len(lanes)]
        probe_domains += 1
    first = max(0, domains - probe_domains - 1)
    excluded = [f"k8s-{domain:03d}" for domain in range(first, domains)]
    spec = StormSpec(alerts=scale.stream_alerts, fingerprints=scale.stream_fingerprints)
    path = storm_file(spec, files)
    values, alerts = [], 0
    with path.open("rb") as lines:
        for record in records(lines):
            payload = orjson.loads(record.value)
            if payload.get("groupLabels", {}).get("cluster") in excluded:
                continue
            values.append(record.value)
            alerts += len(payload["alerts"])
    return Storm(values, alerts, lanes, excluded)


async def _phases(
    scale: Scale, storm: Storm, broker: EmbeddedBroker, topology: Path, work: Path
) -> list[Figure]:
    bootstrap = broker.bootstrap
    broker_pid = broker._process.pid if broker._process is not None else None
    env = _worker_env(broker.url, topology, work)
    worker = _Worker(env, work / "worker.log")  # starts (idle) while the forwarder runs
    try:
        forwarder_seconds = await _forwarder_run(bootstrap, storm.values, work)
        forwarder_rate = storm.alerts / forwarder_seconds
        progress(f"stream: forwarder {forwarder_rate:,.0f} alerts/s ({forwarder_seconds:.2f} s)")
        floor_seconds = await _floor_run(broker, storm.values, work)
        floor_rate = storm.alerts / floor_seconds
        progress(f"stream: staging floor {floor_rate:,.0f} alerts/s ({floor_seconds:.2f} s)")
        await worker.ready()
        progress("stream: worker ready; sending the storm")
        raw = env["CORRELATOR_RAW_TOPIC"]
        app_id = env["CORRELATOR_APP_ID"]
        worker_topics = [raw, f"{app_id}-alerts-by-fingerprint", f"{app_id}-changes-by-service"]
        cpu = worker.cpu(), _cpu(broker_pid)
        seconds = await _timed_through(bootstrap, app_id, worker_topics, raw, storm.values)
        worker_cpu, broker_cpu = worker.cpu() - cpu[0], _cpu(broker_pid) - cpu[1]
        rate = storm.alerts / seconds
        progress(
            f"stream: worker {rate:,.0f} alerts/s ({seconds:.2f} s; CPU worker "
            f"{worker_cpu:.1f} s, broker {broker_cpu:.1f} s)"
        )
        rss = worker.rss()
        progress(f"stream: worker RSS {rss / 2**20:.0f} MiB")

        impacts = _Impacts(bootstrap, env["CORRELATOR_IMPACTS_TOPIC"])
        await impacts.start()
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()
        try:
            progress(
                f"stream: latency at {LOAD_SHARE:.0%} of that rate for "
                f"{scale.stream_latency_seconds:.0f} s"
            )
            load = rate * LOAD_SHARE
            probes = _Probes(producer, raw, impacts, storm.lanes)
            samples, sent_load = await _latency(
                producer, raw, storm.values, load, probes, scale.stream_latency_seconds
            )
            progress(
                f"stream: {len(samples)} probes, p50 {_quantile(samples, 0.5):.3f} s, "
                f"p99 {_quantile(samples, 0.99):.3f} s; holding {scale.stream_open_alerts} alerts"
            )
            # After the latency probes: the webhook takes alerts faster than the worker
            # correlates them, and the backlog it leaves would be in the probes' way.
            url = f"http://127.0.0.1:{env['CORRELATOR_WEB_PORT']}/api/v1/alerts/alertmanager"
            webhook_seconds = await webhook.post_all(url, storm.values)
            webhook_rate = storm.alerts / webhook_seconds
            webhook_pace = len(storm.values) / webhook_seconds / 2
            progress(f"stream: webhook {webhook_rate:,.0f} alerts/s; latency at half that pace")
            request_latencies = await webhook.paced_latencies(
                url, storm.values, webhook_pace, scale.stream_latency_seconds / 3
            )
            await _open_alerts(bootstrap, app_id, worker_topics, raw, scale.stream_open_alerts)
            worker.kill()
            progress("stream: worker killed; starting another")
            started = time.time()
            worker = _Worker(env, work / "worker.log")
            recovery = None
            probe = asyncio.create_task(probes.fire(storm.lanes[0], started, RESTART_TIMEOUT))
            failed = await worker.first_failure(probe)
            if failed is None:
                recovery = probe.result() - started - GROUP_WAIT
                progress(f"stream: processing again {recovery:.2f} s after the restart")
            else:
                progress(
                    f"stream: the restarted worker is NOT processing (no "
                    f"restart_recovery_seconds): {failed}; see its log {worker.log}"
                )
        finally:
            await producer.stop()
            await impacts.stop()
    finally:
        worker.stop()

    common = {
        "broker": "embedded tansu",
        "partitions": PARTITIONS,
        "topology_nodes": scale.stream_nodes,
    }
    p50, p99 = _quantile(samples, 0.5), _quantile(samples, 0.99)
    figures = [
        Figure(
            "stream_alerts_per_second",
            rate,
            "alerts/s",
            {
                **common,
                "n": storm.alerts,
                "messages": len(storm.values),
                "seconds": round(seconds, 3),
                "worker_cpu_seconds": round(worker_cpu, 2),
                "broker_cpu_seconds": round(broker_cpu, 2),
                "method": "first send .. group's committed offsets at the end of alerts.raw "
                "and both repartition topics",
                "storm": f"stormgen {scale.stream_alerts} alerts, {scale.stream_fingerprints} "
                f"fingerprints, minus clusters {','.join(storm.excluded)}",
            },
        ),
        Figure(
            "stream_forwarder_alerts_per_second",
            forwarder_rate,
            "alerts/s",
            {
                "n": storm.alerts,
                "seconds": round(forwarder_seconds, 3),
                "method": "aiokafka consume, orjson.loads, one record per alert, commit per batch",
            },
        ),
        Figure(
            "stream_vs_forwarder_ratio",
            rate / forwarder_rate,
            "ratio",
            {"baseline": "stream_forwarder_alerts_per_second", "target": f">= {TARGET_RATIO}"},
        ),
        Figure(
            "stream_staging_floor_alerts_per_second",
            floor_rate,
            "alerts/s",
            {
                "n": storm.alerts,
                "seconds": round(floor_seconds, 3),
                "method": "the worker's Faust settings, batching and topics; agents only "
                "decode and regroup: no core, tables or impacts (bench.staging_floor)",
            },
        ),
        Figure(
            "stream_staging_floor_vs_forwarder_ratio",
            floor_rate / forwarder_rate,
            "ratio",
            {
                "baseline": "stream_forwarder_alerts_per_second",
                "meaning": "the most stream_vs_forwarder_ratio can be with DESIGN's stages",
            },
        ),
        Figure(
            "impact_latency_p50_seconds",
            p50,
            "seconds",
            {
                "n": len(samples),
                "load_alerts_per_second": round(sent_load, 1),
                "group_wait_subtracted": GROUP_WAIT,
                "tick_interval": env.get("CORRELATOR_TICK_INTERVAL", "worker default"),
            },
        ),
        Figure(
            "impact_latency_p99_seconds",
            p99,
            "seconds",
            {
                "n": len(samples),
                "max": round(max(samples, default=0.0), 4),
                "target": f"< {TARGET_P99}",
            },
        ),
        Figure(
            "worker_rss_bytes",
            rss,
            "bytes",
            {"after": f"{storm.alerts} storm alerts", "method": "/proc/<pid>/status VmRSS"},
        ),
        Figure(
            "webhook_alerts_per_second",
            webhook_rate,
            "alerts/s",
            {
                "n": storm.alerts,
                "requests": len(storm.values),
                "concurrency": webhook.CONCURRENCY,
                "seconds": round(webhook_seconds, 3),
                "method": "POST /api/v1/alerts/alertmanager, each answered 200 once the broker "
                "acknowledged it",
            },
        ),
        Figure(
            "webhook_vs_stream_ratio",
            webhook_rate / rate,
            "ratio",
            {"baseline": "stream_alerts_per_second"},
        ),
        Figure(
            "webhook_request_latency_p99_seconds",
            _quantile(request_latencies, 0.99),
            "seconds",
            {
                "n": len(request_latencies),
                "p50": round(_quantile(request_latencies, 0.5), 4),
                "requests_per_second": round(webhook_pace, 1),
                "method": "at half the measured webhook rate",
            },
        ),
    ]
    if recovery is None:
        return figures
    return [
        *figures,
        Figure(
            "restart_recovery_seconds",
            recovery,
            "seconds",
            {
                "open_alerts": scale.stream_open_alerts,
                "session_timeout": SESSION_TIMEOUT,
                "method": "SIGKILL; new process start .. impact.opened of a probe sent then, "
                "minus group wait",
            },
        ),
    ]


def _quantile(samples: Sequence[float], q: float) -> float:
    if not samples:
        return float("nan")
    if len(samples) == 1:
        return samples[0]
    return statistics.quantiles(samples, n=100, method="inclusive")[round(q * 100) - 1]


def _worker_env(broker: str, topology: Path, work: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("CORRELATOR_")}
    settings = {
        "broker": broker,
        "topology": topology,
        "app_id": "bench",
        "raw_topic": "alerts.raw",
        "impacts_topic": "impacts",
        "deadletter_topic": "alerts.deadletter",
        "partitions": PARTITIONS,
        "raw_partitions": 1,
        "session_timeout": f"{SESSION_TIMEOUT:g}s",
        "group_wait": f"{GROUP_WAIT:g}s",
        "web_port": free_port(),
        "web_host": "127.0.0.1",
        "data_dir": work / "data",
    }
    env.update({f"CORRELATOR_{key.upper()}": str(value) for key, value in settings.items()})
    return env


class _Worker:
    """``correlator worker`` in its own process, logging to a file."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        self._offset = log.stat().st_size if log.exists() else 0
        self._out = log.open("ab")
        command = os.environ.get("STREAM_BENCH_WORKER")
        self.process = subprocess.Popen(
            shlex.split(command)
            if command
            else [str(Path(sys.executable).parent / "correlator"), "worker"],
            env=env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

    async def ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.log.open("rb") as log:
                log.seek(self._offset)
                if READY.encode() in log.read():
                    return
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited with {self.process.returncode}; see {self.log}")
            await asyncio.sleep(0.05)
        raise RuntimeError(f"worker not ready after {timeout:.0f} s; see {self.log}")

    async def first_failure(self, probe: "asyncio.Task[float]") -> str | None:
        """None once ``probe`` is done; else why it never will be (its error, or the log's)."""
        while not probe.done():
            with self.log.open("rb") as log:
                log.seek(self._offset)
                text = log.read()
            if RECOVERY_ERROR in text:
                probe.cancel()
                line = text[text.index(RECOVERY_ERROR) :].split(b"\n", 1)[0]
                count = text.count(RECOVERY_ERROR)
                return f"{line.decode(errors='replace').strip()} ({count} so far)"
            await asyncio.wait([probe], timeout=0.5)
        if probe.cancelled():
            return "cancelled"
        error = probe.exception()
        return None if error is None else repr(error)

    def cpu(self) -> float:
        return _cpu(self.process.pid)

    def rss(self) -> int:
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self._out.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._out.close()


def _cpu(pid: int | None) -> float:
    """CPU seconds (user and system) process ``pid`` used so far."""
    if pid is None:
        return 0.0
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _CommitWatch:
    """Whether a consumer group has committed everything on its topics."""

    def __init__(self, bootstrap: str, group: str, topics: Sequence[str]) -> None:
        self._reader = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=20
        )
        self._committed = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
        )
        self._topics = topics
        self._partitions: list[TopicPartition] = []
        self._fetching: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._reader.start()
        await self._committed.start()
        for topic in self._topics:
            found = None
            for _ in range(100):
                found = self._reader.partitions_for_topic(topic)
                if found:
                    break
                await self._reader._client.force_metadata_update()
                await asyncio.sleep(0.1)
            if not found:
                raise RuntimeError(f"no topic {topic}")
            self._partitions += [TopicPartition(topic, p) for p in sorted(found)]
        self._reader.assign(self._partitions)
        await self._reader.seek_to_end(*self._partitions)
        self._fetching = asyncio.create_task(self._fetch())

    async def _fetch(self) -> None:
        while True:
            await self._reader.getmany(timeout_ms=20)

    async def _progress(self, known: Mapping[TopicPartition, int]) -> tuple[bool, list[int]]:
        """Whether every partition is committed to its end, and the committed offsets."""
        committed = [(await self._committed.committed(tp)) or 0 for tp in self._partitions]
        ends = [known.get(tp, self._reader.highwater(tp)) for tp in self._partitions]
        done = all(end is not None and at >= end for at, end in zip(committed, ends, strict=True))
        return done, committed

    async def wait(
        self, known: Mapping[TopicPartition, int] | None = None, timeout: float = PHASE_TIMEOUT
    ) -> float:
        """Until caught up; the time it was first seen to be.

        ``known`` are end offsets the caller knows (those its own sends got). The
        others are the reader's high watermarks, which can be a fetch behind: a
        catch-up counts once, a few fetches later, it still holds and no commit moved.
        """
        known = known or {}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done, committed = await self._progress(known)
            if not done:
                await asyncio.sleep(0.02)
                continue
            seen = time.perf_counter()
            await asyncio.sleep(CONFIRM_SECONDS)
            if await self._progress(known) == (True, committed):
                return seen
        behind = [
            f"{tp.topic}[{tp.partition}] {await self._committed.committed(tp)}"
            f"/{self._reader.highwater(tp)}"
            for tp in self._partitions
        ]
        raise RuntimeError(f"group still behind after {timeout:.0f} s: {', '.join(behind)}")

    async def stop(self) -> None:
        if self._fetching is not None:
            self._fetching.cancel()
            await asyncio.gather(self._fetching, return_exceptions=True)
        await self._reader.stop()
        await self._committed.stop()


async def _timed_through(
    bootstrap: str, group: str, topics: Sequence[str], topic: str, values: Iterable[bytes]
) -> float:
    """Seconds from the first send of ``values`` to ``topic`` until ``group`` committed all."""
    watch = _CommitWatch(bootstrap, group, topics)
    await watch.start()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        started = time.perf_counter()
        sent = [await producer.send(topic, value) for value in values]
        ends: dict[TopicPartition, int] = {}
        for record in await asyncio.gather(*sent):
            tp = TopicPartition(record.topic, record.partition)
            ends[tp] = max(ends.get(tp, 0), record.offset + 1)
        return await watch.wait(ends) - started
    finally:
        await producer.stop()
        await watch.stop()


async def _forwarder_run(bootstrap: str, values: Sequence[bytes], work: Path) -> float:
    source, group = "forward.in", "forwarder"
    admin_producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await admin_producer.start()
    await admin_producer.send_and_wait(source, b"{}")  # creates the topic (auto-create)
    await admin_producer.stop()
    log = (work / "forwarder.log").open("ab")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.stream_bench",
        "forward",
        bootstrap,
        source,
        "forward.out",
        group,
        stdout=asyncio.subprocess.PIPE,
        stderr=log,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 60)
        if line.strip() != b"ready":
            raise RuntimeError(f"forwarder did not start; see {work / 'forwarder.log'}")
        await _wait_committed_first(bootstrap, group, source)
        return await _timed_through(bootstrap, group, [source], source, values)
    finally:
        process.terminate()
        await process.wait()
        log.close()


async def _floor_run(broker: EmbeddedBroker, values: Sequence[bytes], work: Path) -> float:
    """Seconds for ``values`` through the staging floor (``bench.staging_floor``)."""
    settings = staging_floor.floor_settings(broker.url, PARTITIONS, work)
    await prepare_topics(settings)
    topics = [settings.raw_topic, by_fingerprint_topic(settings), by_service_topic(settings)]
    log = (work / "floor.log").open("ab")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.staging_floor",
        broker.url,
        str(PARTITIONS),
        str(work),
        stdout=log,
        stderr=log,
    )
    try:
        # The first message through means the floor joined its group and commits.
        await _timed_through(
            broker.bootstrap, settings.app_id, topics, settings.raw_topic, values[:1]
        )
        return await _timed_through(
            broker.bootstrap, settings.app_id, topics, settings.raw_topic, values
        )
    finally:
        process.terminate()
        await process.wait()
        log.close()


async def _wait_committed_first(bootstrap: str, group: str, topic: str) -> None:
    """Until the forwarder committed the record that made its topic."""
    watch = _CommitWatch(bootstrap, group, [topic])
    await watch.start()
    try:
        await watch.wait(timeout=60)
    finally:
        await watch.stop()


async def forward(bootstrap: str, source: str, target: str, group: str) -> None:
    """The plain forwarder: every alert of every consumed message as its own record."""
    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=50,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await consumer.start()
    await producer.start()
    announced = False
    while True:
        batches = await consumer.getmany(timeout_ms=100)
        if not announced and consumer.assignment():
            print("ready", flush=True)
            announced = True
        if not batches:
            continue
        sent = []
        for batch in batches.values():
            for record in batch:
                payload = orjson.loads(record.value or b"{}")
                for alert in payload.get("alerts", ()):
                    sent.append(await producer.send(target, orjson.dumps(alert)))
        await asyncio.gather(*sent)
        await consumer.commit()


@dataclass(slots=True)
class _Impacts:
    """Reads the impacts topic from now on; hands each event to whoever awaits it."""

    bootstrap: str
    topic: str
    waiting: dict[tuple[str, str], asyncio.Future[tuple[float, dict[str, Any]]]] = field(
        default_factory=dict
    )
    """(business service, event type) -> a future of (record time, event)."""
    _consumer: AIOKafkaConsumer | None = None
    _task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(
            self.topic,
            bootstrap_servers=self.bootstrap,
            enable_auto_commit=False,
            auto_offset_reset="latest",
            fetch_max_wait_ms=20,
        )
        await self._consumer.start()
        self._task = asyncio.create_task(self._read())

    def expect(self, service: str, kind: str) -> asyncio.Future[tuple[float, dict[str, Any]]]:
        future: asyncio.Future[tuple[float, dict[str, Any]]] = (
            asyncio.get_running_loop().create_future()
        )
        self.waiting[(service, kind)] = future
        return future

    async def _read(self) -> None:
        assert self._consumer is not None
        while True:
            batches = await self._consumer.getmany(timeout_ms=50)
            for batch in batches.values():
                for record in batch:
                    event = orjson.loads(record.value or b"{}")
                    key = (event["business_service"]["id"], event["type"])
                    future = self.waiting.get(key)
                    if future is not None and not future.done():
                        future.set_result((record.timestamp / 1000, event))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._consumer is not None:
            await self._consumer.stop()


@dataclass(slots=True)
class _Probes:
    producer: AIOKafkaProducer
    topic: str
    impacts: _Impacts
    lanes: list[Target]
    count: int = 0

    async def fire(
        self, lane: Target, sent_at: float | None = None, timeout: float = PROBE_TIMEOUT
    ) -> float:
        """A fresh critical alert on ``lane``; its impact.opened's time. Resolved after."""
        self.count += 1
        name = f"BenchProbe{self.count}"
        opened = self.impacts.expect(lane.node, "impact.opened")
        sent = sent_at if sent_at is not None else time.time()
        starts = format_timestamp(sent)
        await self._send(lane, name, starts, None, sent)
        at, event = await asyncio.wait_for(opened, timeout)
        if not any(alert["name"] == name for alert in event["alerts"]):
            raise RuntimeError(f"{name} joined another incident on {lane.node}")
        resolved = self.impacts.expect(lane.node, "impact.resolved")
        await self._send(lane, name, starts, format_timestamp(time.time()), time.time())
        await asyncio.wait_for(resolved, PROBE_TIMEOUT)
        return at

    async def _send(
        self, lane: Target, name: str, starts: str, ends: str | None, at: float
    ) -> None:
        labels = {"alertname": name, "severity": "critical", **lane.labels[0]}
        alert = {
            "status": "firing" if ends is None else "resolved",
            "labels": labels,
            "annotations": {"summary": "stream bench probe"},
            "startsAt": starts,
            "endsAt": ends or UNSET,
        }
        value = orjson.dumps(webhook_payload((lane.cluster, "bench", "critical"), [alert]))
        await self.producer.send(self.topic, value, timestamp_ms=round(at * 1000))


async def _latency(
    producer: AIOKafkaProducer,
    topic: str,
    values: Sequence[bytes],
    load: float,
    probes: _Probes,
    duration: float,
) -> tuple[list[float], float]:
    """Probe latencies while storm messages go out at ``load`` alerts/s; the load sent."""
    counts = [len(orjson.loads(value)["alerts"]) for value in values]
    stop = time.monotonic() + duration
    samples: list[float] = []

    async def background() -> int:
        sent, started, index = 0, time.monotonic(), 0
        while time.monotonic() < stop:
            ahead = sent / load - (time.monotonic() - started)
            if ahead > 0:
                await asyncio.sleep(min(ahead, 0.05))
                continue
            await producer.send(topic, values[index % len(values)])
            sent += counts[index % len(counts)]
            index += 1
        return sent

    async def lane(target: Target) -> None:
        while time.monotonic() < stop:
            sent = time.time()
            opened = await probes.fire(target, sent)
            samples.append(opened - sent - GROUP_WAIT)

    started = time.monotonic()
    results = await asyncio.gather(background(), *(lane(t) for t in probes.lanes))
    return sorted(samples), int(results[0] or 0) / (time.monotonic() - started)


async def _open_alerts(
    bootstrap: str, group: str, topics: Sequence[str], topic: str, count: int
) -> None:
    """``count`` distinct firing alerts that match no node, processed and committed."""
    starts = format_timestamp(time.time())
    values = []
    for first in range(0, count, OPEN_BATCH):
        alerts = [
            {
                "status": "firing",
                "labels": {
                    "alertname": "BenchOpen",
                    "severity": "warning",
                    "cluster": "bench-nowhere",
                    "instance": f"open-{index}:9100",
                },
                "annotations": {"summary": "held open by the stream bench"},
                "startsAt": starts,
                "endsAt": UNSET,
            }
            for index in range(first, min(count, first + OPEN_BATCH))
        ]
        values.append(orjson.dumps(webhook_payload(("bench-nowhere", "bench", "warning"), alerts)))
    seconds = await _timed_through(bootstrap, group, topics, topic, values)
    progress(f"stream: {count} open alerts in {seconds:.1f} s ({count / seconds:,.0f}/s)")


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "forward":
        asyncio.run(forward(*sys.argv[2:6]))
    else:
        sys.exit("usage: python -m bench.stream_bench forward BOOTSTRAP SOURCE TARGET GROUP")
