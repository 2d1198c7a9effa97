/*
 * libtask/coro.h - stackless coroutines: the macros every task is written in.
 *
 * A libtask task is a *poll function* plus a *frame*.  The frame is a struct
 * that holds everything that must live across a suspension; the poll function
 * is a Duff's-device state machine over it (the technique of protothreads):
 * each suspension point is a `case __LINE__:` label inside one `switch` that
 * TASK_BEGIN opens, so calling the function again jumps straight back to
 * where it left off.
 *
 *     struct counter {
 *             TASK_FRAME;              // resume point; put it anywhere
 *             int i, n;                // state that survives suspensions
 *     };
 *
 *     static int counter(struct task_cx *cx, void *arg)
 *     {
 *             struct counter *f = arg; // recomputed on every entry: fine
 *             TASK_BEGIN(f);
 *             for (f->i = 0; f->i < f->n; f->i++)
 *                     TASK_YIELD(f);   // loops and ifs around awaits just work
 *             TASK_END(f);
 *     }
 *
 * A poll function returns TASK_PENDING (suspended; it has arranged to be
 * woken) or TASK_DONE (finished).  The macros use the poll function's first
 * parameter by name: **it must be called `cx`**.
 *
 * HAZARDS (read these before writing a coroutine):
 *
 *  - **Local variables are not preserved across a suspension.**  Anything
 *    that must survive a TASK_AWAIT/TASK_YIELD/TASK_AWAIT_CO lives in the
 *    frame.  A local computed afresh on every entry (like `f` above) is fine.
 *  - **A suspension point cannot sit inside a `switch` statement of your
 *    own** between TASK_BEGIN and TASK_END: its `case __LINE__` label would
 *    belong to your switch.  Use if/else chains around awaits instead.
 *  - **Two suspension points cannot share one source line** (they would get
 *    the same `case` label: the compiler rejects it with "duplicate case").
 *  - **The TASK_CLEANUP section must not suspend.**  It runs on normal
 *    completion, on TASK_RETURN and when the task is aborted; if it returns
 *    TASK_PENDING during an abort, the runtime finishes the task anyway and
 *    the rest of the cleanup never runs.
 *  - The frame's address is stable for the task's life (it lives inside the
 *    task's single allocation), so pointers into it may be handed out, but a
 *    frame is aligned to 8 bytes at most.
 *
 * Awaiting resources: TASK_AWAIT(f, cond) re-evaluates `cond` every time the
 * task is polled at that point; `cond` must be a poll call that returns true
 * when ready and, when it returns false, has registered the task to be woken
 * (like a Rust Future's poll with its Context).  task_join_poll() and every
 * libtask primitive follow that contract.  **On an abort, `cond` is
 * evaluated once more, with cx->cancelling set**, before the jump to the
 * cleanup: that is how a resource learns that its waiter is gone (the
 * analog of dropping a Rust future).  libtask's poll functions then cancel
 * their wait and return false; one whose resource cannot let go at once (an
 * I/O operation the kernel may still write into) sets cx->cancel_wait, and
 * the task then stays suspended there, still cancelling, until the
 * resource wakes it for another look.  **A plain condition is evaluated too and its
 * value ignored, so its side effects (a try-pop, say) happen and are lost.**
 * Inside the TASK_CLEANUP section an await sees cx->cancelling clear, even
 * during an abort, so a cleanup may await something already ready (join a
 * finished task, take a free lock) and carry on.
 *
 * Cancellation: task_abort() makes the task's next poll a *cancelling* poll.
 * The task resumes at its suspension point; an awaited sub-coroutine is
 * resumed first so that its own cleanup runs (innermost first), then control
 * jumps to the frame's TASK_CLEANUP section (or straight to TASK_END).  A task
 * aborted before its first poll runs only its cleanup, against the frame as
 * the spawner initialised it.
 *
 * The plain-C expansion of each macro is shown in docs/runtime.md.
 */
#ifndef LIBTASK_CORO_H
#define LIBTASK_CORO_H

#include <libtask/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What a poll function returns. */
enum {
        TASK_PENDING = 0, /* suspended; a wake-up has been arranged */
        TASK_DONE = 1,    /* finished; never polled again */
};

/*
 * A source location.  Suspension points and TASK_SPAWN sites each get one
 * static instance, so recording "where" costs one pointer store.  @name is
 * the enclosing coroutine for a suspension point and the spawned function
 * for a spawn site.  Owned by the program image; never freed.
 */
