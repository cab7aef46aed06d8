"""HTTP ingest under load: Alertmanager payloads posted to the worker's webhook endpoint.

Throughput is alerts over the time for every payload to be answered 200 (that is,
acknowledged by the broker), with ``CONCURRENCY`` requests in flight, as several
Alertmanager replicas and groups would send them. Latency is each request's time
to its answer while payloads are sent at a fixed pace.
"""

import asyncio
import time
from collections.abc import Sequence

import aiohttp

CONCURRENCY = 16
JSON = {"Content-Type": "application/json"}


async def post_all(url: str, payloads: Sequence[bytes]) -> float:
    """Seconds to post every payload, ``CONCURRENCY`` at a time; any non-200 is an error."""
    queue = list(reversed(payloads))
    async with aiohttp.ClientSession() as session:

        async def sender() -> None:
            while queue:
                await _post(session, url, queue.pop())

        started = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(CONCURRENCY)))
        return time.perf_counter() - started


async def paced_latencies(
    url: str, payloads: Sequence[bytes], per_second: float, seconds: float
) -> list[float]:
    """Each request's seconds to its answer, payloads started ``per_second`` for ``seconds``."""
    latencies: list[float] = []
    async with aiohttp.ClientSession() as session:

        async def timed(payload: bytes) -> None:
            started = time.perf_counter()
            await _post(session, url, payload)
            latencies.append(time.perf_counter() - started)

        tasks = []
        started = time.perf_counter()
        for sent in range(max(1, round(per_second * seconds))):
            await asyncio.sleep(max(0.0, started + sent / per_second - time.perf_counter()))
            tasks.append(asyncio.create_task(timed(payloads[sent % len(payloads)])))
        await asyncio.gather(*tasks)
    return latencies


async def _post(session: aiohttp.ClientSession, url: str, payload: bytes) -> None:
    async with session.post(url, data=payload, headers=JSON) as response:
        if response.status != 200:
            body = await response.text()
            msg = f"{url} answered {response.status}: {body[:200]}"
            raise RuntimeError(msg)
        await response.read()
