/*
 * libtask/joinset.h - a set of spawned tasks: await whichever finishes
 * next, abort them all.  Tokio's tokio::task::JoinSet.
 *
 *     task_joinset *set;
 *     task_joinset_new(&set);
 *     for (...)
 *             TASK_JOINSET_SPAWN(set, rt, fetch, &frame);
 *     for (;;) {
 *             TASK_JOINSET_JOIN_NEXT(f, set, &f->h, &f->rc);
 *             if (f->rc == -ECHILD)
 *                     break;              // the set is empty
 *             ... task_handle_frame(f->h) holds the task's results ...
 *             task_handle_release(f->h);
 *     }
 *     task_joinset_free(set);
 *
 * Ownership: the caller owns the set (task_joinset_new / task_joinset_free)
 * and uses it from one task or thread at a time, as Tokio's &mut JoinSet.
 * The set owns the join handles of its tasks; join_next hands the handle of
 * a finished task to the caller, who releases it.  Freeing the set aborts
 * every task still in it (they are cancelled at their next suspension and
 * their cleanups run), as dropping a JoinSet does.
 *
 * Completion order: join_next returns tasks in the order they finished.
 * Finding the next costs O(1): a finishing task puts itself on the set's
 * ready list (the runtime calls into the set, not the other way round).
 */
#ifndef LIBTASK_JOINSET_H
#define LIBTASK_JOINSET_H

#include <libtask/common.h>
#include <libtask/coro.h>
#include <libtask/runtime.h>

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct task_joinset task_joinset;

/* A new empty set, owned by the caller.  Returns 0, -EINVAL or -ENOMEM. */
TASK_API int task_joinset_new(task_joinset **out);

/*
 * task_joinset_free - abort every task still in @set, release their
 * handles (and those of finished tasks not yet joined), free the set.
 * NULL is ignored.  The tasks end on their own workers, later.
 */
TASK_API void task_joinset_free(task_joinset *set);

/*
 * task_joinset_spawn_at - spawn a task (as task_spawn_at()) into @set.
 * @id: receives its task id, or NULL.  Returns 0, -EINVAL, -ENOMEM or
 * -ESHUTDOWN; on failure nothing was spawned.
 */
TASK_API int task_joinset_spawn_at(task_joinset *set, task_runtime *rt,
                                   task_fn fn, const void *frame, size_t size,
                                   uint64_t *id, const struct task_site *site);

/* TASK_JOINSET_SPAWN(set, rt, fn, framep) - spawn @fn with *@framep. */
#define TASK_JOINSET_SPAWN(set, rt, fn, framep)                                \
        task_joinset_spawn_at((set), (rt), (fn), (framep), sizeof *(framep),   \
                              NULL, TASK_SITE_HERE(#fn))

/*
 * task_joinset_join_next_poll - the poll of "await the next task to end".
 * True when done: *@rc is 0 (it finished) or -ECANCELED (it was aborted),
 * and *@out its join handle, now the caller's (read the frame, then
 * task_handle_release()); or *@rc is -ECHILD and *@out NULL: the set is
 * empty (Tokio's None); -EINVAL for a NULL argument.  False when the
 * calling task waits.  Cancellation-safe: an aborted join_next takes no
 * task out of the set.  Uses one unit of cooperative budget.
 */
TASK_API bool task_joinset_join_next_poll(struct task_cx *cx, task_joinset *set,
                                          task_handle **out, int *rc);

/* TASK_JOINSET_JOIN_NEXT(f, set, outp, rcp) - await the next task to end. */
#define TASK_JOINSET_JOIN_NEXT(f, set, outp, rcp)                              \
        TASK_AWAIT(f, task_joinset_join_next_poll((cx), (set), (outp), (rcp)))

/*
 * task_joinset_try_join_next - join_next without waiting.  Returns 0 (with
 * *@out and *@task_rc as above), -EAGAIN (tasks are running, none ended
 * yet), -ECHILD (empty) or -EINVAL.
 */
TASK_API int task_joinset_try_join_next(task_joinset *set, task_handle **out,
                                        int *task_rc);

/* Abort every task in @set (they stay in it until joined).  NULL ignored. */
TASK_API void task_joinset_abort_all(task_joinset *set);

/* Tasks in @set: running, or ended and not yet joined.  May be read from
 * any thread (a snapshot). */
TASK_API size_t task_joinset_len(const task_joinset *set);

#ifdef __cplusplus
}
#endif

#endif /* LIBTASK_JOINSET_H */
