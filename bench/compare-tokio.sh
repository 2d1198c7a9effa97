#!/usr/bin/env bash
# compare-tokio.sh - run the Tokio peer and libtask's task-bench side by side
# and print a table of medians, ratios and targets.
#
#   bench/compare-tokio.sh                       # 3 rounds, timed + memory
#   bench/compare-tokio.sh --rounds 5 --iters 100 --out /tmp/cmp.txt
#   bench/compare-tokio.sh --only yield_many --mode bench
#   bench/compare-tokio.sh --rounds 3 --only ping_pong,channel_mpsc
#
# Workloads the shared peer lacks (mutex_contended, mutex_handoff) run on
# their Tokio twins in bench/tokio-twin, a crate built the same way
# (offline, Debian's packaged tokio) and printing the same lines.
#
# Timer workloads (timer_churn, timer_churn_tasks, timer_fire): the target
# (<= 0.5) applies to timer_churn and timer_fire; timer_churn_tasks is
# reported with its ratio only.  The comment lines both sides print about
# them (timers fired before the abort, the spawn phase of timer_fire) are
# shown under the table, one per side and round.
#
# Each round runs the peer (shared/peers/run-tokio-bench.sh) and then ours,
# with the same flags, so that machine noise is spread over both sides:
# tokio, ours, tokio, ours, ...  A round is one `--mode bench` run of each
# and, unless --mode bench, one `--mode mem` run of each per kind (pending,
# notify; a fresh process per side, kind and round).  The table shows, per workload, the
# median over the rounds of each side's ns_per_op_median, the ratio
# ours/tokio and the target (ratio <= 0.5); for idle_tasks_mem, the median
# rss_bytes_per_task of each side, per kind, and ours minus its frame_bytes
# (target for kind=pending: at most 64 bytes of runtime overhead beyond the
# frame; kind=notify is reported with its ratio, without a target).
#
# The environment is passed through unchanged to both sides (results depend
# on glibc malloc settings such as GLIBC_TUNABLES; the ones set are printed).
# Raw output of every run goes to --out (default: a new file in /tmp).
#
# Where things are: shared/ is $SHARED_DIR, else <repo>/../shared; our
# binary is --bin, else $TASK_BENCH, else <repo>/build/bench/task-bench.
# Exit status: 0, or 1 if a run failed (its numbers are then missing), 2 for
# bad arguments; with --strict also 1 if any target is missed.
set -euo pipefail

usage()
{
        cat >&2 <<'EOF'
usage: compare-tokio.sh [--rounds R(3)] [--workers N(2)] [--iters K(50)]
                        [--warmup W(5)] [--only a,b,...] [--mode bench|mem|all (all)]
                        [--mem-tasks N(1000000)] [--bin PATH] [--out FILE]
                        [--time-limit SECS(600), per run] [--strict]
EOF
        exit 2
}

die()
{
        echo "compare-tokio: $*" >&2
        exit 1
}

rounds=3 workers=2 iters=50 warmup=5 only="" mode=all mem_tasks=1000000
bin=${TASK_BENCH:-} out="" time_limit=600 strict=0
while [[ $# -gt 0 ]]; do
        [[ $1 == --strict || $1 == -h || $1 == --help || $# -ge 2 ]] || usage
        case $1 in
                --rounds) rounds=$2; shift 2 ;;
                --workers) workers=$2; shift 2 ;;
                --iters) iters=$2; shift 2 ;;
                --warmup) warmup=$2; shift 2 ;;
                --only) only=$2; shift 2 ;;
                --mode) mode=$2; shift 2 ;;
                --mem-tasks) mem_tasks=$2; shift 2 ;;
                --bin) bin=$2; shift 2 ;;
                --out) out=$2; shift 2 ;;
                --time-limit) time_limit=$2; shift 2 ;;
                --strict) strict=1; shift ;;
                -h|--help) usage ;;
                *) usage ;;
        esac
done
for n in "$rounds" "$workers" "$iters" "$mem_tasks" "$time_limit"; do
        [[ $n =~ ^[0-9]+$ && $n -gt 0 ]] || usage
done
[[ $warmup =~ ^[0-9]+$ ]] || usage
[[ $mode == bench || $mode == mem || $mode == all ]] || usage

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(git -C "$here" rev-parse --show-toplevel 2>/dev/null) || top=$(cd "$here/.." && pwd)
shared=${SHARED_DIR:-$top/../shared}
peer=$shared/peers/run-tokio-bench.sh
bin=${bin:-$top/build/bench/task-bench}
[[ -x $peer ]] || die "no Tokio peer at $peer (set SHARED_DIR)"
[[ -x $bin ]] || die "no task-bench at $bin (build it, or pass --bin / set TASK_BENCH)"

