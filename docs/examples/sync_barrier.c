/*
 * sync_barrier.c - tasks working in phases.  Four tasks each fill their
 * part of a vector, meet at the barrier, and the one told it is the leader
 * sums the vector for that phase; a second barrier keeps anyone from
 * starting the next phase before the sum is taken.  The barrier is reused
 * for every phase (every generation).
 */
#include <libtask/task.h>

#include <stdbool.h>
#include <stdio.h>

#define WORKERS 4
#define PHASES 3

static struct task_barrier filled, summed;
static int part[WORKERS];
static int sums[PHASES];

struct worker {
        TASK_FRAME;
        int id;
        int phase;
        bool leader;
        struct task_barrier_wait op;
};

static int worker(struct task_cx *cx, void *arg)
{
        struct worker *f = arg;

        TASK_BEGIN(f);
        for (f->phase = 0; f->phase < PHASES; f->phase++) {
                part[f->id] = (f->phase + 1) * (f->id + 1);
                TASK_BARRIER_WAIT(f, &filled, &f->op, &f->leader, NULL);
                if (f->leader) /* exactly one per phase */
                        for (int i = 0; i < WORKERS; i++)
                                sums[f->phase] += part[i];
                TASK_BARRIER_WAIT(f, &summed, &f->op, NULL, NULL);
        }
        TASK_END(f);
}

int main(void)
{
        task_runtime *rt;
        task_handle *h[WORKERS];
        int ok = 1;

        if (task_runtime_new(NULL, &rt) < 0 ||
            task_barrier_init(&filled, WORKERS) < 0 ||
            task_barrier_init(&summed, WORKERS) < 0)
                return 1;
        for (int i = 0; i < WORKERS; i++)
                if (TASK_SPAWN(rt, worker, &(struct worker){.id = i}, &h[i]))
                        return 1;
        for (int i = 0; i < WORKERS; i++) {
                ok &= task_join_blocking(h[i]) == 0;
                task_handle_release(h[i]);
        }
        for (int p = 0; p < PHASES; p++) {
                printf("phase %d: sum %d\n", p, sums[p]);
                ok &= sums[p] == (p + 1) * WORKERS * (WORKERS + 1) / 2;
        }
        ok &= task_barrier_destroy(&filled) == 0 &&
              task_barrier_destroy(&summed) == 0 && task_runtime_free(rt) == 0;
        return ok ? 0 : 1;
}
