"""``deploy/itsm/impacts_to_tickets.py``: one ticket per incident, whatever Kafka redelivers.

The decision (``apply``) is tested over the events ``correlator replay`` writes for
the online-boutique cascade, delivered as Kafka may deliver them: each business
service's events in order (they share a partition), services interleaved, with
repeats and late starts. The script itself runs once against a broker.
"""

import asyncio
import importlib.util
import json
import random
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from streaming import REPO, SAMPLES, Broker, broker_for_tests

SCRIPT = REPO / "deploy" / "itsm" / "impacts_to_tickets.py"
TOPOLOGY = SAMPLES / "online-boutique" / "topology.yaml"
CASCADE = SAMPLES / "online-boutique" / "alerts" / "cascade.jsonl"
CORRELATOR = str(Path(sys.executable).parent / "correlator")

Event = dict[str, Any]


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("impacts_to_tickets", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


itsm = _load_script()


@pytest.fixture(scope="module")
def cascade() -> list[Event]:
    """What ``correlator replay`` writes for the cascade sample, one event a line."""
    done = subprocess.run(
        [CORRELATOR, "replay", "--topology", str(TOPOLOGY), "--alerts", str(CASCADE)],
        capture_output=True,
        check=True,
        timeout=60,
    )
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert {event["type"] for event in events} == {
        "impact.opened",
        "impact.updated",
        "impact.resolved",
    }
    return events


def by_service(events: Sequence[Event]) -> dict[str, list[Event]]:
    """Each business service's events in order: what one partition of ``impacts`` holds."""
    grouped: dict[str, list[Event]] = {}
    for event in events:
        grouped.setdefault(event["business_service"]["id"], []).append(event)
    return grouped


def interleave(queues: Mapping[str, Sequence[Event]], rng: random.Random) -> list[Event]:
    """One random delivery order that keeps each queue's own order."""
    left = {name: list(queue) for name, queue in queues.items() if queue}
    delivered = []
    while left:
        name = rng.choice(sorted(left))
        delivered.append(left[name].pop(0))
        if not left[name]:
            del left[name]
    return delivered


def fed(events: Sequence[Event]) -> dict[str, Any]:
    tickets: dict[str, Any] = {}
    for event in events:
        tickets = itsm.apply(tickets, event)
    return tickets


def assert_closed_as_resolved(tickets: Mapping[str, Any], events: Sequence[Event]) -> None:
    """One ticket per incident key, closed with its resolved event's status and priority."""
    keys = {event["incident_key"] for event in events}
    assert set(tickets) == keys
    for event in events:
        if event["type"] != "impact.resolved":
            continue
        ticket = tickets[event["incident_key"]]
        assert ticket["state"] == "closed", ticket
        assert (ticket["status"], ticket["priority"]) == (event["status"], event["priority"])
        assert ticket["resolved_at"] == event["resolved_at"]


def assert_each_event_once(tickets: Mapping[str, Any], events: Sequence[Event]) -> None:
    """Each ticket took its incident's events once each, in order."""
    for key, ticket in tickets.items():
        ids = [event["event_id"] for event in events if event["incident_key"] == key]
        assert ticket["event_ids"] == list(dict.fromkeys(ids)), key
        assert len(ticket["notes"]) == len(ticket["event_ids"])


@pytest.mark.parametrize("seed", range(5))
def test_events_delivered_twice_and_interleaved_make_one_closed_ticket_per_incident(
    cascade: list[Event], seed: int
) -> None:
    rng = random.Random(seed)
    twice = {service: events + events for service, events in by_service(cascade).items()}
    tickets = fed(interleave(twice, rng))
    assert_closed_as_resolved(tickets, cascade)
    assert_each_event_once(tickets, cascade)


@pytest.mark.parametrize("seed", range(5))
def test_redelivery_from_an_uncommitted_offset_changes_nothing(
    cascade: list[Event], seed: int
) -> None:
    # A consumer that saved its tickets up to `read` but committed only up to `committed`
    # reads events[committed:] again after a restart.
    rng = random.Random(seed)
    redelivered = {}
    for service, events in by_service(cascade).items():
        read = rng.randrange(1, len(events) + 1)
        committed = rng.randrange(0, read)
        redelivered[service] = events[:read] + events[committed:]
    tickets = fed(interleave(redelivered, rng))
    assert_closed_as_resolved(tickets, cascade)
    assert_each_event_once(tickets, cascade)


@pytest.mark.parametrize("seed", range(5))
def test_a_consumer_started_late_still_opens_and_closes_the_tickets(
    cascade: list[Event], seed: int
) -> None:
    rng = random.Random(seed)
    late = {}
    for service, events in by_service(cascade).items():
        late[service] = events[rng.randrange(1, len(events)) :]  # never the opened event
    tickets = fed(interleave(late, rng))
    assert_closed_as_resolved(tickets, cascade)
    for ticket in tickets.values():
        assert "first event seen of this incident was impact." in ticket["notes"][0]


def test_the_tickets_follow_one_incident_from_opened_to_resolved(cascade: list[Event]) -> None:
    events = by_service(cascade)["checkout"]
    tickets: dict[str, Any] = {}
    states = []
    for event in events:
        tickets = itsm.apply(tickets, event)
        ticket = tickets[event["incident_key"]]
        states.append((ticket["state"], ticket["priority"], ticket["status"]))
    assert states[0] == ("open", "P1", "down")  # checkout is criticality 1
    assert states[-1] == ("closed", events[-1]["priority"], "ok")
    assert [state for state, _, _ in states] == ["open"] * (len(events) - 1) + ["closed"]
    (ticket,) = tickets.values()
    assert ticket["opened_at"] == events[0]["opened_at"]
    assert ticket["root_cause"] == events[-1]["root_cause"]["node"]


def event(kind: str, event_id: str = "e2", key: str = "k-1") -> Event:
    return {
        "type": kind,
        "event_id": event_id,
        "incident_key": key,
        "business_service": {"id": "checkout", "name": "Checkout"},
        "status": "ok" if kind == "impact.resolved" else "down",
        "priority": "P1",
        "root_cause": {"node": "redis-cart"},
        "summary": "Checkout",
        "opened_at": "2026-11-20T14:02:45Z",
        "updated_at": "2026-11-20T14:03:45Z",
        "resolved_at": "2026-11-20T14:14:05Z" if kind == "impact.resolved" else None,
    }


def ticket(state: str, event_ids: Sequence[str] = ("e1",)) -> dict[str, Any]:
    opened = itsm.apply({}, event("impact.opened", event_ids[0]))["k-1"]
    return {**opened, "state": state, "event_ids": list(event_ids)}


A = itsm.Action


@pytest.mark.parametrize(
    ("before", "kind", "expected"),
    [
        # The usual life of an incident.
        (None, "impact.opened", A.CREATE),
        (ticket("open"), "impact.updated", A.UPDATE),
        (ticket("open"), "impact.resolved", A.CLOSE),
        # Started late: the first event seen is an update, or the resolution.
        (None, "impact.updated", A.CREATE),
        (None, "impact.resolved", A.CREATE_CLOSED),
        # The same event again (event e2 already applied): nothing changes.
        (ticket("open", ("e1", "e2")), "impact.updated", A.REPEAT),
        (ticket("closed", ("e1", "e2")), "impact.resolved", A.REPEAT),
        # A new event for a closed ticket: keys are never reused, so a stray; left closed.
        (ticket("closed"), "impact.updated", A.AFTER_CLOSE),
        # A type this consumer does not know (a later schema): left alone.
        (None, "impact.escalated", A.IGNORE),
    ],
)
def test_decide(before: dict[str, Any] | None, kind: str, expected: object) -> None:
    assert itsm.decide(before, event(kind)) is expected


def test_apply_leaves_its_input_alone() -> None:
    before = {"k-1": ticket("open")}
    frozen = json.dumps(before, sort_keys=True)
    after = itsm.apply(before, event("impact.resolved"))
    assert json.dumps(before, sort_keys=True) == frozen
    assert after["k-1"]["state"] == "closed"


# ---- the script against a broker ----


@pytest.fixture(scope="module")
def itsm_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    with broker_for_tests(tmp_path_factory.mktemp("itsm-broker")) as found:
        yield found


def publish(broker: Broker, topic: str, values: Sequence[bytes]) -> tuple[int, int]:
    """Records keyed as correlator keys impacts (business service id), so on one partition;
    that partition and its end offset."""

    async def send() -> tuple[int, int]:
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
        await producer.start()
        try:
            for value in values:
                sent = await producer.send_and_wait(topic, value, key=b"checkout")
        finally:
            await producer.stop()
        return sent.partition, sent.offset + 1

    return asyncio.run(send())


def committed(broker: Broker, topic: str, partition: int, group: str) -> int | None:
    async def ask() -> int | None:
        consumer = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=group)
        await consumer.start()
        try:
            offset: int | None = await consumer.committed(TopicPartition(topic, partition))
        finally:
            await consumer.stop()
        return offset

    return asyncio.run(ask())


