"""An alert storm as Alertmanager delivers it: webhook v4 payloads in replay envelopes.

Alert episodes come from *outages*: a failing node fires its alerts, and half the
time the nodes that need it follow within a minute or two (a cascade, which is what
correlation exists for). A few alerts flap. Some vanish without a resolve, so the
core's resolve timeout has to end them.

Delivery copies Alertmanager's dispatcher, because it decides what the core sees:
alerts are grouped by (cluster, team, severity); a new group is sent after
``GROUP_WAIT``, a changed group at most every ``GROUP_INTERVAL``, an unchanged one
every repeat interval; every notification carries *all* the group's firing alerts
(so most of what arrives is repeats) and each resolved alert once. A tenth of the
groups repeat more slowly than the core's resolve timeout, as a misconfigured
receiver would.
"""

import heapq
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from bench.alerts import Identity, make_identity, notification, webhook
from bench.topogen import Target
from correlator.timestamps import format_timestamp

T0 = 1_795_392_000.0  # 2026-11-23T00:00:00Z
GROUP_WAIT = 30.0
GROUP_INTERVAL = 60.0
REPEAT_INTERVALS = (120.0, 180.0, 240.0)
SLOW_REPEAT_INTERVAL = 420.0
MEAN_EPISODE = 900.0
MEAN_OUTAGE_SIZE = 2.0
KIND_WEIGHTS = {
    "service": 45,
    "host": 22,
    "database": 4,
    "cache": 4,
    "queue": 4,
    "application": 6,
    "network": 4,
    "external": 2,
    "business_service": 4,
}

_OUTAGE, _START, _END, _FLUSH = range(4)


@dataclass(frozen=True, slots=True)
class StormSpec:
    alerts: int
    fingerprints: int
    seed: int = 7
    unmatched_share: float = 0.05
    flapping_share: float = 0.01
    open_share: float = 0.25
    """Share of the identities firing at a typical moment: sets the pace of outages."""


@dataclass(slots=True)
class _Group:
    repeat: float
    firing: dict[int, str] = field(default_factory=dict)
    """Identity -> formatted startsAt."""
    resolved: dict[int, tuple[str, str]] = field(default_factory=dict)
    changed: bool = False
    scheduled: bool = False
    last_sent: float = float("-inf")


@dataclass(slots=True)
class _Episode:
    token: int = 0
    active: bool = False
    flips_left: int = 0


def identities(spec: StormSpec, targets: list[Target]) -> list[Identity]:
    """``spec.fingerprints`` distinct alerts, spread over node kinds like a real estate's."""
    rng = random.Random(f"identities:{spec.seed}")
    by_kind: dict[str, list[int]] = {}
    for index, target in enumerate(targets):
        by_kind.setdefault(target.kind, []).append(index)
    kinds = [kind for kind in KIND_WEIGHTS if kind in by_kind]
    weights = [KIND_WEIGHTS[kind] for kind in kinds]
    found: dict[str, Identity] = {}
    while len(found) < spec.fingerprints:
        if rng.random() < spec.unmatched_share:
            index = -1
        else:
            index = rng.choice(by_kind[rng.choices(kinds, weights)[0]])
        identity = make_identity(targets, index, rng.randrange(4), rng)
        found.setdefault(identity.fingerprint, identity)
    return list(found.values())


def write_storm(spec: StormSpec, targets: list[Target], path: Path) -> dict[str, object]:
    """Write the storm as JSONL envelopes; returns facts about it for the cache."""
    alerts = lines = resolved = 0
    used: set[int] = set()
    end = T0
    with path.open("wb") as out:
        for received_at, payload in _deliveries(spec, targets):
            remaining = spec.alerts - alerts
            if len(payload["alerts"]) > remaining:
                payload["alerts"] = payload["alerts"][:remaining]
            alerts += len(payload["alerts"])
            resolved += sum(1 for alert in payload["alerts"] if alert["status"] == "resolved")
            used.update(id(alert["labels"]) for alert in payload["alerts"])
            envelope = {"received_at": format_timestamp(received_at), "value": payload}
            out.write(orjson.dumps(envelope) + b"\n")
            lines, end = lines + 1, received_at
            if alerts >= spec.alerts:
                break
    return {
        "alerts": alerts,
        "lines": lines,
        "resolved": resolved,
        "fingerprints": len(used),
        "simulated_seconds": round(end - T0),
    }


def _deliveries(spec: StormSpec, targets: list[Target]) -> Iterator[tuple[float, dict[str, Any]]]:
    storm = _Storm(spec, targets)
    while storm.queue:
        now, _, kind, subject, token = heapq.heappop(storm.queue)
        if kind == _OUTAGE:
            storm.outage(now)
        elif kind == _START:
            storm.start(now, subject)
        elif kind == _END:
            storm.end(now, subject, token)
        else:
            payload = storm.flush(now, subject)
            if payload is not None:
                yield now, payload


