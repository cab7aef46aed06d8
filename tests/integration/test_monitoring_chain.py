"""A real monitoring chain, end to end: Prometheus → Alertmanager → correlator → ``impacts``.

Prometheus scrapes a ``cart`` target where nothing listens, so ``up{job="cart"} == 0``
fires ``CartServiceDown`` with labels the online-boutique topology maps to
``cartservice``. Alertmanager routes it to the worker's webhook with the bearer
token the worker requires; the worker, on the test broker, opens an impact on every
business service the cart serves; ``kcat`` reads them from the impacts topic, and the
same Prometheus, scraping the worker, sees ``correlator_impacts_emitted_total`` rise.
Then the target answers, the alert resolves, and ``impact.resolved`` follows for the
same incident keys. Everything listens on 127.0.0.1, on free ports, under ``tmp_path``.

Prometheus, Alertmanager and kcat are the Debian packages: a session fixture
installs them with ``deploy/debian/install-packages.sh`` when they are missing, and
the test is skipped, saying why, only when that fails.
"""

import asyncio
import http.server
import json
import shutil
import struct
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from streaming import REPO, SAMPLES, Broker, Names, WorkerProcess, worker_env

from correlator.stream.broker import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

INSTALL_SCRIPT = REPO / "deploy" / "debian" / "install-packages.sh"
TOPOLOGY = SAMPLES / "online-boutique" / "topology.yaml"
CART_SERVES = {"ads", "browse", "cart", "checkout", "recommendations"}
"""``correlator topology show .../topology.yaml cartservice``: "can affect" these."""
TOKEN = "chain-test-token"
ALERT = "CartServiceDown"
STEP_TIMEOUT = 30.0
WORKER_UP = 'up{job="correlator"} == 1'
FIRING = f'ALERTS{{alertname="{ALERT}", alertstate="firing"}}'
INGESTED_WITH_TOKEN = 'correlator_ingest_requests_total{endpoint="alertmanager", code="200"} > 0'

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Tools:
    prometheus: str
    alertmanager: str
    kcat: str


def _find_tools() -> Tools | None:
    prometheus = shutil.which("prometheus")
    # Debian names the binary prometheus-alertmanager; upstream tarballs, alertmanager.
    alertmanager = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    kcat = shutil.which("kcat")
    if prometheus and alertmanager and kcat:
        return Tools(prometheus, alertmanager, kcat)
    return None


@pytest.fixture(scope="session")
def monitoring_tools() -> Tools:
    """The three binaries; installed by ``deploy/debian/install-packages.sh`` if missing."""
    found = _find_tools()
    if found is not None:
        return found
    if not INSTALL_SCRIPT.exists():
        pytest.skip(f"prometheus, prometheus-alertmanager or kcat missing, and no {INSTALL_SCRIPT}")
    try:
        # A new session has no terminal: sudo without a cached password fails at once
        # instead of waiting for one.
        done = subprocess.run(
            ["sh", str(INSTALL_SCRIPT)],
            capture_output=True,
            text=True,
            timeout=600,
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.skip(f"{INSTALL_SCRIPT} did not finish in 600 s")
    found = _find_tools()
    if done.returncode != 0 or found is None:
        said = (done.stderr or done.stdout).strip().splitlines()[-3:]
        pytest.skip(
            f"the Debian packages prometheus, prometheus-alertmanager and kcat could not be "
            f"installed ({INSTALL_SCRIPT.name} exited {done.returncode}: {' / '.join(said)})"
        )
    return found


class Daemon:
    """A monitoring process in its own process, logging to a file, stopped in ``stop``."""

    def __init__(self, name: str, command: list[str], log: Path) -> None:
        self.name = name
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def tail(self, lines: int = 25) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


class ProbeTarget:
    """What makes the ``cart`` target up: an HTTP server answering ``/metrics``."""

    def __init__(self, port: int) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = b"# TYPE up_probe gauge\nup_probe 1\n"
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def prometheus_config(cart_port: int, worker_port: str, alertmanager_port: int) -> str:
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": ["rules.yml"],
        "alerting": {
            "alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{alertmanager_port}"]}]}]
        },
        "scrape_configs": [
            {"job_name": "cart", "static_configs": [{"targets": [f"127.0.0.1:{cart_port}"]}]},
            {
                "job_name": "correlator",
                "static_configs": [{"targets": [f"127.0.0.1:{worker_port}"]}],
            },
        ],
    }
    return json.dumps(config, indent=2)  # JSON is YAML


