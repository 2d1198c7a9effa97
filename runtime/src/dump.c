/*
 * dump.c - the task dump, metrics and the stall detector: the runtime seen
 * from outside while it runs.
 *
 * None of these stop a worker or take a scheduler lock:
 *
 *  - The dump walks the task registry (slab.c), which may be read from any
 *    thread at any time because task memory is never unmapped before the
 *    runtime is freed.  Header fields are read with relaxed atomic loads;
 *    a task that changes during the read shows a stale but real value.
 *  - Metrics are per-worker counters that only their worker writes (a
 *    load and a store; relaxed, except `ended`, released so that
 *    tasks_alive never undercounts); a reader sums the loads.
 *  - The stall detector is a thread started only when the threshold knob is
 *    set.  Each worker's poll_seq is odd while a poll runs.  Every quarter
 *    threshold the monitor samples them: the same odd value seen for at
 *    least the threshold means one poll has held that worker that long; it
 *    is reported once, with the task read from worker->current.
 */
#include "runtime-priv.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <time.h>

static int worker_polling(struct task_runtime *rt, const struct task *t)
{
        for (unsigned i = 0; i < rt->nworkers; i++) {
                struct task__worker *w = &rt->workers[i];
                if ((atomic_load_explicit(&w->poll_seq, memory_order_relaxed) &
                     1) &&
                    atomic_load_explicit(&w->current, memory_order_relaxed) ==
                        t)
                        return (int)i;
        }
        return -1;
}

static const char *state_name(uint64_t st, int worker)
{
        if (st & TASK_ST_COMPLETE)
                return (st & TASK_ST_CANCELLED) ? "cancelled" : "finished";
        if (worker >= 0)
                return "running";
        if (st & TASK_ST_CANCELLED)
                return "cancelling";
        if (st & TASK_ST_SCHEDULED)
                return "scheduled";
        return "idle";
}

void task__fill_info(struct task *t, struct task_info *ti, uint64_t st)
{
        struct task_runtime *rt = task__rt_of(t);

        ti->id = atomic_load_explicit(&t->id, memory_order_relaxed);
        ti->fn = atomic_load_explicit(&t->fn, memory_order_relaxed);
        ti->spawn = atomic_load_explicit(&t->spawn, memory_order_relaxed);
        ti->suspend = atomic_load_explicit(&t->site, memory_order_relaxed);
        ti->worker = worker_polling(rt, t);
        ti->state = state_name(st, ti->worker);
}

struct dump_ctx {
        int (*cb)(const struct task_info *, void *);
        void *arg;
        int n;
};

static int dump_one(struct task *t, void *arg)
{
        struct dump_ctx *d = arg;
        /* Acquire: pairs with the release store of the state at spawn. */
        uint64_t st = atomic_load_explicit(&t->state, memory_order_acquire);
        struct task_info ti;

        if (st == 0)
                return 0;
        task__fill_info(t, &ti, st);
        d->n++;
        return d->cb(&ti, d->arg);
}

int task_runtime_dump(task_runtime *rt,
                      int (*cb)(const struct task_info *ti, void *arg),
                      void *arg)
{
        if (!rt || !cb)
                return -EINVAL;
        struct dump_ctx d = {cb, arg, 0};
        task__registry_walk(rt, dump_one, &d);
        return d.n;
}

static void print_site(FILE *out, const char *what, const struct task_site *s)
{
        if (s)
                fprintf(out, " %s %s (%s:%d)", what, s->name ? s->name : "?",
                        s->file, s->line);
}

static void print_info(FILE *out, const struct task_info *ti)
{
        fprintf(out, "task %" PRIu64 " %s", ti->id, ti->state);
        if (ti->worker >= 0)
                fprintf(out, " on worker %d", ti->worker);
        print_site(out, "spawned", ti->spawn);
        if (!ti->spawn)
                fprintf(out, " fn %p", (void *)(uintptr_t)ti->fn);
        if (ti->suspend)
                print_site(out, "suspended in", ti->suspend);
        else
                fprintf(out, " not yet suspended");
        fputc('\n', out);
}

static int dump_file_cb(const struct task_info *ti, void *arg)
{
        print_info(arg, ti);
        return 0;
}

int task_runtime_dump_file(task_runtime *rt, FILE *out)
{
        if (!rt || !out)
                return -EINVAL;
        return task_runtime_dump(rt, dump_file_cb, out);
}

/* ---- Metrics ------------------------------------------------------------------ */

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

int task_worker_metrics(task_runtime *rt, unsigned idx,
                        struct task_worker_metrics *out)
{
        if (!rt || !out || idx >= rt->nworkers)
                return -EINVAL;
        struct task__worker *w = &rt->workers[idx];
        out->polls = LOAD(w->m.polls);
        out->steal_ops = LOAD(w->m.steal_ops);
        out->steal_tasks = LOAD(w->m.steal_tasks);
        out->overflows = LOAD(w->m.overflows);
        out->parks = LOAD(w->m.parks);
        out->unparks = LOAD(w->m.unparks);
        out->busy_ns = LOAD(w->m.busy_ns);
        out->local_queue_depth = task__queue_len(&w->q);
        return 0;
}

