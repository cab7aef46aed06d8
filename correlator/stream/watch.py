"""Watching the broker: say when it goes away and comes back, and what that cost.

Faust and aiokafka already retry every request with backoff while the broker is
away, so the worker keeps its state and carries on when it returns. What they do
not do is tell an operator, or notice that the broker came back without the
topics (a broker whose storage was lost, such as the embedded one, which keeps
them in memory): the watch probes the bootstrap servers, logs each change, feeds
``/readyz``, and on every return has the topics checked again.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

log = logging.getLogger("correlator.broker")
PROBE_TIMEOUT = 2.0


class BrokerWatch:
    def __init__(self, servers: Sequence[str], on_return: Callable[[], Awaitable[None]]) -> None:
        self.servers = list(servers)
        self.reachable = True
        self.since = time.monotonic()
        self._on_return = on_return

    async def probe(self) -> None:
        answers = await _any_answers(self.servers)
        if answers == self.reachable:
            return
        elapsed = time.monotonic() - self.since
        self.reachable, self.since = answers, time.monotonic()
        if not answers:
            log.warning(
                "broker unreachable at %s; the worker waits and retries, state kept in memory",
                ", ".join(self.servers),
            )
            return
        log.warning("broker reachable again after %.1f s away; checking topics", elapsed)
        await self._on_return()

    def describe(self) -> str:
        state = "reachable" if self.reachable else "unreachable"
        return f"broker {state} for {time.monotonic() - self.since:.0f} s"


async def _any_answers(servers: Sequence[str]) -> bool:
    for server in servers:
        host, _, port = server.rpartition(":")
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(host.strip("[]"), int(port)), PROBE_TIMEOUT
            )
        except (OSError, TimeoutError):
            continue
        writer.close()
        return True
    return False