# Compare only what task-bench implements: its usage line lists it.
ours_list=$("$bin" --help 2>&1 | sed -n 's/^workloads: //p' || true)
[[ -n $ours_list ]] || die "$bin --help printed no workload list"
[[ -n $only ]] || only=$ours_list
# Split the list: the twin's workloads (its usage line lists them), and
# the peer's (everything else).  The twin is built only when it will run.
peer_only="" twin_only="" twin=""
if [[ $mode != mem ]]; then
        [[ -d /root/.cargo/bin && ":$PATH:" != *":/root/.cargo/bin:"* ]] && PATH=/root/.cargo/bin:$PATH
        (cd "$here/tokio-twin" && cargo build --release --offline --quiet) ||
                die "cannot build bench/tokio-twin (needs cargo and librust-tokio-dev)"
        twin=/tmp/libtask-tokio-twin/target/release/tokio-twin
        # (--help exits 2 by design: || true, or pipefail ends the script.)
        twin_known=,$("$twin" --help 2>&1 | sed -n 's/^workloads: //p' || true),
        [[ $twin_known != ",," ]] || die "$twin --help printed no workload list"
fi
IFS=, read -r -a only_arr <<<"$only"
for w in "${only_arr[@]}"; do
        if [[ -n $twin && ${twin_known:-} == *",$w,"* ]]; then
                twin_only+=${twin_only:+,}$w
        else
                peer_only+=${peer_only:+,}$w
        fi
done

if [[ -z $out ]]; then
        out=$(mktemp /tmp/compare-tokio.XXXXXX.txt)
fi
: >"$out" || die "cannot write $out"

common=(--workers "$workers" --time-limit "$time_limit")
bench_args=(--mode bench --iters "$iters" --warmup "$warmup" --only "$only" "${common[@]}")
peer_args=(--mode bench --iters "$iters" --warmup "$warmup" --only "$peer_only" "${common[@]}")
twin_args=(--iters "$iters" --warmup "$warmup" --only "$twin_only" --workers "$workers")
mem_args=(--mode mem --mem-tasks "$mem_tasks" "${common[@]}")

{
        echo "# compare-tokio: date=$(date -u +%FT%TZ) host=$(uname -n) nproc=$(nproc) rounds=$rounds"
        echo "# compare-tokio: ours=$bin peer=$peer"
        env | grep -E '^(GLIBC_|MALLOC_|LD_PRELOAD=|LIBTASK_)' | sed 's/^/# compare-tokio: env /' || true
} | tee -a "$out" >&2

failed=0
# run SIDE ROUND WHAT CMD...: append the run's stdout (and a marker line
# the table is built from) to $out; stderr goes to ours.
run()
{
        local side=$1 round=$2 what=$3 rc=0
        shift 3
        echo "# compare-tokio: round=$round side=$side run=$what" >>"$out"
        echo "# round $round: $side $what" >&2
        if [[ $side == tokio ]]; then
                TIME_LIMIT=$((time_limit + 60)) "$@" >>"$out" || rc=$?
        else
                timeout --kill-after=10 "$((time_limit + 60))" "$@" >>"$out" || rc=$?
        fi
        if [[ $rc -ne 0 ]]; then
                echo "# compare-tokio: round=$round side=$side run=$what FAILED rc=$rc" | tee -a "$out" >&2
                failed=1
        fi
}

for ((r = 1; r <= rounds; r++)); do
        if [[ $mode != mem ]]; then
                [[ -z $peer_only ]] || run tokio "$r" bench "$peer" "${peer_args[@]}"
                [[ -z $twin_only ]] || run tokio "$r" bench-twin timeout --kill-after=10 "$((time_limit + 60))" "$twin" "${twin_args[@]}"
                run ours "$r" bench "$bin" "${bench_args[@]}"
        fi
        if [[ $mode != bench ]]; then
                for kind in pending notify; do
                        run tokio "$r" "mem-$kind" "$peer" "${mem_args[@]}" --mem-kind "$kind"
                        run ours "$r" "mem-$kind" "$bin" "${mem_args[@]}" --mem-kind "$kind"
                done
        fi
done

echo "# raw output: $out" >&2

