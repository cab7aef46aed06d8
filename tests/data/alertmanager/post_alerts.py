#!/usr/bin/env python3
"""Helper for record.sh (stdlib only): the alerts we post, plus waiting and extraction.

Subcommands:
  post          POST the alert set to Alertmanager's /api/v2/alerts, either
                firing (--phase firing) or with endsAt in the past (--phase resolved).
  wait          Wait (bounded) until the webhook sink has seen every alert that
                Alertmanager holds in the given state, then until it is quiet.
  fingerprints  Write fingerprints.json from the recorded webhook payloads.
"""
import argparse
import datetime as dt
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

Json = dict[str, Any]

# Never send loopback traffic through a proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))

KP = "monitoring/k8s"  # the `prometheus` external label kube-prometheus adds
RUNBOOK = "https://runbooks.prometheus-operator.dev/runbooks/"
GEN = "http://prometheus-k8s-0:9090/graph?g0.expr={expr}&g0.tab=1"


def _ann(summary: str, description: str, runbook: str | None = None) -> dict[str, str]:
    a = {"description": description, "summary": summary}
    if runbook:
        a["runbook_url"] = RUNBOOK + runbook
    return a


# Each entry: labels, optional annotations, and "style":
#   "prometheus": startsAt in the past and endsAt in the near future plus a
#                 generatorURL, as Prometheus itself sends them;
#   "bare":       labels (and maybe annotations) only, Alertmanager fills in
#                 startsAt=now and reports endsAt as 0001-01-01T00:00:00Z.
ALERTS: list[Json] = [
    # --- realistic kube-prometheus alerts -------------------------------
    {"style": "prometheus", "labels": {
        "alertname": "Watchdog", "prometheus": KP, "severity": "none"},
     "annotations": _ann(
        "An alert that should always be firing to certify that Alertmanager is working properly.",
        "This is an alert meant to ensure that the entire alerting pipeline is functional.\n"
        "This alert is always firing, therefore it should always be firing in Alertmanager\n"
        "and always fire against a receiver. There are integrations with various notification\n"
        "mechanisms that send a notification when this alert is not firing. For example the\n"
        "\"DeadMansSnitch\" integration in PagerDuty.\n", "general/watchdog")},
    {"style": "prometheus", "labels": {
        "alertname": "KubePodCrashLooping", "container": "api", "endpoint": "https-main",
        "instance": "10.244.0.15:8443", "job": "kube-state-metrics", "namespace": "payments",
        "pod": "payments-api-7d9c6b8f5-x2x7q", "prometheus": KP, "reason": "CrashLoopBackOff",
        "service": "kube-state-metrics", "severity": "warning",
        "uid": "3f0c1a52-6b1e-4a4f-9a63-0c2b9e4e8d11"},
     "annotations": _ann(
        "Pod is crash looping.",
        "Pod payments/payments-api-7d9c6b8f5-x2x7q (api) is in waiting state (reason: \"CrashLoopBackOff\").",
        "kubernetes/kubepodcrashlooping")},
    {"style": "prometheus", "labels": {
        "alertname": "KubePodCrashLooping", "container": "worker", "endpoint": "https-main",
        "instance": "10.244.0.15:8443", "job": "kube-state-metrics", "namespace": "payments",
        "pod": "payments-worker-5b7f9d4c8-9kq2m", "prometheus": KP, "reason": "CrashLoopBackOff",
        "service": "kube-state-metrics", "severity": "warning",
        "uid": "a9d4e3b0-2c7f-4a51-8a0e-5f1d7c3b2e90"},
     "annotations": _ann(
        "Pod is crash looping.",
        "Pod payments/payments-worker-5b7f9d4c8-9kq2m (worker) is in waiting state (reason: \"CrashLoopBackOff\").",
        "kubernetes/kubepodcrashlooping")},
    {"style": "prometheus", "labels": {
        "alertname": "KubeDeploymentReplicasMismatch", "container": "kube-state-metrics",
        "deployment": "payments-api", "endpoint": "https-main", "instance": "10.244.0.15:8443",
        "job": "kube-state-metrics", "namespace": "payments", "prometheus": KP,
        "service": "kube-state-metrics", "severity": "warning"},
     "annotations": _ann(
        "Deployment has not matched the expected number of replicas.",
        "Deployment payments/payments-api has not matched the expected number of replicas for longer than 15 minutes.",
        "kubernetes/kubedeploymentreplicasmismatch")},
    {"style": "prometheus", "labels": {
        "alertname": "TargetDown", "job": "node-exporter", "namespace": "monitoring",
        "prometheus": KP, "service": "node-exporter", "severity": "warning"},
     "annotations": _ann(
        "One or more targets are unreachable.",
        "33.33% of the node-exporter/node-exporter targets in monitoring namespace are down.",
        "general/targetdown")},
    {"style": "prometheus", "labels": {
        "alertname": "NodeFilesystemSpaceFillingUp", "container": "node-exporter",
        "device": "/dev/nvme0n1p1", "endpoint": "https", "fstype": "ext4",
        "instance": "ip-10-0-1-23.eu-west-1.compute.internal", "job": "node-exporter",
        "mountpoint": "/", "namespace": "monitoring", "pod": "node-exporter-7xk2p",
        "prometheus": KP, "service": "node-exporter", "severity": "warning"},
     "annotations": _ann(
        "Filesystem is predicted to run out of space within the next 24 hours.",
        "Filesystem on /dev/nvme0n1p1, mounted on /, at ip-10-0-1-23.eu-west-1.compute.internal "
        "has only 14.52% available space left and is filling up.",
        "node/nodefilesystemspacefillingup")},
    {"style": "prometheus", "labels": {
        "alertname": "NodeFilesystemSpaceFillingUp", "container": "node-exporter",
        "device": "/dev/nvme0n1p1", "endpoint": "https", "fstype": "ext4",
        "instance": "ip-10-0-1-23.eu-west-1.compute.internal", "job": "node-exporter",
        "mountpoint": "/", "namespace": "monitoring", "pod": "node-exporter-7xk2p",
        "prometheus": KP, "service": "node-exporter", "severity": "critical"},
     "annotations": _ann(
        "Filesystem is predicted to run out of space within the next 4 hours.",
        "Filesystem on /dev/nvme0n1p1, mounted on /, at ip-10-0-1-23.eu-west-1.compute.internal "
        "has only 4.07% available space left and is filling up fast.",
        "node/nodefilesystemspacefillingup")},
    {"style": "prometheus", "labels": {
        "alertname": "KubeletDown", "namespace": "kube-system", "prometheus": KP,
        "severity": "critical"},
     "annotations": _ann(
        "Target disappeared from Prometheus target discovery.",
        "Kubelet has disappeared from Prometheus target discovery.",
        "kubernetes/kubeletdown")},
    {"style": "prometheus", "labels": {
        "alertname": "KubePersistentVolumeFillingUp", "endpoint": "https-metrics",
        "instance": "10.0.1.23:10250", "job": "kubelet", "metrics_path": "/metrics",
        "namespace": "databases", "node": "ip-10-0-1-23.eu-west-1.compute.internal",
        "persistentvolumeclaim": "data-postgres-0", "prometheus": KP,
        "service": "kubelet", "severity": "critical"},
     "annotations": _ann(
        "PersistentVolume is filling up.",
        "The PersistentVolume claimed by data-postgres-0 in Namespace databases is only 2.31% free.",
        "kubernetes/kubepersistentvolumefillingup")},
    {"style": "prometheus", "labels": {
        "alertname": "CPUThrottlingHigh", "container": "postgres", "namespace": "databases",
        "pod": "postgres-0", "prometheus": KP, "severity": "info"},
     "annotations": _ann(
        "Processes experience elevated CPU throttling.",
        "41.7% throttling of CPU in namespace databases for container postgres in pod postgres-0.",
        "kubernetes/cputhrottlinghigh")},
    {"style": "prometheus", "labels": {
        "alertname": "KubeJobFailed", "condition": "true", "container": "kube-state-metrics",
        "endpoint": "https-main", "instance": "10.244.0.15:8443", "job": "kube-state-metrics",
        "job_name": "nightly-backup-28764000", "namespace": "databases", "prometheus": KP,
        "service": "kube-state-metrics", "severity": "warning"},
     "annotations": _ann(
        "Job failed to complete.",
        "Job databases/nightly-backup-28764000 failed to complete. Removing failed job after "
        "investigation should clear this alert.", "kubernetes/kubejobfailed")},
    {"style": "prometheus", "labels": {
        "alertname": "KubeCPUOvercommit", "prometheus": KP, "resource": "cpu",
        "severity": "warning"},
     "annotations": _ann(
        "Cluster has overcommitted CPU resource requests.",
        "Cluster has overcommitted CPU resource requests for Pods by 1.25 CPU shares and cannot "
        "tolerate node failure.", "kubernetes/kubecpuovercommit")},
    {"style": "prometheus", "labels": {
        "alertname": "AlertmanagerFailedToSendAlerts", "container": "alertmanager",
        "endpoint": "web", "instance": "10.244.1.9:9093", "integration": "webhook",
        "job": "alertmanager-main", "namespace": "monitoring", "pod": "alertmanager-main-0",
        "prometheus": KP, "service": "alertmanager-main", "severity": "warning"},
     "annotations": _ann(
        "An Alertmanager instance failed to send notifications.",
        "Alertmanager monitoring/alertmanager-main-0 failed to send 75% of notifications to webhook.",
        "alertmanager/alertmanagerfailedtosendalerts")},
    # --- edge cases ------------------------------------------------------
    # A single label only (no namespace either: its own group with groupLabels {}).
    {"style": "bare", "labels": {"alertname": "SingleLabelOnly"}},
    # A single label that is not even `alertname`.
    {"style": "bare", "labels": {"probe": "no-alertname"}},
    # Many labels (24).
    {"style": "bare", "labels": dict(
        [("alertname", "ManyLabels"), ("namespace", "edge-cases")]
        + [(f"label_{i:02d}", f"value-{i:02d}") for i in range(22)]),
     "annotations": {"summary": "An alert with 24 labels."}},
    # Unicode values.
    {"style": "bare", "labels": {
        "alertname": "UnicodeValues", "namespace": "edge-cases",
        "german": "größe", "japanese": "日本語", "emoji": "🔥🚀",
        "zwj_emoji": "👩‍💻", "arabic": "مرحبا", "combining": "e\u0301",
        "latin1_ff": "ÿ", "bmp_last": "\uffff"},
     "annotations": {"summary": "Größe überschritten – 日本語 🔥",
                     "description": "Unicode in annotations too: ñ, ø, 中文, 🚀."}},
    # Values with spaces, quotes, backslashes, newlines, '=', tabs, HTML chars, NUL.
    {"style": "bare", "labels": {
        "alertname": "SpecialCharValues", "namespace": "edge-cases",
        "spaces": "  leading and trailing  ", "dquote": 'say "hi"', "squote": "it's",
        "backslash": "C:\\Windows\\System32", "newline": "line1\nline2\r\nline3",
        "equals": "a=b,c=d", "tab": "col1\tcol2", "braces": '{job="x"}',
        "html": "<b>&amp;</b>", "nul": "before\u0000after", "only_space": " "}},
    # Label names that sort differently byte-wise vs case-insensitively.
    {"style": "bare", "labels": {
        "alertname": "LabelNameOrdering", "namespace": "edge-cases",
        "Zeta": "1", "alpha": "2", "_under": "3", "ALPHA": "4", "a": "5", "A": "6",
        "B": "7", "b": "8", "_": "9", "a_": "10", "a0": "11", "aa": "12", "Z9": "13",
        "__double": "14"}},
    # The same pairs in two different key orders: one alert, one fingerprint.
    {"style": "bare", "labels": {
        "alertname": "PermutedLabels", "namespace": "edge-cases", "instance": "host-1:9100",
        "job": "node", "severity": "warning", "zone": "eu-west-1a"}},
    {"style": "bare", "labels": {
        "zone": "eu-west-1a", "severity": "warning", "job": "node", "instance": "host-1:9100",
        "namespace": "edge-cases", "alertname": "PermutedLabels"}},
    # Numeric-looking values (label values are always strings).
    {"style": "bare", "labels": {
        "alertname": "NumericLookingValues", "namespace": "edge-cases",
        "zero": "0", "octal": "007", "exp": "1e3", "neg": "-1", "float": "3.14",
        "nan": "NaN", "inf": "+Inf", "bool": "true", "null": "null", "hex": "0x1F",
        "port": "9100"}},
    # Empty label value: Alertmanager drops the label before fingerprinting, so
    # this alert is the same alert as the one without `empty` below.
    {"style": "bare", "labels": {
        "alertname": "EmptyLabelValue", "namespace": "edge-cases", "empty": "",
        "kept": "x"}},
    {"style": "bare", "labels": {
        "alertname": "EmptyLabelValue", "namespace": "edge-cases", "kept": "x"}},
    # Naive concatenation would collide: {ab: c} vs {a: bc}.
    {"style": "bare", "labels": {"alertname": "Concat", "namespace": "edge-cases", "a": "bc"}},
    {"style": "bare", "labels": {"alertname": "Concat", "namespace": "edge-cases", "ab": "c"}},
    # A long value (2048 chars).
    {"style": "bare", "labels": {
        "alertname": "LongValue", "namespace": "edge-cases", "long": "x" * 2040 + "-the-end"}},
    # Explicit startsAt with a non-UTC offset and no endsAt.
    {"style": "offset", "labels": {
        "alertname": "OffsetStartsAt", "namespace": "edge-cases", "tz": "+02:00"},
     "annotations": {"summary": "startsAt was posted as 2024-03-10T12:34:56.789+02:00"}},
]


