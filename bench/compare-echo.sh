#!/usr/bin/env bash
# compare-echo.sh - the TCP echo benchmark of issue 4: libtask's
# task-echo-server against the Tokio peer's echo server (tokio-bench --mode
# echo-server) and the single-threaded epoll ceiling (epoll-echo.c), all
# three running at once on their own ephemeral-range ports, driven by the
# shared load generator (echo-load.c) one run at a time, interleaved
# tokio, epoll, libtask in every round of every configuration, so that the
# machine's drift hits all three alike.  Prints each run's line, then a
# table of medians over the rounds with the ratios the issue sets targets
# on (msgs/s: libtask / ceiling and libtask / tokio; p99: libtask vs both).
#
#   bench/compare-echo.sh [--bin build/bench/task-echo-server] [--rounds 3]
#       [--conns "1 50 500"] [--pipeline "1 16"] [--size 64] [--duration 5]
#       [--workers 2] [--peers ../shared/peers]
#
# Needs cargo and Debian's librust-tokio-dev (the peer builds offline) and
# a C compiler.  Every server is stopped by PID at the end.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bin=$here/../build/bench/task-echo-server
peers=$here/../../shared/peers
rounds=3 conns="1 50 500" pipelines="1 16" size=64 duration=5 warmup=0.5
workers=2
while [[ $# -gt 0 ]]; do
  case $1 in
    --bin) bin=$2; shift ;;
    --rounds) rounds=$2; shift ;;
    --conns) conns=$2; shift ;;
    --pipeline) pipelines=$2; shift ;;
    --size) size=$2; shift ;;
    --duration) duration=$2; shift ;;
    --workers) workers=$2; shift ;;
    --peers) peers=$2; shift ;;
    *) sed -n '2,17p' "$0" >&2; exit 2 ;;
  esac
  shift
done
[[ -x $bin ]] || { echo "compare-echo: $bin not built (meson compile -C build)" >&2; exit 1; }
peers=$(cd "$peers" && pwd)

mkdir -p /tmp/peers
load=/tmp/peers/echo-load
epoll=/tmp/peers/epoll-echo
[[ -x $load && $load -nt $peers/echo-load.c ]] || cc -O2 -o "$load" "$peers/echo-load.c"
[[ -x $epoll && $epoll -nt $peers/epoll-echo.c ]] || cc -O2 -o "$epoll" "$peers/epoll-echo.c"
[[ -d /root/.cargo/bin && ":$PATH:" != *":/root/.cargo/bin:"* ]] && PATH=/root/.cargo/bin:$PATH
(cd "$peers/tokio-bench" && cargo build --release --offline --quiet)
tokio_bin=/tmp/peers/target/tokio-bench/release/tokio-bench

work=$(mktemp -d /tmp/compare-echo.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# A free port from the kernel: bind port 0, read it back, release it.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_up() {
  for _ in $(seq 100); do up "$1" && return 0; sleep 0.1; done
  echo "compare-echo: nothing listening on $1" >&2; exit 1
}

limit=$(( $(wc -w <<<"$conns") * $(wc -w <<<"$pipelines") * rounds * 3 * (${duration%.*} + 8) + 120 ))
p_tokio=$(free_port)
"$tokio_bin" --mode echo-server --port "$p_tokio" --workers "$workers" \
  --time-limit "$limit" >"$work/tokio.log" 2>&1 &
pids+=($!)
p_epoll=$(free_port)
"$epoll" "$p_epoll" >"$work/epoll.log" 2>&1 &
pids+=($!)
p_ours=$(free_port)
"$bin" --port "$p_ours" --workers "$workers" --time-limit "$limit" \
  >"$work/ours.log" 2>&1 &
pids+=($!)
wait_up "$p_tokio"; wait_up "$p_epoll"; wait_up "$p_ours"

echo "# host=$(uname -n) nproc=$(nproc) kernel=$(uname -r) date=$(date -u +%FT%TZ) workers=$workers rounds=$rounds duration_s=$duration size=$size"
per_run=$(( ${duration%.*} + 20 ))
for c in $conns; do
  for k in $pipelines; do
    for r in $(seq "$rounds"); do
      for s in tokio epoll libtask; do
        case $s in tokio) p=$p_tokio ;; epoll) p=$p_epoll ;; libtask) p=$p_ours ;; esac
        line=$(timeout --kill-after=5 "$per_run" "$load" --host 127.0.0.1 --port "$p" \
          --conns "$c" --size "$size" --pipeline "$k" --duration "$duration" \
          --warmup "$warmup" 2>/dev/null | grep '^echo ' || true)
        [[ -n $line ]] || line="echo conns=$c size=$size pipeline=$k msgs_per_s=0 p50_us=0 p99_us=0 errors=-1"
        echo "server=$s round=$r $line" | tee -a "$work/results"
        sleep 0.2
      done
    done
  done
done

echo
echo "| conns | pipeline | tokio msgs/s | epoll (ceiling) | libtask | libtask/ceiling | libtask/tokio | p99 µs tokio / epoll / libtask | errors |"
echo "|---|---|---|---|---|---|---|---|---|"
awk -v conns="$conns" -v pipes="$pipelines" '
  function med(arr, n,   i, j, t) {
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (arr[j] < arr[i]) { t = arr[i]; arr[i] = arr[j]; arr[j] = t }
    return n % 2 ? arr[(n + 1) / 2] : (arr[n / 2] + arr[n / 2 + 1]) / 2
  }
  { delete f; for (i = 1; i <= NF; i++) if (split($i, kv, "=") == 2) f[kv[1]] = kv[2]
    key = f["conns"] " " f["pipeline"] " " f["server"]
    n[key]++; m[key, n[key]] = f["msgs_per_s"]; q[key, n[key]] = f["p99_us"]
    if (f["errors"] != 0) err[f["conns"] " " f["pipeline"]] += (f["errors"] < 0 ? 1 : f["errors"]) }
  END {
    nc = split(conns, C, " "); np = split(pipes, P, " ")
    for (a = 1; a <= nc; a++) for (b = 1; b <= np; b++) {
      split("tokio epoll libtask", S, " ")
      for (s = 1; s <= 3; s++) {
        key = C[a] " " P[b] " " S[s]; k = n[key]
        delete x; delete y
        for (i = 1; i <= k; i++) { x[i] = m[key, i]; y[i] = q[key, i] }
        M[S[s]] = k ? med(x, k) : 0; Q[S[s]] = k ? med(y, k) : 0
      }
      printf "| %s | %s | %.0f | %.0f | %.0f | %.2f | %.2f | %.0f / %.0f / %.0f | %d |\n", C[a], P[b],
        M["tokio"], M["epoll"], M["libtask"],
        M["epoll"] ? M["libtask"] / M["epoll"] : 0, M["tokio"] ? M["libtask"] / M["tokio"] : 0,
        Q["tokio"], Q["epoll"], Q["libtask"], err[C[a] " " P[b]] + 0
    }
  }' "$work/results"
