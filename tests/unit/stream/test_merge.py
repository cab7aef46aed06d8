"""The event-time merge applies changes in one order, however the sources' batches interleave.

Each source (a dedup partition) sends batches in its own order: its clock never
goes back, and nothing it sends happens before the clock of its previous batch.
The broker interleaves the sources' batches as it likes; the merge must release
the changes sorted by key, each only once every source's clock has passed its
time, and all of them once every clock has passed the last one.
"""

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from correlator.correlation import IncidentAlert
from correlator.health import Health
from correlator.stages import Change
from correlator.stream.merge import ARRIVED, EXPIRED, ChangeKey, Merge, offer
from correlator.stream.state import MERGE, Stamped


@dataclass(frozen=True, slots=True)
class Batch:
    source: int
    at: float
    changes: list[tuple[ChangeKey, Change]]


def change(service: str, fingerprint: str, at: float) -> Change:
    alert = IncidentAlert(fingerprint, "Down", "critical", "node", at, Health.DOWN)
    return Change(service, alert, True, at)


@st.composite
def source_batches(draw: st.DrawFn, source: int) -> list[Batch]:
    """One source's batches: clocks non-decreasing, each change between two clocks."""
    batches = []
    made = 0
    clock = float(draw(st.integers(0, 3)))
    previous = clock
    for _ in range(draw(st.integers(1, 6))):
        clock += draw(st.sampled_from([0, 0, 1, 2, 5]))
        times = sorted(
            draw(st.lists(st.integers(int(previous), int(clock)), max_size=4))
        )  # whole seconds in [previous, clock]: many ties across sources
        changes: list[tuple[ChangeKey, Change]] = []
        for time in times:
            phase = draw(st.sampled_from([EXPIRED, ARRIVED]))
            serial = draw(st.integers(0, 10**6)) * 1000 + made
            made += 1
            # Unique per change: source and serial in the tiebreak, as offsets and
            # fingerprints make them in the worker.
            key: ChangeKey = (float(time), phase, f"{source}-{serial:010d}", len(changes))
            changes.append((key, change(f"svc-{serial % 3}", f"fp-{source}-{serial}", time)))
        changes.sort(key=lambda item: item[0])
        batches.append(Batch(source, clock, changes))
        previous = clock
    return batches


@st.composite
def interleavings(draw: st.DrawFn) -> tuple[int, list[Batch]]:
    """The batches of 1..4 sources, in an order that keeps each source's own order."""
    sources = draw(st.integers(1, 4))
    queues = [draw(source_batches(source)) for source in range(sources)]
    order = draw(st.permutations([s for s, queue in enumerate(queues) for _ in queue]))
    positions = [0] * sources
    arrived = []
    for source in order:
        arrived.append(queues[source][positions[source]])
        positions[source] += 1
    return sources, arrived


def stored(merge: Merge) -> Merge:
    """The merge as a restarted worker reads it back from its table's changelog."""
    restored: Merge = MERGE._loads(MERGE._dumps(Stamped(0, merge))).value
    return restored


@settings(max_examples=200, deadline=None)
@given(interleavings(), st.lists(st.booleans(), min_size=30, max_size=30))
def test_changes_come_out_in_key_order_once_every_clock_passed_them(
    case: tuple[int, list[Batch]], restarts: list[bool]
) -> None:
    sources, batches = case
    merge = Merge.empty(sources)
    clocks: dict[int, float] = {}
    released: list[Change] = []

    for step, batch in enumerate(batches):
        merge, ready = offer(merge, batch.source, batch.at, batch.changes)
        clocks[batch.source] = max(clocks.get(batch.source, batch.at), batch.at)
        if restarts[step % len(restarts)]:
            merge = stored(merge)
        if len(clocks) < sources:
            assert ready == [], "released before every source had spoken"
            continue
        passed = min(clocks.values())
        assert all(ch.at < passed for ch in ready), (passed, ready)
        released += ready

    last = max([b.at for b in batches] + [k[0] for b in batches for k, _ in b.changes])
    for source in range(sources):
        merge, ready = offer(merge, source, last + 1, [])
        released += ready

    sent = sorted(((key, ch) for b in batches for key, ch in b.changes), key=lambda kc: kc[0])
    assert released == [ch for _, ch in sent]
    assert merge.held == ()


def test_a_change_sent_twice_comes_out_once() -> None:
    """A dedup partition taken over after a crash sends again changes it had sent."""
    first = ((1.0, ARRIVED, "00000000000000000007", 0), change("svc-0", "fp-1", 1))
    second = ((2.0, ARRIVED, "00000000000000000008", 0), change("svc-0", "fp-2", 2))
    merge, out = offer(Merge.empty(1), 0, 1.5, [first])
    assert out == [first[1]]
    merge, out = offer(merge, 0, 1.5, [first, second])  # sent again, before and after release
    assert out == []
    merge, out = offer(merge, 0, 3.0, [second])
    assert out == [second[1]]
    assert merge.held == ()
