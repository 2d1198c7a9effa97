/*
 * wait.c - what the sync primitives share: waking a wake list, blocking a
 * plain thread on a wait node, and task_wait_cancel().  The protocol is in
 * wait-priv.h.
 */
#include "sync/wait-priv.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

void task__wakelist_wake(struct task__wakelist *wl)
{
        for (unsigned i = 0; i < wl->n; i++) {
                uintptr_t e = wl->e[i];
                if (e & 1)
                        syscall(SYS_futex, (uint32_t *)(e & ~(uintptr_t)1),
                                FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
                else
                        task_wake((task_waker *)e);
        }
        wl->n = 0;
}

void task__wait_block(struct task_wait *w)
{
        while (task__wait_state(w) == TASK_WAIT_QUEUED)
                syscall(SYS_futex, (uint32_t *)&w->state, FUTEX_WAIT_PRIVATE,
                        TASK_WAIT_QUEUED, NULL, NULL, 0);
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