class _Storm:
    """The simulation's state: a time-ordered queue of events, episodes and Alertmanager groups."""

    def __init__(self, spec: StormSpec, targets: list[Target]) -> None:
        self.rng = random.Random(f"storm:{spec.seed}")
        self.targets = targets
        self.pool = identities(spec, targets)
        self.on_target: dict[int, list[int]] = {}
        for index, identity in enumerate(self.pool):
            self.on_target.setdefault(identity.target, []).append(index)
        count = round(len(self.pool) * spec.flapping_share)
        self.flappy = set(self.rng.sample(range(len(self.pool)), count))
        self.episodes = [_Episode() for _ in self.pool]
        self.groups: dict[tuple[str, str, str], _Group] = {}
        self.outage_rate = spec.open_share * len(self.pool) / (MEAN_EPISODE * MEAN_OUTAGE_SIZE)
        self.queue: list[tuple[float, int, int, int, int]] = [(T0, 0, _OUTAGE, 0, 0)]
        self.sequence = 0

    def schedule(self, at: float, kind: int, subject: int = 0, token: int = 0) -> None:
        self.sequence += 1
        heapq.heappush(self.queue, (at, self.sequence, kind, subject, token))

    def outage(self, now: float) -> None:
        """A node fails: its alert starts, and half the time alerts on what needs it follow."""
        rng, root = self.rng, self.rng.randrange(len(self.pool))
        self.schedule(now, _START, root)
        target = self.pool[root].target
        parents = self.targets[target].parents if target >= 0 else []
        if parents and rng.random() < 0.5:
            for parent in rng.sample(parents, min(len(parents), rng.randint(1, 4))):
                if parent in self.on_target:
                    later = now + rng.uniform(5, 90)
                    self.schedule(later, _START, rng.choice(self.on_target[parent]))
        self.schedule(now + rng.expovariate(self.outage_rate), _OUTAGE)

    def start(self, now: float, subject: int) -> None:
        episode, rng = self.episodes[subject], self.rng
        if episode.active:
            return
        if subject in self.flappy and episode.flips_left == 0:
            episode.flips_left = rng.randint(4, 8)
        episode.active, episode.token = True, episode.token + 1
        group = self._group(subject)
        group.firing[subject] = format_timestamp(now - rng.uniform(0, 20))
        group.changed = True
        if not group.scheduled:
            group.scheduled = True
            self.schedule(now + GROUP_WAIT, _FLUSH, subject)
        length = rng.uniform(60, 120) if episode.flips_left else rng.expovariate(1 / 840) + 60
        self.schedule(now + length, _END, subject, episode.token)

    def end(self, now: float, subject: int, token: int) -> None:
        episode = self.episodes[subject]
        if not episode.active or token != episode.token:
            return  # an episode that was already over
        episode.active = False
        group = self._group(subject)
        starts_at = group.firing.pop(subject)
        if episode.flips_left or self.rng.random() < 0.9:  # else it vanishes, unresolved
            group.resolved[subject] = (starts_at, format_timestamp(now))
            group.changed = True
        if episode.flips_left:
            episode.flips_left -= 1
            if episode.flips_left:
                self.schedule(now + self.rng.uniform(60, 120), _START, subject)

    def flush(self, now: float, subject: int) -> dict[str, Any] | None:
        """Alertmanager's group timer: send if changed or due for a repeat, then re-arm."""
        group, payload = self._group(subject), None
        if group.changed or now - group.last_sent >= group.repeat:
            payload = _payload(self.pool, self.pool[subject].group, group)
            group.changed, group.last_sent = False, now
            group.resolved.clear()
        group.scheduled = bool(group.firing)
        if group.scheduled:
            self.schedule(now + GROUP_INTERVAL, _FLUSH, subject)
        return payload

    def _group(self, subject: int) -> _Group:
        key = self.pool[subject].group
        if key not in self.groups:
            slow = self.rng.random() < 0.1
            repeat = SLOW_REPEAT_INTERVAL if slow else self.rng.choice(REPEAT_INTERVALS)
            self.groups[key] = _Group(repeat)
        return self.groups[key]


def _payload(pool: list[Identity], key: tuple[str, str, str], group: _Group) -> dict[str, Any]:
    alerts = [notification(pool[i], starts, None) for i, starts in group.firing.items()]
    alerts += [notification(pool[i], *times) for i, times in group.resolved.items()]
    return webhook(key, alerts)
