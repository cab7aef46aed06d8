"""The shipped samples behave as topologies/README.md says a reader should expect."""

from pathlib import Path
from typing import Any

import jsonschema
import pytest

from correlator.event import schema
from correlator.pipeline import Pipeline
from correlator.replay import ReplayResult, replay
from correlator.settings import CoreSettings
from correlator.topology import Kind, load_topology

SAMPLES = Path(__file__).parents[2] / "topologies"
TOPOLOGIES = sorted(path.parent.name for path in SAMPLES.glob("*/topology.yaml"))
VALIDATOR = jsonschema.Draft202012Validator(schema())


def run(topology: str, stream: str) -> tuple[ReplayResult, list[dict[str, Any]]]:
    events: list[dict[str, Any]] = []
    pipeline = Pipeline(load_topology(SAMPLES / topology / "topology.yaml"), CoreSettings())
    with (SAMPLES / topology / "alerts" / f"{stream}.jsonl").open("rb") as lines:
        result = replay(pipeline, lines, stream, lambda event: events.append(event.document))
    return result, events


def opened(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == "impact.opened"]


def test_three_realistic_samples_with_groups_and_a_cycle() -> None:
    assert TOPOLOGIES == ["hotel-reservation", "online-boutique", "sock-shop"]
    loaded = [load_topology(SAMPLES / name / "topology.yaml") for name in TOPOLOGIES]
    assert all(30 <= len(topology) <= 150 for topology in loaded)
    for topology in loaded:
        kinds = {node.kind for node in topology.nodes.values()}
        assert {Kind.BUSINESS_SERVICE, Kind.SERVICE, Kind.HOST, Kind.NETWORK} <= kinds
    assert all(any(n.kind is Kind.GROUP for n in t.nodes.values()) for t in loaded)
    assert any(topology.cycles() for topology in loaded)


@pytest.mark.parametrize("topology", TOPOLOGIES)
@pytest.mark.parametrize("stream", ["cascade", "host-failure", "storm", "noise"])
def test_every_line_is_valid_and_every_event_matches_the_schema(topology: str, stream: str) -> None:
    result, events = run(topology, stream)
    assert sum(result.tally.invalid.values()) == 0
    assert sum(result.tally.received.values()) > 0
    for event in events:
        VALIDATOR.validate(event)


CASCADES = [
    ("online-boutique", "redis-cart", {"checkout", "browse", "cart", "recommendations", "ads"}),
    ("sock-shop", "carts-db", {"shop-cart", "shop-accounts", "shop-checkout", "shop-fulfilment"}),
    ("hotel-reservation", "mongodb-profile", {"hotel-search", "hotel-recommendations"}),
]


@pytest.mark.parametrize(("topology", "cause", "services"), CASCADES)
def test_cascade_names_the_datastore_and_takes_services_down(
    topology: str, cause: str, services: set[str]
) -> None:
    result, events = run(topology, "cascade")
    first = opened(events)
    assert {e["business_service"]["id"] for e in first} == services
    assert {(e["root_cause"]["node"], e["status"]) for e in first} == {(cause, "down")}
    assert result.open_incidents == 0  # everything resolves in the file


@pytest.mark.parametrize(
    ("topology", "host"),
    [("online-boutique", "ip-10-0-2-21"), ("sock-shop", "node-default-lx2m"),
     ("hotel-reservation", "hr-worker-04")],
)  # fmt: skip
def test_host_failure_is_absorbed_by_the_pool_degraded_not_down(topology: str, host: str) -> None:
    _, events = run(topology, "host-failure")
    statuses = {e["status"] for e in events if e["type"] != "impact.resolved"}
    assert statuses == {"degraded"}
    assert host in {e["root_cause"]["node"] for e in opened(events)}


@pytest.mark.parametrize(
    ("topology", "causes"),
    [
        ("online-boutique", {"smtp-relay", "adservice"}),
        ("sock-shop", {"catalogue-db", "rabbitmq-2"}),
        ("hotel-reservation", {"memcached-rate", "mongodb-user"}),
    ],
)
def test_storm_is_two_incidents_among_the_noise(topology: str, causes: set[str]) -> None:
    result, events = run(topology, "storm")
    assert {e["root_cause"]["node"] for e in opened(events)} == causes
    assert result.tally.deduplicated > 0.4 * sum(result.tally.received.values())
    assert result.tally.flapping > 0
    assert sum(result.tally.unmatched.values()) > 0
    # Hundreds of notifications become a few dozen events at most.
    assert len(events) < sum(result.tally.received.values()) / 10


@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_noise_invents_no_impact(topology: str) -> None:
    result, events = run(topology, "noise")
    assert events == []
    assert "Watchdog" in result.tally.unmatched