def rules() -> str:
    # service + namespace is one of cartservice's selectors in the topology; critical: down.
    rule = {
        "alert": ALERT,
        "expr": 'up{job="cart"} == 0',
        "labels": {"service": "cartservice", "namespace": "boutique", "severity": "critical"},
        "annotations": {"summary": "the cart service does not answer its scrape"},
    }
    return json.dumps({"groups": [{"name": "cart", "rules": [rule]}]}, indent=2)


def alertmanager_config(worker_port: str) -> str:
    receiver = {
        "name": "correlator",
        "webhook_configs": [
            {
                "url": f"http://127.0.0.1:{worker_port}/api/v1/alerts/alertmanager",
                "send_resolved": True,
                "http_config": {"authorization": {"type": "Bearer", "credentials": TOKEN}},
            }
        ],
    }
    route = {
        "receiver": "correlator",
        "group_by": ["alertname", "namespace", "service"],
        "group_wait": "1s",
        "group_interval": "1s",
        "repeat_interval": "1h",
    }
    return json.dumps({"route": route, "receivers": [receiver]}, indent=2)


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def wait_until(what: str, probe: Callable[[], T | None], timeout: float = STEP_TIMEOUT) -> T:
    """``probe()`` until it returns something other than None (or false); that value."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.25)
    msg = f"{what}: not within {timeout:.0f} s (last: {last!r})"
    raise AssertionError(msg)


class PromQL:
    """Prometheus's HTTP API."""

    def __init__(self, port: int) -> None:
        self.root = f"http://127.0.0.1:{port}"
        self.base = f"{self.root}/api/v1"

    def vector(self, query: str) -> dict[str, float]:
        """An instant query: each series' labels (as JSON) to its value."""
        url = f"{self.base}/query?{urllib.parse.urlencode({'query': query})}"
        body = get_json(url)
        assert body["status"] == "success", body
        return {
            json.dumps(item["metric"], sort_keys=True): float(item["value"][1])
            for item in body["data"]["result"]
        }

    def value(self, query: str) -> float | None:
        """The one value of a query that sums to one series; None while it has none."""
        found = self.vector(query)
        return sum(found.values()) if found else None


# kcat and the embedded broker. Debian 12's kcat links librdkafka 2.0.2, which skips one
# byte too few over each tagged field of a response (confluentinc/librdkafka#4278, fixed in
# 2.2.0). Apache Kafka writes a tagged field only when its value is not the default, so the
# bug rarely shows; Tansu writes all four of the ApiVersions v3 response's (SupportedFeatures,
# FinalizedFeaturesEpoch, FinalizedFeatures, ZkMigrationReady), and kcat gives up at once:
# "ApiVersionRequest failed: Local: Read underflow". On the embedded broker kcat therefore
# talks through this proxy, which drops those tagged fields (nothing librdkafka reads) and
# names itself in Metadata responses in the broker's stead, so that kcat stays on it. Every
# record kcat prints is still the broker's, byte for byte.

API_VERSIONS = 18
METADATA = 3


def _uvarint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at
        shift += 7


def _skip_tags(data: bytes, at: int) -> int:
    count, at = _uvarint(data, at)
    for _ in range(count):
        _, at = _uvarint(data, at)
        size, at = _uvarint(data, at)
        at += size
    return at


def api_versions_without_tags(frame: bytes) -> bytes:
    """An ApiVersions v3+ response (header v0) with its top-level tagged fields left out."""
    at = 4 + 2  # correlation id, error code
    count, at = _uvarint(frame, at)  # compact array: entries + 1
    for _ in range(count - 1):
        at = _skip_tags(frame, at + 6)  # api key, min and max version, then the entry's tags
    at += 4  # throttle time
    return frame[:at] + b"\x00"


