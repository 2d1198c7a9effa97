#!/usr/bin/env bash
# compare-redis.sh - the Redis benchmark of issue 5: libtask's
# task-redis-server against Debian's redis-server 7.0, side by side.
#
# Throughput: both servers run at once, each on a port the kernel says is
# free (ours binds port 0 itself and logs the port it got); redis-benchmark
# drives one server at a time, one test at a time, interleaved: for every
# round, pipeline depth and test, Redis then ours (ours then Redis in even
# rounds), so that the machine's drift hits both alike.  Redis runs as the
# reference runs it (`--save '' --appendonly no`, io-threads 1).  Prints
# each run's line, then per test and pipeline the medians over the rounds
# of requests/s, the ratio ours/Redis, both servers' p50 and p99, the
# server's CPU time per request (all its threads, from
# /proc/PID/task/*/schedstat) and how busy redis-benchmark was (its CPU
# time over its wall time, /usr/bin/time): at 100% the load generator,
# not the server, sets the pace.
#
# Memory: a fresh pair of servers each gets exactly --mem-keys keys
# (key:000000000001.. holding 16-byte values) through `redis-cli --pipe`;
# the growth of VmRSS (/proc/PID/status) over the freshly started server,
# divided by the keys, is the cost of a key.
#
#   bench/compare-redis.sh [--bin build/redis/task-redis-server] [--rounds 3]
#       [-n 200000] [-c 50] [--pipelines "1 16"]
#       [--tests ping_inline,set,get,incr,mset] [-r KEYSPACE]
#       [--mode all|bench|mem] [--mem-keys 1000000]
#       [--server-args "ARGS for ours"] [--out FILE]
#       [--csv docs/redis-bench.csv] [--plot docs/redis-bench.png]
#
# Output: run lines (also in --out, default a new file in /tmp), then a
# markdown table; a CSV of the table (--csv; the memory rows go to the same
# name with -mem before .csv) and a PNG of grouped bars (--plot) when
# gnuplot is installed.  Every client run is bounded by `timeout`
# (BENCH_TIMEOUT, 180 s); every server is stopped by its PID.  Exits 1
# when a run failed (its row counts it; it is never averaged in).  Needs
# redis-server and redis-tools (redis-benchmark, redis-cli).  The machine
# must be otherwise idle: both servers and the load generator share it.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
bin=$root/build/redis/task-redis-server
rounds=3 n=200000 c=50 pipelines="1 16" tests=ping_inline,set,get,incr,mset
keyspace='' mode=all mem_keys=1000000 server_args='' out=''
csv=$root/docs/redis-bench.csv plot=$root/docs/redis-bench.png
usage() { sed -n '2,33p' "$0" >&2; exit 2; }
while [[ $# -gt 0 ]]; do
  [[ $# -ge 2 ]] || usage
  case $1 in
    --bin) bin=$2 ;;
    --rounds) rounds=$2 ;;
    -n) n=$2 ;;
    -c) c=$2 ;;
    --pipelines | --pipeline) pipelines=$2 ;;
    --tests) tests=$2 ;;
    -r) keyspace=$2 ;;
    --mode) mode=$2 ;;
    --mem-keys) mem_keys=$2 ;;
    --server-args) server_args=$2 ;;
    --out) out=$2 ;;
    --csv) csv=$2 ;;
    --plot) plot=$2 ;;
    *) usage ;;
  esac
  shift 2
done
case $mode in all | bench | mem) ;; *) usage ;; esac
[[ $rounds =~ ^[1-9][0-9]*$ && $n =~ ^[1-9][0-9]*$ && $c =~ ^[1-9][0-9]*$ &&
   $mem_keys =~ ^[1-9][0-9]*$ ]] || usage
[[ -x $bin ]] || { echo "compare-redis: $bin not built (meson compile -C build)" >&2; exit 1; }
for b in redis-server redis-benchmark redis-cli; do
  command -v $b >/dev/null ||
    { echo "compare-redis: missing $b: apt-get install redis-server redis-tools" >&2; exit 1; }
done
BENCH_TIMEOUT=${BENCH_TIMEOUT:-180}
redis_ver=$(redis-server --version | sed -n 's/.* v=\([^ ]*\).*/\1/p')

