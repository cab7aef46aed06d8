"""What the worker writes to Kafka reads back as it was, and a stage sees one partition's state.

Batches on the repartition topics and table values in the changelogs are the
worker's only memory across hops and restarts: a value that does not survive
the trip through bytes exactly is state lost or changed on a rebalance.
``PartitionView`` holds a stage's writes until what the stage sent is
acknowledged; here a plain dict stands in for the Faust table.
"""

from typing import Any, cast

import orjson
import pytest
from faust.types import TableT
from support import T0, generic, pipeline, webhook

from correlator.alert import Alert
from correlator.correlation import IncidentAlert
from correlator.health import Health
from correlator.parse import AlertParser
from correlator.settings import Limits
from correlator.stages import Change
from correlator.stream.merge import ARRIVED, EXPIRED, Merge
from correlator.stream.records import (
    AlertBatch,
    Arrival,
    ChangeBatch,
    alert_batch_from,
    alert_batch_to,
    change_batch_from,
    change_batch_to,
    partition_of,
)
from correlator.stream.state import ALERT_STATE, MERGE, SERVICE_STATE, PartitionView, Stamped


def parsed_alerts() -> list[Alert]:
    """Alerts as the parser makes them: both formats, resolved, unicode, fractional times."""
    hook = webhook(
        generic("RedisDown", at=T0 + 0.125, service="redis-cart"),
        generic("CartSlow", at=T0, severity="warning", service="cartservice", team="é-ü ✓"),
        generic("LbFlap", at=T0 - 60, status="resolved", ends=T0 + 1.5, service="lb"),
    )
    parser = AlertParser(Limits())
    alerts = parser.parse_document(hook, T0 + 2).alerts
    alerts += parser.parse_document(generic("Disk", at=T0, instance="cart-0"), None).alerts
    assert len(alerts) == 4
    return alerts


def changes() -> list[Change]:
    plain = IncidentAlert("fp-1", "RedisDown", "critical", "redis-cart", T0, Health.DOWN)
    flapping = IncidentAlert(
        "fp-2", "CartSlow", "warning", "cartservice", T0 + 0.5, Health.DEGRADED, True, "slow ✓"
    )
    return [Change("checkout", plain, True, T0 + 3), Change("browse", flapping, False, T0 + 9.25)]


def test_an_alert_batch_reads_back_as_written() -> None:
    first, second, third, fourth = parsed_alerts()
    arrivals = [
        Arrival(T0 + 2, 17, 1, second),
        Arrival(T0 + 2, 17, 2, third),
        Arrival(T0 + 2.5, 18, 0, fourth),
        Arrival(T0 + 2.5, 19, 0, first),
    ]
    batch = AlertBatch(T0 + 3, arrivals)

    [record] = alert_batch_to(batch)

    assert alert_batch_from(record) == batch


def test_a_tick_alert_batch_reads_back_as_a_tick() -> None:
    tick = AlertBatch(T0 + 0.001)

    [record] = alert_batch_to(tick)
    back = alert_batch_from(record)

    assert (back.at, list(back.arrivals)) == (T0 + 0.001, [])


def assert_no_clock_passes_what_comes_later(times: list[list[float]], clocks: list[float]) -> None:
    """A receiver moved to a record's clock runs no timer before an item still to come."""
    for n, clock in enumerate(clocks[:-1]):
        assert isinstance(clock, float)
        assert clock <= min(time for later in times[n + 1 :] for time in later)


def test_an_alert_batch_too_big_for_one_record_goes_as_several_in_order() -> None:
    alerts = parsed_alerts()
    arrivals = [Arrival(T0 + n, 100 + n, 0, alerts[n % 4]) for n in range(40)]
    batch = AlertBatch(T0 + 50, arrivals)
    limit = 2_000

    records = alert_batch_to(batch, limit)
    back = [alert_batch_from(record) for record in records]

    assert len(records) > 1
    assert all(len(record) <= limit + 100 for record in records)
    assert [arrival for part in back for arrival in part.arrivals] == arrivals
    assert_no_clock_passes_what_comes_later(
        [[a.at for a in part.arrivals] for part in back], [part.at for part in back]
    )
    assert [part.at for part in back][-1] == T0 + 50


def test_a_change_batch_too_big_for_one_record_goes_as_several_in_order() -> None:
    first, second = changes()
    keyed = [((T0 + n, ARRIVED, f"{n:020d}", 0), (first, second)[n % 2]) for n in range(40)]
    batch = ChangeBatch(2, T0 + 50, keyed, T0 - 5)

    records = change_batch_to(batch, 1_000)
    back = [change_batch_from(record) for record in records]

    assert len(records) > 1
    assert [change for part in back for change in part.changes] == keyed
    assert [(part.source, part.received) for part in back] == [(2, T0 - 5)] * len(back)
    assert_no_clock_passes_what_comes_later(
        [[key[0] for key, _ in part.changes] for part in back], [part.at for part in back]
    )
    assert [part.at for part in back][-1] == T0 + 50


def test_a_change_batch_reads_back_with_its_keys() -> None:
    first, second = changes()
    batch = ChangeBatch(
        3,
        T0 + 10,
        [
            ((T0 + 3, EXPIRED, "fp-1", 0), first),
            ((T0 + 9.25, ARRIVED, f"{12345:020d}", 2), second),
        ],
    )

    [record] = change_batch_to(batch)
    back = change_batch_from(record)

    assert back == batch
    assert all(type(key) is tuple for key, _ in back.changes)  # sortable against new keys


def test_a_tick_change_batch_reads_back() -> None:
    [record] = change_batch_to(ChangeBatch(-1, T0))

    assert change_batch_from(record) == ChangeBatch(-1, T0, [])


