"""deploy/kubernetes: the manifests refer to each other and to the worker correctly.

``kubectl apply`` accepts a Deployment whose ConfigMap does not exist, a Service
whose selector matches no pod or a probe on a port nobody listens on; the pods then
never start, never get traffic, or restart forever. These tests catch that here.
"""

from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import Any

import pytest

from correlator.topology import parse_topology
from deploy.files import (
    HEALTH_PATH,
    KUBERNETES_DIR,
    METRICS,
    METRICS_PATH,
    READY_PATH,
    kubernetes_object,
    kubernetes_objects,
    load_yaml,
    load_yaml_all,
    setting_names,
    worker_settings_from,
)

SCRAPE_JOB_IS_SERVICE_NAME = "correlator"
"""A ServiceMonitor's job label is its Service's name; the rules expect job="correlator"."""


def deployment() -> dict[str, Any]:
    return kubernetes_object("Deployment", "correlator")


def pod_spec() -> dict[str, Any]:
    spec: dict[str, Any] = deployment()["spec"]["template"]["spec"]
    return spec


def container() -> dict[str, Any]:
    [found] = pod_spec()["containers"]
    assert isinstance(found, dict)
    return found


def environment() -> dict[str, str]:
    """The variables the container gets: ConfigMaps and Secrets it reads, then ``env``."""
    found: dict[str, str] = {}
    for source in container().get("envFrom", []):
        if "configMapRef" in source:
            found |= kubernetes_object("ConfigMap", source["configMapRef"]["name"])["data"]
        else:
            found |= kubernetes_object("Secret", source["secretRef"]["name"])["stringData"]
    found |= {item["name"]: item["value"] for item in container().get("env", [])}
    return found


def container_port(name_or_number: str | int) -> int:
    for port in container()["ports"]:
        if name_or_number in (port.get("name"), port["containerPort"]):
            number: int = port["containerPort"]
            return number
    pytest.fail(f"the container has no port {name_or_number!r}")