struct task_site {
        const char *file;
        const char *name;
        int line;
};

/*
 * The poll context, passed to every poll function as `cx`.  It lives on the
 * polling worker's stack for the duration of one poll and must not be kept.
 * The fields are public only because the macros use them; treat them as
 * read-only except through the macros and task_* calls.
 */
struct task_cx {
        struct task *task;            /* the task being polled */
        struct task_runtime *rt;      /* its runtime */
        const struct task_site *site; /* set by the macros on suspension */
        int budget;               /* cooperative budget left (see runtime.h) */
        unsigned char cancelling; /* this poll runs the cleanup (abort) */
        unsigned char yielded;    /* re-queue at the back after this poll */
        /* Set by a poll function called in cancelling mode whose resource
         * cannot let go at once (an I/O operation the kernel still owns):
         * the task stays suspended at that point, still cancelling, until
         * the resource wakes it; then the cancelling look is repeated. */
        unsigned char cancel_wait;
};

/* A poll function.  `frame` is the task's frame. */
typedef int (*task_fn)(struct task_cx *cx, void *frame);

/* The resume point kept in every frame. */
struct task_co {
        int lc;
};

/* Declare the resume point inside a frame struct: `struct f { TASK_FRAME; ... };` */
#define TASK_FRAME struct task_co co

/* Internal resume values (line numbers are always positive). */
#define TASK__LC_CANCEL (-1) /* run the cleanup (abort, TASK_RETURN) */
#define TASK__LC_DONE (-2)   /* finished */

#if defined(__GNUC__)
#define TASK__UNLIKELY(x) __builtin_expect(!!(x), 0)
#define TASK__LABEL_UNUSED __attribute__((unused))
#define TASK__FALLTHROUGH __attribute__((fallthrough))
#else
#define TASK__FALLTHROUGH
#define TASK__UNLIKELY(x) (x)
#define TASK__LABEL_UNUSED
#endif
/* (TASK__FALLTHROUGH is empty on other compilers.) */

/*
 * A pointer to a static task_site for this line (a GNU statement expression,
 * accepted by GCC and Clang in every -std mode through __extension__).
 */
#define TASK_SITE_HERE(name_)                                                  \
        (__extension__({                                                       \
                static const struct task_site task__site_ = {                  \
                    __FILE__, (name_), __LINE__};                              \
                &task__site_;                                                  \
        }))

/* ---- Begin and end ------------------------------------------------------ */

/*
 * TASK_BEGIN(f) - open the coroutine body.  @f: pointer to the frame.
 * Everything between TASK_BEGIN and TASK_END is one switch statement.  A
 * fresh frame (lc == 0) starts at the top, unless the task was aborted
 * before its first poll, in which case only the cleanup runs.
 */
#define TASK_BEGIN(f)                                                          \
        task__top:                                                             \
        TASK__LABEL_UNUSED;                                                    \
        switch (((cx)->cancelling && (f)->co.lc == 0) ? TASK__LC_CANCEL        \
                                                      : (f)->co.lc) {          \
        case 0:

/*
 * TASK_CLEANUP(f) - optional: start the section that runs however the
 * coroutine ends (falling through, TASK_RETURN, or abort): the analog of a
 * Rust Drop.  At most one per coroutine, after the body, before TASK_END.
 * **It must not suspend.**
 */
#define TASK_CLEANUP(f)                                                        \
        TASK__FALLTHROUGH;                                                     \
        case TASK__LC_CANCEL:                                                  \
                (f)->co.lc = TASK__LC_CANCEL

/* (Not formatted: the macro closes TASK_BEGIN's switch.) */
// clang-format off
/* TASK_END(f) - close the coroutine body: the coroutine is finished. */
#define TASK_END(f)                                                            \
        TASK__FALLTHROUGH;                                                     \
        default:;                                                              \
        }                                                                      \
        (f)->co.lc = TASK__LC_DONE;                                            \
        return TASK_DONE
// clang-format on

/*
 * TASK_RETURN(f) - finish now.  The TASK_CLEANUP section (if any) runs.
 */
#define TASK_RETURN(f)                                                         \
        do {                                                                   \
                (f)->co.lc = TASK__LC_CANCEL;                                  \
                goto task__top;                                                \
        } while (0)