def _ts(t: dt.datetime) -> str:
    """RFC 3339 in UTC with millisecond precision, as Prometheus sends it."""
    return t.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def build(phase: str) -> list[Json]:
    now = dt.datetime.now(dt.UTC)
    out = []
    for i, a in enumerate(ALERTS):
        body: Json = {"labels": a["labels"]}
        if a.get("annotations"):
            body["annotations"] = a["annotations"]
        style = a["style"]
        if style == "prometheus":
            # A start a while ago, as Prometheus would report it: whole
            # seconds for some alerts, milliseconds for others.
            start = now.replace(microsecond=0) - dt.timedelta(minutes=30 + i)
            if i % 2:
                start += dt.timedelta(milliseconds=(i * 137) % 1000)
            body["startsAt"] = _ts(start)
            body["generatorURL"] = GEN.format(expr=urllib.parse.quote(
                f'ALERTS{{alertname="{a["labels"].get("alertname", "")}"}}', safe=""))
        elif style == "offset":
            body["startsAt"] = "2024-03-10T12:34:56.789+02:00"
        if phase == "firing":
            if style == "prometheus":
                body["endsAt"] = _ts(now + dt.timedelta(minutes=4))
        else:
            # Slightly in the past, but after the firing POST (which is >= 1 s ago).
            body["endsAt"] = _ts(now - dt.timedelta(milliseconds=200))
        out.append(body)
    return out


