//! tokio-twin: the Tokio side of libtask workloads that the shared peer bench
//! (../shared/peers/tokio-bench) does not have, written in the same shape as
//! bench/task-bench.c and printing the same lines:
//!
//!   workload=<name> iters=<k> ns_per_iter_median=<x> ns_per_iter_min=<y> ops_per_iter=<n> ns_per_op_median=<z>
//!
//! Workloads:
//!  - mutex_contended: MUTEX_TASKS tasks each lock a tokio::sync::Mutex<u64>,
//!    increment it and unlock, MUTEX_ITERS times (ops = all lock/unlock pairs),
//!    on a multi-thread runtime; block_on waits for all of them.
//!  - mutex_handoff: the same, but each task yields while holding the lock,
//!    so nearly every acquisition waits in the Mutex's queue and is handed
//!    over by an unlock (the fair-queue path).
//!
//! Usage: tokio-twin [--workers N(2)] [--iters K(50)] [--warmup W(5)] [--only a,b]

use std::sync::Arc;
use std::time::Instant;
use tokio::runtime::{Builder, Runtime};
use tokio::sync::Mutex;

const MUTEX_TASKS: usize = 8;
const MUTEX_ITERS: usize = 12_500;
const HANDOFF_ITERS: usize = 1_250;
const ALL: &[&str] = &["mutex_contended", "mutex_handoff"];

struct Opts {
    workers: usize,
    iters: usize,
    warmup: usize,
    only: Option<Vec<String>>,
}

fn usage() -> ! {
    eprintln!(
        "usage: tokio-twin [--workers N(2)] [--iters K(50)] [--warmup W(5)] [--only a,b]\nworkloads: {}",
        ALL.join(",")
    );
    std::process::exit(2);
}

fn parse_args() -> Opts {
    let mut o = Opts { workers: 2, iters: 50, warmup: 5, only: None };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let val = |i: usize| -> String { args.get(i + 1).cloned().unwrap_or_else(|| usage()) };
        let num = |i: usize| -> usize { val(i).parse().unwrap_or_else(|_| usage()) };
        match args[i].as_str() {
            "--workers" => o.workers = num(i),
            "--iters" => o.iters = num(i),
            "--warmup" => o.warmup = num(i),
            "--only" => o.only = Some(val(i).split(',').map(|s| s.to_string()).collect()),
            _ => usage(),
        }
        i += 2;
    }
    if let Some(only) = &o.only {
        if only.iter().any(|w| !ALL.contains(&w.as_str())) {
            usage();
        }
    }
    o
}

fn report(name: &str, ops: usize, mut samples: Vec<u64>) {
    samples.sort_unstable();
    let n = samples.len();
    let median = if n % 2 == 1 { samples[n / 2] } else { (samples[n / 2 - 1] + samples[n / 2]) / 2 };
    println!(
        "workload={} iters={} ns_per_iter_median={} ns_per_iter_min={} ops_per_iter={} ns_per_op_median={:.1}",
        name, n, median, samples[0], ops, median as f64 / ops as f64
    );
}

fn bench<F: FnMut()>(name: &str, ops: usize, o: &Opts, mut f: F) {
    for _ in 0..o.warmup {
        f();
    }
    let mut samples = Vec::with_capacity(o.iters);
    for _ in 0..o.iters {
        let t = Instant::now();
        f();
        samples.push(t.elapsed().as_nanos() as u64);
    }
    report(name, ops, samples);
}

fn mutex_run(rt: &Runtime, iters: usize, hold_across_yield: bool) {
    rt.block_on(async {
        let m = Arc::new(Mutex::new(0u64));
        let mut hs = Vec::with_capacity(MUTEX_TASKS);
        for _ in 0..MUTEX_TASKS {
            let m = m.clone();
            hs.push(tokio::spawn(async move {
                for _ in 0..iters {
                    let mut g = m.lock().await;
                    *g += 1;
                    if hold_across_yield {
                        tokio::task::yield_now().await;
                    }
                }
            }));
        }
        for h in hs {
            h.await.unwrap();
        }
        assert_eq!(*m.lock().await, (MUTEX_TASKS * iters) as u64);
    });
}

fn main() {
    let o = parse_args();
    let rt = Builder::new_multi_thread().worker_threads(o.workers).enable_all().build().expect("runtime");
    let want = |w: &str| o.only.as_ref().map_or(true, |v| v.iter().any(|x| x == w));
    if want("mutex_contended") {
        bench("mutex_contended", MUTEX_TASKS * MUTEX_ITERS, &o, || mutex_run(&rt, MUTEX_ITERS, false));
    }
    if want("mutex_handoff") {
        bench("mutex_handoff", MUTEX_TASKS * HANDOFF_ITERS, &o, || mutex_run(&rt, HANDOFF_ITERS, true));
    }
}
