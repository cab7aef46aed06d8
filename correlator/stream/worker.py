"""``correlator worker``: check the broker and topics, then run the Faust worker until stopped."""

import asyncio
import logging
from collections.abc import Callable

import faust
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth, server_list
from faust.utils.urls import urllist

from correlator.event import ImpactEvent
from correlator.settings import CoreSettings
from correlator.stream.app import Worker, credentials, topic_specs
from correlator.stream.settings import WorkerSettings
from correlator.stream.topics import ensure_topics
from correlator.topology import Topology

log = logging.getLogger("correlator.worker")
RETRY_FIRST = 0.5
RETRY_MAX = 10.0


def bootstrap_servers(settings: WorkerSettings) -> list[str]:
    """``kafka://a:9092;kafka://b:9092`` (or ``,``) as aiokafka's ``host:port`` list."""
    return server_list(urllist(settings.broker, default_scheme="kafka"), 9092)


async def prepare_topics(settings: WorkerSettings, attempts: int | None = None) -> list[str]:
    """Create missing topics and check the others; retry, with backoff, while the broker is away."""
    delay = RETRY_FIRST
    attempt = 0
    while True:
        attempt += 1
        admin = AIOKafkaAdminClient(
            bootstrap_servers=bootstrap_servers(settings),
            **credentials_to_aiokafka_auth(credentials(settings)),
        )
        try:
            await admin.start()
            return await ensure_topics(admin, topic_specs(settings))
        except (KafkaError, OSError) as error:
            if attempts is not None and attempt >= attempts:
                raise
            log.warning(
                "broker %s unreachable (%s); retrying in %.1f s", settings.broker, error, delay
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX)
        finally:
            await admin.close()


def run_worker(
    settings: WorkerSettings,
    topology: Topology,
    core: CoreSettings,
    on_event: Callable[[ImpactEvent], object] | None = None,
    loglevel: str = "info",
    worker: Worker | None = None,
) -> None:
    """Block until the worker stops (SIGINT/SIGTERM)."""
    worker = worker or Worker(settings, topology, core, on_event)
    runner = faust.Worker(worker.app, loglevel=loglevel, quiet=True, redirect_stdouts=False)
    runner.spinner = None  # its cursor escape codes garble logs and pipes
    runner.execute_from_commandline()


def serve(settings: WorkerSettings, topology: Topology, core: CoreSettings) -> None:
    """``correlator worker``: say what it runs with, prepare the topics, run until stopped."""
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s] [%(levelname)s] %(message)s")
    for line in settings.describe():
        log.info("setting %s", line)
    created = asyncio.run(prepare_topics(settings))
    if created:
        log.info("created topics: %s", ", ".join(created))
    log.info("metrics on http://%s:%d/metrics", settings.web_host, settings.web_port)
    run_worker(settings, topology, core)
