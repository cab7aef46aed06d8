"""HTTP ingest on a running worker: what is refused writes nothing, what is accepted is on Kafka."""

from pathlib import Path

import orjson
import pytest
from streaming import SAMPLES, Broker, Names, WorkerProcess, consume, web_json, worker_env

pytestmark = pytest.mark.integration
TOKEN = "s3cret"


def payload(name: str) -> bytes:
    alert = {
        "status": "firing",
        "labels": {"alertname": name, "service": "redis-cart", "namespace": "boutique"},
        "annotations": {},
        "startsAt": "2026-11-23T12:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
    }
    return orjson.dumps(
        {"version": "4", "groupKey": "{}:{}", "status": "firing", "alerts": [alert]}
    )


def test_refused_requests_write_nothing_and_an_accepted_one_is_on_alerts_raw(
    broker: Broker, tmp_path: Path
) -> None:
    names = Names.fresh()
    topology = SAMPLES / "online-boutique" / "topology.yaml"
    env = worker_env(
        broker, names, topology, tmp_path / "data", ingest_token=TOKEN, max_body_bytes=2000
    )
    web = env["CORRELATOR_WEB_PORT"]
    path = "/api/v1/alerts/alertmanager"
    json = {"Content-Type": "application/json"}
    authorized = {**json, "Authorization": f"Bearer {TOKEN}"}
    worker = WorkerProcess(env, tmp_path / "worker.log")
    try:
        worker.wait_ready()
        refused = [
            web_json(web, path, payload("NoToken"), json),
            web_json(web, path, payload("WrongToken"), {**json, "Authorization": "Bearer nope"}),
            web_json(web, path, payload("Text"), {**authorized, "Content-Type": "text/plain"}),
            web_json(web, path, b'{"alerts": [', authorized),
            web_json(web, path, b'{"status": "firing"}', authorized),
            web_json(web, path, b'{"alerts": [], "pad": "' + b"x" * 3000 + b'"}', authorized),
        ]
        accepted = web_json(web, path, payload("RedisDown"), authorized)
        raw = consume(broker, names.raw, at_least=1, timeout=20, idle=2)
    finally:
        worker.stop()
    assert [status for status, _ in refused] == [401, 401, 415, 400, 400, 413]
    assert "invalid JSON" in str(refused[3][1]["error"])
    assert accepted == (200, {"accepted": True, "partition": 0, "offset": 0})
    assert raw == [payload("RedisDown")]
