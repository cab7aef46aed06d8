"""Event-time merge: the changes of N dedup partitions, applied in the order replay applies them.

With the event clock (backtests, parity), a correlation partition receives
changes from every dedup partition, interleaved as the broker happens to deliver
them. Applying them in that order would make the output depend on timing. So
each change carries a ``ChangeKey`` that sorts as replay's processing order, and
each dedup partition tells its clock (ticks included) with every batch. A change
is released once every source's clock has passed its time: no source can still
send anything that sorts before it. The merge is a value, kept in a table, so a
restarted worker resumes with what was held.

A change can arrive twice: a dedup partition taken over after a crash reads
again records whose changes it had already sent. Each change's place in the
order is unique (its key and business service), so the merge drops one it
holds already or has released already, instead of applying it again out of time.
"""

from collections.abc import Iterable, Sequence
from typing import NamedTuple

from correlator.stages import Change

EXPIRED, ARRIVED = 0, 1

ChangeKey = tuple[float, int, str, int]
"""``(time, EXPIRED, fingerprint, 0)`` for a timer's change, which replay runs in
``(due, fingerprint)`` order before the arrivals of that time;
``(time, ARRIVED, "%020d" % offset, index)`` for the ``index``-th alert of the
message at ``offset`` of ``alerts.raw``."""


def expired_key(change: Change) -> ChangeKey:
    return (change.at, EXPIRED, change.alert.fingerprint, 0)


def arrived_key(at: float, offset: int, index: int) -> ChangeKey:
    return (at, ARRIVED, f"{offset:020d}", index)


class Merge(NamedTuple):
    clocks: tuple[float | None, ...]
    """Each source partition's latest clock; None until it sent a batch."""
    held: tuple[tuple[ChangeKey, Change], ...] = ()
    """Sorted by key, then service."""
    released: tuple[ChangeKey, str] | None = None
    """The place of the last change released: nothing at or before it comes out again."""

    @classmethod
    def empty(cls, sources: int) -> "Merge":
        return cls((None,) * sources)

    @property
    def watermark(self) -> float | None:
        """Every source has sent everything before this time; None until all spoke."""
        if any(clock is None for clock in self.clocks):
            return None
        return min(clock for clock in self.clocks if clock is not None)


def offer(
    merge: Merge, source: int, at: float, changes: Iterable[tuple[ChangeKey, Change]]
) -> tuple[Merge, list[Change]]:
    """Take a batch from ``source`` whose clock is now ``at``; return what may be applied."""
    clocks = list(merge.clocks)
    previous = clocks[source]
    clocks[source] = at if previous is None else max(previous, at)
    places = {_place(item) for item in merge.held}
    fresh = []
    for item in changes:
        place = _place(item)
        if place not in places and (merge.released is None or place > merge.released):
            places.add(place)
            fresh.append(item)
    held = sorted((*merge.held, *fresh), key=_place)
    merged = merge._replace(clocks=tuple(clocks), held=tuple(held))
    watermark = merged.watermark
    if watermark is None:
        return merged, []
    cut = _first_not_before(merged.held, watermark)
    if cut == 0:
        return merged, []
    released = merged.held[:cut]
    kept = merged._replace(held=merged.held[cut:], released=_place(released[-1]))
    return kept, [change for _, change in released]


def _place(item: tuple[ChangeKey, Change]) -> tuple[ChangeKey, str]:
    return item[0], item[1].service


def _first_not_before(held: Sequence[tuple[ChangeKey, Change]], watermark: float) -> int:
    for position, (key, _) in enumerate(held):
        if key[0] >= watermark:
            return position
    return len(held)