@pytest.mark.integration
def test_the_script_opens_and_closes_a_ticket_and_commits_what_it_read(
    itsm_broker: Broker, cascade: list[Event], tmp_path: Path
) -> None:
    topic, group = f"impacts-itsm-{uuid.uuid4().hex[:8]}", "itsm"
    events = by_service(cascade)["checkout"]
    values = [json.dumps(e).encode() for e in events]
    # Opened and two updates, those two again (a worker sent them twice), something that
    # is not an impact event, then the rest up to the resolution.
    partition, end = publish(itsm_broker, topic, [*values[:3], *values[1:3], b"?", *values[3:]])
    store = tmp_path / "tickets.json"
    command = [
        *(sys.executable, str(SCRIPT), "--bootstrap", itsm_broker.bootstrap),
        *("--topic", topic, "--group", group, "--store", str(store), "--idle-exit", "1"),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr

    (ticket,) = json.loads(store.read_text()).values()
    assert ticket["incident_key"] == events[0]["incident_key"]
    assert ticket["state"] == "closed"
    assert (ticket["status"], ticket["priority"]) == (events[-1]["status"], events[-1]["priority"])
    assert ticket["event_ids"] == [e["event_id"] for e in events]
    assert done.stderr.count("repeat, skipped") == 2, done.stderr
    assert "skipped a record that is not JSON" in done.stderr
    assert committed(itsm_broker, topic, partition, group) == end
