"""correlator's own alerting rules: valid for Prometheus, and firing when they should.

``promtool test rules`` feeds each case's series to the real rule engine; a case is
one way correlator can fail, what an operator expects to be told, and when.
"""

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy.files import KUBERNETES_DIR, RULES_FILE, load_yaml

REQUIRED_LABELS = {"severity", "component"}
ALL_HEALTHY = [
    # One worker, up, broker reachable, alerts flowing and impacts going out.
    ('up{job="correlator", instance="w0:6066"}', "1x180"),
    ('correlator_broker_up{job="correlator", instance="w0:6066"}', "1x180"),
    ('correlator_consumer_lag{job="correlator", topic="alerts.raw", partition="0"}', "10x180"),
    ('correlator_alerts_received_total{job="correlator", format="alertmanager"}', "0+20x180"),
    ('correlator_alerts_deduplicated_total{job="correlator"}', "0+15x180"),
    ('correlator_alerts_unmatched_total{job="correlator"}', "0+1x180"),
    ('correlator_impacts_emitted_total{job="correlator", type="impact.opened", priority="P1"}',
     "0+1x180"),
]  # fmt: skip


def rules() -> list[dict[str, Any]]:
    return [rule for group in load_yaml(RULES_FILE)["groups"] for rule in group["rules"]]


def rule(name: str) -> dict[str, Any]:
    [found] = [item for item in rules() if item.get("alert") == name]
    return found


def annotations(name: str, labels: dict[str, str]) -> dict[str, str]:
    """The rule's annotations with ``{{ $labels.x }}`` filled in, as Prometheus does."""
    return {
        key: re.sub(r"\{\{\s*\$labels\.(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), text)
        for key, text in rule(name).get("annotations", {}).items()
    }


CASES = [
    # (id, alert, series replacing or adding to ALL_HEALTHY, minute of evaluation,
    #  labels of the alerts expected then, in addition to the rule's own; [] = silent)
    ("healthy-worker-down-silent", "CorrelatorWorkerDown", [], 30, []),
    ("scrape-fails-3m", "CorrelatorWorkerDown",
     [('up{job="correlator", instance="w0:6066"}', "1x10 0x20")], 14,
     [{"job": "correlator", "instance": "w0:6066"}]),
    ("scrape-fails-1m-too-short", "CorrelatorWorkerDown",
     [('up{job="correlator", instance="w0:6066"}', "1x10 0x20")], 11, []),
    ("healthy-absent-silent", "CorrelatorAbsent", [], 30, []),
    ("no-target-at-all", "CorrelatorAbsent",
     [('up{job="correlator", instance="w0:6066"}', "_x180")], 10, [{"job": "correlator"}]),
    ("broker-lost", "CorrelatorBrokerDown",
     [('correlator_broker_up{job="correlator", instance="w0:6066"}', "1x10 0x20")], 13,
     [{"job": "correlator", "instance": "w0:6066"}]),
    ("healthy-broker-silent", "CorrelatorBrokerDown", [], 30, []),
    ("lag-grows", "CorrelatorConsumerLagHigh",
     [('correlator_consumer_lag{job="correlator", topic="alerts.raw", partition="0"}',
       "10x10 6000+0x30"),
      ('correlator_consumer_lag{job="correlator", topic="alerts.raw", partition="1"}',
       "10x10 6000+0x30")], 25,
     [{"job": "correlator", "topic": "alerts.raw"}]),
    ("lag-spike-recovers", "CorrelatorConsumerLagHigh",
     [('correlator_consumer_lag{job="correlator", topic="alerts.raw", partition="0"}',
       "10x10 20000x5 10x30")], 25, []),
    ("healthy-lag-silent", "CorrelatorConsumerLagHigh", [], 30, []),
    ("bad-json-every-few-seconds", "CorrelatorDeadLetters",
     [('correlator_deadletter_records_total{job="correlator", reason="invalid_json"}',
       "0+10x60")], 40,
     [{"job": "correlator", "reason": "invalid_json"}]),
    ("one-dead-letter-silent", "CorrelatorDeadLetters",
     [('correlator_deadletter_records_total{job="correlator", reason="invalid_json"}',
       "0x10 1x50")], 40, []),
    ("labels-renamed-nothing-matches", "CorrelatorAlertsUnmatched",
     [('correlator_alerts_unmatched_total{job="correlator"}', "0+5x180")], 90,
     [{"job": "correlator"}]),
    ("healthy-unmatched-silent", "CorrelatorAlertsUnmatched", [], 90, []),
    ("alerts-but-never-an-impact", "CorrelatorNoImpactsWhileAlertsFlow",
     [('correlator_impacts_emitted_total{job="correlator", type="impact.opened", priority="P1"}',
       "_x180")], 150, [{"job": "correlator"}]),
    ("impacts-stop", "CorrelatorNoImpactsWhileAlertsFlow",
     [('correlator_impacts_emitted_total{job="correlator", type="impact.opened", priority="P1"}',
       "0+1x20 20x160")], 170, [{"job": "correlator"}]),
    ("healthy-impacts-silent", "CorrelatorNoImpactsWhileAlertsFlow", [], 170, []),
    ("bad-topology-applied", "CorrelatorTopologyReloadFailed",
     [('correlator_topology_reloads_total{job="correlator", instance="w0:6066", result="invalid"}',
       "0x10 1x20")], 15,
     [{"job": "correlator", "instance": "w0:6066", "result": "invalid"}]),
    ("slow-processing", "CorrelatorProcessingSlow",
     [('correlator_processing_latency_seconds_bucket{job="correlator", le="10"}', "0+1x60"),
      ('correlator_processing_latency_seconds_bucket{job="correlator", le="30"}', "0+1x60"),
      ('correlator_processing_latency_seconds_bucket{job="correlator", le="+Inf"}', "0+10x60")],
     40, [{"job": "correlator"}]),
    ("fast-processing-silent", "CorrelatorProcessingSlow",
     [('correlator_processing_latency_seconds_bucket{job="correlator", le="0.1"}', "0+10x60"),
      ('correlator_processing_latency_seconds_bucket{job="correlator", le="+Inf"}', "0+10x60")],
     40, []),
]  # fmt: skip


def series_name(selector: str) -> str:
    return selector.split("{", 1)[0]


def promtool_test(
    alert: str, series: list[tuple[str, str]], minute: int, expected: list[dict[str, str]]
) -> dict[str, Any]:
    replaced = {selector for selector, _ in series}
    inputs = [(s, v) for s, v in ALL_HEALTHY if s not in replaced] + series
    own = rule(alert)["labels"]
    return {
        "rule_files": [str(RULES_FILE)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in inputs],
                "alert_rule_test": [
                    {
                        "eval_time": f"{minute}m",
                        "alertname": alert,
                        "exp_alerts": [
                            {
                                "exp_labels": {**own, **labels},
                                "exp_annotations": annotations(alert, labels),
                            }
                            for labels in expected
                        ],
                    }
                ],
            }
        ],
    }