work=$(mktemp -d /tmp/compare-redis.XXXXXX)
[[ -n $out ]] || out=$(mktemp /tmp/compare-redis-out.XXXXXX)
: >"$out"
redis_pid='' ours_pid=''
. "$(dirname "$0")/redis-lib.sh"
stop_servers() {
  stop_pid "$redis_pid"; redis_pid=
  stop_pid "$ours_pid"; ours_pid=
}
cleanup() { stop_servers; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

start_ours() {
  # shellcheck disable=SC2086 # --server-args is split on purpose
  "$bin" --port 0 $server_args >"$work/ours.log" 2>&1 &
  ours_pid=$!
  local line
  for _ in $(seq 150); do
    line=$(grep -m1 -o 'Ready to accept connections tcp on [^ ]*' "$work/ours.log" || true)
    if [[ -n $line ]]; then
      ours_port=${line##*:}
      return 0
    fi
    kill -0 "$ours_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "compare-redis: $bin did not start:" >&2
  cat "$work/ours.log" >&2
  exit 1
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

port_of() { if [[ $1 == redis ]]; then echo "$redis_port"; else echo "$ours_port"; fi; }
pid_of() { if [[ $1 == redis ]]; then echo "$redis_pid"; else echo "$ours_pid"; fi; }

# CPU time in ns that process $1 has run so far, all its threads
# (schedstat's first field: exact, unlike the 10 ms ticks of /proc/PID/stat).
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f", s }'; }

# One redis-benchmark run: server pipeline test round.
bench_one() {
  local name=$1 p=$2 t=$3 r=$4 port outp line rargs=()
  port=$(port_of "$name")
  [[ -n $keyspace ]] && rargs=(-r "$keyspace")
  # A server that died or hangs gets a failed run, not a benchmark that
  # waits for it until BENCH_TIMEOUT.
  if [[ $(timeout 5 redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null) != PONG ]]; then
    say "server=$name round=$r pipeline=$p clients=$c requests=$n test=${t^^} rps=0 p50_ms=0 p99_ms=0 error=1"
    say "# $name: no PONG on port $port: not running?"
    return 0
  fi
  # The server's CPU per request, and how busy the load generator was: at
  # 100% it, not the server, sets the pace.
  local pid cpu0 cpu1 tf="$work/time.txt"
  pid=$(pid_of "$name")
  cpu0=$(cpu_ns "$pid")
  outp=$(timeout --kill-after=5 "$BENCH_TIMEOUT" /usr/bin/time -f '%e %U %S' -o "$tf" \
    redis-benchmark -h 127.0.0.1 -p "$port" \
    -t "$t" -n "$n" -c "$c" -P "$p" "${rargs[@]}" --csv 2>&1 | tr '\r' '\n') || true
  cpu1=$(cpu_ns "$pid")
  grep -q 'Could not fetch server CONFIG' <<<"$outp" &&
    say "# $name: redis-benchmark: Could not fetch server CONFIG"
  line=$(grep -E '^"[A-Za-z_ ()0-9]+",' <<<"$outp" | grep -v '^"test"' | head -1 | tr -d '"' || true)
  if [[ -z $line ]]; then
    say "server=$name round=$r pipeline=$p clients=$c requests=$n test=${t^^} rps=0 p50_ms=0 p99_ms=0 error=1"
    grep -E '^(Error|ERR|Server)' <<<"$outp" | sort -u | sed "s/^/# $name: /" | tee -a "$out" || true
    return 0
  fi
  local test rps p50 p99
  IFS=, read -r test rps _ _ p50 _ p99 _ <<<"$line"
  test=${test%% *} # "MSET (10 keys)" -> MSET
  local srv_ns client_pct
  srv_ns=$(awk -v a="$cpu0" -v b="$cpu1" -v n="$n" 'BEGIN { printf "%.0f", (b - a) / n }')
  client_pct=$(awk '{ if ($1 > 0) printf "%.0f", ($2 + $3) / $1 * 100; else print 0 }' "$tf" 2>/dev/null || echo 0)
  say "server=$name round=$r pipeline=$p clients=$c requests=$n test=$test rps=$rps p50_ms=$p50 p99_ms=$p99 server_ns_per_req=$srv_ns bench_cpu_pct=$client_pct"
}

header() {
  say "# host=$(uname -n) nproc=$(nproc) kernel=$(uname -r) date=$(date -u +%FT%TZ)" \
    "rev=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo none)"
  say "# $(redis-server --version | cut -d' ' -f1-3); ours: $bin $server_args"
}

# ---- Throughput ----------------------------------------------------------------

run_bench() {
  start_redis
  start_ours
  say "# bench: redis pid=$redis_pid port=$redis_port; ours pid=$ours_pid port=$ours_port;" \
    "rounds=$rounds -n $n -c $c pipelines=\"$pipelines\" tests=$tests${keyspace:+ -r $keyspace}"
  local r p t
  for r in $(seq "$rounds"); do
    for p in $pipelines; do
      for t in ${tests//,/ }; do
        if ((r % 2)); then
          bench_one redis "$p" "$t" "$r"; bench_one ours "$p" "$t" "$r"
        else
          bench_one ours "$p" "$t" "$r"; bench_one redis "$p" "$t" "$r"
        fi
      done
    done
  done
  if ! kill -0 "$redis_pid" 2>/dev/null; then
    say "# redis-server died during the benchmark"
  fi
  if ! kill -0 "$ours_pid" 2>/dev/null; then
    say "# $bin died during the benchmark; its log ends with:"
    tail -20 "$work/ours.log" | tee -a "$out"
  fi
  stop_servers
}

# ---- Memory ------------------------------------------------------------------------

# redis-cli --pipe input: SET key:%012d %016d for 1..N (16-byte keys and values).
gen_sets() {
  awk -v n="$1" 'BEGIN { for (i = 1; i <= n; i++)
    printf "*3\r\n$3\r\nSET\r\n$16\r\nkey:%012d\r\n$16\r\n%016d\r\n", i, i }'
}

mem_one() { # name pid port
  local name=$1 pid=$2 port=$3 before after res dbsize
  sleep 0.5
  before=$(rss_kb "$pid")
  res=$(gen_sets "$mem_keys" | timeout --kill-after=5 "$BENCH_TIMEOUT" redis-cli -p "$port" --pipe 2>&1 |
    tr '\r' '\n' | grep -E 'errors: [0-9]+, replies: [0-9]+' || true)
  sleep 0.5
  after=$(rss_kb "$pid")
  dbsize=$(timeout 30 redis-cli -p "$port" dbsize 2>/dev/null || echo 0)
  local bad=''
  [[ $res == "errors: 0, replies: $mem_keys" && $dbsize == "$mem_keys" ]] || bad=' error=1'
  say "mem server=$name keys=$mem_keys dbsize=$dbsize rss_before_kb=$before rss_after_kb=$after" \
    "bytes_per_key=$(awk -v a="$after" -v b="$before" -v k="$mem_keys" 'BEGIN { printf "%.1f", (a - b) * 1024 / k }')" \
    "pipe=\"${res:-no summary}\"$bad"
}

run_mem() {
  start_redis
  start_ours
  mem_one redis "$redis_pid" "$redis_port"
  mem_one ours "$ours_pid" "$ours_port"
  stop_servers
}

header
[[ $mode == mem ]] || run_bench
[[ $mode == bench ]] || run_mem

# ---- Tables ----------------------------------------------------------------------

mkdir -p "$(dirname "$csv")" "$(dirname "$plot")"
tsv=$work/table.tsv
if [[ $mode != mem ]]; then
  # Medians over the rounds, per pipeline and test (in --tests order).
  awk -v tests="${tests^^}" -v pipes="$pipelines" '
    function med(arr, k,   i, j, t) {
      for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (arr[j] < arr[i]) { t = arr[i]; arr[i] = arr[j]; arr[j] = t }
      return k % 2 ? arr[(k + 1) / 2] : (arr[k / 2] + arr[k / 2 + 1]) / 2
    }
    /^server=/ { delete f; for (i = 1; i <= NF; i++) if (split($i, kv, "=") == 2) f[kv[1]] = kv[2]
      key = f["pipeline"] " " f["test"] " " f["server"]
      if (f["error"]) { err[f["pipeline"] " " f["test"]]++; next }
      cnt[key]++; R[key, cnt[key]] = f["rps"]; A[key, cnt[key]] = f["p50_ms"]; B[key, cnt[key]] = f["p99_ms"]
      S[key, cnt[key]] = f["server_ns_per_req"] + 0; U[key, cnt[key]] = f["bench_cpu_pct"] + 0 }
    END {
      nt = split(tests, T, ","); np = split(pipes, P, " ")
      for (b = 1; b <= np; b++) for (a = 1; a <= nt; a++) {
        t = T[a]
        for (s = 1; s <= 2; s++) {
          srv = s == 1 ? "redis" : "ours"; key = P[b] " " t " " srv; k = cnt[key]
          delete x; delete y; delete z; delete v; delete w
          for (i = 1; i <= k; i++) { x[i] = R[key, i]; y[i] = A[key, i]; z[i] = B[key, i]; v[i] = S[key, i]; w[i] = U[key, i] }
          M[srv] = k ? med(x, k) : 0; Q50[srv] = k ? med(y, k) : 0; Q99[srv] = k ? med(z, k) : 0
          NS[srv] = k ? med(v, k) : 0; CPU[srv] = k ? med(w, k) : 0
        }
        printf "%s\t%s\t%.0f\t%.0f\t%.2f\t%.3f\t%.3f\t%.3f\t%.3f\t%d\t%.0f\t%.0f\t%.0f\t%.0f\n", t, P[b], M["redis"], M["ours"],
          M["redis"] ? M["ours"] / M["redis"] : 0, Q50["redis"], Q50["ours"], Q99["redis"], Q99["ours"],
          err[P[b] " " t] + 0, NS["redis"], NS["ours"], CPU["redis"], CPU["ours"]
      }
    }' "$out" >"$tsv"

  {
    echo "test,pipeline,redis_rps,ours_rps,ratio,redis_p50_ms,ours_p50_ms,redis_p99_ms,ours_p99_ms,failed_runs,redis_server_ns_per_req,ours_server_ns_per_req,redis_bench_cpu_pct,ours_bench_cpu_pct"
    tr '\t' ',' <"$tsv"
  } >"$csv"

  echo
  echo "redis-benchmark -c $c -n $n${keyspace:+ -r $keyspace}, medians of $rounds interleaved rounds (Redis $redis_ver vs task-redis-server):"
  echo
  echo "| test | pipeline | Redis req/s | ours req/s | ours/Redis | p50 ms Redis / ours | p99 ms Redis / ours | server CPU ns/req Redis / ours | redis-benchmark CPU % Redis / ours | failed runs |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  awk -F'\t' '
    function group(v,   s) { s = sprintf("%.0f", v); while (s ~ /[0-9][0-9][0-9][0-9]/) sub(/[0-9][0-9][0-9]($|,)/, ",&", s); return s }
    { printf "| %s | %s | %s | %s | %.2f | %.3f / %.3f | %.3f / %.3f | %d / %d | %d / %d | %d |\n",
      $1, $2, group($3), group($4), $5, $6, $7, $8, $9, $11, $12, $13, $14, $10 }' "$tsv"

  if command -v gnuplot >/dev/null; then
    # One panel per pipeline depth: grouped bars of req/s, the ratio above.
    np=$(wc -w <<<"$pipelines")
    {
      echo "set terminal pngcairo size $((520 * np)),460 font 'sans,10' noenhanced"
      echo "set output '$plot'"
      echo "set multiplot layout 1,$np title 'redis-benchmark -c $c -n $n: Redis $redis_ver vs task-redis-server (median of $rounds rounds; ours/Redis above the bars)'"
      echo "set style data histograms; set style histogram clustered gap 1; set style fill solid 0.85 border -1"
      echo "set boxwidth 0.9; set grid ytics; set yrange [0:*]; set offsets 0, 0, graph 0.1, 0"
      echo "set ylabel 'thousand requests/s'; set key below horizontal; set bmargin 5"
      for p in $pipelines; do
        awk -F'\t' -v p="$p" '$2 == p { print $1, $3, $4, $5 }' "$tsv" >"$work/p$p.dat"
        echo "set title '-P $p'"
        echo "plot '$work/p$p.dat' using (\$2/1000):xtic(1) title 'Redis $redis_ver' lc rgb '#c0392b', '' using (\$3/1000) title 'task-redis-server' lc rgb '#2471a3', '' using (\$0):((\$2 > \$3 ? \$2 : \$3) / 1000 * 1.05):(sprintf('%.2f', \$4)) with labels notitle"
      done
      echo "unset multiplot"
    } >"$work/plot.gp"
    if gnuplot "$work/plot.gp" 2>"$work/gnuplot.err"; then
      echo; echo "plot: $plot"
    else
      echo "# gnuplot failed:" >&2; cat "$work/gnuplot.err" >&2
    fi
  else
    echo
    echo "# no plot: gnuplot is not installed (apt-get install gnuplot-nox)"
  fi
  echo "csv: $csv"
fi

if [[ $mode != bench ]]; then
  memcsv=${csv%.csv}-mem.csv
  awk '/^mem / { delete f; for (i = 2; i <= NF; i++) if (split($i, kv, "=") == 2) f[kv[1]] = kv[2]
      print f["server"], f["keys"], f["dbsize"], f["rss_before_kb"], f["rss_after_kb"], f["bytes_per_key"] }' \
    "$out" >"$work/mem.txt"
  {
    echo "server,keys,dbsize,rss_before_kb,rss_after_kb,bytes_per_key"
    tr ' ' ',' <"$work/mem.txt"
  } >"$memcsv"
  echo
  echo "Memory: $mem_keys keys (16-byte keys and values) loaded with redis-cli --pipe into a fresh server:"
  echo
  echo "| server | keys (DBSIZE) | RSS before | RSS after | bytes per key |"
  echo "|---|---|---|---|---|"
  awk -v v="$redis_ver" '{ printf "| %s | %s | %.1f MB | %.1f MB | %s |\n", $1 == "ours" ? "task-redis-server" : "Redis " v, $3, $4 / 1024, $5 / 1024, $6 }' "$work/mem.txt"
  awk '{ b[$1] = $6 } END { if (b["redis"] > 0) printf "\nours/Redis bytes per key: %.2f\n", b["ours"] / b["redis"] }' "$work/mem.txt"
  echo "csv: $memcsv"
fi
echo "raw output: $out"
if grep -q ' error=1$' "$out"; then
  echo "compare-redis: $(grep -c ' error=1$' "$out") runs failed (see the lines with error=1)" >&2
  exit 1
fi
