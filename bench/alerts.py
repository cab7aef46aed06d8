"""Alert identities (label sets, annotations) shaped like kube-prometheus alerts.

Benchmarks are only as honest as their input: the parser, the fingerprint and the
selector index all cost in proportion to the labels an alert carries, so alerts
here carry what real ones do (alertname, cluster, prometheus, job, instance or pod,
severity, team, a summary, a description and a runbook URL), and every identity
lands on its node through the node's own selector, a regex one included.
"""

import hashlib
import random
from dataclasses import dataclass
from typing import Any

import orjson

from bench.topogen import Target

UNSET = "0001-01-01T00:00:00Z"
"""Alertmanager's ``endsAt`` of a firing alert."""
GENERATOR_URL = (
    "http://prometheus-k8s-0:9090/graph?g0.expr=ALERTS%7Balertname%3D%22{}%22%7D&g0.tab=1"
)


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    severity: str
    variant: tuple[str, str]
    """A label that tells instances of this alert on one node apart, and its value format."""
    summary: str
    alternative: int = 0
    """Which of the target's identifying label sets this rule's alerts carry."""


RULES: dict[str, tuple[Rule, ...]] = {
    "service": (
        Rule("HighErrorRate", "critical", ("route", "/api/v{n}"), "Error ratio above 5%."),
        Rule("HighLatencyP99", "warning", ("route", "/api/v{n}"), "p99 latency above 1s."),
        Rule("KubePodCrashLooping", "warning", ("container", "c{n}"), "Pod is crash looping."),
        Rule(
            "KubeDeploymentReplicasMismatch",
            "warning",
            ("replicaset", "rs{n}"),
            "Deployment has not matched the expected number of replicas.",
        ),
        Rule("TargetDown", "critical", ("endpoint", "http-{n}"), "Targets are down."),
    ),
    "application": (
        Rule("SLOErrorBudgetBurn", "critical", ("slo", "availability-{n}"), "Fast burn."),
        Rule("SLOErrorBudgetBurnSlow", "warning", ("slo", "latency-{n}"), "Slow burn."),
    ),
    "host": (
        Rule(
            "NodeFilesystemSpaceFillingUp",
            "warning",
            ("mountpoint", "/data{n}"),
            "Filesystem is predicted to run out of space within the next 24 hours.",
        ),
        Rule("NodeHighCPUUsage", "warning", ("cpu", "{n}"), "CPU usage above 90%."),
        Rule("NodeMemoryMajorPagesFaults", "info", ("numa", "{n}"), "Memory pressure."),
        Rule("KubeNodeNotReady", "critical", ("condition", "Ready{n}"), "Node is not ready.", 1),
    ),
    "database": (
        Rule("MySQLDown", "critical", ("shard", "{n}"), "MySQL instance is down."),
        Rule("MySQLReplicationLag", "warning", ("channel", "ch{n}"), "Replica lags behind."),
    ),
    "cache": (
        Rule("RedisDown", "critical", ("shard", "{n}"), "Redis instance is down."),
        Rule("RedisMemoryHigh", "warning", ("db", "db{n}"), "Redis memory above 90%."),
    ),
    "queue": (
        Rule("KafkaBrokerDown", "critical", ("broker", "{n}"), "Kafka broker is down."),
        Rule("KafkaConsumerLag", "warning", ("topic", "events-{n}"), "Consumer group lags."),
    ),
    "network": (
        Rule("InterfaceDown", "critical", ("ifName", "Ethernet{n}"), "Interface is down."),
        Rule("HighPacketLoss", "warning", ("ifName", "Ethernet{n}"), "Packet loss above 1%."),
    ),
    "external": (Rule("ProbeFailed", "critical", ("region", "eu-{n}"), "Probe failed."),),
    "business_service": (
        Rule("SyntheticCheckFailed", "critical", ("step", "step-{n}"), "User journey fails."),
    ),
}
UNMATCHED_RULES = (
    Rule("Watchdog", "none", ("replica", "{n}"), "An alert that should always be firing."),
    Rule("PrometheusRuleFailures", "warning", ("rule_group", "g{n}"), "Rule evaluation fails."),
    Rule("CPUThrottlingHigh", "info", ("container", "sidecar-{n}"), "Processes throttled."),
)
TEAMS = {
    "service": "app",
    "application": "app",
    "host": "platform",
    "network": "network",
    "database": "data",
    "cache": "data",
    "queue": "data",
}


