"""``make bench`` keeps working: the quick run reports every figure the issue asks for."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
REQUIRED = {
    "replay_alerts_per_second", "replay_parse_floor_alerts_per_second", "replay_vs_parse_ratio",
    "topology_load_seconds", "topology_load_peak_rss_bytes", "memory_per_open_alert_bytes",
    "memory_per_open_incident_bytes",
    "stream_alerts_per_second", "stream_vs_forwarder_ratio",
    "stream_staging_floor_alerts_per_second", "stream_staging_floor_vs_forwarder_ratio",
    "impact_latency_p50_seconds", "impact_latency_p99_seconds", "worker_rss_bytes",
    "restart_recovery_seconds",
    "webhook_alerts_per_second", "webhook_vs_stream_ratio", "webhook_request_latency_p99_seconds",
}  # fmt: skip


@pytest.mark.slow
def test_quick_bench_reports_every_figure() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--quick"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    figures = [json.loads(line) for line in run.stdout.splitlines()]
    assert {figure["name"] for figure in figures} >= REQUIRED
    for figure in figures:
        assert isinstance(figure["value"], int | float) and figure["value"] >= 0
        assert figure["unit"]
        if figure["unit"] == "ratio":
            assert figure["baseline"] in {f["name"] for f in figures}