int task_runtime_metrics(task_runtime *rt, struct task_runtime_metrics *out)
{
        if (!rt || !out)
                return -EINVAL;

        /*
         * All `ended` counts first (acquire), then all `spawned`: a task seen
         * ended is then seen spawned (see task__metric_inc), so tasks_alive
         * may count a task that has just ended, never miss a live one.
         */
        uint64_t ended =
            atomic_load_explicit(&rt->ext_ended, memory_order_acquire);
        for (unsigned i = 0; i < rt->nworkers; i++)
                ended += atomic_load_explicit(&rt->workers[i].m.ended,
                                              memory_order_acquire);
        uint64_t spawned = LOAD(rt->ext_spawned);

        *out = (struct task_runtime_metrics){0};
        out->workers = rt->nworkers;
        for (unsigned i = 0; i < rt->nworkers; i++) {
                struct task__worker *w = &rt->workers[i];
                out->polls += LOAD(w->m.polls);
                out->steal_ops += LOAD(w->m.steal_ops);
                out->steal_tasks += LOAD(w->m.steal_tasks);
                out->overflows += LOAD(w->m.overflows);
                out->parks += LOAD(w->m.parks);
                out->unparks += LOAD(w->m.unparks);
                spawned += LOAD(w->m.spawned);
        }
        out->tasks_spawned = spawned;
        out->tasks_alive = spawned > ended ? spawned - ended : 0;
        out->global_queue_depth = task__inject_len(&rt->inject);
        out->stalls = LOAD(rt->stalls);
        return 0;
}

/* ---- Stall detector -------------------------------------------------------------- */

static void report_stall(struct task_runtime *rt, struct task__worker *w,
                         uint64_t held)
{
        struct task *t =
            atomic_load_explicit(&w->current, memory_order_relaxed);
        struct task_info ti;

        if (!t)
                return;
        uint64_t st = atomic_load_explicit(&t->state, memory_order_acquire);
        if (st == 0)
                return;
        task__fill_info(t, &ti, st);
        ti.worker = (int)w->idx;
        ti.state = "running";
        atomic_fetch_add_explicit(&rt->stalls, 1, memory_order_relaxed);
        if (rt->opts.on_stall) {
                rt->opts.on_stall(&ti, held, rt->opts.stall_arg);
                return;
        }
        fprintf(stderr, "libtask: stall: worker %u held for %" PRIu64 " ms by ",
                w->idx, held / 1000000);
        print_info(stderr, &ti);
}

static void *monitor_main(void *arg)
{
        struct task_runtime *rt = arg;
        uint64_t thr = rt->opts.stall_threshold_ns;
        uint64_t period = thr / 4;

        if (period < 1000000)
                period = 1000000;
        if (period > 100000000)
                period = 100000000;

        pthread_mutex_lock(&rt->monitor_mu);
        while (!rt->monitor_stop) {
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                uint64_t ns = (uint64_t)ts.tv_nsec + period;
                ts.tv_sec += (time_t)(ns / 1000000000);
                ts.tv_nsec = (long)(ns % 1000000000);
                pthread_cond_timedwait(&rt->monitor_cv, &rt->monitor_mu, &ts);
                if (rt->monitor_stop)
                        break;

                uint64_t now = task__now_ns();
                for (unsigned i = 0; i < rt->nworkers; i++) {
                        struct task__worker *w = &rt->workers[i];
                        uint64_t seq = atomic_load_explicit(
                            &w->poll_seq, memory_order_relaxed);
                        if (!(seq & 1) || seq != w->stall_seq) {
                                w->stall_seq = seq;
                                w->stall_since = now;
                                continue;
                        }
                        if (now - w->stall_since >= thr &&
                            w->stall_reported != seq) {
                                w->stall_reported = seq;
                                report_stall(rt, w, now - w->stall_since);
                        }
                }
        }
        pthread_mutex_unlock(&rt->monitor_mu);
        return NULL;
}

int task__monitor_start(struct task_runtime *rt)
{
        if (!rt->opts.stall_threshold_ns)
                return 0;
        rt->monitor_stop = false;
        int rc = pthread_create(&rt->monitor, NULL, monitor_main, rt);
        if (rc)
                return -rc;
        pthread_setname_np(rt->monitor, "task-stall");
        rt->monitor_started = true;
        return 0;
}

void task__monitor_stop(struct task_runtime *rt)
{
        if (!rt->monitor_started)
                return;
        pthread_mutex_lock(&rt->monitor_mu);
        rt->monitor_stop = true;
        pthread_cond_signal(&rt->monitor_cv);
        pthread_mutex_unlock(&rt->monitor_mu);
        pthread_join(rt->monitor, NULL);
        rt->monitor_started = false;
}