def metadata_with_port(frame: bytes, version: int, old: int, new: int) -> bytes:
    """A Metadata response with the brokers listening on port ``old`` on ``new`` instead."""
    data = bytearray(frame)
    flexible = version >= 9
    at = _skip_tags(frame, 4) if flexible else 4  # correlation id (and header tags)
    at += 4 if version >= 3 else 0  # throttle time
    if flexible:
        count, at = _uvarint(frame, at)
        count -= 1
    else:
        (count,) = struct.unpack_from(">i", frame, at)
        at += 4
    for _ in range(count):
        at += 4  # node id
        at = _skip_string(frame, at, flexible)  # host
        if struct.unpack_from(">i", frame, at)[0] == old:
            struct.pack_into(">i", data, at, new)
        at += 4
        at = _skip_string(frame, at, flexible) if version >= 1 else at  # rack
        at = _skip_tags(frame, at) if flexible else at
    return bytes(data)


def _skip_string(data: bytes, at: int, compact: bool) -> int:
    if compact:
        size, at = _uvarint(data, at)
        return at + max(size - 1, 0)
    size = int(struct.unpack_from(">h", data, at)[0])
    return at + 2 + max(size, 0)


class KcatProxy:
    """A Kafka-protocol proxy on 127.0.0.1 for kcat, on an event loop in its own thread."""

    def __init__(self, upstream: int) -> None:
        self.upstream = upstream
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        serving = asyncio.start_server(self._connection, "127.0.0.1", self.port)
        self._server = asyncio.run_coroutine_threadsafe(serving, self._loop).result(5)

    async def _connection(
        self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", self.upstream)
        asked: dict[int, tuple[int, int]] = {}

        def request(frame: bytes) -> bytes:
            key, version, correlation = struct.unpack_from(">hhi", frame)
            asked[correlation] = (key, version)
            return frame

        def response(frame: bytes) -> bytes:
            key, version = asked.pop(struct.unpack_from(">i", frame)[0], (-1, -1))
            if key == API_VERSIONS and version >= 3:
                return api_versions_without_tags(frame)
            if key == METADATA:
                return metadata_with_port(frame, version, self.upstream, self.port)
            return frame

        await asyncio.gather(
            _pipe(client_reader, server_writer, request),
            _pipe(server_reader, client_writer, response),
        )

    def stop(self) -> None:
        async def close() -> None:
            self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()


async def _pipe(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, change: Callable[[bytes], bytes]
) -> None:
    """Size-prefixed frames from ``reader`` to ``writer``, each through ``change``."""
    try:
        while True:
            (size,) = struct.unpack(">i", await reader.readexactly(4))
            frame = change(await reader.readexactly(size))
            writer.write(struct.pack(">i", len(frame)) + frame)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


def read_impacts(kcat: str, bootstrap: str, topic: str) -> list[dict[str, Any]]:
    """Every record on the impacts topic, read by kcat from the beginning to the end."""
    command = [kcat, "-b", bootstrap, "-t", topic, "-C", "-o", "beginning", "-e", "-J", "-q"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=15, check=False)
    except subprocess.TimeoutExpired:
        return []  # the caller polls
    assert done.returncode == 0, f"{' '.join(command)}: {done.returncode}\n{done.stderr}"
    events = []
    for line in done.stdout.splitlines():
        record = json.loads(line)
        event = json.loads(record["payload"])
        assert record["key"] == event["business_service"]["id"], record
        events.append(event)
    return events


def post_without_token(worker_port: str) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{worker_port}/api/v1/alerts/alertmanager",
        data=b'{"version": "4", "alerts": []}',
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def on_every_service(events: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]] | None:
    """The events of one type by business service id, once every one the cart serves has one."""
    found = {e["business_service"]["id"]: e for e in events if e["type"] == kind}
    return found if found.keys() >= CART_SERVES else None


