"""The table store: a partition a worker kept through a rebalance is not read back over itself."""

import asyncio
from dataclasses import dataclass
from typing import Any, cast

import faust
from faust.types import TP, EventT

from correlator.stream.store import SCHEME, Store

KEPT, GAINED = TP("t-states-changelog", 0), TP("t-states-changelog", 1)


@dataclass
class Message:
    tp: TP
    value: bytes | None

    @property
    def partition(self) -> int:
        return self.tp.partition


@dataclass
class Record:
    """A changelog record as Faust hands it to a store during recovery."""

    key: str
    value: int | None
    message: Message


def record(tp: TP, key: str, value: int | None) -> Record:
    return Record(key, value, Message(tp, None if value is None else b"x"))


def new_store() -> Store:
    app = faust.App("t", store=f"{SCHEME}://")
    store = app.Table("states").data
    assert isinstance(store, Store), "the worker's store URL names this store"
    return store


def read_back(store: Store, *records: Record) -> None:
    events = cast("tuple[EventT[Any], ...]", records)
    store.apply_changelog_batch(events, lambda key: key, lambda value: value)


def rebalance(store: Store, assigned: set[TP], revoked: set[TP], newly: set[TP]) -> None:
    asyncio.run(store.on_rebalance(assigned, revoked, newly))


def recovered(store: Store, active: set[TP]) -> None:
    asyncio.run(store.on_recovery_completed(active, set()))


def started_with(store: Store, tps: set[TP], *records: Record) -> None:
    rebalance(store, tps, set(), tps)
    read_back(store, *records)
    recovered(store, tps)


def test_a_kept_partition_keeps_its_newest_values_when_its_changelog_is_read_again() -> None:
    store = new_store()
    started_with(store, {KEPT}, record(KEPT, "a", 1))
    store["a"] = 2  # the worker's own write, maybe not yet on the broker

    rebalance(store, {KEPT, GAINED}, set(), {GAINED})
    read_back(store, record(KEPT, "a", 1), record(GAINED, "b", 5))
    recovered(store, {KEPT, GAINED})

    assert dict(store.items()) == {"a": 2, "b": 5}


def test_a_partition_whose_recovery_was_cut_short_is_read_in_full_next_time() -> None:
    store = new_store()
    rebalance(store, {KEPT}, set(), {KEPT})
    read_back(store, record(KEPT, "a", 1))  # a new rebalance comes before the end

    rebalance(store, {KEPT, GAINED}, set(), {GAINED})
    read_back(store, record(KEPT, "a", 1), record(KEPT, "a", 3))

    assert store["a"] == 3


def test_a_partition_given_away_and_back_is_read_again() -> None:
    store = new_store()
    started_with(store, {KEPT, GAINED}, record(GAINED, "b", 1))
    rebalance(store, {KEPT}, {GAINED}, set())
    recovered(store, {KEPT})

    rebalance(store, {KEPT, GAINED}, set(), {GAINED})
    read_back(store, record(GAINED, "b", 1), record(GAINED, "b", 7))

    assert store["b"] == 7


def test_deletes_in_a_changelog_read_back_still_delete() -> None:
    store = new_store()
    started_with(store, {GAINED}, record(GAINED, "b", 1), record(GAINED, "b", None))

    assert "b" not in dict(store.items())
