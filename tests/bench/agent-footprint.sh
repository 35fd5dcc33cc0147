#!/usr/bin/env bash
# Measure koji-agent's footprint next to Debian's prometheus-node-exporter on this machine.
# The numbers are resident memory (VmRSS at the end, VmHWM) and CPU time (utime + stime from
# /proc) per collection cycle. Every collector is on, the hub simulator is reachable, pushes
# go to a local Pushgateway, and 300 extra `sleep` processes run.
#
# The agent runs with interval_secs = 1 and [hub] interval_secs = 1, so every cycle calls
# the hub (the default refreshes the hub view every 60 s, so real cycles cost less). The
# node exporter is scraped once a second with its default collectors.
#
# Usage: tests/bench/agent-footprint.sh [CYCLES]   (default 120; CI does not run this)
# SKIP_BUILD=1 uses the release binaries already in the target directory.
# Needs: cargo, curl, prometheus-pushgateway, prometheus-node-exporter.
# Everything listens on 127.0.0.1 and is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."

cycles="${1:-120}"
warmup=5
target_dir="${CARGO_TARGET_DIR:-target}"
work="$(mktemp -d)"
pids=()

cleanup() {
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# utime + stime of a process in clock ticks.
cpu_ticks() {
    awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}

status_kib() {
    awk -v key="$2:" '$1 == key { print $2 }' "/proc/$1/status"
}

pushes() {
    curl -fsS "http://127.0.0.1:$gateway_port/metrics" |
        awk '/^pushgateway_http_requests_total\{code="200",handler="push",method="put"\}/ { print $2 }'
}

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    echo "== building release binaries" >&2
    cargo build --release --locked -p koji-agent -p koji-hub-sim --bins >&2
fi
agent="$target_dir/release/koji-agent"
hub_sim="$target_dir/release/koji-hub-sim"

echo "== starting 300 sleep processes" >&2
for _ in $(seq 300); do
    sleep 3600 &
    pids+=("$!")
done

echo "== starting the hub simulator and a Pushgateway" >&2
"$hub_sim" --scenario tests/hub-sim/scenarios/small.json >"$work/hub.out" 2>"$work/hub.log" &
pids+=("$!")
for _ in $(seq 100); do
    grep -q listening "$work/hub.out" 2>/dev/null && break
    sleep 0.1
done
hub_url="$(awk '{ print $NF }' "$work/hub.out")"

gateway_port="$(free_port)"
# Debian's build persists to /var/lib/prometheus/pushgateway.data by default; keep it in memory.
prometheus-pushgateway --web.listen-address="127.0.0.1:$gateway_port" --persistence.file= \
    2>"$work/gateway.log" &
pids+=("$!")
for _ in $(seq 100); do
    curl -fsS "http://127.0.0.1:$gateway_port/-/ready" >/dev/null 2>&1 && break
    sleep 0.1
done

mkdir -p "$work/mock"
cat >"$work/kojid.conf" <<CONF
[kojid]
server = $hub_url
mockdir = $work/mock
cert = $PWD/agent/tests/fixtures/certs/key-first.pem
CONF
cat >"$work/agent.toml" <<CONF
host = "b1.lab.example.org"
interval_secs = 1
kojid_config = "$work/kojid.conf"
[hub]
interval_secs = 1
[[push]]
url = "http://127.0.0.1:$gateway_port"
CONF

echo "== running koji-agent for $cycles cycles" >&2
"$agent" --config "$work/agent.toml" --log-level warn 2>"$work/agent.log" &
agent_pid=$!
pids+=("$agent_pid")
sleep "$warmup"
agent_start_ticks="$(cpu_ticks "$agent_pid")"
agent_start_pushes="$(pushes)"
sleep "$cycles"
agent_end_ticks="$(cpu_ticks "$agent_pid")"
agent_end_pushes="$(pushes)"
agent_rss="$(status_kib "$agent_pid" VmRSS)"
agent_hwm="$(status_kib "$agent_pid" VmHWM)"
agent_cycles=$((agent_end_pushes - agent_start_pushes))
collector_results="$(curl -fsS "http://127.0.0.1:$gateway_port/metrics" |
    awk '/^koji_agent_(collector_success|hub_up)\{/ { sub(/host="[^"]*",?/, ""); print }')"
if [ -s "$work/agent.log" ]; then
    echo "== koji-agent warnings:" >&2
    cat "$work/agent.log" >&2
fi

echo "== running prometheus-node-exporter for $cycles scrapes" >&2
exporter_port="$(free_port)"
prometheus-node-exporter --web.listen-address="127.0.0.1:$exporter_port" 2>"$work/exporter.log" &
exporter_pid=$!
pids+=("$exporter_pid")
for _ in $(seq 100); do
    curl -fsS "http://127.0.0.1:$exporter_port/metrics" >/dev/null 2>&1 && break
    sleep 0.1
done
for _ in $(seq "$warmup"); do
    curl -fsS "http://127.0.0.1:$exporter_port/metrics" >/dev/null
    sleep 1
done
exporter_start_ticks="$(cpu_ticks "$exporter_pid")"
for _ in $(seq "$cycles"); do
    curl -fsS "http://127.0.0.1:$exporter_port/metrics" >/dev/null
    sleep 1
done
exporter_end_ticks="$(cpu_ticks "$exporter_pid")"
exporter_rss="$(status_kib "$exporter_pid" VmRSS)"
exporter_hwm="$(status_kib "$exporter_pid" VmHWM)"

ticks_per_second="$(getconf CLK_TCK)"
ms_per_cycle() {
    awk -v ticks="$1" -v n="$2" -v hz="$ticks_per_second" \
        'BEGIN { if (n > 0) printf "%.2f", ticks * 1000 / hz / n; else print "n/a" }'
}
mib() {
    awk -v kib="$1" 'BEGIN { printf "%.1f", kib / 1024 }'
}

agent_version="$("$agent" --version | awk '{ print $2 }')"
exporter_version="$(prometheus-node-exporter --version 2>&1 | awk 'NR == 1 { print $3 }')"
agent_ms="$(ms_per_cycle $((agent_end_ticks - agent_start_ticks)) "$agent_cycles")"
exporter_ms="$(ms_per_cycle $((exporter_end_ticks - exporter_start_ticks)) "$cycles")"

echo
echo "| process | cycles | CPU per cycle (ms) | VmRSS (MiB) | VmHWM (MiB) |"
echo "| --- | --- | --- | --- | --- |"
echo "| koji-agent $agent_version | $agent_cycles | $agent_ms | $(mib "$agent_rss") | $(mib "$agent_hwm") |"
echo "| prometheus-node-exporter $exporter_version | $cycles | $exporter_ms | $(mib "$exporter_rss") | $(mib "$exporter_hwm") |"
echo
echo "koji-agent's last push:"
echo '```'
echo "$collector_results"
echo '```'
echo
echo "processes in /proc: $(ls -d /proc/[0-9]* | wc -l); CPUs: $(nproc); clock ticks per second: $ticks_per_second"
