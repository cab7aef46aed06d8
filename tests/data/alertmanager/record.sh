#!/usr/bin/env bash
# Record webhook payloads and alert fingerprints from a real Alertmanager.
#
#   bash tests/data/alertmanager/record.sh
#
# Installs Debian's prometheus-alertmanager if no alertmanager is on PATH,
# runs it on 127.0.0.1 (random ports, clustering off, temp storage) with a
# webhook receiver pointing at webhook_sink.py, posts the alerts defined in
# post_alerts.py, waits for the firing notifications, resolves the alerts,
# waits for the resolved notifications, and then writes, next to this script:
#   webhook_payloads.jsonl  raw webhook bodies, one per line, in arrival order
#   fingerprints.json       [{"labels", "fingerprint", "posted_labels"}], by fingerprint
# The existing files are replaced only if the whole run succeeds.
set -euo pipefail
exec </dev/null

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY="${PYTHON:-python3}"
WAIT_TIMEOUT="${WAIT_TIMEOUT:-60}"   # seconds, per phase

log() { printf 'record.sh: %s\n' "$*" >&2; }

# --- alertmanager binary ----------------------------------------------------
find_am() { command -v alertmanager || command -v prometheus-alertmanager || true; }
AM_BIN="$(find_am)"
if [ -z "$AM_BIN" ]; then
    log "installing prometheus-alertmanager"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >&2
    apt-get install -y -q prometheus-alertmanager >&2
    AM_BIN="$(find_am)"   # Debian names the binary prometheus-alertmanager
    [ -n "$AM_BIN" ] || { log "alertmanager still not found after install"; exit 1; }
fi
AM_VERSION="$("$AM_BIN" --version 2>&1 | head -n1)"
log "using $AM_BIN: $AM_VERSION"

# --- temp dir and cleanup -----------------------------------------------------
WORK="$(mktemp -d)"
PIDS=()
cleanup() {
    local rc=$?
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [ "$rc" -ne 0 ]; then
        log "FAILED (exit $rc); last lines of the logs:"
        tail -n 20 "$WORK"/*.log >&2 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- webhook sink -------------------------------------------------------------
SINK_OUT="$WORK/webhook_payloads.jsonl"
: >"$SINK_OUT"
"$PY" "$HERE/webhook_sink.py" --out "$SINK_OUT" --port-file "$WORK/sink.port" \
    >"$WORK/sink.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$WORK/sink.port" ] && break; sleep 0.1; done
[ -s "$WORK/sink.port" ] || { log "webhook sink did not start"; exit 1; }
SINK_PORT="$(cat "$WORK/sink.port")"
SINK="http://127.0.0.1:$SINK_PORT"

# --- alertmanager -------------------------------------------------------------
AM_PORT="$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
AM="http://127.0.0.1:$AM_PORT"
cat >"$WORK/alertmanager.yml" <<EOF
route:
  receiver: default
  group_by: ['namespace']
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 4h
  routes:
    # critical alerts also go, grouped by alertname, to their own receiver
    - matchers: ['severity="critical"']
      receiver: critical
      group_by: ['alertname']
      continue: true
    # warnings also go to a receiver that keeps only 2 alerts per notification
    # (truncatedAlerts > 0); group_by is inherited (an empty list would too)
    - matchers: ['severity="warning"']
      receiver: max-alerts-2
      continue: true
    # everything, grouped by namespace
    - receiver: default
receivers:
  - name: default
    webhook_configs:
      - url: '$SINK/default'
        send_resolved: true
  - name: critical
    webhook_configs:
      - url: '$SINK/critical'
        send_resolved: true
  - name: max-alerts-2
    webhook_configs:
      - url: '$SINK/max-alerts-2'
        send_resolved: true
        max_alerts: 2
EOF
"$AM_BIN" \
    --config.file="$WORK/alertmanager.yml" \
    --storage.path="$WORK/data" \
    --web.listen-address="127.0.0.1:$AM_PORT" \
    --web.external-url="$AM" \
    --cluster.listen-address= \
    >"$WORK/alertmanager.log" 2>&1 &
PIDS+=($!)
AM_PID=$!
ready=""
for _ in $(seq 150); do
    kill -0 "$AM_PID" 2>/dev/null || { log "alertmanager exited"; exit 1; }
    if "$PY" -c 'import sys, urllib.request as u
u.build_opener(u.ProxyHandler({})).open(sys.argv[1] + "/-/ready", timeout=2)' "$AM" 2>/dev/null; then
        ready=1; break
    fi
    sleep 0.2
done
[ -n "$ready" ] || { log "alertmanager not ready after 30s"; exit 1; }
log "alertmanager ready at $AM, sink at $SINK"

# --- record -------------------------------------------------------------------
"$PY" "$HERE/post_alerts.py" post --url "$AM" --phase firing
"$PY" "$HERE/post_alerts.py" wait --url "$AM" --sink "$SINK_OUT" --phase firing --timeout "$WAIT_TIMEOUT"
"$PY" "$HERE/post_alerts.py" post --url "$AM" --phase resolved
"$PY" "$HERE/post_alerts.py" wait --url "$AM" --sink "$SINK_OUT" --phase resolved --timeout "$WAIT_TIMEOUT"
"$PY" "$HERE/post_alerts.py" fingerprints --payloads "$SINK_OUT" --out "$WORK/fingerprints.json"

mv -f "$SINK_OUT" "$HERE/webhook_payloads.jsonl"
mv -f "$WORK/fingerprints.json" "$HERE/fingerprints.json"
log "wrote $HERE/webhook_payloads.jsonl ($(wc -l <"$HERE/webhook_payloads.jsonl") payloads) and $HERE/fingerprints.json"
log "recorded with: $AM_VERSION"
