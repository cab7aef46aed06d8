"""The dashboard and the alerting rules use only series the worker really exposes.

A panel or a rule on a misspelt metric or label shows "No data" or never fires, and
nobody notices until the day it should have: these tests notice.
"""

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client import Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics import MetricWrapperBase
from support import shop

from correlator.stages import Tally
from correlator.stream.metrics import Readings, WorkerMetrics
from deploy.files import (
    DASHBOARD_FILE,
    METRICS,
    PROMETHEUS_SERIES,
    RULES_FILE,
    SCRAPE_JOB,
    TARGET_LABELS,
    load_yaml,
    promql_grouping_labels,
    promql_series,
)

KNOWN = {**METRICS, **PROMETHEUS_SERIES}
READINGS = Readings(
    topology=shop,
    open_incidents=lambda: 1,
    lag=lambda: {("alerts.raw", 0): 5},
    broker_up=lambda: True,
)


def exposed_series() -> dict[str, frozenset[str]]:
    """What a worker's registry exposes: series names, with the labels seen on them.

    A worker with some of everything counted, so that every labelled family has samples.
    """
    tally = Tally()
    tally.received["alertmanager"] += 1
    tally.invalid["invalid_json"] += 1
    tally.unmatched["DiskFull"] += 1
    tally.deduplicated += 1
    tally.impacts[("impact.opened", "P1")] += 1
    metrics = WorkerMetrics(tally, READINGS)
    for wrapper in vars(metrics).values():
        if isinstance(wrapper, MetricWrapperBase):
            # Labelled counters have no sample until a child exists; give each one.
            names: tuple[str, ...] = getattr(wrapper, "_labelnames", ())
            child = wrapper.labels(*(["x"] * len(names))) if names else wrapper
            if isinstance(child, Histogram):
                child.observe(0.1)
            elif isinstance(child, Counter | Gauge):
                child.inc()
    series: dict[str, frozenset[str]] = {}
    for family in metrics.registry.collect():
        for sample in family.samples:
            if sample.name.endswith("_created"):
                continue  # prometheus-client's creation timestamps; nobody queries them
            series[sample.name] = series.get(sample.name, frozenset()) | frozenset(sample.labels)
    return series


def test_the_metric_list_is_what_the_worker_exposes() -> None:
    exposed = exposed_series()

    assert sorted(exposed) == sorted(METRICS), (
        "tests/deploy/files.py METRICS and correlator.stream.metrics disagree: "
        f"only in METRICS {sorted(set(METRICS) - set(exposed))}, "
        f"only exposed {sorted(set(exposed) - set(METRICS))}"
    )
    for name, labels in METRICS.items():
        assert exposed[name] == labels, f"{name}: exposed labels {sorted(exposed[name])}"


def dashboard_queries() -> Iterator[tuple[str, str]]:
    """(panel title, PromQL) of every query of every panel, rows' panels included."""

    def walk(panels: list[dict[str, Any]]) -> Iterator[tuple[str, str]]:
        for panel in panels:
            for target in panel.get("targets", []):
                yield panel["title"], target["expr"]
            yield from walk(panel.get("panels", []))

    yield from walk(json.loads(DASHBOARD_FILE.read_text(encoding="utf-8"))["panels"])


def rule_queries() -> Iterator[tuple[str, str]]:
    for group in load_yaml(RULES_FILE)["groups"]:
        for rule in group["rules"]:
            yield rule.get("alert") or rule["record"], rule["expr"]


QUERIES = [
    pytest.param(expr, id=f"{where}:{title}")
    for where, found in [("dashboard", dashboard_queries()), ("rules", rule_queries())]
    for title, expr in found
]


@pytest.mark.parametrize("expr", QUERIES)
def test_queries_use_only_exposed_series_and_labels(expr: str) -> None:
    selected = list(promql_series(expr))

    assert selected, f"no correlator series in {expr!r}"
    for name, labels in selected:
        assert name in KNOWN, f"{name} is not a series the worker exposes ({expr!r})"
        unknown = labels - KNOWN[name] - TARGET_LABELS
        assert not unknown, f"{name} has no label {sorted(unknown)} ({expr!r})"
    available = set(TARGET_LABELS).union(*(KNOWN[name] for name, _ in selected))
    grouped = promql_grouping_labels(expr)
    assert grouped <= available, f"grouping by {sorted(grouped - available)} in {expr!r}"


def test_up_is_queried_for_the_scrape_job_the_deployments_define() -> None:
    for _, expr in [*dashboard_queries(), *rule_queries()]:
        for name, _labels in promql_series(expr):
            if name == "up":
                assert f'job="{SCRAPE_JOB}"' in expr, f"up without job={SCRAPE_JOB!r}: {expr!r}"


@pytest.mark.parametrize(
    ("metric", "why"),
    [
        ("correlator_impacts_emitted_total", "impacts by type and priority"),
        ("correlator_alerts_received_total", "alerts received rate"),
        ("correlator_alerts_invalid_total", "invalid alerts rate"),
        ("correlator_alerts_deduplicated_total", "deduplicated rate"),
        ("correlator_incidents_open", "open incidents"),
        ("correlator_processing_latency_seconds_bucket", "latency p50/p99"),
        ("correlator_consumer_lag", "consumer lag"),
        ("correlator_deadletter_records_total", "dead-letter rate"),
        ("correlator_broker_up", "broker up"),
    ],
)
def test_dashboard_shows(metric: str, why: str) -> None:
    assert any(metric in expr for _, expr in dashboard_queries()), f"no panel shows {why}"


def test_dashboard_shows_latency_p50_and_p99() -> None:
    latency = [expr for _, expr in dashboard_queries() if "latency_seconds_bucket" in expr]

    assert any("histogram_quantile(0.5," in expr for expr in latency)
    assert any("histogram_quantile(0.99," in expr for expr in latency)


def test_dashboard_panels_use_the_datasource_variable_and_fit_the_grid() -> None:
    dashboard = json.loads(DASHBOARD_FILE.read_text(encoding="utf-8"))
    variables = {item["name"]: item for item in dashboard["templating"]["list"]}
    ids = [panel["id"] for panel in dashboard["panels"]]

    assert variables["datasource"]["query"] == "prometheus"
    assert len(ids) == len(set(ids)), "two panels share an id: Grafana shows only one"
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, f"{panel['title']} is wider than the grid"
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
            assert panel["targets"], f"{panel['title']} has no query"


def test_promtool_accepts_what_metrics_serves(promtool: str) -> None:
    """``promtool check metrics`` (what Prometheus' own lint says) on a worker's /metrics body."""
    tally = Tally()
    tally.received["alertmanager"] += 3
    tally.invalid["invalid_json"] += 1
    tally.impacts[("impact.opened", "P1")] += 1
    metrics = WorkerMetrics(tally, READINGS)
    metrics.latency.observe(0.2)
    metrics.deadletters.labels("invalid_json").inc()
    checked = subprocess.run(
        [promtool, "check", "metrics"],
        input=generate_latest(metrics.registry),
        capture_output=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout.decode() + checked.stderr.decode()
