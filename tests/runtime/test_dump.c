/*
 * test_dump.c - the task dump, taken from another thread while the runtime
 * runs: suspended tasks are reported with their id, poll function, the
 * file:line and coroutine name of their suspension point, and the spawn
 * site recorded by task_spawn; task_runtime_dump_file prints them; a
 * callback can stop the walk; dumping concurrently with heavy churn is safe.
 */
#include "helpers.h"

#include <libgen.h>

/* The line of parked()'s suspension point (stored by every parked task). */
static atomic_int parked_line;

struct parked {
        TASK_FRAME;
        struct gate *g;
        atomic_int *arrived;
};

static int parked(struct task_cx *cx, void *arg)
{
        struct parked *f = arg;
        TASK_BEGIN(f);
        atomic_fetch_add(f->arrived, 1);
        atomic_store_explicit(&parked_line, __LINE__ + 1, memory_order_relaxed);
        TASK_AWAIT(f, gate_poll(cx, f->g));
        TASK_END(f);
}

/* What the callback collected about one task. */
struct seen {
        uint64_t id;
        task_fn fn;
        char state[32];
        char susp_file[256], susp_name[64];
        int susp_line;
        char spawn_file[256], spawn_name[64];
        int spawn_line;
        int worker;
        bool has_susp, has_spawn;
};

struct collect {
        struct seen *v;
        int n, cap;
        int stop_after; /* 0: never stop */
        int calls;
};

static void copy_str(char *dst, size_t n, const char *src)
{
        snprintf(dst, n, "%s", src ? src : "(null)");
}

static int collect_cb(const struct task_info *ti, void *arg)
{
        struct collect *c = arg;
        struct seen *s;

        c->calls++;
        if (c->n < c->cap) {
                s = &c->v[c->n++];
                memset(s, 0, sizeof *s);
                s->id = ti->id;
                s->fn = ti->fn;
                s->worker = ti->worker;
                copy_str(s->state, sizeof s->state, ti->state);
                if (ti->suspend) {
                        s->has_susp = true;
                        copy_str(s->susp_file, sizeof s->susp_file,
                                 ti->suspend->file);
                        copy_str(s->susp_name, sizeof s->susp_name,
                                 ti->suspend->name);
                        s->susp_line = ti->suspend->line;
                }
                if (ti->spawn) {
                        s->has_spawn = true;
                        copy_str(s->spawn_file, sizeof s->spawn_file,
                                 ti->spawn->file);
                        copy_str(s->spawn_name, sizeof s->spawn_name,
                                 ti->spawn->name);
                        s->spawn_line = ti->spawn->line;
                }
        }
        return c->stop_after && c->calls >= c->stop_after;
}

static struct seen *find(struct collect *c, uint64_t id)
{
        for (int i = 0; i < c->n; i++)
                if (c->v[i].id == id)
                        return &c->v[i];
        return NULL;
}

enum { N = 20 };

struct fixture {
        task_runtime *rt;
        struct gate gates[N];
        task_handle *hs[N];
        atomic_int arrived;
        int spawn_line;
};

static void spawn_parked(struct fixture *fx)
{
        fx->rt = test_rt_new_mt(2);
        atomic_init(&fx->arrived, 0);
        for (int i = 0; i < N; i++) {
                struct parked f = {.g = &fx->gates[i], .arrived = &fx->arrived};
                gate_init(&fx->gates[i]);
                task_handle **hp = &fx->hs[i];
                int rc = task_spawn(fx->rt, parked, &f, sizeof f, hp);
                fx->spawn_line = __LINE__ - 1; /* the task_spawn line */
                cr_assert_eq(rc, 0);
        }
        cr_assert(WAIT_UNTIL(atomic_load(&fx->arrived) == N, 5000));
        for (int i = 0; i < N; i++)
                cr_assert(WAIT_UNTIL(gate_has_waiter(&fx->gates[i]), 5000));
}

static int idle_cb(const struct task_info *ti, void *arg)
{
        int *n = arg;
        if (ti->fn == parked && ti->state && strcmp(ti->state, "idle") == 0)
                (*n)++;
        return 0;
}

