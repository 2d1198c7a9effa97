/*
 * sync_notify.c - Notify, both ways.
 *
 * 1. notify_one hands work to a consumer: the producer pushes an item into a
 *    mailbox and calls task_notify_one().  A notify_one made while the
 *    consumer is busy is not lost: it is stored as the permit, and the
 *    consumer's next wait returns at once.
 * 2. notify_waiters broadcasts "stop" to every task waiting right now.  A
 *    waiter prepares its wait with task_notified_init() *before* checking
 *    the stop flag, so a notify_waiters() that lands between the check and
 *    the wait is not missed: whether an idler is still on its way or
 *    already asleep when main stops them, none is left behind.
 */
#include <libtask/task.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#define ITEMS 100
#define IDLERS 4

static struct task_notify have_item, stop;
static atomic_int mailbox; /* items not yet taken */
static atomic_bool stopping;
static atomic_int idlers_started;

struct consumer {
        TASK_FRAME;
        struct task_notified nd;
        int taken;
};

static int consumer(struct task_cx *cx, void *arg)
{
        struct consumer *f = arg;

        TASK_BEGIN(f);
        while (f->taken < ITEMS) {
                /* Take everything there is, then wait for more. */
                while (atomic_load(&mailbox) > 0) {
                        atomic_fetch_sub(&mailbox, 1);
                        f->taken++;
                }
                if (f->taken < ITEMS)
                        TASK_NOTIFIED(f, &have_item, &f->nd);
        }
        TASK_END(f);
}

struct producer {
        TASK_FRAME;
        int i;
};

static int producer(struct task_cx *cx, void *arg)
{
        struct producer *f = arg;

        TASK_BEGIN(f);
        for (f->i = 0; f->i < ITEMS; f->i++) {
                atomic_fetch_add(&mailbox, 1);
                task_notify_one(&have_item); /* never lost */
                if (f->i % 10 == 0)
                        TASK_YIELD(f);
        }
        TASK_END(f);
}

struct idler {
        TASK_FRAME;
        struct task_notified nd;
};

static int idler(struct task_cx *cx, void *arg)
{
        struct idler *f = arg;

        TASK_BEGIN(f);
        atomic_fetch_add(&idlers_started, 1);
        for (;;) {
                task_notified_init(&f->nd, &stop); /* enable, then check */
                if (atomic_load(&stopping))
                        break;
                TASK_NOTIFIED(f, &stop, &f->nd);
        }
        TASK_END(f);
}

int main(void)
{
        task_runtime *rt;
        task_handle *c, *p, *idle[IDLERS];
        struct timespec ms = {0, 1000000};
        int ok = 1;

        if (task_runtime_new(NULL, &rt) < 0 || task_notify_init(&have_item) ||
            task_notify_init(&stop))
                return 1;

        /* 1. One producer, one consumer. */
        if (TASK_SPAWN(rt, consumer, &(struct consumer){0}, &c) < 0 ||
            TASK_SPAWN(rt, producer, &(struct producer){0}, &p) < 0)
                return 1;
        ok &= task_join_blocking(p) == 0 && task_join_blocking(c) == 0;
        printf("consumer took %d items\n",
               ((struct consumer *)task_handle_frame(c))->taken);
        ok &= ((struct consumer *)task_handle_frame(c))->taken == ITEMS;
        task_handle_release(p);
        task_handle_release(c);

        /* 2. Stop everyone: set the flag, then notify_waiters. */
        for (int i = 0; i < IDLERS; i++)
                if (TASK_SPAWN(rt, idler, &(struct idler){0}, &idle[i]) < 0)
                        return 1;
        while (atomic_load(&idlers_started) < IDLERS / 2)
                nanosleep(&ms, NULL); /* some have started, maybe all */
        atomic_store(&stopping, true);
        task_notify_waiters(&stop);
        for (int i = 0; i < IDLERS; i++) {
                ok &= task_join_blocking(idle[i]) == 0;
                task_handle_release(idle[i]);
        }
        printf("%d idlers stopped\n", IDLERS);

        ok &= task_notify_destroy(&have_item) == 0 &&
              task_notify_destroy(&stop) == 0 && task_runtime_free(rt) == 0;
        return ok ? 0 : 1;
}
