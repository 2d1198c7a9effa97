/*
 * dump_metrics.c - the task dump and the metrics, read while tasks run.
 *
 * A chain of tasks: link k joins link k-1, and link 0 yields until `go` is
 * set.  While they wait, main() prints the dump (every live task with its
 * state, spawn site and suspension site) and the metrics; neither stops a
 * worker or takes a scheduler lock.
 */
#include <libtask/task.h>

#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#define NLINKS 8

static atomic_bool go;
static atomic_int started;

struct link {
        TASK_FRAME;
        task_handle *prev; /* owned by this task: released in the cleanup */
        int rc;
};

static int link_fn(struct task_cx *cx, void *arg)
{
        struct link *f = arg;

        TASK_BEGIN(f);
        atomic_fetch_add(&started, 1);
        if (f->prev == NULL) {
                while (!atomic_load(&go))
                        TASK_YIELD(f);
        } else {
                TASK_JOIN(f, f->prev, &f->rc);
        }
        TASK_CLEANUP(f);
        task_handle_release(f->prev);
        TASK_END(f);
}

static const char *site_str(const struct task_site *s, char *buf, size_t n)
{
        if (s == NULL)
                return "-";
        snprintf(buf, n, "%s:%d (%s)", s->file, s->line, s->name);
        return buf;
}

/* Called once per live task, on the thread that called the dump. */
static int print_task(const struct task_info *ti, void *arg)
{
        char spawn[128], suspend[128];
        int *count = arg;

        (*count)++;
        printf("  task %llu %s (worker %d): spawned at %s, suspended at %s\n",
               (unsigned long long)ti->id, ti->state, ti->worker,
               site_str(ti->spawn, spawn, sizeof spawn),
               site_str(ti->suspend, suspend, sizeof suspend));
        return 0; /* non-zero would stop the dump */
}

static void print_metrics(task_runtime *rt)
{
        struct task_runtime_metrics m;
        struct task_worker_metrics w;

        if (task_runtime_metrics(rt, &m) < 0)
                return;
        printf("metrics: %u workers, %llu alive, %llu spawned, %llu polls, "
               "%llu steals (%llu tasks), %llu parks\n",
               m.workers, (unsigned long long)m.tasks_alive,
               (unsigned long long)m.tasks_spawned, (unsigned long long)m.polls,
               (unsigned long long)m.steal_ops,
               (unsigned long long)m.steal_tasks, (unsigned long long)m.parks);
        for (unsigned i = 0; i < m.workers; i++) {
                if (task_worker_metrics(rt, i, &w) < 0)
                        continue;
                printf("  worker %u: %llu polls, queue %llu, busy %.3f ms\n", i,
                       (unsigned long long)w.polls,
                       (unsigned long long)w.local_queue_depth,
                       w.busy_ns / 1e6);
        }
}

int main(void)
{
        struct timespec ms = {0, 1000000};
        task_handle *prev = NULL, *last = NULL;
        task_runtime *rt;
        int rc = 0, n = 0, i;

        rc = task_runtime_new(NULL, &rt);
        if (rc < 0) {
                fprintf(stderr, "task_runtime_new: %s\n", task_strerror(rc));
                return 1;
        }
        /* Each link takes over the handle of the one before it. */
        for (i = 0; i < NLINKS && rc == 0; i++) {
                rc = TASK_SPAWN(rt, link_fn, &(struct link){.prev = prev},
                                &last);
                prev = last;
        }
        if (rc < 0) {
                fprintf(stderr, "spawn: %s\n", task_strerror(rc));
                task_handle_release(last); /* still ours: no link took it */
                atomic_store(&go, true);
                task_runtime_free(rt); /* cancels the links spawned so far */
                return 1;
        }
        while (atomic_load(&started) < NLINKS)
                nanosleep(&ms, NULL);

        printf("dump, through a callback:\n");
        rc = task_runtime_dump(rt, print_task, &n);
        printf("%d tasks\n", rc);
        printf("dump, as text:\n");
        task_runtime_dump_file(rt, stdout);
        print_metrics(rt);

        atomic_store(&go, true); /* link 0 ends, then each link after it */
        rc = task_join_blocking(last);
        task_handle_release(last);
        print_metrics(rt);
        task_runtime_free(rt);
        return rc == 0 && n == NLINKS ? 0 : 1;
}
