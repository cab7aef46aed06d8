"""deploy/compose: the stack ``docker compose up`` starts, checked without Docker.

Every file a service mounts exists, and each service points at the others by the
names, ports and paths they really have: Prometheus scrapes the worker's /metrics,
Alertmanager posts to its webhook, Grafana finds the dashboard and Prometheus.
"""

import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from deploy.files import (
    ALERTMANAGER_WEBHOOK_PATH,
    COMPOSE_DIR,
    DASHBOARD_FILE,
    DOCKERFILE,
    METRICS_PATH,
    RULES_FILE,
    SCRAPE_JOB,
    WEB_PORT,
    compose,
    load_yaml,
    setting_names,
)


def service(name: str) -> dict[str, Any]:
    services: dict[str, Any] = compose()["services"]
    assert name in services, f"compose.yaml has no service {name!r}"
    found: dict[str, Any] = services[name]
    return found


def mounts(name: str) -> dict[str, Path]:
    """Container path -> host path of a service's bind mounts (named volumes left out)."""
    found = {}
    for volume in service(name).get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith((".", "/")):
            found[target] = (COMPOSE_DIR / source).resolve()
    return found


def correlator_environment() -> dict[str, str]:
    return {key: str(value) for key, value in service("correlator")["environment"].items()}


def test_every_bind_mount_exists() -> None:
    for name in compose()["services"]:
        for target, source in mounts(name).items():
            assert source.exists(), f"{name} mounts {source} at {target}: no such file"


def test_correlator_is_built_from_the_repository_dockerfile() -> None:
    build = service("correlator")["build"]
    context = (COMPOSE_DIR / build["context"]).resolve()

    assert context / build.get("dockerfile", "Dockerfile") == DOCKERFILE


def test_kafka_is_apache_kafka_in_kraft_mode() -> None:
    kafka = service("kafka")
    environment = kafka["environment"]

    assert kafka["image"].startswith("apache/kafka:")
    assert set(environment["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert not any("ZOOKEEPER" in key for key in environment)
    assert int(environment["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"]) == 1, "one broker"


def test_correlator_reaches_kafka_on_an_advertised_listener() -> None:
    broker = urlsplit(correlator_environment()["CORRELATOR_BROKER"])
    advertised = service("kafka")["environment"]["KAFKA_ADVERTISED_LISTENERS"].split(",")

    assert broker.scheme == "kafka"
    assert f"//{broker.hostname}:{broker.port}" in " ".join(advertised)
    assert broker.hostname in {"kafka", service("kafka").get("hostname")}
    assert service("correlator")["depends_on"]["kafka"]["condition"] == "service_healthy"


def test_correlator_variables_are_real_settings() -> None:
    unknown = set(correlator_environment()) - setting_names()

    assert not unknown, f"correlator worker reads no {sorted(unknown)}"


def test_correlator_publishes_its_web_port() -> None:
    port = int(correlator_environment().get("CORRELATOR_WEB_PORT", WEB_PORT))

    assert f"{port}:{port}" in service("correlator")["ports"]


def test_prometheus_scrapes_the_worker_and_loads_the_rules() -> None:
    config = load_yaml(COMPOSE_DIR / "prometheus.yml")
    [job] = [job for job in config["scrape_configs"] if job["job_name"] == SCRAPE_JOB]
    port = int(correlator_environment().get("CORRELATOR_WEB_PORT", WEB_PORT))
    rule_mounts = {
        target for target, source in mounts("prometheus").items() if source == RULES_FILE
    }

    assert job.get("metrics_path", "/metrics") == METRICS_PATH
    assert job["static_configs"][0]["targets"] == [f"correlator:{port}"]
    assert set(config["rule_files"]) == rule_mounts, "the rules file is not where Prometheus looks"
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == [
        "alertmanager:9093"
    ]


def test_prometheus_config_is_valid(promtool: str, tmp_path: Path) -> None:
    config = load_yaml(COMPOSE_DIR / "prometheus.yml")
    config["rule_files"] = [str(RULES_FILE)]  # where it is here, not in the container
    local = tmp_path / "prometheus.yml"
    local.write_text(yaml.safe_dump(config))

    done = subprocess.run(
        [promtool, "check", "config", str(local)], capture_output=True, text=True, check=False
    )

    assert done.returncode == 0, done.stdout + done.stderr


def webhook_urls(config: dict[str, Any]) -> dict[str, list[str]]:
    return {
        receiver["name"]: [hook["url"] for hook in receiver.get("webhook_configs", [])]
        for receiver in config["receivers"]
    }


def test_alertmanager_sends_alerts_to_the_correlator_webhook() -> None:
    config = load_yaml(COMPOSE_DIR / "alertmanager.yml")
    port = int(correlator_environment().get("CORRELATOR_WEB_PORT", WEB_PORT))
    urls = webhook_urls(config)

    assert urls[config["route"]["receiver"]] == [
        f"http://correlator:{port}{ALERTMANAGER_WEBHOOK_PATH}"
    ]


def test_correlators_own_alerts_go_to_people_not_back_into_it() -> None:
    config = load_yaml(COMPOSE_DIR / "alertmanager.yml")
    [own] = [r for r in config["route"]["routes"] if 'component="correlator"' in r["matchers"]]

    assert not any("correlator:" in url for url in webhook_urls(config)[own["receiver"]])


def test_alertmanager_config_is_valid(amtool: str) -> None:
    done = subprocess.run(
        [amtool, "check-config", str(COMPOSE_DIR / "alertmanager.yml")],
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr


def test_grafana_provisions_prometheus_and_the_dashboard() -> None:
    provisioning = mounts("grafana")["/etc/grafana/provisioning"]
    [datasource] = load_yaml(provisioning / "datasources" / "prometheus.yaml")["datasources"]
    [provider] = load_yaml(provisioning / "dashboards" / "correlator.yaml")["providers"]
    dashboards = {t: s for t, s in mounts("grafana").items() if s == DASHBOARD_FILE}

    assert datasource["type"] == "prometheus"
    assert urlsplit(datasource["url"]).hostname == "prometheus"
    assert any(Path(target).parent == Path(provider["options"]["path"]) for target in dashboards)


@pytest.mark.parametrize("name", ["kafka", "prometheus", "alertmanager", "grafana"])
def test_third_party_images_are_pinned(name: str) -> None:
    image = service(name)["image"]

    assert ":" in image and not image.endswith(":latest"), image
