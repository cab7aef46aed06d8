"""The repository's deployment files, loaded once, and what the tests compare them with.

``METRICS`` is the one list of the series the worker exposes (with their labels);
dashboards and rules may use only these (and Prometheus' own ``up``).
"""

import argparse
import os
import re
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from correlator.config import (
    add_core_options,
    add_worker_options,
    core_settings,
    env_name,
    worker_settings,
)
from correlator.stream.settings import WorkerSettings

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
COMPOSE_DIR = DEPLOY / "compose"
KUBERNETES_DIR = DEPLOY / "kubernetes"
RULES_FILE = DEPLOY / "prometheus" / "correlator-rules.yaml"
DASHBOARD_FILE = DEPLOY / "grafana" / "correlator-dashboard.json"
INSTALL_SCRIPT = DEPLOY / "debian" / "install-packages.sh"
DOCKERFILE = REPO / "Dockerfile"

WEB_PORT = 6066
"""The worker's default ``--web-port``."""
HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
METRICS_PATH = "/metrics"
ALERTMANAGER_WEBHOOK_PATH = "/api/v1/alerts/alertmanager"
SCRAPE_JOB = "correlator"
"""The ``job`` label the rules and the dashboard expect on the worker's series."""

METRICS: dict[str, frozenset[str]] = {
    name: frozenset(labels)
    for name, labels in [
        ("correlator_alerts_received_total", {"format"}),
        ("correlator_alerts_invalid_total", {"reason"}),
        ("correlator_alerts_deduplicated_total", set()),
        ("correlator_alerts_unmatched_total", set()),
        ("correlator_incidents_open", set()),
        ("correlator_impacts_emitted_total", {"type", "priority"}),
        ("correlator_processing_latency_seconds_bucket", {"le"}),
        ("correlator_processing_latency_seconds_sum", set()),
        ("correlator_processing_latency_seconds_count", set()),
        ("correlator_topology_nodes", set()),
        ("correlator_topology_version_info", {"version", "name"}),
        ("correlator_consumer_lag", {"topic", "partition"}),
        ("correlator_deadletter_records_total", {"reason"}),
        ("correlator_ingest_requests_total", {"endpoint", "code"}),
        ("correlator_topology_reloads_total", {"result"}),
        ("correlator_broker_up", set()),
    ]
}
"""Every series a worker exposes on /metrics, with its labels (the facts of issue 5)."""

TARGET_LABELS = frozenset({"job", "instance", "namespace", "pod", "service", "container"})
"""Labels Prometheus (or the prometheus-operator) adds to every scraped series."""
PROMETHEUS_SERIES: dict[str, frozenset[str]] = {"up": frozenset()}
"""Series of Prometheus itself that rules and dashboards may use."""


class UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that refuses a key given twice (PyYAML keeps the last one silently)."""


def _unique_mapping(loader: UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            msg = f"key {key!r} given twice, line {key_node.start_mark.line + 1}"
            raise yaml.constructor.ConstructorError(None, None, msg, key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node)


UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _unique_mapping,
)


def load_yaml(path: Path) -> Any:
    """The one document of a YAML file."""
    return yaml.load(path.read_text(encoding="utf-8"), Loader=UniqueKeyLoader)


def load_yaml_all(path: Path) -> list[Any]:
    """Every document of a YAML file (``---`` separated), empty ones left out."""
    text = path.read_text(encoding="utf-8")
    documents = yaml.load_all(text, Loader=UniqueKeyLoader)
    return [document for document in documents if document is not None]


def deploy_files(*suffixes: str) -> list[Path]:
    return sorted(path for path in DEPLOY.rglob("*") if path.suffix in suffixes)


@cache
def kubernetes_objects() -> tuple[dict[str, Any], ...]:
    """Every object of the manifests kustomization.yaml lists, in that order."""
    objects: list[dict[str, Any]] = []
    for name in load_yaml(KUBERNETES_DIR / "kustomization.yaml")["resources"]:
        objects += load_yaml_all(KUBERNETES_DIR / name)
    return tuple(objects)


def kubernetes_object(kind: str, name: str | None = None) -> dict[str, Any]:
    found = [
        item
        for item in kubernetes_objects()
        if item["kind"] == kind and name in (None, item["metadata"]["name"])
    ]
    assert len(found) == 1, f"expected one {kind} {name or ''} in deploy/kubernetes, got {found}"
    return found[0]


def compose() -> dict[str, Any]:
    document: dict[str, Any] = load_yaml(COMPOSE_DIR / "compose.yaml")
    return document


def worker_arguments(variables: Mapping[str, str]) -> argparse.Namespace:
    """``correlator worker``'s options as it reads them with only these variables set.

    The options tables read ``CORRELATOR_*`` while they are built (a bad value is an
    error then), so the process environment is swapped for the call.
    """
    saved = dict(os.environ)
    try:
        for key in [key for key in os.environ if key.startswith("CORRELATOR_")]:
            del os.environ[key]
        os.environ.update(variables)
        parser = argparse.ArgumentParser()
        add_worker_options(parser)
        add_core_options(parser)
        return parser.parse_args([])
    finally:
        os.environ.clear()
        os.environ.update(saved)


def worker_settings_from(variables: Mapping[str, str]) -> WorkerSettings:
    """The settings a worker starts with, these variables set: raises on a bad value."""
    args = worker_arguments(variables)
    core_settings(args)
    return worker_settings(args)


def setting_names() -> frozenset[str]:
    """``CORRELATOR_*`` variables ``correlator worker`` reads: one a flag, as config defines."""
    return frozenset(env_name("--" + dest.replace("_", "-")) for dest in vars(worker_arguments({})))


_SELECTOR = re.compile(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?")
_MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_RANGE = re.compile(r"\[[^\]]*\]")


def promql_series(expr: str) -> Iterator[tuple[str, frozenset[str]]]:
    """The series an expression selects, each with the label names its matchers use.

    Good enough for our own expressions: names that are PromQL functions, keywords or
    label names inside ``by (...)`` are not reported.
    """
    without_groupings = _GROUPING.sub(" ", expr)
    for found in _SELECTOR.finditer(_RANGE.sub("", without_groupings)):
        name, matchers = found.group(1), found.group(2) or ""
        if name.startswith("correlator_") or name in PROMETHEUS_SERIES:
            labels = _MATCHER.findall(_STRING.sub('""', matchers))
            yield name, frozenset(labels)


def promql_grouping_labels(expr: str) -> set[str]:
    """Label names in ``by (...)``, ``without (...)``, ``on (...)`` and the like."""
    return {
        label.strip()
        for group in _GROUPING.findall(expr)
        for label in group.split(",")
        if label.strip()
    }
