/*
 * wait.c - what the sync primitives share: waking a wake list, blocking a
 * plain thread on a wait node, and task_wait_cancel().  The protocol is in
 * wait-priv.h.
 */
#include "sync/wait-priv.h"

void task__wakelist_wake(struct task__wakelist *wl)
{
        for (unsigned i = 0; i < wl->n; i++) {
                uintptr_t e = wl->e[i];
                if (e & 1)
                        task__futex_wake(
                            (_Atomic uint32_t *)(e & ~(uintptr_t)1), 1);
                else
                        task_wake((task_waker *)e);
        }
        wl->n = 0;
}

void task__wait_block(struct task_wait *w)
{
        while (task__wait_state(w) == TASK_WAIT_QUEUED)
                task__futex_wait(&w->state, TASK_WAIT_QUEUED, -1);
}

void task_wait_cancel(struct task_wait *w)
{
        if (!w || !w->ops)
                return;
        if (atomic_load_explicit(&w->state, memory_order_acquire) ==
            TASK_WAIT_IDLE)
                return;
        w->ops->cancel(w);
}
