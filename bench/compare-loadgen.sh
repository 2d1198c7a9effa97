#!/usr/bin/env bash
# compare-loadgen.sh - the load generator benchmark of issue 6:
# task-redis-bench (one thread) against redis-benchmark, both driving the
# same Debian redis-server, same connections, pipeline depth, key space
# and requests.
#
# One redis-server (`--save '' --appendonly no`, io-threads 1, a port the
# kernel says is free, a temporary directory) serves the whole run.  For
# every round, pipeline depth and test, redis-benchmark and
# task-redis-bench --threads 1 run one after the other (redis-benchmark
# first in odd rounds, ours first in even ones, so that the machine's
# drift hits both alike), each under `/usr/bin/time -f "%e %U %S"`, each
# with --csv.  SET runs before GET in each group so that GET finds its
# keys.  Per run: requests/s and p50/p99 from the tool's own CSV, and its
# CPU time (user + sys) from /usr/bin/time, divided by the requests: the
# CPU the load generator spends per request.  Then, per test and
# pipeline, the medians over the rounds and the ratios ours/theirs.
#
#   bench/compare-loadgen.sh [--bin build/redis/task-redis-bench]
#       [--rounds 5] [-c 50] [--pipelines "1 16"] [--tests set,get]
#       [-n 600000] [--n-pipelined 6000000] [-r 100000]
#       [--out FILE] [--csv FILE]
#
# -n is the request count of the -P 1 runs and --n-pipelined that of the
# others: pick them so that every run lasts 2 s or more.  Output: one line
# per run (also in --out, default a new file in /tmp), then a markdown
# table; --csv writes the table as CSV.  Every run is bounded by `timeout`
# (BENCH_TIMEOUT, 180 s) and the server is stopped by its PID.  Exits 1
# when a run failed (never averaged in).  Needs redis-server and
# redis-tools.  The machine should be otherwise idle: the server and the
# load generator share it.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
bin=$root/build/redis/task-redis-bench
rounds=5 c=50 pipelines="1 16" tests=set,get n=600000 np=6000000
keyspace=100000 out='' csv=''
usage() { sed -n '2,32p' "$0" >&2; exit 2; }
while [[ $# -gt 0 ]]; do
  [[ $# -ge 2 ]] || usage
  case $1 in
    --bin) bin=$2 ;;
    --rounds) rounds=$2 ;;
    -c) c=$2 ;;
    --pipelines | --pipeline) pipelines=$2 ;;
    --tests) tests=$2 ;;
    -n) n=$2 ;;
    --n-pipelined) np=$2 ;;
    -r) keyspace=$2 ;;
    --out) out=$2 ;;
    --csv) csv=$2 ;;
    *) usage ;;
  esac
  shift 2
done
[[ $rounds =~ ^[1-9][0-9]*$ && $c =~ ^[1-9][0-9]*$ && $n =~ ^[1-9][0-9]*$ &&
   $np =~ ^[1-9][0-9]*$ && $keyspace =~ ^[1-9][0-9]*$ ]] || usage
for p in $pipelines; do [[ $p =~ ^[1-9][0-9]*$ ]] || usage; done
[[ -x $bin ]] || { echo "compare-loadgen: $bin not built (meson compile -C build)" >&2; exit 1; }
for b in redis-server redis-benchmark redis-cli; do
  command -v $b >/dev/null ||
    { echo "compare-loadgen: missing $b: apt-get install redis-server redis-tools" >&2; exit 1; }
done
[[ -x /usr/bin/time ]] || { echo "compare-loadgen: missing /usr/bin/time: apt-get install time" >&2; exit 1; }
BENCH_TIMEOUT=${BENCH_TIMEOUT:-180}

