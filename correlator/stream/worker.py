"""``correlator worker``: check the broker and topics, then run the Faust worker until stopped."""

import asyncio
import logging
from collections.abc import Callable

import faust

from correlator.event import ImpactEvent
from correlator.settings import CoreSettings
from correlator.stream.app import Worker
from correlator.stream.settings import WorkerSettings
from correlator.stream.topics import prepare_topics
from correlator.topology import Topology

log = logging.getLogger("correlator.worker")


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