static int parked_idle(struct fixture *fx)
{
        int n = 0;
        cr_assert_geq(task_runtime_dump(fx->rt, idle_cb, &n), 0);
        return n;
}

/*
 * A task registers on its gate during its poll; it is "idle" (and its
 * suspension site published) once that poll has returned.  Wait for it,
 * boundedly: a task that never shows as idle fails the test.
 */
static void wait_parked_idle(struct fixture *fx)
{
        cr_assert(WAIT_UNTIL(parked_idle(fx) == N, 5000),
                  "only %d of %d suspended tasks are reported idle",
                  parked_idle(fx), N);
}

static void finish_parked(struct fixture *fx)
{
        for (int i = 0; i < N; i++) {
                gate_open(&fx->gates[i]);
                cr_assert_eq(task_join_blocking(fx->hs[i]), 0);
                task_handle_release(fx->hs[i]);
                gate_destroy(&fx->gates[i]);
        }
        test_rt_free(fx->rt);
}

Test(dump, suspended_tasks_reported_with_sites, .timeout = 10)
{
        struct fixture fx;
        struct collect c = {.cap = 1000};
        int rc;

        spawn_parked(&fx);
        c.v = calloc((size_t)c.cap, sizeof *c.v);
        wait_parked_idle(&fx);
        rc = task_runtime_dump(fx.rt, collect_cb, &c);
        cr_assert_eq(rc, c.calls, "dump returned %d after %d callbacks", rc,
                     c.calls);
        cr_assert_geq(rc, N);
        for (int i = 0; i < N; i++) {
                uint64_t id = task_handle_id(fx.hs[i]);
                struct seen *s = find(&c, id);
                cr_assert_not_null(s, "task %llu missing from the dump",
                                   (unsigned long long)id);
                cr_assert_eq(s->fn, parked);
                cr_assert(s->has_susp, "no suspension site for an idle task");
                cr_assert_str_eq(s->susp_file, __FILE__);
                cr_assert_eq(s->susp_line, atomic_load(&parked_line));
                cr_assert_str_eq(s->susp_name, "parked");
                cr_assert(s->has_spawn, "no spawn site recorded by task_spawn");
                cr_assert_str_eq(s->spawn_file, __FILE__);
                cr_assert_eq(s->spawn_line, fx.spawn_line);
                cr_assert_str_eq(s->spawn_name, "parked");
                cr_assert_str_eq(s->state, "idle",
                                 "a suspended, unwoken task is '%s'", s->state);
                cr_assert_eq(s->worker, -1);
        }
        free(c.v);
        finish_parked(&fx);
}

Test(dump, dump_file_prints_each_task, .timeout = 10)
{
        struct fixture fx;
        char *buf = NULL;
        size_t len = 0;
        FILE *out;
        char where[512];
        char *copy = strdup(__FILE__);
        int rc, lines = 0;

        spawn_parked(&fx);
        wait_parked_idle(&fx);
        out = open_memstream(&buf, &len);
        cr_assert_not_null(out);
        rc = task_runtime_dump_file(fx.rt, out);
        fclose(out);
        cr_assert_geq(rc, 0, "dump_file: %d", rc);
        /* The file may be printed in full or as its base name. */
        snprintf(where, sizeof where, "%s:%d", basename(copy),
                 atomic_load(&parked_line));
        for (char *p = buf; *p; p++)
                lines += *p == '\n';
        cr_assert_geq(lines, N, "%d lines for %d tasks:\n%s", lines, N, buf);
        for (int i = 0; i < N; i++) {
                char id[32];
                char *line, *end;
                bool found = false;

                snprintf(id, sizeof id, "%llu",
                         (unsigned long long)task_handle_id(fx.hs[i]));
                /* Find the line that carries this id as a whole number. */
                for (line = buf; *line; line = end + (*end != 0)) {
                        char saved;
                        end = strchr(line, '\n');
                        if (!end)
                                end = line + strlen(line);
                        saved = *end;
                        *end = 0;
                        for (char *q = strstr(line, id); q;
                             q = strstr(q + 1, id)) {
                                bool left = q == line ||
                                            !(q[-1] >= '0' && q[-1] <= '9');
                                char r = q[strlen(id)];
                                if (left && !(r >= '0' && r <= '9')) {
                                        found = true;
                                        cr_assert_not_null(
                                            strstr(line, where),
                                            "line for task %s lacks %s: %s", id,
                                            where, line);
                                        cr_assert_not_null(
                                            strstr(line, "parked"),
                                            "line for task %s lacks the name: %s",
                                            id, line);
                                        break;
                                }
                        }
                        *end = saved;
                        if (found)
                                break;
                }
                cr_assert(found, "task %s not in the dump:\n%s", id, buf);
        }
        free(buf);
        free(copy);
        finish_parked(&fx);
}