def _http(method: str, url: str, data: bytes | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, method=method, data=data,
                                 headers={"Content-Type": "application/json"})
    with _OPENER.open(req, timeout=10) as resp:
        return resp.status, resp.read()


def cmd_post(args: argparse.Namespace) -> int:
    body = json.dumps(build(args.phase), ensure_ascii=False).encode("utf-8")
    try:
        status, _ = _http("POST", args.url.rstrip("/") + "/api/v2/alerts", body)
    except urllib.error.HTTPError as exc:
        print(f"POST failed: {exc.code} {exc.read().decode(errors='replace')}", file=sys.stderr)
        return 1
    print(f"posted {len(ALERTS)} alerts ({args.phase}): HTTP {status}", file=sys.stderr)
    return 0


def _am_fingerprints(url: str) -> set[str]:
    _, body = _http("GET", url.rstrip("/") + "/api/v2/alerts")
    return {a["fingerprint"] for a in json.loads(body)}


def _read_payloads(path: str) -> list[Json]:
    try:
        with open(path, encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]
    except FileNotFoundError:
        return []


def cmd_wait(args: argparse.Namespace) -> int:
    deadline = time.monotonic() + args.timeout
    if args.phase == "firing":
        expected = _am_fingerprints(args.url)  # every alert Alertmanager now holds
    else:
        # Resolved alerts are no longer listed by the API: expect every alert
        # that was notified as firing to be notified as resolved.
        expected = {a["fingerprint"] for p in _read_payloads(args.sink)
                    for a in p["alerts"] if a["status"] == "firing"}
    if not expected:
        print("nothing to wait for", file=sys.stderr)
        return 1
    print(f"waiting for {len(expected)} {args.phase} alerts in {args.sink}", file=sys.stderr)
    while True:
        seen = {a["fingerprint"] for p in _read_payloads(args.sink)
                for a in p["alerts"] if a["status"] == args.phase}
        if expected <= seen:
            break
        if time.monotonic() > deadline:
            print(f"timeout: missing {sorted(expected - seen)}", file=sys.stderr)
            return 1
        time.sleep(0.2)
    # Then wait until no new payload has arrived for --quiet seconds, so that
    # the other receivers' notifications for this phase are in as well.
    last_n, last_change = -1, time.monotonic()
    while time.monotonic() - last_change < args.quiet:
        n = len(_read_payloads(args.sink))
        if n != last_n:
            last_n, last_change = n, time.monotonic()
        if time.monotonic() > deadline:
            print("timeout waiting for the sink to go quiet", file=sys.stderr)
            return 1
        time.sleep(0.2)
    print(f"{args.phase}: all {len(expected)} seen, {last_n} payloads so far", file=sys.stderr)
    return 0


