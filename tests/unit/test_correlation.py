"""Correlation semantics on a timeline: push alerts at simulated times, expect impacts.

Topology (tests/support.py): checkout (criticality 1) needs frontend and
checkoutservice; checkoutservice needs cartservice and payment; cartservice needs
redis-cart and the cart-replicas group (3 hosts, min_healthy 2); browse
(criticality 3) needs frontend and catalog -> catalog-db; frontend needs lb.
"""

import hashlib
from typing import Any

import orjson
import pytest
from support import T0, generic, pipeline, webhook

from correlator.event import ImpactEvent
from correlator.health import Health
from correlator.pipeline import Pipeline
from correlator.priority import PriorityMatrix
from correlator.settings import CoreSettings
from correlator.timestamps import format_timestamp


def push(p: Pipeline, at: float, *alerts: dict[str, Any]) -> list[dict[str, Any]]:
    return [e.document for e in p.receive_document(webhook(*alerts), at).events]


def run(p: Pipeline, until: float) -> list[dict[str, Any]]:
    return [e.document for e in p.advance(until)]


def kinds(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["type"], e["business_service"]["id"]) for e in events]


def redis_down(at: float = T0, status: str = "firing") -> dict[str, Any]:
    return generic("RedisDown", at=at, status=status, ends=at + 600, service="redis-cart")


def cart_crashloop(at: float = T0 + 5, severity: str = "warning") -> dict[str, Any]:
    return generic("KubePodCrashLooping", at=at, severity=severity, service="cartservice")


def test_group_wait_folds_a_cascade_into_one_event_with_the_root_cause() -> None:
    p = pipeline()
    # The symptom arrives first; its cause two seconds later.
    assert push(p, T0, cart_crashloop(T0)) == []
    assert push(p, T0 + 2, redis_down(T0 - 1)) == []
    assert run(p, T0 + 9.9) == []
    [opened] = run(p, T0 + 10)
    assert opened["type"] == "impact.opened"
    assert opened["updated_at"] == "2026-11-20T14:00:10.000Z"
    assert opened["root_cause"]["node"] == "redis-cart"
    assert opened["root_cause"]["confidence"] == 1.0
    assert opened["path"] == ["redis-cart", "cartservice", "checkoutservice", "checkout"]
    assert [a["name"] for a in opened["alerts"]] == ["RedisDown", "KubePodCrashLooping"]


def test_without_group_wait_the_first_alert_opens_at_once() -> None:
    p = pipeline(CoreSettings(group_wait=0))
    [opened] = push(p, T0, cart_crashloop(T0))
    assert opened["root_cause"]["node"] == "cartservice"


def test_an_alert_that_resolves_within_group_wait_emits_nothing() -> None:
    p = pipeline()
    push(p, T0, redis_down(T0))
    push(p, T0 + 3, redis_down(T0, status="resolved"))
    assert run(p, T0 + 3600) == []


def test_lifecycle_opened_updated_resolved_with_a_stable_key() -> None:
    p = pipeline()
    push(p, T0, redis_down(T0))
    [opened] = run(p, T0 + 10)
    # A symptom joins: only the alert list changes, so it waits for group interval (60 s).
    assert push(p, T0 + 20, cart_crashloop(T0 + 20)) == []
    [updated] = run(p, T0 + 70)
    assert updated["updated_at"] == format_timestamp(T0 + 70)
    # The cause resolves: the crashloop remains, now the root cause: told at once.
    [moved] = push(p, T0 + 80, redis_down(T0, status="resolved"))
    [resolved] = push(p, T0 + 90, cart_crashloop(T0 + 20) | {
        "status": "resolved", "endsAt": "2026-11-20T14:01:30Z"})  # fmt: skip
    assert [e["type"] for e in (opened, updated, moved, resolved)] == [
        "impact.opened", "impact.updated", "impact.updated", "impact.resolved"]  # fmt: skip
    assert (moved["root_cause"]["node"], moved["status"]) == ("cartservice", "degraded")
    assert len({e["incident_key"] for e in (opened, updated, moved, resolved)}) == 1
    assert resolved["status"] == "ok"
    assert resolved["resolved_at"] == "2026-11-20T14:01:30.000Z"
    assert resolved["opened_at"] == opened["opened_at"]
    assert len({e["event_id"] for e in (opened, updated, moved, resolved)}) == 4


def test_symptoms_joining_fold_into_one_update_per_group_interval() -> None:
    p = pipeline()
    push(p, T0, redis_down(T0))
    run(p, T0 + 10)
    for second in range(11, 40):
        push(p, T0 + second, generic("Errors", at=T0 + second, severity="warning",
                                     service="cartservice", pod=f"cart-{second}"))  # fmt: skip
    assert run(p, T0 + 69.9) == []
    [update] = run(p, T0 + 70)
    assert len(update["alerts"]) == 30
    assert run(p, T0 + 299) == []  # nothing more until redis-cart times out at T0 + 300


