/*
 * sync_rwlock.c - a configuration read by many tasks and replaced by one.
 *
 * Readers share the lock (and may hold it across suspensions); the writer
 * takes it alone.  The lock is fair: once the writer queues, readers that
 * arrive after it wait behind it, so a steady stream of readers cannot
 * starve it.  Every reader checks that it never sees a half-written
 * configuration.
 */
#include <libtask/task.h>

#include <stdbool.h>
#include <stdio.h>

#define READERS 6
#define READS 500
#define UPDATES 50

struct config {
        int version;
        int port; /* always 8000 + version */
};

static struct task_rwlock lock;
static struct config cfg = {0, 8000}; /* guarded by lock */

struct reader {
        TASK_FRAME;
        struct task_rwlock_read rd;
        int i;
        int torn; /* half-written configurations seen: must stay 0 */
        int last_version;
};

static int reader(struct task_cx *cx, void *arg)
{
        struct reader *f = arg;

        TASK_BEGIN(f);
        for (f->i = 0; f->i < READS; f->i++) {
                TASK_RWLOCK_READ(f, &lock, &f->rd, NULL);
                f->last_version = cfg.version;
                if (f->i % 50 == 0)
                        TASK_YIELD(f); /* readers may hold it across this */
                f->torn += cfg.port != 8000 + cfg.version ||
                           cfg.version != f->last_version;
                task_rwlock_read_unlock(&lock);
        }
        TASK_END(f);
}

struct writer {
        TASK_FRAME;
        struct task_rwlock_write wr;
        int i;
};

static int writer(struct task_cx *cx, void *arg)
{
        struct writer *f = arg;

        TASK_BEGIN(f);
        for (f->i = 0; f->i < UPDATES; f->i++) {
                TASK_RWLOCK_WRITE(f, &lock, &f->wr, NULL);
                cfg.version++;
                TASK_YIELD(f); /* half-written: nobody may look now */
                cfg.port = 8000 + cfg.version;
                task_rwlock_write_unlock(&lock);
        }
        TASK_END(f);
}

int main(void)
{
        task_runtime *rt;
        task_handle *r[READERS], *w;
        int torn = 0, ok = 1;

        if (task_runtime_new(NULL, &rt) < 0 || task_rwlock_init(&lock, 0) < 0)
                return 1;
        for (int i = 0; i < READERS; i++)
                if (TASK_SPAWN(rt, reader, &(struct reader){0}, &r[i]) < 0)
                        return 1;
        if (TASK_SPAWN(rt, writer, &(struct writer){0}, &w) < 0)
                return 1;
        ok &= task_join_blocking(w) == 0;
        for (int i = 0; i < READERS; i++) {
                ok &= task_join_blocking(r[i]) == 0;
                torn += ((struct reader *)task_handle_frame(r[i]))->torn;
                task_handle_release(r[i]);
        }
        task_handle_release(w);
        printf("version %d, port %d, torn reads %d\n", cfg.version, cfg.port,
               torn);
        ok &= torn == 0 && cfg.version == UPDATES;

        ok &= task_rwlock_destroy(&lock) == 0 && task_runtime_free(rt) == 0;
        return ok ? 0 : 1;
}
