#!/usr/bin/env bash
# The network workloads of ../shared/bench/WORKLOADS.md, against eddy's example servers.
#
#   benchmarks/net_bench.sh [echo|http|all] [BUILD_DIR]     (default: all, build/release)
#   benchmarks/net_bench.sh --floor [echo|http|all]          the same workloads against
#       benchmarks/floor/uring_floor.c, a minimal liburing server in C: the same-day floor
#       (this shared VM's speed changes from day to day; compare eddy with it, minutes apart)
#
# echo: examples/echo_server pinned to CPU 1, ../shared/bench/loadgen/echo_load pinned to CPU 0,
#       for C:S = 1:64, 50:64, 256:64, 50:4096 (D = 5 s, W = 1 s).
# http: examples/http_hello pinned to CPU 1, `wrk -t1 -c{50,256} -d10s --latency` on CPU 0.
# Each run prints the load generator's line plus the figure that separates fast servers: the
# server's CPU time (utime + stime from /proc/PID/stat over the measured window) per round trip
# or request. EDDY_BACKEND (uring | epoll) is honoured. Quote medians of several runs.
# Builds echo_load and uring_floor with cc and installs wrk with apt-get when they are missing.
set -euo pipefail

floor=0
if [[ "${1:-}" == --floor ]]; then
  floor=1
  shift
fi
what="${1:-all}"
build="${2:-build/release}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
loadgen_source="$root/../shared/bench/loadgen/echo_load.c"
tools="$root/$build/bench-tools"
tick="$(getconf CLK_TCK)"

need_build() {
  [ -x "$root/$build/examples/echo_server" ] && [ -x "$root/$build/examples/http_hello" ] && return
  echo "building the release examples in $build" >&2
  cmake --preset release -B "$root/$build" >/dev/null
  cmake --build "$root/$build" --target eddy_example_echo_server eddy_example_http_hello
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

peer=eddy
if [[ $floor == 1 ]]; then
  peer=raw-uring-floor
  export EDDY_BACKEND=uring  # what the floor uses; only printed
fi

# start_server echo|http -> sets server_pid and server_port
start_server() {
  local log="$tools/server.log"
  local command=("$root/$build/examples/echo_server")
  [[ $1 == http ]] && command=("$root/$build/examples/http_hello")
  [[ $floor == 1 ]] && command=("$tools/uring_floor" "$1")
  taskset -c 1 "${command[@]}" --port 0 >"$log" 2>&1 &
  server_pid=$!
  for _ in $(seq 100); do grep -q '^listening on ' "$log" && break; sleep 0.05; done
  server_port="$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$log")"
  [ -n "$server_port" ] || { echo "server did not start:" >&2; cat "$log" >&2; exit 1; }
}

stop_server() {
  kill -TERM "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
}

echo_run() {  # echo_run CONNS SIZE
  local conns=$1 size=$2 seconds=5 warmup=1
  start_server echo
  taskset -c 0 "$tools/echo_load" 127.0.0.1 "$server_port" "$conns" "$size" "$seconds" "$warmup" >"$tools/load.out" &
  local load_pid=$!
  sleep "$warmup.05"
  local before; before="$(cpu_ticks "$server_pid")"
  sleep "$seconds"
  local after; after="$(cpu_ticks "$server_pid")"
  wait "$load_pid"
  stop_server
  local line; line="$(cat "$tools/load.out")"
  local roundtrips; roundtrips="$(grep -o 'roundtrips=[0-9]*' <<<"$line" | cut -d= -f2)"
  echo "peer=$peer backend=${EDDY_BACKEND:-auto} workload=echo $line server_cpu_us_per_rt=$(
    awk -v t=$((after - before)) -v hz="$tick" -v n="$roundtrips" 'BEGIN { printf "%.2f", t * 1e6 / hz / n }')"
}

http_run() {  # http_run CONNS
  local conns=$1 seconds=10
  start_server http
  local before; before="$(cpu_ticks "$server_pid")"
  taskset -c 0 wrk -t1 -c"$conns" -d"${seconds}s" --latency "http://127.0.0.1:$server_port/" >"$tools/wrk.out"
  local after; after="$(cpu_ticks "$server_pid")"
  stop_server
  local requests; requests="$(awk '/requests in/ {print $1}' "$tools/wrk.out")"
  local rps; rps="$(awk '/^Requests\/sec/ {print $2}' "$tools/wrk.out")"
  local p50; p50="$(awk '$1 == "50%" {print $2}' "$tools/wrk.out")"
  local p99; p99="$(awk '$1 == "99%" {print $2}' "$tools/wrk.out")"
  echo "peer=$peer backend=${EDDY_BACKEND:-auto} workload=http conns=$conns requests=$requests rps=$rps p50=$p50 p99=$p99 server_cpu_us_per_req=$(
    awk -v t=$((after - before)) -v hz="$tick" -v n="$requests" 'BEGIN { printf "%.2f", t * 1e6 / hz / n }')"
}

need_build
mkdir -p "$tools"
if [[ $floor == 1 && ! -x "$tools/uring_floor" ]]; then
  cc -O2 -o "$tools/uring_floor" "$root/benchmarks/floor/uring_floor.c" -luring
fi
if [[ "$what" == echo || "$what" == all ]]; then
  [ -x "$tools/echo_load" ] || cc -O2 -o "$tools/echo_load" "$loadgen_source"
  echo_run 1 64
  echo_run 50 64
  echo_run 256 64
  echo_run 50 4096
fi
if [[ "$what" == http || "$what" == all ]]; then
  if ! command -v wrk >/dev/null; then
    echo "installing wrk" >&2
    ${SUDO:-$( [ "$(id -u)" -eq 0 ] || echo sudo )} apt-get install -y wrk >/dev/null
  fi
  http_run 50
  http_run 256
fi