Test(dump, callback_can_stop_the_walk, .timeout = 10)
{
        struct fixture fx;
        struct collect c = {.cap = 1000, .stop_after = 3};
        int rc;

        spawn_parked(&fx);
        c.v = calloc((size_t)c.cap, sizeof *c.v);
        rc = task_runtime_dump(fx.rt, collect_cb, &c);
        cr_assert_eq(c.calls, 3,
                     "the walk went on after the callback returned non-zero");
        cr_assert_eq(rc, 3, "dump returned %d after 3 reported tasks", rc);
        free(c.v);
        finish_parked(&fx);
}

Test(dump, ended_and_released_tasks_disappear, .timeout = 10)
{
        struct fixture fx;
        struct collect c = {.cap = 1000};

        spawn_parked(&fx);
        c.v = calloc((size_t)c.cap, sizeof *c.v);
        for (int i = 0; i < N; i++) {
                uint64_t id = task_handle_id(fx.hs[i]);
                gate_open(&fx.gates[i]);
                cr_assert_eq(task_join_blocking(fx.hs[i]), 0);
                task_handle_release(fx.hs[i]);
                fx.hs[i] = NULL;
                /* The worker may drop its own reference a moment after the
                 * join returns; then the task is freed and gone. */
                cr_assert(
                    WAIT_UNTIL((c.n = c.calls = 0,
                                task_runtime_dump(fx.rt, collect_cb, &c) >= 0 &&
                                    !find(&c, id)),
                               2000),
                    "task %llu still reported after it ended and was released",
                    (unsigned long long)id);
                gate_destroy(&fx.gates[i]);
        }
        c.n = c.calls = 0;
        cr_assert_eq(task_runtime_dump(fx.rt, collect_cb, &c), 0);
        free(c.v);
        test_rt_free(fx.rt);
}

/* A queued task that was never polled has no suspension site yet. */
Test(dump, unpolled_task_on_current_thread, .timeout = 10)
{
        task_runtime *rt = test_rt_new(TASK_CURRENT_THREAD, 0);
        struct gate g;
        atomic_int arrived = 0;
        struct parked f = {.g = &g, .arrived = &arrived};
        struct collect c = {.cap = 10};
        task_handle *h;
        struct seen *s;

        gate_init(&g);
        c.v = calloc((size_t)c.cap, sizeof *c.v);
        cr_assert_eq(task_spawn_at(rt, parked, &f, sizeof f, &h, NULL), 0);
        cr_assert_eq(task_runtime_dump(rt, collect_cb, &c), 1);
        s = find(&c, task_handle_id(h));
        cr_assert_not_null(s);
        cr_assert_not(s->has_susp, "a never-polled task has a suspension site");
        cr_assert_not(s->has_spawn,
                      "task_spawn_at with a NULL site reported one");
        cr_assert_eq(s->fn, parked);
        cr_assert_str_neq(s->state, "running");
        task_abort(h);
        task_handle_release(h);
        free(c.v);
        gate_destroy(&g);
        test_rt_free(rt);
}

/* A task inside a poll is "running" on a worker. */
struct spinner {
        TASK_FRAME;
        atomic_int *in, *release;
};