def test_promtool_check_rules(promtool: str) -> None:
    done = subprocess.run(
        [promtool, "check", "rules", str(RULES_FILE)], capture_output=True, text=True, check=False
    )

    assert done.returncode == 0, done.stdout + done.stderr


def test_the_prometheusrule_holds_the_same_rules() -> None:
    """The PrometheusRule for the operator must not drift from the plain rules file."""
    [document] = [
        doc
        for doc in yaml.safe_load_all((KUBERNETES_DIR / "prometheusrule.yaml").read_text())
        if doc
    ]

    assert document["kind"] == "PrometheusRule"
    assert document["spec"] == load_yaml(RULES_FILE)


def test_every_rule_says_how_bad_and_whose() -> None:
    for item in rules():
        assert set(item.get("labels", {})) >= REQUIRED_LABELS, item["alert"]
        assert item["labels"]["component"] == "correlator", item["alert"]
        assert item["labels"]["severity"] in {"critical", "warning", "info"}, item["alert"]
        assert item["annotations"]["summary"], item["alert"]


@pytest.mark.parametrize(
    "required",
    [
        pytest.param("up{", id="worker-down"),
        pytest.param("absent(", id="worker-absent"),
        pytest.param("correlator_broker_up", id="broker-down"),
        pytest.param("correlator_consumer_lag", id="consumer-lag"),
        pytest.param("correlator_deadletter_records_total", id="dead-letters"),
        pytest.param("correlator_impacts_emitted_total", id="no-impacts"),
        pytest.param("correlator_alerts_unmatched_total", id="unmatched"),
    ],
)
def test_a_rule_watches(required: str) -> None:
    assert any(required in item["expr"] for item in rules())


def test_every_alert_has_a_firing_case() -> None:
    tested = {alert for _, alert, _, _, expected in CASES if expected}

    assert tested == {item["alert"] for item in rules()}


@pytest.mark.parametrize(
    ("alert", "series", "minute", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_rule_fires_when_it_should(
    promtool: str,
    tmp_path: Path,
    alert: str,
    series: list[tuple[str, str]],
    minute: int,
    expected: list[dict[str, str]],
) -> None:
    test_file = tmp_path / "test.yaml"
    test_file.write_text(yaml.safe_dump(promtool_test(alert, series, minute, expected)))

    done = subprocess.run(
        [promtool, "test", "rules", str(test_file)], capture_output=True, text=True, check=False
    )

    assert done.returncode == 0, done.stdout + done.stderr