work=$(mktemp -d /tmp/compare-loadgen.XXXXXX)
[[ -n $out ]] || out=$(mktemp /tmp/compare-loadgen-out.XXXXXX)
: >"$out"
redis_pid=''
. "$(dirname "$0")/redis-lib.sh"
cleanup() { stop_pid "$redis_pid"; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# One run: tool pipeline test round.
run_one() {
  local tool=$1 p=$2 t=$3 r=$4 reqs outp line tf="$work/time.txt" cmd
  reqs=$n; ((p > 1)) && reqs=$np
  if [[ $tool == redis-benchmark ]]; then
    cmd=(redis-benchmark)
  else
    cmd=("$bin" --threads 1)
  fi
  : >"$tf"
  outp=$(timeout --kill-after=5 "$BENCH_TIMEOUT" /usr/bin/time -f '%e %U %S' -o "$tf" \
    "${cmd[@]}" -h 127.0.0.1 -p "$redis_port" -t "$t" -n "$reqs" -c "$c" -P "$p" \
    -r "$keyspace" --csv 2>"$work/stderr.txt") || true
  line=$(grep -E '^"[A-Z]' <<<"$outp" | head -1 | tr -d '"' || true)
  local wall user sys
  read -r wall user sys <"$tf" 2>/dev/null || true
  if [[ -z $line || -z ${sys:-} ]]; then
    say "tool=$tool round=$r pipeline=$p test=${t^^} requests=$reqs rps=0 error=1"
    sed "s/^/# $tool: /" "$work/stderr.txt" | head -5 | tee -a "$out"
    return 0
  fi
  local test rps p50 p99
  IFS=, read -r test rps _ _ p50 _ p99 _ <<<"$line"
  say "tool=$tool round=$r pipeline=$p test=$test requests=$reqs rps=$rps p50_ms=$p50 p99_ms=$p99" \
    "wall_s=$wall user_s=$user sys_s=$sys" \
    "cpu_ns_per_req=$(awk -v u="$user" -v s="$sys" -v q="$reqs" 'BEGIN { printf "%.0f", (u + s) * 1e9 / q }')"
}

say "# host=$(uname -n) nproc=$(nproc) kernel=$(uname -r) date=$(date -u +%FT%TZ)" \
  "rev=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo none)"
say "# $(redis-server --version | cut -d' ' -f1-3); $(redis-benchmark --version 2>/dev/null | head -1); ours: $bin --threads 1"
start_redis
say "# redis pid=$redis_pid port=$redis_port; rounds=$rounds -c $c pipelines=\"$pipelines\" tests=$tests" \
  "-n $n (P>1: $np) -r $keyspace"

for r in $(seq "$rounds"); do
  for p in $pipelines; do
    for t in ${tests//,/ }; do
      if ((r % 2)); then
        run_one redis-benchmark "$p" "$t" "$r"; run_one ours "$p" "$t" "$r"
      else
        run_one ours "$p" "$t" "$r"; run_one redis-benchmark "$p" "$t" "$r"
      fi
    done
  done
done
kill -0 "$redis_pid" 2>/dev/null || say "# redis-server died during the benchmark"
stop_pid "$redis_pid"; redis_pid=

# ---- The table ---------------------------------------------------------------------

tsv=$work/table.tsv
awk -v tests="${tests^^}" -v pipes="$pipelines" '
  function med(arr, k,   i, j, t) {
    for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (arr[j] < arr[i]) { t = arr[i]; arr[i] = arr[j]; arr[j] = t }
    return k % 2 ? arr[(k + 1) / 2] : (arr[k / 2] + arr[k / 2 + 1]) / 2
  }
  /^tool=/ { delete f; for (i = 1; i <= NF; i++) if (split($i, kv, "=") == 2) f[kv[1]] = kv[2]
    key = f["pipeline"] " " f["test"] " " f["tool"]
    if (f["error"]) { err[f["pipeline"] " " f["test"]]++; next }
    k = ++cnt[key]
    R[key, k] = f["rps"]; C[key, k] = f["user_s"] + f["sys_s"]; N[key, k] = f["cpu_ns_per_req"]
    A[key, k] = f["p50_ms"]; B[key, k] = f["p99_ms"] }
  END {
    nt = split(tests, T, ","); np = split(pipes, P, " ")
    for (b = 1; b <= np; b++) for (a = 1; a <= nt; a++) {
      for (s = 1; s <= 2; s++) {
        tool = s == 1 ? "redis-benchmark" : "ours"; key = P[b] " " T[a] " " tool; k = cnt[key]
        delete x; delete y; delete z; delete u; delete v
        for (i = 1; i <= k; i++) { x[i] = R[key, i]; y[i] = C[key, i]; z[i] = N[key, i]; u[i] = A[key, i]; v[i] = B[key, i] }
        MR[s] = k ? med(x, k) : 0; MC[s] = k ? med(y, k) : 0; MN[s] = k ? med(z, k) : 0
        M50[s] = k ? med(u, k) : 0; M99[s] = k ? med(v, k) : 0
      }
      printf "%s\t%s\t%.0f\t%.0f\t%.2f\t%.2f\t%.2f\t%.0f\t%.0f\t%.2f\t%.3f\t%.3f\t%.3f\t%.3f\t%d\n",
        T[a], P[b], MR[1], MR[2], MR[1] ? MR[2] / MR[1] : 0, MC[1], MC[2], MN[1], MN[2],
        MN[1] ? MN[2] / MN[1] : 0, M50[1], M50[2], M99[1], M99[2], err[P[b] " " T[a]] + 0
    }
  }' "$out" >"$tsv"

if [[ -n $csv ]]; then
  mkdir -p "$(dirname "$csv")"
  {
    echo "test,pipeline,rb_rps,ours_rps,rps_ratio,rb_cpu_s,ours_cpu_s,rb_cpu_ns_per_req,ours_cpu_ns_per_req,cpu_per_req_ratio,rb_p50_ms,ours_p50_ms,rb_p99_ms,ours_p99_ms,failed_runs"
    tr '\t' ',' <"$tsv"
  } >"$csv"
fi

echo
echo "Load generators on one redis-server ($(redis-server --version | sed -n 's/.* v=\([^ ]*\).*/\1/p')), -c $c -r $keyspace," \
  "-n $n (-P 1) / $np (-P > 1), medians of $rounds interleaved rounds;"
echo "rb = redis-benchmark, ours = task-redis-bench --threads 1; CPU = user + sys of the load generator (/usr/bin/time):"
echo
echo "| test | -P | rb req/s | ours req/s | ours/rb req/s | rb CPU s | ours CPU s | rb CPU ns/req | ours CPU ns/req | ours/rb CPU/req | p50 ms rb / ours | p99 ms rb / ours | failed runs |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
awk -F'\t' '
  function group(v,   s) { s = sprintf("%.0f", v); while (s ~ /[0-9][0-9][0-9][0-9]/) sub(/[0-9][0-9][0-9]($|,)/, ",&", s); return s }
  { printf "| %s | %s | %s | %s | **%.2f** | %.2f | %.2f | %d | %d | **%.2f** | %.3f / %.3f | %.3f / %.3f | %d |\n",
    $1, $2, group($3), group($4), $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15 }' "$tsv"
[[ -n $csv ]] && echo "csv: $csv"
echo "raw output: $out"
if grep -q ' error=1$' "$out"; then
  echo "compare-loadgen: $(grep -c ' error=1$' "$out") runs failed (see the lines with error=1)" >&2
  exit 1
fi