def test_table_values_read_back_from_their_changelog_bytes() -> None:
    p = pipeline()
    p.receive_document(webhook(generic("RedisDown", at=T0, service="redis-cart")), T0)
    p.receive_document(webhook(generic("Flaky", at=T0, severity="warning", instance="cart-1")), T0)
    p.receive_document(webhook(generic("LbDown", at=T0 + 5, service="lb")), T0 + 5)
    p.advance(T0 + 30)  # past group wait: incidents opened
    p.receive_document(
        webhook(generic("LbDown", at=T0 + 5, status="resolved", ends=T0 + 40, service="lb")),
        T0 + 40,
    )
    assert len(p.alerts) == 3
    assert any(state.incidents for state in p.services.values())

    for state in p.alerts.values():
        raw = ALERT_STATE._dumps(Stamped(41, state))
        orjson.loads(raw)  # JSON a human can read with kcat
        assert ALERT_STATE._loads(raw) == Stamped(41, state)
    for service in p.services.values():
        assert SERVICE_STATE._loads(SERVICE_STATE._dumps(Stamped(7, service))) == (7, service)


def test_a_merge_reads_back_with_what_it_held() -> None:
    first, second = changes()
    merge = Merge(
        (T0 + 4, None, T0 + 2.5), (((T0 + 3, EXPIRED, "fp-1", 0), first),
                                   ((T0 + 9.25, ARRIVED, f"{7:020d}", 1), second))
    )  # fmt: skip

    assert MERGE._loads(MERGE._dumps(Stamped(3, merge))) == Stamped(3, merge)
    assert MERGE._loads(MERGE._dumps(Stamped(-1, Merge.empty(4)))) == (-1, Merge.empty(4))


PARTITIONS = 4


def keys_on(partition: int, count: int) -> list[str]:
    found = [
        k for k in (f"key-{i}" for i in range(200)) if partition_of(k, PARTITIONS) == partition
    ]
    return found[:count]


class Table(dict[str, Stamped[int]]):
    """The two sides of a Faust table a view writes: its local store, and its changelog."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.changelog: list[tuple[int, str, Stamped[int] | None]] = []

    @property
    def data(self) -> dict[str, Stamped[int]]:
        return self

    def send_changelog(
        self, partition: int, key: str, value: Stamped[int] | None, **_: object
    ) -> int:
        self.changelog.append((partition, key, value))
        return len(self.changelog)


def view_of(table: Table, partition: int) -> PartitionView[int]:
    return PartitionView(cast("TableT[str, Stamped[int]]", table), partition, PARTITIONS)


def test_writes_are_held_until_flush_but_read_back_at_once() -> None:
    table = Table()
    view = view_of(table, 0)
    a, b = keys_on(0, 2)

    view[a] = 1
    view[b] = 2
    view[a] = 3

    assert table == {}
    assert view[a] == 3
    assert view.get(b) == 2
    assert view.held
    assert len(view.flush(12)) == 2  # a future for each record
    assert table == {a: Stamped(12, 3), b: Stamped(12, 2)}
    assert table.changelog == [(0, a, Stamped(12, 3)), (0, b, Stamped(12, 2))]
    assert not view.held


def test_reads_fall_through_to_the_table() -> None:
    a, b = keys_on(1, 2)
    table = Table({a: Stamped(0, 1)})
    view = view_of(table, 1)

    assert view[a] == 1
    assert view.get(b) is None
    with pytest.raises(KeyError):
        view[b]
    assert not view.held


def test_a_delete_is_held_too() -> None:
    a, b = keys_on(2, 2)
    table = Table({a: Stamped(0, 1), b: Stamped(0, 2)})
    view = view_of(table, 2)

    del view[a]

    assert a not in view
    assert view.get(a) is None
    assert list(view) == [b]
    assert table == {a: Stamped(0, 1), b: Stamped(0, 2)}
    with pytest.raises(KeyError):
        del view[a]
    view.flush(1)
    assert table == {b: Stamped(0, 2)}
    assert table.changelog == [(2, a, None)]


def test_a_key_deleted_then_written_again_is_there() -> None:
    (a,) = keys_on(0, 1)
    table = Table({a: Stamped(0, 1)})
    view = view_of(table, 0)

    del view[a]
    view[a] = 5
    view.flush(1)

    assert table == {a: Stamped(1, 5)}


def test_deleting_a_missing_key_fails_and_holds_nothing() -> None:
    view = view_of(Table(), 0)

    with pytest.raises(KeyError):
        del view["nothing"]
    assert not view.held


def test_a_view_iterates_only_its_partition() -> None:
    mine = keys_on(3, 3)
    others = keys_on(0, 2) + keys_on(1, 2)
    table = Table(dict.fromkeys(mine + others, Stamped(0, 0)))
    view = view_of(table, 3)
    held = keys_on(3, 5)[3:]  # two more keys of partition 3, not yet in the table

    for key in held:
        view[key] = 1
    del view[mine[0]]

    assert sorted(view) == sorted(mine[1:] + held)
    assert len(view) == 4
    assert dict(view.items()) == {**dict.fromkeys(mine[1:], 0), **dict.fromkeys(held, 1)}


def test_a_key_says_which_inputs_it_already_has_the_effect_of() -> None:
    """After a crash, a record read again is applied only to keys its step did not store."""
    a, b = keys_on(0, 2)
    table = Table({a: Stamped(10, 1)})
    view = view_of(table, 0)

    assert view.applied(a, 9)
    assert view.applied(a, 10)
    assert not view.applied(a, 11)
    assert not view.applied(b, 0)
    view[b] = 2
    assert not view.applied(b, 11)  # held, not stored: a crash now would lose it
    view.flush(11)
    assert view.applied(b, 11)