def test_a_changed_root_cause_or_status_is_told_at_once() -> None:
    p = pipeline()
    push(p, T0, cart_crashloop(T0))
    [opened] = run(p, T0 + 10)
    [updated] = push(p, T0 + 11, redis_down(T0 + 11))
    assert (opened["status"], opened["root_cause"]["node"]) == ("degraded", "cartservice")
    assert (updated["status"], updated["root_cause"]["node"]) == ("down", "redis-cart")
    assert updated["updated_at"] == format_timestamp(T0 + 11)


def test_repeats_do_not_produce_updates() -> None:
    p = pipeline()
    push(p, T0, redis_down(T0))
    run(p, T0 + 10)
    for minute in range(1, 5):
        assert push(p, T0 + 60 * minute, redis_down(T0)) == []


def test_resolve_timeout_resolves_the_impact() -> None:
    p = pipeline()
    push(p, T0, redis_down(T0))
    run(p, T0 + 10)
    assert run(p, T0 + 299) == []
    [resolved] = run(p, T0 + 300)
    assert resolved["type"] == "impact.resolved"
    assert resolved["updated_at"] == "2026-11-20T14:05:00.000Z"


def test_an_alert_resent_after_its_incident_resolved_opens_a_new_key() -> None:
    p = pipeline()
    push(p, T0, redis_down(T0))
    [opened] = run(p, T0 + 10)
    [resolved] = run(p, T0 + 300)  # not refreshed: resolve timeout
    push(p, T0 + 1200, redis_down(T0))  # Alertmanager's next repeat, same startsAt
    [again] = run(p, T0 + 1210)
    assert resolved["incident_key"] == opened["incident_key"]
    assert again["type"] == "impact.opened"
    assert again["incident_key"] != opened["incident_key"]


def test_disjoint_failures_are_separate_incidents() -> None:
    p = pipeline()
    push(p, T0, redis_down(T0), generic("PaymentDown", at=T0, service="payment"))
    events = run(p, T0 + 10)
    assert kinds(events) == [("impact.opened", "checkout")] * 2
    assert len({e["incident_key"] for e in events}) == 2
    assert {e["root_cause"]["node"] for e in events} == {"redis-cart", "payment"}


def test_failures_further_apart_than_the_window_are_separate_incidents() -> None:
    p = pipeline()
    push(p, T0, redis_down(T0))
    [first] = run(p, T0 + 10)
    push(p, T0 + 301, cart_crashloop(T0 + 301))
    [second] = run(p, T0 + 311)
    assert second["type"] == "impact.opened"
    assert second["incident_key"] != first["incident_key"]


def test_related_failures_within_the_window_join_one_incident() -> None:
    p = pipeline()
    push(p, T0, redis_down(T0))
    [opened] = run(p, T0 + 10)
    [updated] = push(p, T0 + 299, cart_crashloop(T0 + 299))
    assert updated["incident_key"] == opened["incident_key"]


def test_one_node_feeds_every_business_service_above_it() -> None:
    p = pipeline()
    push(p, T0, generic("ProbeFailed", at=T0, service="lb"))
    events = run(p, T0 + 10)
    assert sorted(kinds(events)) == [("impact.opened", "browse"), ("impact.opened", "checkout")]
    assert {e["priority"] for e in events} == {"P1", "P3"}  # criticality 1 and 3, down


@pytest.mark.parametrize(
    ("hosts_down", "status"),
    [
        pytest.param(1, "degraded", id="2 of 3 replicas left: min_healthy 2 holds"),
        pytest.param(2, "down", id="1 of 3 replicas left: below min_healthy"),
    ],
)
def test_redundancy_group(hosts_down: int, status: str) -> None:
    p = pipeline()
    push(p, T0, *[generic("NodeDown", at=T0, instance=f"cart-{i}") for i in range(hosts_down)])
    [opened] = run(p, T0 + 10)
    assert opened["status"] == status
    assert "cart-replicas" in opened["affected_nodes"]


def test_group_recovering_above_min_healthy_updates_down_to_degraded() -> None:
    p = pipeline()
    host = [generic("NodeDown", at=T0, instance=f"cart-{i}") for i in range(2)]
    push(p, T0, *host)
    [opened] = run(p, T0 + 10)
    [updated] = push(p, T0 + 30, host[1] | {"status": "resolved", "endsAt": "2026-11-20T14:00:30Z"})
    assert (opened["status"], updated["status"]) == ("down", "degraded")
    assert (opened["priority"], updated["priority"]) == ("P1", "P2")


@pytest.mark.parametrize(
    ("severity", "status"),
    [("critical", "down"), ("warning", "degraded"), ("info", None), ("none", None),
     ("something-new", "degraded")],
)  # fmt: skip
def test_severity_mapping(severity: str, status: str | None) -> None:
    p = pipeline()
    push(p, T0, generic("X", at=T0, severity=severity, service="catalog-db"))
    events = run(p, T0 + 10)
    assert [e["status"] for e in events] == ([status] if status else [])


def test_severity_mapping_is_configurable() -> None:
    settings = CoreSettings(
        severity_health={**CoreSettings().severity_health, "warning": Health.DOWN}
    )
    p = pipeline(settings)
    push(p, T0, generic("X", at=T0, severity="warning", service="catalog-db"))
    [opened] = run(p, T0 + 10)
    assert opened["status"] == "down"