def cmd_fingerprints(args: argparse.Namespace) -> int:
    by_fp: dict[str, dict[str, str]] = {}
    for p in _read_payloads(args.payloads):
        for a in p["alerts"]:
            prev = by_fp.setdefault(a["fingerprint"], a["labels"])
            if prev != a["labels"]:
                print(f"fingerprint {a['fingerprint']} seen with two label sets", file=sys.stderr)
                return 1
    # Which posted label sets became which alert: Alertmanager drops labels
    # with an empty value; key order is irrelevant.
    posted: dict[str, list[dict[str, str]]] = {}
    for a in ALERTS:
        norm = {k: v for k, v in a["labels"].items() if v != ""}
        for fp, labels in by_fp.items():
            if labels == norm:
                variants = posted.setdefault(fp, [])
                if list(a["labels"].items()) not in [list(v.items()) for v in variants]:
                    variants.append(a["labels"])
                break
        else:
            print(f"posted alert never showed up: {a['labels']}", file=sys.stderr)
            return 1
    out = [{"labels": by_fp[fp], "fingerprint": fp, "posted_labels": posted[fp]}
           for fp in sorted(by_fp)]
    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump(out, fh, ensure_ascii=False, indent=2)
        fh.write("\n")
    print(f"{len(out)} distinct fingerprints", file=sys.stderr)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("post")
    p.add_argument("--url", required=True, help="Alertmanager base URL")
    p.add_argument("--phase", choices=["firing", "resolved"], required=True)
    p.set_defaults(func=cmd_post)
    p = sub.add_parser("wait")
    p.add_argument("--url", required=True)
    p.add_argument("--sink", required=True, help="the sink's output file")
    p.add_argument("--phase", choices=["firing", "resolved"], required=True)
    p.add_argument("--timeout", type=float, default=60)
    p.add_argument("--quiet", type=float, default=3)
    p.set_defaults(func=cmd_wait)
    p = sub.add_parser("fingerprints")
    p.add_argument("--payloads", required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_fingerprints)
    args = ap.parse_args()
    rc: int = args.func(args)
    return rc


if __name__ == "__main__":
    sys.exit(main())
