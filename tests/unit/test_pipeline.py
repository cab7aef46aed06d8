"""Invariants of the whole core under random alert sequences (hypothesis)."""

from collections import defaultdict
from typing import Any

import jsonschema
import orjson
from hypothesis import given, settings
from hypothesis import strategies as st
from support import T0, generic, pipeline, webhook

from correlator.event import schema
from correlator.pipeline import Pipeline

VALIDATOR = jsonschema.Draft202012Validator(schema())
TARGETS = [
    {"service": "redis-cart"}, {"service": "cartservice"}, {"service": "frontend"},
    {"service": "payment"}, {"service": "catalog-db"}, {"instance": "cart-0"},
    {"instance": "cart-1"}, {"instance": "cart-2"}, {"service": "lb"}, {"service": "unknown"},
]  # fmt: skip

notifications = st.lists(
    st.tuples(
        st.floats(min_value=0, max_value=400),  # seconds since the previous message
        st.integers(min_value=0, max_value=len(TARGETS) - 1),
        st.sampled_from(["critical", "warning", "info"]),
        st.booleans(),  # firing?
    ),
    min_size=1,
    max_size=40,
)


def drive(steps: list[tuple[float, int, str, bool]]) -> tuple[Pipeline, list[dict[str, Any]]]:
    p = pipeline()
    now = T0
    events = []
    for gap, target, severity, firing in steps:
        now += gap
        alert = generic("Failure", at=now, severity=severity)
        alert["labels"].update(TARGETS[target])
        if not firing:
            alert |= {"status": "resolved", "endsAt": alert["startsAt"]}
        events += [e.document for e in p.receive_document(webhook(alert), now).events]
    events += [e.document for e in p.advance(now + 24 * 3600)]
    return p, events


@settings(max_examples=150, deadline=None)
@given(notifications)
def test_lifecycle_invariants(steps: list[tuple[float, int, str, bool]]) -> None:
    p, events = drive(steps)
    by_key: dict[str, list[str]] = defaultdict(list)
    for event in events:
        VALIDATOR.validate(event)
        by_key[event["incident_key"]].append(event["type"])
        assert (event["status"] == "ok") == (event["type"] == "impact.resolved")
    for types in by_key.values():
        # Every key: opened, then updates, then resolved once time has run out.
        assert types[0] == "impact.opened"
        assert types[-1] == "impact.resolved"
        assert set(types[1:-1]) <= {"impact.updated"}
    # A day later every alert has timed out: nothing is left open, no state is kept.
    assert p.open_incidents() == 0
    assert p.alerts == {}
    assert p.services == {}


@settings(max_examples=50, deadline=None)
@given(notifications)
def test_replay_is_deterministic(steps: list[tuple[float, int, str, bool]]) -> None:
    assert drive(steps)[1] == drive(steps)[1]


@settings(max_examples=50, deadline=None)
@given(notifications)
def test_event_ids_are_unique(steps: list[tuple[float, int, str, bool]]) -> None:
    ids = [event["event_id"] for event in drive(steps)[1]]
    assert len(ids) == len(set(ids))


def test_messages_told_again_late_change_no_impact() -> None:
    """As after a worker's crash, when its parse stage sends again what it had sent
    since its last commit, or from an Alertmanager HA peer: redis-cart's firing, and
    then its resolve, arrive again while the incident goes on with cartservice."""
    redis = webhook(generic("RedisDown", at=T0, service="redis-cart"))
    cart = webhook(generic("CartErrors", at=T0 + 5, service="cartservice"))
    redis_ok = webhook(
        generic("RedisDown", T0, status="resolved", ends=T0 + 60, service="redis-cart")
    )
    messages = [(redis, T0), (cart, T0 + 5), (redis_ok, T0 + 60)]
    again = [*messages, *((body, T0 + 90) for body, _ in messages)]
    told: list[list[bytes]] = []
    for stream in (messages, again):
        p = pipeline()
        events = [e for body, at in stream for e in p.receive_document(body, at).events]
        told.append([e.to_json() for e in events + p.advance(T0 + 120)])
    roots = [orjson.loads(event)["root_cause"]["node"] for event in told[0]]
    assert roots == ["redis-cart", "cartservice"]
    assert told[1] == told[0]