def test_priority_matrix_is_configurable() -> None:
    matrix = PriorityMatrix.from_mapping({"3": {"down": "P2"}})
    p = pipeline(CoreSettings(priorities=matrix))
    push(p, T0, generic("X", at=T0, service="catalog-db"))
    [opened] = run(p, T0 + 10)
    assert opened["priority"] == "P2"


def test_root_cause_ranking_and_confidence() -> None:
    p = pipeline()
    # redis-cart explains cartservice and checkoutservice; payment explains checkoutservice only.
    push(p, T0, redis_down(T0), cart_crashloop(T0 + 1),
         generic("Errors", at=T0 + 2, service="checkoutservice"),
         generic("PaymentSlow", at=T0 + 3, severity="warning", service="payment"))  # fmt: skip
    events = run(p, T0 + 10)
    ranked = [(c["node"], c["confidence"]) for c in events[0]["root_cause_candidates"]]
    assert ranked == [("redis-cart", 0.75), ("cartservice", 0.5), ("payment", 0.5),
                      ("checkoutservice", 0.25)]  # fmt: skip
    assert events[0]["root_cause"]["explains"] == ["cartservice", "checkoutservice"]


def test_unrelated_nodes_tie_on_explanation_and_depth_so_the_earlier_start_wins() -> None:
    p = pipeline()
    # cartservice and payment are both needed directly by checkoutservice (siblings: one
    # incident), neither explains the other, and both sit 3 hops below checkout.
    push(p, T0, generic("PaymentDown", at=T0 + 1, service="payment"), cart_crashloop(T0))
    [opened] = run(p, T0 + 10)
    assert [c["node"] for c in opened["root_cause_candidates"]] == ["cartservice", "payment"]


def test_info_alerts_never_open_an_impact_but_ride_along() -> None:
    p = pipeline()
    push(p, T0, generic("CPUThrottlingHigh", at=T0, severity="info", service="cartservice"))
    assert run(p, T0 + 10) == []
    [opened] = push(p, T0 + 20, redis_down(T0 + 20))
    assert opened["root_cause"]["node"] == "redis-cart"
    assert len(opened["alerts"]) == 2


def test_unmatched_alerts_are_counted_and_invent_no_impact() -> None:
    p = pipeline()
    push(p, T0, generic("Watchdog", at=T0, severity="none"), generic("X", at=T0, service="nope"))
    push(p, T0 + 1, generic("Y", at=T0, instance="orphan"))  # matched, but under no service
    assert run(p, T0 + 60) == []
    assert p.tally.unmatched == {"Watchdog": 1, "X": 1}


def test_impact_resolved_while_redundancy_absorbs_then_new_episode_key() -> None:
    p = pipeline()
    hosts = [generic("NodeDown", at=T0, instance=f"cart-{i}") for i in range(2)]
    push(p, T0, *hosts)
    [opened] = run(p, T0 + 10)
    # Both hosts recover, an info alert on a host keeps the incident alive but harmless.
    push(p, T0 + 20, generic("Info", at=T0 + 20, severity="info", instance="cart-0"))
    events = push(p, T0 + 30, *[h | {"status": "resolved", "endsAt": "2026-11-20T14:00:30Z"}
                                for h in hosts])  # fmt: skip
    # First host back: down -> degraded; second: ok while the info alert still fires.
    assert [e["type"] for e in events] == ["impact.updated", "impact.resolved"]
    again, *_ = push(p, T0 + 40, generic("NodeDown", at=T0 + 40, instance="cart-1"),
                     generic("NodeDown", at=T0 + 40, instance="cart-2"))  # fmt: skip
    assert again["type"] == "impact.opened"
    assert again["incident_key"] != opened["incident_key"]
    assert again["incident_key"].rsplit("-", 1)[0] == opened["incident_key"].rsplit("-", 1)[0]


def _replay_all(p: Pipeline) -> list[ImpactEvent]:
    events = [*p.receive_document(webhook(redis_down(T0), cart_crashloop()), T0).events]
    events += p.advance(T0 + 10)
    events += p.receive_document(webhook(redis_down(T0, status="resolved")), T0 + 100).events
    return events + p.advance(T0 + 1000)


def test_same_input_gives_the_same_keys_and_event_ids() -> None:
    first = [e.to_json() for e in _replay_all(pipeline())]
    second = [e.to_json() for e in _replay_all(pipeline())]
    assert first == second
    assert len(first) >= 2


def test_event_id_is_the_hash_of_the_document_with_sorted_keys() -> None:
    """build_event writes keys in sorted order to skip sorting; the id must not notice."""
    p = pipeline()
    push(p, T0, redis_down(T0), cart_crashloop(T0 + 1))
    events = run(p, T0 + 10)
    assert events
    for event in events:
        body = {k: v for k, v in event.items() if k != "event_id"}
        digest = hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()
        assert event["event_id"] == digest[:32]
