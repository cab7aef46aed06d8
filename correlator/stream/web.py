"""The worker's HTTP endpoints, on Faust's web server.

``/healthz``, ``/readyz``, ``/metrics``, ``/api/v1/incidents``, and alert ingest
(``correlator.ingest`` decides; this sends). An admitted request is answered 2xx
only once the broker acknowledged its record, and 503 while the broker cannot
take it, so that Alertmanager retries: nothing acknowledged to a sender is lost.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import faust
from aiokafka.errors import KafkaError
from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from correlator.incidents import open_incidents
from correlator.ingest import Endpoint, Refused, admit, authorized

if TYPE_CHECKING:
    from correlator.stream.app import Worker

ACK_TIMEOUT = 10.0
"""Longest an ingest request waits for the broker's acknowledgement before a 503."""
Handler = Callable[[View, Request], Awaitable[Response]]


def register(worker: "Worker") -> None:
    app = worker.app
    _route(app, "/healthz", "get", lambda view, request: _json(view, {"alive": True}))
    _route(app, "/readyz", "get", lambda view, request: _ready(worker, view))
    _route(app, "/metrics", "get", lambda view, request: _metrics(worker, view))
    _route(app, "/api/v1/incidents", "get", lambda view, request: _incidents(worker, view))
    for path, endpoint in [
        ("/api/v1/alerts/alertmanager", Endpoint.ALERTMANAGER),
        ("/api/v1/alerts", Endpoint.GENERIC),
    ]:
        _route(app, path, "post", _ingest_handler(worker, endpoint))


def _route(app: faust.App, path: str, method: str, handler: Handler) -> None:
    """Faust makes a View class per route; the handler becomes its method."""

    async def respond(view: View, request: Request) -> Response:
        return await handler(view, request)

    name = f"{method}{path.replace('/', '_')}"
    app.page(path)(type(name, (View,), {method: respond}))


async def _json(view: View, body: object, status: int = 200) -> Response:
    return view.json(body, status=status)


async def _ready(worker: "Worker", view: View) -> Response:
    problems = worker.not_ready()
    body = {"ready": not problems, "problems": problems, "broker": worker.watch.describe()}
    return view.json(body, status=503 if problems else 200)


async def _metrics(worker: "Worker", view: View) -> Response:
    data = generate_latest(worker.metrics.registry)
    return view.bytes(data, content_type=CONTENT_TYPE_LATEST.split(";")[0])


async def _incidents(worker: "Worker", view: View) -> Response:
    listed = open_incidents(worker.service_states(), worker.topology)
    return view.json({"incidents": listed, "worker_partitions": worker.partitions_held()})


def _ingest_handler(worker: "Worker", endpoint: Endpoint) -> Handler:
    async def ingest(view: View, request: Request) -> Response:
        status, body = await _ingest(worker, endpoint, request)
        worker.metrics.ingest.labels(endpoint.value, str(status)).inc()
        headers = {"WWW-Authenticate": 'Bearer realm="correlator"'} if status == 401 else None
        return view.json(body, status=status, headers=headers)

    return ingest


async def _ingest(
    worker: "Worker", endpoint: Endpoint, request: Request
) -> tuple[int, dict[str, object]]:
    settings = worker.settings
    if not authorized(request.headers.get("Authorization"), settings.ingest_token):
        return 401, {"error": "missing or wrong bearer token"}
    limit = worker.core.limits.max_body_bytes
    declared = request.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        return 413, {"error": f"body of {declared} bytes is over the limit of {limit}"}
    headers = {name.lower(): value for name, value in request.headers.items()}
    decision = admit(endpoint, headers, await request.read(), limit)
    if isinstance(decision, Refused):
        return decision.status, {"error": decision.error}
    if not worker.watch.reachable:
        return 503, {"error": f"broker unreachable ({settings.broker}); retry later"}
    try:
        sent = await worker.raw.send(key=decision.key, value=decision.value, timestamp=time.time())
        metadata = await asyncio.wait_for(sent, ACK_TIMEOUT)
    except (TimeoutError, KafkaError) as error:
        return 503, {"error": f"broker did not acknowledge ({error!r}); retry later"}
    return 200, {"accepted": True, "partition": metadata.partition, "offset": metadata.offset}