static int spinner(struct task_cx *cx, void *arg)
{
        struct spinner *f = arg;
        TASK_BEGIN(f);
        atomic_store(f->in, 1);
        while (!atomic_load(f->release))
                sched_yield();
        TASK_END(f);
}

Test(dump, running_task_reported_with_its_worker, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        atomic_int in = 0, release = 0;
        struct spinner f = {.in = &in, .release = &release};
        struct collect c = {.cap = 10};
        task_handle *h;
        struct seen *s;

        c.v = calloc((size_t)c.cap, sizeof *c.v);
        cr_assert_eq(TASK_SPAWN(rt, spinner, &f, &h), 0);
        cr_assert(WAIT_UNTIL(atomic_load(&in), 5000));
        cr_assert_geq(task_runtime_dump(rt, collect_cb, &c), 1);
        s = find(&c, task_handle_id(h));
        atomic_store(&release, 1);
        cr_assert_not_null(s);
        cr_assert_str_eq(s->state, "running");
        cr_assert(s->worker >= 0 && s->worker < 2, "worker %d", s->worker);
        cr_assert_eq(task_join_blocking(h), 0);
        task_handle_release(h);
        free(c.v);
        test_rt_free(rt);
}

/* ---- Dumping while tasks churn ----------------------------------------------------- */

static atomic_long churn_ended;

struct churn {
        TASK_FRAME;
        int depth, i;
};

static int churn(struct task_cx *cx, void *arg)
{
        struct churn *f = arg;
        TASK_BEGIN(f);
        for (f->i = 0; f->i < 3; f->i++)
                TASK_YIELD(f);
        if (f->depth > 0) {
                struct churn c = {.depth = f->depth - 1};
                TCHECK(TASK_SPAWN(task_cx_runtime(cx), churn, &c, NULL) == 0);
                TCHECK(TASK_SPAWN(task_cx_runtime(cx), churn, &c, NULL) == 0);
        }
        atomic_fetch_add(&churn_ended, 1);
        TASK_END(f);
}

static int check_cb(const struct task_info *ti, void *arg)
{
        long *n = arg;
        TCHECK(ti->id != 0);
        TCHECK(ti->state != NULL);
        TCHECK(ti->fn == churn || ti->fn == parked);
        if (ti->suspend)
                TCHECK(ti->suspend->line > 0 && ti->suspend->file != NULL);
        (*n)++;
        return 0;
}

Test(dump, dump_during_churn_is_safe, .timeout = 30)
{
        task_runtime *rt = test_rt_new_mt(2);
        enum { DEPTH = 14 };
        const long total = (1L << (DEPTH + 1)) - 1;
        struct churn f = {.depth = DEPTH};
        struct gate g;
        atomic_int arrived = 0;
        struct parked p = {.g = &g, .arrived = &arrived};
        task_handle *hp;
        long reported = 0, dumps = 0;
        FILE *null = fopen("/dev/null", "w");
        uint64_t end = now_ns() + 20ull * 1000 * 1000 * 1000;

        /* A task that stays alive throughout, so every dump has one. */
        gate_init(&g);
        cr_assert_eq(TASK_SPAWN(rt, parked, &p, &hp), 0);
        cr_assert(WAIT_UNTIL(gate_has_waiter(&g), 5000));
        cr_assert_eq(TASK_SPAWN(rt, churn, &f, NULL), 0);
        do {
                long n = 0;
                int rc = task_runtime_dump(rt, check_cb, &n);
                cr_assert_eq(rc, n);
                cr_assert_geq(n, 1, "the parked task is missing from a dump");
                if (null)
                        cr_assert_geq(task_runtime_dump_file(rt, null), 0);
                reported += n;
                dumps++;
        } while (atomic_load(&churn_ended) < total && now_ns() < end);
        cr_assert_eq(atomic_load(&churn_ended), total);
        if (null)
                fclose(null);
        tcheck_assert_none();
        cr_log_info("%ld dumps, %ld task reports", dumps, reported);
        gate_open(&g);
        cr_assert_eq(task_join_blocking(hp), 0);
        task_handle_release(hp);
        gate_destroy(&g);
        test_rt_free(rt);
}
