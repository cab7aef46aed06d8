"""A topology file changed under a running worker: invalid ones refused, valid ones swapped in."""

import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from streaming import SAMPLES, Broker, Names, WorkerProcess, consume, produce, worker_env

from correlator.topology import load_topology

pytestmark = pytest.mark.integration

NEEDS_REDIS = "depends_on: [redis-cart, nodepool-general, cluster-dns]"


def redis_down() -> bytes:
    labels = {"alertname": "RedisDown", "service": "redis-cart", "namespace": "boutique"}
    return orjson.dumps({"labels": {**labels, "severity": "critical"}})


def get(port: str, path: str) -> bytes:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
        body: bytes = response.read()
    return body


def metric(port: str, line_start: str) -> str:
    lines = get(port, "/metrics").decode().splitlines()
    return next((line for line in lines if line.startswith(line_start)), "")


def wait_until(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.25)


def test_invalid_topology_is_refused_and_a_valid_one_swapped_in_without_restart(
    broker: Broker, tmp_path: Path
) -> None:
    original = (SAMPLES / "online-boutique" / "topology.yaml").read_text()
    assert NEEDS_REDIS in original
    path = tmp_path / "topology.yaml"
    path.write_text(original)
    first_version = load_topology(path).version
    names = Names.fresh()
    env = worker_env(
        broker, names, path, tmp_path / "data", group_wait="1s", topology_check_interval="0.2s"
    )
    worker = WorkerProcess(env, tmp_path / "worker.log")
    web = env["CORRELATOR_WEB_PORT"]
    try:
        worker.wait_ready()
        produce(broker, names.raw, [(redis_down(), None)])
        opened = [orjson.loads(v) for v in consume(broker, names.impacts, at_least=5, timeout=30)]
        assert {event["topology_version"] for event in opened} == {first_version}
        listed = orjson.loads(get(web, "/api/v1/incidents"))["incidents"]
        assert {entry["incident_key"] for entry in listed} == {e["incident_key"] for e in opened}
        assert metric(web, "correlator_incidents_open").endswith(" 5.0")

        path.write_text(original.replace(NEEDS_REDIS, "depends_on: [no-such-node]"))
        wait_until(lambda: "changed but is invalid" in worker.output())
        assert metric(web, 'correlator_topology_reloads_total{result="invalid"}').endswith(" 1.0")
        assert first_version in metric(web, "correlator_topology_version_info")

        edited = original.replace(NEEDS_REDIS, "depends_on: [nodepool-general, cluster-dns]")
        path.write_text(edited)
        second_version = load_topology(path).version
        events = [orjson.loads(v) for v in consume(broker, names.impacts, at_least=10, timeout=30)]
    finally:
        worker.stop()
    resolved = [event for event in events if event["type"] == "impact.resolved"]
    assert {event["incident_key"] for event in resolved} == {e["incident_key"] for e in opened}
    assert {event["topology_version"] for event in resolved} == {second_version}
    assert second_version != first_version