@dataclass(frozen=True, slots=True)
class Identity:
    """One alert as a sender knows it: what goes into every notification about it."""

    labels: dict[str, str]
    annotations: dict[str, str]
    generator_url: str
    fingerprint: str
    group: tuple[str, str, str]
    """Alertmanager's group key here: (cluster, team, severity)."""
    target: int
    """Index of the target it lands on; -1 for an alert that matches no node."""


def make_identity(targets: list[Target], index: int, variant: int, rng: random.Random) -> Identity:
    """An alert on ``targets[index]`` (or, for ``index`` -1, on no node at all)."""
    if index < 0:
        rule = rng.choice(UNMATCHED_RULES)
        cluster = f"k8s-{rng.randrange(1000):03d}"
        base = {
            "namespace": "monitoring",
            "job": "prometheus-k8s",
            "instance": f"10.244.{rng.randrange(256)}.{rng.randrange(256)}:9090",
        }
        team, node = "sre", base["instance"]
    else:
        target = targets[index]
        rule = rng.choice(RULES[target.kind])
        cluster, team, node = target.cluster, TEAMS.get(target.kind, "sre"), target.node
        base = dict(target.labels[min(rule.alternative, len(target.labels) - 1)])
        if target.pod_prefix and rng.random() < 0.5:
            # kube-state-metrics style: only the pod name says which service it is.
            base = {
                "namespace": target.namespace,
                "service": "kube-state-metrics",
                "job": "kube-state-metrics",
                "pod": _pod(target.pod_prefix, variant, rng),
            }
    name, value_format = rule.variant
    labels = {
        "alertname": rule.name,
        **base,
        "cluster": cluster,
        "prometheus": "monitoring/k8s",
        "severity": rule.severity,
        "team": team,
        name: value_format.format(n=variant),
    }
    annotations = {
        "summary": rule.summary,
        "description": f"{rule.name} on {node} ({name}={labels[name]}) in {cluster}.",
        "runbook_url": f"https://runbooks.example.net/{rule.name.lower()}",
    }
    return Identity(
        labels=labels,
        annotations=annotations,
        generator_url=GENERATOR_URL.format(rule.name),
        fingerprint=sender_fingerprint(labels),
        group=(cluster, team, rule.severity),
        target=index,
    )


def notification(identity: Identity, starts_at: str, ends_at: str | None) -> dict[str, Any]:
    """One alert of a webhook payload; ``ends_at`` None means still firing."""
    return {
        "status": "firing" if ends_at is None else "resolved",
        "labels": identity.labels,
        "annotations": identity.annotations,
        "startsAt": starts_at,
        "endsAt": UNSET if ends_at is None else ends_at,
        "generatorURL": identity.generator_url,
        "fingerprint": identity.fingerprint,
    }


def webhook(key: tuple[str, str, str], alerts: list[dict[str, Any]]) -> dict[str, Any]:
    """An Alertmanager webhook v4 payload for the group ``key`` = (cluster, team, severity)."""
    cluster, team, severity = key
    return {
        "receiver": f"team-{team}",
        "status": "firing" if any(a["status"] == "firing" for a in alerts) else "resolved",
        "alerts": alerts,
        "groupLabels": {"cluster": cluster, "severity": severity, "team": team},
        "commonLabels": _common([alert["labels"] for alert in alerts]),
        "commonAnnotations": _common([alert["annotations"] for alert in alerts]),
        "externalURL": "http://alertmanager-main.monitoring:9093",
        "version": "4",
        "groupKey": f'{{}}/{{team="{team}"}}:{{cluster="{cluster}", severity="{severity}", '
        f'team="{team}"}}',
        "truncatedAlerts": 0,
    }


def sender_fingerprint(labels: dict[str, str]) -> str:
    """What a sender puts in ``fingerprint``: never trusted by the core, so any stable hash does."""
    encoded = orjson.dumps(labels, option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(encoded, digest_size=8).hexdigest()


def _pod(prefix: str, variant: int, rng: random.Random) -> str:
    """A pod name the service's ``~<prefix>-[0-9a-f]{6,10}-[0-9a-z]{5}`` selector accepts."""
    suffix = "".join(rng.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))
    return f"{prefix}-{variant % (1 << 32):08x}-{suffix}"


def _common(maps: list[dict[str, str]]) -> dict[str, str]:
    if not maps:
        return {}
    shared = set(maps[0].items()).intersection(*(m.items() for m in maps[1:]))
    return {name: value for name, value in maps[0].items() if (name, value) in shared}