table_rc=0
table=$(awk -v strict="$strict" -v rounds="$rounds" -v only="$only" '
# Median of the space-separated numbers in s ("" when none): the mean of the
# two middle values for an even count.
function median(s,    a, n, i, j, t) {
        n = split(s, a, " ")
        if (n == 0) return ""
        for (i = 2; i <= n; i++) {
                t = a[i] + 0
                for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]
                a[j + 1] = t
        }
        return n % 2 ? a[(n + 1) / 2] + 0 : (a[n / 2] + a[n / 2 + 1]) / 2
}
function fmt(x) { return x == "" ? "-" : sprintf("%.1f", x) }
/^# compare-tokio: round=/ {
        for (i = 1; i <= NF; i++) {
                if ($i ~ /^side=/) side = substr($i, 6)
                if ($i ~ /^round=/) round = substr($i, 7)
        }
        next
}
/^# timer_/ {
        notes = notes sprintf("  round %s %-5s %s\n", round, side, substr($0, 3))
        next
}
/^workload=/ {
        delete kv
        for (i = 1; i <= NF; i++) {
                eq = index($i, "=")
                if (eq) kv[substr($i, 1, eq - 1)] = substr($i, eq + 1)
        }
        w = kv["workload"]
        if (w == "idle_tasks_mem") {
                k = kv["kind"]
                mem[side, k] = mem[side, k] " " kv["rss_bytes_per_task"]
                if ("frame_bytes" in kv) frame[side, k] = frame[side, k] " " kv["frame_bytes"]
                nmem[side, k]++
                nmemall++
        } else {
                ns[side, w] = ns[side, w] " " kv["ns_per_op_median"]
                cnt[side, w]++
        }
}
BEGIN { notarget["timer_churn_tasks"] = 1 }
END {
        nw = split(only, ws, ",")
        miss = 0
        printf "\n%-24s %12s %12s %11s %9s  %s\n", "workload", "tokio_ns/op", "ours_ns/op", "ours/tokio", "target", "result"
        for (k = 1; k <= nw; k++) {
                w = ws[k]
                t = median(ns["tokio", w]); o = median(ns["ours", w])
                if (t == "" && o == "") continue
                ratio = (t != "" && o != "" && t > 0) ? o / t : ""
                if (w in notarget) {
                        target = "-"; res = "(reported)"
                } else {
                        target = "<= 0.50"
                        res = (ratio != "" && ratio <= 0.5) ? "PASS" : "FAIL"
                }
                if (res == "FAIL") miss = 1
                printf "%-24s %12s %12s %11s %9s  %s", w, fmt(t), fmt(o), ratio == "" ? "-" : sprintf("%.2f", ratio), target, res
                if (cnt["tokio", w] + 0 != rounds || cnt["ours", w] + 0 != rounds)
                        printf "  (rounds: tokio %d, ours %d)", cnt["tokio", w], cnt["ours", w]
                printf "\n"
        }
        if (nmemall > 0) {
                printf "\n%-24s %12s %12s %11s %9s  %s\n", "idle_tasks_mem", "tokio_B/task", "ours_B/task", "ours-frame", "target", "result"
                nk = split("pending notify", kinds, " ")
                for (q = 1; q <= nk; q++) {
                        k = kinds[q]
                        if (nmem["tokio", k] + nmem["ours", k] == 0) continue
                        t = median(mem["tokio", k]); o = median(mem["ours", k]); f = median(frame["ours", k])
                        beyond = (o != "" && f != "") ? o - f : ""
                        if (k == "pending") {
                                target = "<= 64"
                                res = (beyond != "" && beyond <= 64) ? "PASS" : "FAIL"
                        } else {
                                target = "-"  # reported, no target
                                res = (t != "" && o != "" && t > 0) ? sprintf("ratio %.2f", o / t) : ""
                        }
                        if (res == "FAIL") miss = 1
                        printf "%-24s %12s %12s %11s %9s  %s", "  kind=" k, fmt(t), fmt(o), fmt(beyond), target, res
                        if (f != "") printf "  (frame_bytes=%d)", f
                        if (nmem["tokio", k] + 0 != rounds || nmem["ours", k] + 0 != rounds)
                                printf "  (rounds: tokio %d, ours %d)", nmem["tokio", k], nmem["ours", k]
                        printf "\n"
                }
        }
        if (notes != "")
                printf "\ntimer notes (each side'"'"'s comment lines):\n%s", notes
        printf "\n(medians over %d rounds of each run'"'"'s median; target: ours/tokio <= 0.5 per op, <= 64 B per idle task beyond its frame)\n", rounds
        exit (strict && miss) ? 1 : 0
}' "$out") || table_rc=$?
printf '%s\n' "$table" | tee -a "$out"

[[ $failed -eq 0 ]] || exit 1
exit "$table_rc"
