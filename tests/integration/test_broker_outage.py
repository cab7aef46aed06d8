"""The broker goes away under a running worker and comes back: reported, retried, resumed.

The embedded broker keeps its topics in memory, so stopping it loses them all:
the worker must notice on its return, make its topics again and carry on with
the incidents it holds in memory. (On Apache Kafka topics and offsets survive a
broker restart; the worker's consumer and producer retry until it is back, and
nothing needs making again.)
"""

import signal
import time
from pathlib import Path

import orjson
import pytest
from streaming import SAMPLES, Broker, Names, WorkerProcess, consume, produce, web_json, worker_env

from correlator.stream.broker import EmbeddedBroker, free_port
from correlator.stream.worker import QUIT_CODE

pytestmark = pytest.mark.integration


def wait_for(port: str, status: int, timeout: float = 30.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code, body = web_json(port, "/readyz")
        if code == status:
            return body
        time.sleep(0.25)
    msg = f"/readyz never answered {status} in {timeout:.0f} s; last: {code} {body}"
    raise AssertionError(msg)


def post_alert(port: str, body: bytes) -> tuple[int, dict[str, object]]:
    return web_json(port, "/api/v1/alerts", body, {"Content-Type": "application/json"})


def redis_down(status: str) -> bytes:
    labels = {"alertname": "RedisDown", "service": "redis-cart", "namespace": "boutique"}
    return orjson.dumps({"status": status, "labels": {**labels, "severity": "critical"}})


def test_worker_reports_an_outage_and_resumes_its_incidents_when_the_broker_returns(
    tmp_path: Path,
) -> None:
    port = free_port()
    embedded = EmbeddedBroker(tmp_path / "broker.log", port=port).start()
    broker = Broker(embedded.url, embedded.bootstrap, "embedded")
    names = Names.fresh()
    topology = SAMPLES / "online-boutique" / "topology.yaml"
    env = worker_env(broker, names, topology, tmp_path / "data", group_wait="1s")
    web = env["CORRELATOR_WEB_PORT"]
    worker = WorkerProcess(env, tmp_path / "worker.log")
    try:
        worker.wait_ready()
        wait_for(web, 200)
        produce(broker, names.raw, [(redis_down("firing"), None)])
        opened = [orjson.loads(v) for v in consume(broker, names.impacts, at_least=5, timeout=30)]
        keys = {event["incident_key"] for event in opened if event["type"] == "impact.opened"}
        assert len(keys) == 5  # redis-cart hurts five business services

        embedded.stop()
        body = wait_for(web, 503)
        assert any("broker unreachable" in str(problem) for problem in body["problems"])  # type: ignore[attr-defined]
        assert worker.process.poll() is None, "the worker must wait for the broker, not exit"
        status, answer = post_alert(web, redis_down("firing"))
        assert status == 503, "a sender must retry: nothing may be acknowledged that is not kept"
        assert "broker unreachable" in str(answer["error"])

        embedded = EmbeddedBroker(tmp_path / "broker.log", port=port).start()
        wait_for(web, 200)
        assert post_alert(web, redis_down("resolved"))[0] == 200
        after = [orjson.loads(v) for v in consume(broker, names.impacts, at_least=5, timeout=60)]
    finally:
        worker.stop()
        embedded.stop()
    assert sorted(event["type"] for event in after) == ["impact.resolved"] * 5
    assert {event["incident_key"] for event in after} == keys
    log = worker.output()
    assert "broker unreachable" in log
    assert "broker reachable again" in log
    assert "the broker had lost topics" in log


def test_a_second_ctrl_c_quits_a_worker_whose_broker_is_gone(tmp_path: Path) -> None:
    embedded = EmbeddedBroker(tmp_path / "broker.log").start()
    broker = Broker(embedded.url, embedded.bootstrap, "embedded")
    topology = SAMPLES / "online-boutique" / "topology.yaml"
    worker = WorkerProcess(
        worker_env(broker, Names.fresh(), topology, tmp_path / "data"), tmp_path / "worker.log"
    )
    try:
        worker.wait_ready()
        embedded.stop()
        worker.process.send_signal(signal.SIGINT)
        time.sleep(2)
        assert worker.process.poll() is None, "a stop without a broker waits (commit, leave)"
        worker.process.send_signal(signal.SIGINT)
        code = worker.process.wait(timeout=10)
    finally:
        worker.stop()
        embedded.stop()
    assert code == QUIT_CODE
    log = worker.output()
    assert "Ctrl-C again to quit at once" in log
    assert "second Ctrl-C: quitting now" in log