def test_a_prometheus_alert_routed_by_alertmanager_becomes_impacts_that_resolve(
    broker: Broker, monitoring_tools: Tools, tmp_path: Path
) -> None:
    names = Names.fresh()
    env = worker_env(
        broker, names, TOPOLOGY, tmp_path / "data", group_wait="1s", ingest_token=TOKEN
    )
    worker_port = env["CORRELATOR_WEB_PORT"]
    cart_port, prometheus_port, alertmanager_port = free_port(), free_port(), free_port()
    (tmp_path / "prometheus.yml").write_text(
        prometheus_config(cart_port, worker_port, alertmanager_port)
    )
    (tmp_path / "rules.yml").write_text(rules())
    (tmp_path / "alertmanager.yml").write_text(alertmanager_config(worker_port))
    prometheus = [
        monitoring_tools.prometheus,
        f"--config.file={tmp_path / 'prometheus.yml'}",
        f"--storage.tsdb.path={tmp_path / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{prometheus_port}",
        # Firing alerts are sent again every second (not every minute), so that they
        # reach the Alertmanager started after the rule fired.
        "--rules.alert.resend-delay=1s",
    ]
    alertmanager = [
        monitoring_tools.alertmanager,
        f"--config.file={tmp_path / 'alertmanager.yml'}",
        f"--storage.path={tmp_path / 'alertmanager'}",
        f"--web.listen-address=127.0.0.1:{alertmanager_port}",
        "--cluster.listen-address=",  # no gossip: a single Alertmanager
    ]
    promql = PromQL(prometheus_port)

    def impacts() -> list[dict[str, Any]]:
        return read_impacts(monitoring_tools.kcat, kcat_bootstrap, names.impacts)

    def emitted(kind: str, at_least: float = 0) -> float | None:
        """The counter as Prometheus last scraped it, all priorities; None below ``at_least``."""
        query = f'sum(correlator_impacts_emitted_total{{type="{kind}"}})'
        seen = promql.value(query) or 0.0
        return seen if seen >= at_least else None

    started = time.monotonic()
    daemons: list[Daemon] = []
    with ExitStack() as stack:
        kcat_bootstrap = broker.bootstrap
        if broker.kind == "embedded":
            proxy = KcatProxy(int(broker.bootstrap.rsplit(":", 1)[1]))
            stack.callback(proxy.stop)
            kcat_bootstrap = f"127.0.0.1:{proxy.port}"
        worker = WorkerProcess(env, tmp_path / "worker.log")
        stack.callback(worker.stop)

        def start(name: str, command: list[str]) -> None:
            daemons.append(Daemon(name, command, tmp_path / f"{name}.log"))
            stack.callback(daemons[-1].stop)

        try:
            worker.wait_ready()
            assert post_without_token(worker_port) == 401

            # Prometheus alone first: it scrapes the worker, which has emitted nothing,
            # and the rule fires with no Alertmanager to tell yet.
            start("prometheus", prometheus)
            wait_until("Prometheus ready", lambda: answers(f"{promql.root}/-/ready"))
            wait_until("Prometheus scraping the worker", lambda: promql.value(WORKER_UP))
            assert emitted("impact.opened") == 0
            wait_until(f"{ALERT} firing in Prometheus", lambda: promql.value(FIRING))
            assert impacts() == []

            start("alertmanager", alertmanager)
            opened = wait_until(
                "impact.opened on every business service the cart serves, read by kcat",
                lambda: on_every_service(impacts(), "impact.opened"),
            )
            for event in opened.values():
                assert event["status"] == "down", event
                assert event["root_cause"]["node"] == "cartservice", event
                assert [a["name"] for a in event["alerts"]] == [ALERT], event
            keys = {service: event["incident_key"] for service, event in opened.items()}
            assert opened["checkout"]["priority"] == "P1"  # criticality 1, down

            seen = wait_until(
                "Prometheus seeing correlator_impacts_emitted_total rise",
                lambda: emitted("impact.opened", at_least=len(CART_SERVES)),
            )
            assert seen == len(opened)
            assert promql.value(INGESTED_WITH_TOKEN), "Alertmanager's posts were let in"

            # The target answers: up == 1, the alert resolves, so do the impacts.
            probe = ProbeTarget(cart_port)
            stack.callback(probe.stop)
            resolved = wait_until(
                "impact.resolved on every business service the cart serves, read by kcat",
                lambda: on_every_service(impacts(), "impact.resolved"),
            )
            assert {s: e["incident_key"] for s, e in resolved.items()} == keys
            assert {e["status"] for e in resolved.values()} == {"ok"}
            wait_until(
                "Prometheus seeing the resolved impacts counted",
                lambda: emitted("impact.resolved", at_least=len(CART_SERVES)),
            )
            assert promql.value(FIRING) is None
        except BaseException:
            print(f"=== failed after {time.monotonic() - started:.1f} s")
            print(f"=== worker log (tail):\n{worker.output()[-4000:]}")
            for daemon in daemons:
                print(f"=== {daemon.name} log (tail):\n{daemon.tail()}")
            raise