/* ---- Suspension points -------------------------------------------------- */

/* Record where we stop (for the task dump), then suspend. */
#define TASK__PEND()                                                           \
        do {                                                                   \
                (cx)->site = TASK_SITE_HERE(__func__);                         \
                return TASK_PENDING;                                           \
        } while (0)

/*
 * Remember this line as the resume point, except inside the cleanup section
 * (lc == TASK__LC_CANCEL), which must stay the resume point so that an abort
 * never restarts a cleanup from a suspension point inside it.
 */
#define TASK__MARK(f)                                                          \
        if ((f)->co.lc != TASK__LC_CANCEL)                                     \
        (f)->co.lc = __LINE__

/* At a resume point: an abort turns into a jump to the cleanup. */
#define TASK__CHECK_CANCEL(f)                                                  \
        if (TASK__UNLIKELY((cx)->cancelling) &&                                \
            (f)->co.lc != TASK__LC_CANCEL) {                                   \
                (f)->co.lc = TASK__LC_CANCEL;                                  \
                goto task__top;                                                \
        }

/*
 * TASK_AWAIT(f, cond) - suspend until @cond is true.
 * @cond is evaluated now and on every later poll at this point; when it is
 * false it must have arranged a wake-up (see the head of this file).
 */
#define TASK_AWAIT(f, cond)                                                    \
        do {                                                                   \
                TASK__MARK(f);                                                 \
                TASK__FALLTHROUGH;                                             \
        case __LINE__: {                                                       \
                unsigned char task__c_ = (cx)->cancelling;                     \
                /* Only the last look before the cleanup is a cancelling    \
                 * evaluation; inside the cleanup an await is an await. */  \
                (cx)->cancelling = task__c_ && (f)->co.lc != TASK__LC_CANCEL;  \
                int task__ready_ = !!(cond);                                   \
                if (TASK__UNLIKELY((cx)->cancelling)) {                        \
                        /* The resource still owns memory of ours (an I/O   \
                         * in flight): wait here until it lets go. */  \
                        if ((cx)->cancel_wait)                                 \
                                TASK__PEND();                                  \
                        (f)->co.lc = TASK__LC_CANCEL;                          \
                        goto task__top; /* cancelling stays set */             \
                }                                                              \
                (cx)->cancelling = task__c_;                                   \
                if (!task__ready_)                                             \
                        TASK__PEND();                                          \
        }                                                                      \
        } while (0)

/*
 * TASK_YIELD(f) - yield_now: go to the back of the run queue and let other
 * tasks run.  Tokio's `tokio::task::yield_now().await`.
 */
#define TASK_YIELD(f)                                                          \
        do {                                                                   \
                TASK__MARK(f);                                                 \
                (cx)->yielded = 1;                                             \
                TASK__PEND();                                                  \
        case __LINE__:                                                         \
                TASK__CHECK_CANCEL(f);                                         \
        } while (0)

/*
 * TASK_AWAIT_CO(f, fn, sub) - run the sub-coroutine @fn on the frame @sub
 * (usually embedded in @f: `&f->sub`) until it finishes.  Set @sub's input
 * fields before this macro; read its outputs after.  The sub-coroutine shares
 * the task (and its `cx`); its suspensions are the task's suspensions.  On an
 * abort it is resumed once in cancelling mode so that its cleanup runs
 * before @f's own.
 */
#define TASK_AWAIT_CO(f, fn, sub)                                              \
        do {                                                                   \
                (sub)->co.lc = 0;                                              \
                TASK__MARK(f);                                                 \
                TASK__FALLTHROUGH;                                             \
        case __LINE__:                                                         \
                if ((fn)((cx), (sub)) == TASK_PENDING)                         \
                        return TASK_PENDING;                                   \
                TASK__CHECK_CANCEL(f);                                         \
        } while (0)

/*
 * TASK_JOIN(f, h, rcp) - await the task behind the join handle @h; then
 * *@rcp is 0 (it finished) or -ECANCELED (it was aborted).  The handle stays
 * valid (its frame readable through task_handle_frame()) until released.
 */
#define TASK_JOIN(f, h, rcp) TASK_AWAIT(f, task_join_poll((cx), (h), (rcp)))

#ifdef __cplusplus
}
#endif

#endif /* LIBTASK_CORO_H */