def labels_match(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and selector.items() <= labels.items()


def pod_labels() -> dict[str, str]:
    labels: dict[str, str] = deployment()["spec"]["template"]["metadata"]["labels"]
    return labels


def test_kustomization_lists_every_manifest_and_only_existing_ones() -> None:
    listed = set(load_yaml(KUBERNETES_DIR / "kustomization.yaml")["resources"])
    present = {path.name for path in KUBERNETES_DIR.glob("*.yaml")}
    not_resources = {"kustomization.yaml", "prometheus-adapter-values.yaml"}

    assert listed <= present, f"kustomization.yaml lists missing files {sorted(listed - present)}"
    assert present - not_resources <= listed, f"not applied: {sorted(present - listed)}"


def test_every_object_has_kind_name_and_version() -> None:
    for path in sorted(KUBERNETES_DIR.glob("*.yaml")):
        if path.name in {"kustomization.yaml", "prometheus-adapter-values.yaml"}:
            continue
        for item in load_yaml_all(path):
            assert {"apiVersion", "kind", "metadata"} <= set(item), path.name
            assert item["metadata"]["name"], path.name


def test_the_deployment_reads_configmaps_and_secrets_that_exist() -> None:
    for source in container().get("envFrom", []):
        for kind, key in [("ConfigMap", "configMapRef"), ("Secret", "secretRef")]:
            if key in source:
                kubernetes_object(kind, source[key]["name"])
    for volume in pod_spec()["volumes"]:
        if "configMap" in volume:
            kubernetes_object("ConfigMap", volume["configMap"]["name"])


def test_every_variable_is_a_setting_of_the_worker() -> None:
    unknown = set(environment()) - setting_names()

    assert not unknown, f"correlator worker reads no {sorted(unknown)}"


def test_the_worker_accepts_the_settings() -> None:
    """The values parse (durations, numbers, protocol) as they would at the pod's start."""
    settings = worker_settings_from(environment())

    assert settings.topology == environment()["CORRELATOR_TOPOLOGY"]


def topology_mount() -> tuple[dict[str, Any], dict[str, Any]]:
    path = PurePosixPath(environment()["CORRELATOR_TOPOLOGY"])
    for mount in container()["volumeMounts"]:
        if path.parent == PurePosixPath(mount["mountPath"]):
            [volume] = [v for v in pod_spec()["volumes"] if v["name"] == mount["name"]]
            return mount, volume
    pytest.fail(f"nothing is mounted where CORRELATOR_TOPOLOGY={path} points")


def test_the_topology_file_is_the_configmap_key_it_names() -> None:
    _mount, volume = topology_mount()
    configmap = kubernetes_object("ConfigMap", volume["configMap"]["name"])
    key = PurePosixPath(environment()["CORRELATOR_TOPOLOGY"]).name

    assert key in configmap["data"], f"the ConfigMap has no key {key}"


def test_the_topology_mount_follows_configmap_updates() -> None:
    """A subPath mount is a copy made at start: the worker would never see an update."""
    mount, _ = topology_mount()

    assert "subPath" not in mount


def test_the_topology_in_the_configmap_is_valid() -> None:
    _, volume = topology_mount()
    configmap = kubernetes_object("ConfigMap", volume["configMap"]["name"])
    key = PurePosixPath(environment()["CORRELATOR_TOPOLOGY"]).name

    topology = parse_topology(configmap["data"][key].encode(), f"configmap/{key}")

    assert len(topology) > 0


def test_the_data_dir_is_writable_under_a_read_only_root() -> None:
    data_dir = PurePosixPath(worker_settings_from(environment()).data_dir)
    mounted = {PurePosixPath(m["mountPath"]) for m in container()["volumeMounts"]}

    if container()["securityContext"].get("readOnlyRootFilesystem"):
        assert data_dir.is_absolute() and any(
            data_dir == m or m in data_dir.parents for m in mounted
        ), f"CORRELATOR_DATA_DIR={data_dir} is on the read-only root filesystem"


@pytest.mark.parametrize(
    ("probe", "path"),
    [("livenessProbe", HEALTH_PATH), ("readinessProbe", READY_PATH)],
)
def test_probes_ask_the_worker_where_it_answers(probe: str, path: str) -> None:
    check = container()[probe]["httpGet"]
    web_port = worker_settings_from(environment()).web_port

    assert check["path"] == path
    assert container_port(check["port"]) == web_port


def test_the_service_selects_the_pods_and_reaches_their_web_port() -> None:
    service = kubernetes_object("Service", "correlator")
    [port] = service["spec"]["ports"]

    assert labels_match(service["spec"]["selector"], pod_labels())
    assert container_port(port["targetPort"]) == worker_settings_from(environment()).web_port
    assert service["metadata"]["name"] == SCRAPE_JOB_IS_SERVICE_NAME


def test_the_servicemonitor_scrapes_the_service_metrics_port() -> None:
    monitor = kubernetes_object("ServiceMonitor", "correlator")
    service = kubernetes_object("Service", "correlator")
    [endpoint] = monitor["spec"]["endpoints"]

    assert labels_match(monitor["spec"]["selector"]["matchLabels"], service["metadata"]["labels"])
    assert endpoint["port"] in {port["name"] for port in service["spec"]["ports"]}
    assert endpoint.get("path", "/metrics") == METRICS_PATH


def test_the_deployment_selects_its_own_pods() -> None:
    assert labels_match(deployment()["spec"]["selector"]["matchLabels"], pod_labels())


def test_the_disruption_budget_covers_the_pods_and_lets_a_node_drain() -> None:
    budget = kubernetes_object("PodDisruptionBudget", "correlator")["spec"]

    assert labels_match(budget["selector"]["matchLabels"], pod_labels())
    assert budget.get("maxUnavailable", 0) >= 1 or "minAvailable" in budget


def test_the_autoscaler_scales_the_deployment_on_consumer_lag() -> None:
    spec = kubernetes_object("HorizontalPodAutoscaler", "correlator")["spec"]
    metric_names = {
        item[item["type"].lower()]["metric"]["name"]
        for item in spec["metrics"]
        if item["type"] in {"External", "Pods"}
    }

    assert spec["scaleTargetRef"]["kind"] == "Deployment"
    assert spec["scaleTargetRef"]["name"] == deployment()["metadata"]["name"]
    assert metric_names == {"correlator_consumer_lag"}
    assert metric_names <= set(METRICS)


def test_the_autoscaler_stops_at_the_partition_count() -> None:
    """Workers beyond the partition count hold nothing and are never ready."""
    spec = kubernetes_object("HorizontalPodAutoscaler", "correlator")["spec"]
    settings = worker_settings_from(environment())

    assert spec["maxReplicas"] == settings.partitions
    assert 1 <= spec["minReplicas"] <= spec["maxReplicas"]


def test_a_rollout_never_runs_more_workers_than_partitions() -> None:
    """At maxReplicas a surge pod holds no partition, is never ready: the rollout stalls."""
    rolling = deployment()["spec"]["strategy"]["rollingUpdate"]

    assert rolling["maxSurge"] == 0
    assert rolling["maxUnavailable"] >= 1


def test_the_deployment_leaves_the_replica_count_to_the_autoscaler() -> None:
    """With both setting it, every ``kubectl apply`` resets the count the HPA chose."""
    assert "replicas" not in deployment()["spec"]


def test_the_pod_runs_as_the_images_unprivileged_user() -> None:
    security = pod_spec()["securityContext"]

    assert security["runAsNonRoot"] is True
    assert security["runAsUser"] != 0
    assert container()["securityContext"]["allowPrivilegeEscalation"] is False


def test_requests_and_a_memory_limit_are_set() -> None:
    resources = container()["resources"]

    assert {"cpu", "memory"} <= set(resources["requests"])
    assert "memory" in resources["limits"]


def test_the_container_runs_the_worker() -> None:
    assert container().get("args", ["worker"])[0] == "worker"


def test_the_image_name_is_the_one_kustomize_rewrites() -> None:
    images = {item["name"] for item in load_yaml(KUBERNETES_DIR / "kustomization.yaml")["images"]}

    assert container()["image"] in images


def all_names() -> Iterator[tuple[str, str]]:
    for item in kubernetes_objects():
        yield item["kind"], item["metadata"]["name"]


def test_no_two_objects_share_kind_and_name() -> None:
    names = list(all_names())

    assert len(names) == len(set(names))
