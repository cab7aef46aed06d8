"""Faust's in-memory table store, minus re-reading the changelog of partitions it kept.

The memory store keeps no offsets, so after every rebalance Faust reads each
assigned changelog partition again from its start up to the end offset it found
when the rebalance began, and sets each key to the last value it read. For a
partition the worker held all along, that end can be short of what the worker
itself wrote: writes still on their way to the broker, or made while the
recovery read. Their keys went back to older values, whose effects had already
been sent and whose inputs committed, so a survivor of a takeover lost alerts
from incidents it had held all the time.

A partition this worker recovered completely and kept since is current in
memory, since only its owner writes a changelog partition; its records are
skipped. Everything else (newly assigned, or assigned by a recovery that a
new rebalance cut short) is read as Faust reads it.

Faust finds it by URL scheme (``store="kept-memory://"``), through the
``faust.stores`` entry point in ``pyproject.toml``.
"""

from collections.abc import Callable, Iterable
from typing import Any

from faust.stores import memory
from faust.types import TP, EventT

SCHEME = "kept-memory"


class Store(memory.Store[Any, Any]):
    def __post_init__(self) -> None:
        super().__post_init__()
        self.current: set[TP] = set()
        """Changelog partitions whose every record is in memory."""

    async def on_rebalance(
        self,
        assigned: set[TP],
        revoked: set[TP],
        newly_assigned: set[TP],
        generation_id: int = 0,
    ) -> None:
        self.current -= revoked | newly_assigned
        await super().on_rebalance(assigned, revoked, newly_assigned, generation_id)

    def apply_changelog_batch(
        self,
        batch: Iterable[EventT[Any]],
        to_key: Callable[[Any], Any],
        to_value: Callable[[Any], Any],
    ) -> None:
        missing = [event for event in batch if event.message.tp not in self.current]
        super().apply_changelog_batch(missing, to_key, to_value)

    async def on_recovery_completed(self, active_tps: set[TP], standby_tps: set[TP]) -> None:
        self.current |= active_tps
        await super().on_recovery_completed(active_tps, standby_tps)
