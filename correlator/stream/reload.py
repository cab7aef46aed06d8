"""The topology file, read again when it changes: validated, then swapped in whole.

A Kubernetes ConfigMap update, an edit, a ``mv`` of a new file over the old one:
each changes the file's identity (inode, size, modification time), which the
worker checks every few seconds. A file that does not load leaves the topology
in force as it is, with the reasons logged and counted; one that loads is
handed over at once, and every event from then on carries its version.
"""

import asyncio
import logging
import os
from collections.abc import Callable
from pathlib import Path

from prometheus_client import Counter

from correlator.errors import CorrelatorError
from correlator.topology import Topology, load_topology

log = logging.getLogger("correlator.topology")


class TopologyFile:
    def __init__(
        self,
        path: str,
        current: Topology,
        on_swap: Callable[[Topology], None],
        reloads: Counter,
    ) -> None:
        self.path = Path(path)
        self.current = current
        self._on_swap = on_swap
        self._reloads = reloads
        self._identity = self._stat()

    async def check(self) -> None:
        identity = self._stat()
        if identity == self._identity:
            return
        self._identity = identity
        if identity is None:
            log.warning("topology %s is gone; %s stays in force", self.path, self.current.version)
            return
        try:
            topology = await asyncio.to_thread(load_topology, self.path)
        except CorrelatorError as error:
            self._reloads.labels("invalid").inc()
            log.error(
                "topology %s changed but is invalid; %s stays in force:\n%s",
                self.path,
                self.current.version,
                error,
            )
            return
        self._reloads.labels("ok").inc()
        if topology.version == self.current.version:
            return
        log.warning(
            "topology %s: %s -> %s (%d nodes)",
            self.path,
            self.current.version,
            topology.version,
            len(topology),
        )
        self.current = topology
        self._on_swap(topology)

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            found = os.stat(self.path)
        except OSError:
            return None
        return (found.st_ino, found.st_size, found.st_mtime_ns)
