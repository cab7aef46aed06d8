"""``correlator worker``: check the broker and topics, then run the Faust worker until stopped."""

import asyncio
import logging
import os
import sys
from collections.abc import Callable
from typing import Any

import faust

from correlator.event import ImpactEvent
from correlator.settings import CoreSettings
from correlator.stream.app import Worker
from correlator.stream.settings import WorkerSettings
from correlator.stream.topics import prepare_topics
from correlator.topology import Topology

log = logging.getLogger("correlator.worker")
QUIT_CODE = 130
"""Exit code of a quit on a second Ctrl-C (128 + SIGINT, as a shell reports it)."""


class _Runner(faust.Worker):
    """Faust's worker, except that a second Ctrl-C while it stops quits at once.

    A stop commits offsets and leaves the consumer group; with the broker gone that
    waits out request timeouts, about a minute, and Faust ignores further signals.
    Quitting is safe at any time: state is in the changelogs, and input not yet
    committed is read again, as after a crash. ``on_quit`` cleans up what the
    process would otherwise leave behind.
    """

    def __init__(
        self, app: faust.App, on_quit: Callable[[], object] | None, **options: Any
    ) -> None:
        super().__init__(app, **options)
        self._on_quit = on_quit

    @property
    def shortlabel(self) -> str:
        """Faust's own name in the log: "[^Worker]: Ready" is what scripts wait for."""
        return "Worker"

    def _on_sigint(self) -> None:  # mode's handler, installed for SIGINT
        if self._signal_stop_time:
            log.warning("second Ctrl-C: quitting now; input not yet committed is read again")
            if self._on_quit is not None:
                self._on_quit()
            logging.shutdown()
            sys.stdout.flush()
            os._exit(QUIT_CODE)
        log.warning("stopping (Ctrl-C again to quit at once)")
        super()._on_sigint()


def run_worker(
    settings: WorkerSettings,
    topology: Topology,
    core: CoreSettings,
    on_event: Callable[[ImpactEvent], object] | None = None,
    loglevel: str = "info",
    worker: Worker | None = None,
    on_quit: Callable[[], object] | None = None,
) -> None:
    """Block until the worker stops (SIGINT/SIGTERM); ``on_quit`` runs if it quits instead."""
    worker = worker or Worker(settings, topology, core, on_event)
    runner = _Runner(worker.app, on_quit, loglevel=loglevel, quiet=True, redirect_stdouts=False)
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
