#!/usr/bin/env bash
# Loopback QoS 1 throughput: sensorpub against rumqttc and minimq, interleaved rounds against
# one Debian mosquitto started here on a free 127.0.0.1 port (no subscriber). Builds the
# benchmark (release), starts mosquitto, runs, stops it. Prints a Markdown table of medians,
# messages/s and ratios to rumqttc. Fails only on an error or a missing acknowledgement, never
# on a time.
#
#   bash benches/loopback/run.sh                      # 20,000 × 40 B, 5 rounds, default clients
#   COUNT=2000 ROUNDS=3 bash benches/loopback/run.sh  # what .ci/run does
#   CLIENTS=s311:1,s311:16+nd,rumqttc bash benches/loopback/run.sh
#   MOSQUITTO_NODELAY=1 bash benches/loopback/run.sh  # mosquitto with set_tcp_nodelay true
#   DELAY_MS=10 COUNT=1000 CLIENTS=drain311:1,drain311:16,rumqttc bash benches/loopback/run.sh
#
# CLIENTS: comma-separated, see src/main.rs (s311:W, s5:W, drain311:W, drain5:W, rumqttc,
# minimq; "+nd" = TCP_NODELAY on that client's socket). DELAY_MS: a relay in the benchmark
# holds every chunk that long each way (a 2 × DELAY_MS round trip; this kernel has no netem).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"

count=${COUNT:-20000}
rounds=${ROUNDS:-5}
delay_ms=${DELAY_MS:-0}
clients=${CLIENTS:-s311:1,s311:16,s311:16+nd,s5:1,s5:8,rumqttc,minimq}
mosquitto=${MOSQUITTO:-/usr/sbin/mosquitto}

# Not --locked: the lock follows the crate's own dependencies (as benches/size's does).
CARGO_INCREMENTAL=0 cargo build --release --quiet
bench=${CARGO_TARGET_DIR:-$here/target}/release/sensorpub-loopback

dir=$(mktemp -d)
chmod 0777 "$dir" # mosquitto started as root drops to its own user
pid=
cleanup() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    rm -rf "$dir"
}
trap cleanup EXIT

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port=
for candidate in $(shuf -i 20000-60000 -n 50); do
    if ! listening "$candidate"; then port=$candidate; break; fi
done
test -n "$port"
{
    printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nlog_type error\n' "$port"
    if [ "${MOSQUITTO_NODELAY:-0}" = 1 ]; then echo 'set_tcp_nodelay true'; fi
} >"$dir/mosquitto.conf"
"$mosquitto" -c "$dir/mosquitto.conf" >"$dir/mosquitto.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
    if listening "$port"; then break; fi
    sleep 0.1
done
listening "$port" || { echo "mosquitto did not start:" >&2; cat "$dir/mosquitto.log" >&2; exit 1; }
echo "$("$mosquitto" -h | head -1) on 127.0.0.1:$port$([ "${MOSQUITTO_NODELAY:-0}" = 1 ] && echo ', set_tcp_nodelay true'); $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
"$bench" --port "$port" --count "$count" --rounds "$rounds" --delay-ms "$delay_ms" --clients "$clients"
