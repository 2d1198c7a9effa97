/*
 * test_rwlock.c - the fair reader-writer lock: many readers at once, a
 * writer excludes everyone, a writer queued behind readers blocks later
 * readers (no writer starvation), a write unlock admits the readers up to
 * the next writer, the configurable reader limit, downgrade, unlocks that
 * match no holder (-EPERM) and the documented case that is not refused (a
 * read_unlock during a hand-off), cancellation (queued and granted waiters,
 * a writer holding readers' permits), TASK_SELECT, blocking variants from
 * threads, destroy, bad input, a stress with stealing, and the
 * current-thread flavor.
 *
 * "Is task T queued" is read from T's own wait node (wait_queued(),
 * helpers.h, on the operation in its frame): queued, not yet granted.
 */
#include "helpers.h"

/* ---- A task that takes the lock ------------------------------------------ */

struct locker {
        TASK_FRAME;
        struct task_rwlock *rw;
        bool write;
        bool keep; /* do not unlock */
        atomic_int *seq;
        struct task_rwlock_read rd;
        struct task_rwlock_write wr;
        int rc;
        int pos;
        bool held;
};

static int locker_fn(struct task_cx *cx, void *arg)
{
        struct locker *f = arg;

        TASK_BEGIN(f);
        f->rc = 1;
        if (f->write)
                TASK_RWLOCK_WRITE(f, f->rw, &f->wr, &f->rc);
        else
                TASK_RWLOCK_READ(f, f->rw, &f->rd, &f->rc);
        f->held = true;
        if (f->seq)
                f->pos = atomic_fetch_add(f->seq, 1);
        if (!f->keep) {
                if (f->write)
                        TCHECK(task_rwlock_write_unlock(f->rw) == 0);
                else
                        TCHECK(task_rwlock_read_unlock(f->rw) == 0);
                f->held = false;
        }
        TASK_END(f);
}

static task_handle *spawn_locker(task_runtime *rt, struct task_rwlock *rw,
                                 bool write, bool keep, atomic_int *seq)
{
        task_handle *h;
        struct locker f = {.rw = rw, .write = write, .keep = keep, .seq = seq};

        cr_assert_eq(TASK_SPAWN(rt, locker_fn, &f, &h), 0);
        return h;
}

static struct locker *locker_of(task_handle *h)
{
        return task_handle_frame(h);
}

static bool l_queued(task_handle *h)
{
        struct locker *f = locker_of(h);
        return wait_queued(f->write ? &f->wr.acq.w : &f->rd.acq.w);
}

static task_handle *spawn_queued(task_runtime *rt, struct task_rwlock *rw,
                                 bool write, bool keep, atomic_int *seq)
{
        task_handle *h = spawn_locker(rt, rw, write, keep, seq);
        cr_assert(WAIT_UNTIL(l_queued(h), 5000), "the lock never queued");
        return h;
}

static int join_rc(task_handle *h)
{
        cr_assert_eq(task_join_blocking(h), 0);
        return locker_of(h)->rc;
}

/* A ct_run_until() condition (helpers.h). */
static bool h_queued(void *h)
{
        return l_queued(h);
}

/* ---- Readers and writers ----------------------------------------------------- */

Test(rwlock, many_readers_hold_it_at_once, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_rwlock rw;
        enum { N = 32 };
        task_handle *h[N];

        cr_assert_eq(task_rwlock_init(&rw, 0), 0);
        for (int i = 0; i < N; i++)
                h[i] = spawn_locker(rt, &rw, false, true, NULL);
        for (int i = 0; i < N; i++) {
                cr_assert_eq(join_rc(h[i]), 0);
                cr_assert(locker_of(h[i])->held);
        }
        /* All N hold a read lock now: more readers get in, no writer. */
        cr_assert_eq(task_rwlock_try_read(&rw), 0);
        cr_assert_eq(task_rwlock_try_write(&rw), -EAGAIN);
        cr_assert_eq(task_rwlock_destroy(&rw), -EBUSY);
        for (int i = 0; i <= N; i++)
                cr_assert_eq(task_rwlock_read_unlock(&rw), 0);
        cr_assert_eq(task_rwlock_read_unlock(&rw), -EPERM);
        cr_assert_eq(task_rwlock_try_write(&rw), 0);
        cr_assert_eq(task_rwlock_write_unlock(&rw), 0);
        cr_assert_eq(task_rwlock_destroy(&rw), 0);
        for (int i = 0; i < N; i++)
                task_handle_release(h[i]);
        test_rt_free(rt);
}

Test(rwlock, a_writer_excludes_everyone, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_rwlock rw;
        atomic_int seq = 0;

        cr_assert_eq(task_rwlock_init(&rw, 0), 0);
        cr_assert_eq(task_rwlock_try_write(&rw), 0);
        cr_assert_eq(task_rwlock_try_read(&rw), -EAGAIN);
        cr_assert_eq(task_rwlock_try_write(&rw), -EAGAIN);
        task_handle *r1 = spawn_queued(rt, &rw, false, false, &seq);
        task_handle *w = spawn_queued(rt, &rw, true, false, &seq);
        task_handle *r2 = spawn_queued(rt, &rw, false, false, &seq);
        cr_assert_eq(task_rwlock_read_unlock(&rw), -EPERM);
        cr_assert_eq(task_rwlock_write_unlock(&rw), 0);
        cr_assert_eq(join_rc(r1), 0);
        cr_assert_eq(join_rc(w), 0);
        cr_assert_eq(join_rc(r2), 0);
        cr_assert_eq(locker_of(r1)->pos, 0);
        cr_assert_eq(locker_of(w)->pos, 1);
        cr_assert_eq(locker_of(r2)->pos, 2);
        cr_assert_eq(task_rwlock_destroy(&rw), 0);
        task_handle_release(r1);
        task_handle_release(w);
        task_handle_release(r2);
        test_rt_free(rt);
}

Test(rwlock, queued_writer_blocks_later_readers, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_rwlock rw;
        atomic_int seq = 0;

        cr_assert_eq(task_rwlock_init(&rw, 0), 0);
        cr_assert_eq(task_rwlock_try_read(&rw), 0);
        cr_assert_eq(task_rwlock_try_read(&rw), 0);
        task_handle *w = spawn_queued(rt, &rw, true, true, &seq);
        /* Readers hold it, but the queued writer comes first. */
        cr_assert_eq(task_rwlock_try_read(&rw), -EAGAIN);
        task_handle *r = spawn_queued(rt, &rw, false, false, &seq);
        cr_assert_not(task_handle_finished(r), "a reader overtook the writer");

        cr_assert_eq(task_rwlock_read_unlock(&rw), 0);
        cr_assert(l_queued(w));
        cr_assert(l_queued(r));
        cr_assert_eq(task_rwlock_read_unlock(&rw), 0);
        cr_assert_eq(join_rc(w), 0);
        cr_assert(l_queued(r), "a reader got in with the writer");
        cr_assert_eq(task_rwlock_write_unlock(&rw), 0); /* w's lock */
        cr_assert_eq(join_rc(r), 0);
        cr_assert_eq(locker_of(w)->pos, 0);
        cr_assert_eq(locker_of(r)->pos, 1);
        cr_assert_eq(task_rwlock_destroy(&rw), 0);
        task_handle_release(w);
        task_handle_release(r);
        test_rt_free(rt);
}

Test(rwlock, write_unlock_admits_readers_up_to_the_next_writer, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_rwlock rw;

        cr_assert_eq(task_rwlock_init(&rw, 0), 0);
        cr_assert_eq(task_rwlock_try_write(&rw), 0);
        task_handle *r1 = spawn_queued(rt, &rw, false, true, NULL);
        task_handle *r2 = spawn_queued(rt, &rw, false, true, NULL);
        task_handle *w = spawn_queued(rt, &rw, true, true, NULL);
        task_handle *r3 = spawn_queued(rt, &rw, false, true, NULL);
        cr_assert_eq(task_rwlock_write_unlock(&rw), 0);
        cr_assert_eq(join_rc(r1), 0);
        cr_assert_eq(join_rc(r2), 0);
        cr_assert(l_queued(w));
        cr_assert(l_queued(r3));
        cr_assert_eq(task_rwlock_read_unlock(&rw), 0);
        cr_assert_eq(task_rwlock_read_unlock(&rw), 0);
        cr_assert_eq(join_rc(w), 0);
        cr_assert(l_queued(r3));
        cr_assert_eq(task_rwlock_write_unlock(&rw), 0);
        cr_assert_eq(join_rc(r3), 0);
        cr_assert_eq(task_rwlock_read_unlock(&rw), 0);
        cr_assert_eq(task_rwlock_destroy(&rw), 0);
        task_handle_release(r1);
        task_handle_release(r2);
        task_handle_release(w);
        task_handle_release(r3);
        test_rt_free(rt);
}

Test(rwlock, max_readers_is_configurable, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_rwlock rw;

        cr_assert_eq(task_rwlock_init(&rw, 2), 0);
        cr_assert_eq(task_rwlock_try_read(&rw), 0);
        cr_assert_eq(task_rwlock_try_read(&rw), 0);
        cr_assert_eq(task_rwlock_try_read(&rw), -EAGAIN);
        task_handle *r = spawn_queued(rt, &rw, false, false, NULL);
        cr_assert_eq(task_rwlock_read_unlock(&rw), 0);
        cr_assert_eq(join_rc(r), 0);
        cr_assert_eq(task_rwlock_read_unlock(&rw), 0);
        cr_assert_eq(task_rwlock_try_write(&rw), 0);
        cr_assert_eq(task_rwlock_write_unlock(&rw), 0);
        cr_assert_eq(task_rwlock_destroy(&rw), 0);
        task_handle_release(r);

        /* One reader at most: a mutex that can be downgraded. */
        cr_assert_eq(task_rwlock_init(&rw, 1), 0);
        cr_assert_eq(task_rwlock_try_write(&rw), 0);
        cr_assert_eq(task_rwlock_downgrade(&rw), 0);
        cr_assert_eq(task_rwlock_try_read(&rw), -EAGAIN);
        cr_assert_eq(task_rwlock_read_unlock(&rw), 0);
        cr_assert_eq(task_rwlock_destroy(&rw), 0);

        /* The default is Tokio's. */
        cr_assert_eq(task_rwlock_init(&rw, 0), 0);
        cr_assert_eq(rw.max_readers, TASK_RWLOCK_MAX_READERS);
        cr_assert_eq(task_sem_available(&rw.sem), TASK_RWLOCK_MAX_READERS);
        cr_assert_eq(task_rwlock_init(&rw, TASK_SEM_MAX_PERMITS), 0);
        test_rt_free(rt);
}

Test(rwlock, unlock_without_a_matching_holder_is_eperm, .timeout = 10)
{
        struct task_rwlock rw;

        cr_assert_eq(task_rwlock_init(&rw, 0), 0);
        cr_assert_eq(task_rwlock_read_unlock(&rw), -EPERM);
        cr_assert_eq(task_rwlock_write_unlock(&rw), -EPERM);
        cr_assert_eq(task_rwlock_downgrade(&rw), -EPERM);
        cr_assert_eq(task_rwlock_try_read(&rw), 0);
        cr_assert_eq(task_rwlock_write_unlock(&rw), -EPERM);
        cr_assert_eq(task_rwlock_downgrade(&rw), -EPERM);
        cr_assert_eq(task_rwlock_read_unlock(&rw), 0);
        cr_assert_eq(task_rwlock_try_write(&rw), 0);
        cr_assert_eq(task_rwlock_read_unlock(&rw), -EPERM);
        cr_assert_eq(task_rwlock_write_unlock(&rw), 0);
        cr_assert_eq(task_rwlock_write_unlock(&rw), -EPERM);
        /* Nothing was corrupted: exactly max_readers permits. */
        cr_assert_eq(task_sem_available(&rw.sem), TASK_RWLOCK_MAX_READERS);
        cr_assert_eq(task_rwlock_destroy(&rw), 0);
}

Test(rwlock, downgrade_admits_readers_but_not_past_a_writer, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_rwlock rw;

        cr_assert_eq(task_rwlock_init(&rw, 0), 0);
        cr_assert_eq(task_rwlock_try_write(&rw), 0);
        task_handle *r1 = spawn_queued(rt, &rw, false, false, NULL);
        task_handle *w = spawn_queued(rt, &rw, true, false, NULL);
        task_handle *r2 = spawn_queued(rt, &rw, false, false, NULL);
        cr_assert_eq(task_rwlock_downgrade(&rw), 0);
        cr_assert_eq(join_rc(r1), 0); /* read alongside the downgraded */
        cr_assert(l_queued(w));
        cr_assert(l_queued(r2));
        cr_assert_eq(task_rwlock_try_read(&rw), -EAGAIN);
        cr_assert_eq(task_rwlock_write_unlock(&rw), -EPERM);
        cr_assert_eq(task_rwlock_read_unlock(&rw), 0); /* the downgraded */
        cr_assert_eq(join_rc(w), 0);
        cr_assert_eq(join_rc(r2), 0);
        cr_assert_eq(task_rwlock_destroy(&rw), 0);
        task_handle_release(r1);
        task_handle_release(w);
        task_handle_release(r2);
        test_rt_free(rt);
}

/* ---- Cancellation ----------------------------------------------------------- */

Test(rwlock, aborted_writer_behind_readers_lets_later_readers_in, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_rwlock rw;

        cr_assert_eq(task_rwlock_init(&rw, 4), 0);
        cr_assert_eq(task_rwlock_try_read(&rw), 0);
        cr_assert_eq(task_rwlock_try_read(&rw), 0);
        task_handle *w = spawn_queued(rt, &rw, true, false, NULL);
        task_handle *r = spawn_queued(rt, &rw, false, true, NULL);
        cr_assert_eq(task_sem_available(&rw.sem), 0, "w holds back 2");
        task_abort(w);
        cr_assert_eq(task_join_blocking(w), -ECANCELED);
        cr_assert_not(locker_of(w)->held);
        cr_assert_eq(join_rc(r), 0);
        cr_assert_eq(task_sem_available(&rw.sem), 1);
        for (int i = 0; i < 3; i++)
                cr_assert_eq(task_rwlock_read_unlock(&rw), 0);
        cr_assert_eq(task_sem_available(&rw.sem), 4);
        cr_assert_eq(task_rwlock_try_write(&rw), 0);
        cr_assert_eq(task_rwlock_write_unlock(&rw), 0);
        cr_assert_eq(task_rwlock_destroy(&rw), 0);
        task_handle_release(w);
        task_handle_release(r);
        test_rt_free(rt);
}

Test(rwlock, aborted_queued_reader_just_leaves, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_rwlock rw;

        cr_assert_eq(task_rwlock_init(&rw, 0), 0);
        cr_assert_eq(task_rwlock_try_write(&rw), 0);
        task_handle *r = spawn_queued(rt, &rw, false, false, NULL);
        task_handle *w = spawn_queued(rt, &rw, true, false, NULL);
        task_abort(r);
        cr_assert_eq(task_join_blocking(r), -ECANCELED);
        cr_assert_eq(locker_of(r)->rc, 1);
        cr_assert_eq(task_rwlock_write_unlock(&rw), 0);
        cr_assert_eq(join_rc(w), 0);
        cr_assert_eq(task_rwlock_destroy(&rw), 0);
        task_handle_release(r);
        task_handle_release(w);
        test_rt_free(rt);
}

Test(rwlock, lock_granted_to_an_aborted_writer_passes_on, .timeout = 10)
{
        task_runtime *rt = test_rt_new(TASK_CURRENT_THREAD, 0);
        struct task_rwlock rw;

        cr_assert_eq(task_rwlock_init(&rw, 0), 0);
        cr_assert_eq(task_rwlock_try_read(&rw), 0);
        task_handle *w = spawn_locker(rt, &rw, true, true, NULL);
        ct_run_until(rt, h_queued, w);
        task_handle *r = spawn_locker(rt, &rw, false, true, NULL);
        ct_run_until(rt, h_queued, r);
        cr_assert_eq(task_rwlock_read_unlock(&rw), 0); /* granted to w */
        cr_assert_eq(task_rwlock_try_read(&rw), -EAGAIN);
        task_abort(w);
        ct_run_until(rt, h_finished, r);
        cr_assert_eq(task_join_blocking(w), -ECANCELED);
        cr_assert_not(locker_of(w)->held);
        cr_assert_eq(join_rc(r), 0);
        cr_assert_eq(task_rwlock_write_unlock(&rw), -EPERM);
        cr_assert_eq(task_rwlock_read_unlock(&rw), 0); /* r's */
        cr_assert_eq(task_sem_available(&rw.sem), TASK_RWLOCK_MAX_READERS);
        cr_assert_eq(task_rwlock_destroy(&rw), 0);
        task_handle_release(w);
        task_handle_release(r);
        test_rt_free(rt);
}

/*
 * The documented hole in -EPERM (rwlock.h): a read_unlock while the lock is
 * being handed to a writer that has not run yet is not refused (the writer
 * flag is set when the writer runs, and the permits say only that they are
 * out).  It lets a reader in beside the writer; the extra permit is
 * absorbed by a later unlock that is refused, and none is lost.
 */
Test(rwlock, read_unlock_while_handed_to_a_writer_is_not_refused, .timeout = 10)
{
        task_runtime *rt = test_rt_new(TASK_CURRENT_THREAD, 0);
        struct task_rwlock rw;

        cr_assert_eq(task_rwlock_init(&rw, 4), 0);
        cr_assert_eq(task_rwlock_try_read(&rw), 0);
        task_handle *w = spawn_locker(rt, &rw, true, true, NULL);
        ct_run_until(rt, h_queued, w);
        cr_assert_eq(task_rwlock_read_unlock(&rw), 0); /* granted to w */
        cr_assert_eq(task_rwlock_read_unlock(&rw), 0, "not refused");
        cr_assert_eq(task_rwlock_try_read(&rw), 0, "a reader beside w");
        ct_run_until(rt, h_finished, w);
        cr_assert_eq(join_rc(w), 0);
        cr_assert(locker_of(w)->held);
        cr_assert_eq(task_rwlock_read_unlock(&rw), -EPERM, "absorbed");
        cr_assert_eq(task_rwlock_write_unlock(&rw), 0);
        cr_assert_eq(task_sem_available(&rw.sem), 4, "none lost");
        cr_assert_eq(task_rwlock_try_write(&rw), 0);
        cr_assert_eq(task_rwlock_write_unlock(&rw), 0);
        cr_assert_eq(task_rwlock_destroy(&rw), 0);
        task_handle_release(w);
        test_rt_free(rt);
}

struct sel {
        TASK_FRAME;
        struct gate *g;
        struct task_rwlock *rw;
        struct task_rwlock_write op;
        struct task_select sel;
        int rc;
};

static int sel_fn(struct task_cx *cx, void *arg)
{
        struct sel *f = arg;

        TASK_BEGIN(f);
        f->rc = 1;
        TASK_SELECT(f, &f->sel, gate_poll(cx, f->g),
                    task_rwlock_write_poll(cx, f->rw, &f->op, &f->rc));
        TASK_END(f);
}

static bool sel_waiting(void *h)
{
        struct sel *f = task_handle_frame(h);
        return wait_queued(&f->op.acq.w) && gate_has_waiter(f->g);
}

Test(rwlock, select_loser_does_not_hold_the_lock, .timeout = 10)
{
        task_runtime *rt = test_rt_new(TASK_CURRENT_THREAD, 0);
        struct task_rwlock rw;
        struct gate g;
        task_handle *h;

        gate_init(&g);
        cr_assert_eq(task_rwlock_init(&rw, 0), 0);
        cr_assert_eq(task_rwlock_try_read(&rw), 0);
        cr_assert_eq(
            TASK_SPAWN(rt, sel_fn, (&(struct sel){.g = &g, .rw = &rw}), &h), 0);
        ct_run_until(rt, sel_waiting, h);
        gate_open(&g);
        cr_assert_eq(task_rwlock_read_unlock(&rw), 0); /* granted */
        ct_run_until(rt, h_finished, h);
        cr_assert_eq(task_join_blocking(h), 0);
        cr_assert_eq(((struct sel *)task_handle_frame(h))->sel.which, 0);
        cr_assert_eq(((struct sel *)task_handle_frame(h))->rc, 1);
        cr_assert_eq(task_sem_available(&rw.sem), TASK_RWLOCK_MAX_READERS);
        cr_assert_eq(task_rwlock_destroy(&rw), 0);
        task_handle_release(h);
        gate_destroy(&g);
        test_rt_free(rt);
}

/* ---- Threads ---------------------------------------------------------------- */

struct tlock {
        struct task_rwlock *rw;
        bool write;
        int rc;
};

static void *tlock_main(void *arg)
{
        struct tlock *t = arg;
        t->rc = t->write ? task_rwlock_write_blocking(t->rw)
                         : task_rwlock_read_blocking(t->rw);
        return NULL;
}

Test(rwlock, blocking_variants_from_threads, .timeout = 10)
{
        struct task_rwlock rw;
        pthread_t th;
        struct tlock t = {.rw = &rw, .rc = 1};

        cr_assert_eq(task_rwlock_init(&rw, 0), 0);
        cr_assert_eq(task_rwlock_read_blocking(&rw), 0);
        cr_assert_eq(task_rwlock_read_blocking(&rw), 0);

        /* A writer thread waits for both readers. */
        t.write = true;
        cr_assert_eq(pthread_create(&th, NULL, tlock_main, &t), 0);
        cr_assert(WAIT_UNTIL(task_sem_destroy(&rw.sem) == -EBUSY, 5000));
        cr_assert_eq(task_rwlock_read_unlock(&rw), 0);
        cr_assert_eq(task_rwlock_read_unlock(&rw), 0);
        cr_assert_eq(pthread_join(th, NULL), 0);
        cr_assert_eq(t.rc, 0);

        /* A reader thread waits for the writer. */
        t.write = false;
        t.rc = 1;
        cr_assert_eq(pthread_create(&th, NULL, tlock_main, &t), 0);
        cr_assert(WAIT_UNTIL(task_sem_destroy(&rw.sem) == -EBUSY, 5000));
        cr_assert_eq(task_rwlock_write_unlock(&rw), 0);
        cr_assert_eq(pthread_join(th, NULL), 0);
        cr_assert_eq(t.rc, 0);
        cr_assert_eq(task_rwlock_read_unlock(&rw), 0);
        cr_assert_eq(task_rwlock_write_blocking(&rw), 0);
        cr_assert_eq(task_rwlock_write_unlock(&rw), 0);
        cr_assert_eq(task_rwlock_destroy(&rw), 0);
}

struct deadlk {
        TASK_FRAME;
        struct task_rwlock *rw;
        int rc[2];
};

static int deadlk_fn(struct task_cx *cx, void *arg)
{
        struct deadlk *f = arg;

        TASK_BEGIN(f);
        f->rc[0] = task_rwlock_read_blocking(f->rw);
        f->rc[1] = task_rwlock_write_blocking(f->rw);
        TASK_END(f);
}

Test(rwlock, blocking_variants_from_a_task_are_edeadlk, .timeout = 10)
{
        struct task_rwlock rw;

        cr_assert_eq(task_rwlock_init(&rw, 0), 0);
        for (enum task_flavor fl = TASK_MULTI_THREAD; fl <= TASK_CURRENT_THREAD;
             fl++) {
                task_runtime *rt = test_rt_new_flavor(fl);
                struct deadlk f = {.rw = &rw};
                cr_assert_eq(task_block_on(rt, deadlk_fn, &f, sizeof f), 0);
                cr_assert_eq(f.rc[0], -EDEADLK);
                cr_assert_eq(f.rc[1], -EDEADLK);
                test_rt_free(rt);
        }
        cr_assert_eq(task_rwlock_destroy(&rw), 0);
}

/* ---- destroy and bad input --------------------------------------------------- */

Test(rwlock, destroy_is_ebusy_while_held_or_waited_on, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_rwlock rw;

        cr_assert_eq(task_rwlock_init(&rw, 0), 0);
        cr_assert_eq(task_rwlock_try_read(&rw), 0);
        cr_assert_eq(task_rwlock_destroy(&rw), -EBUSY);
        task_handle *w = spawn_queued(rt, &rw, true, false, NULL);
        cr_assert_eq(task_rwlock_destroy(&rw), -EBUSY);
        cr_assert(l_queued(w));
        cr_assert_eq(task_rwlock_read_unlock(&rw), 0);
        cr_assert_eq(join_rc(w), 0);
        cr_assert_eq(task_rwlock_destroy(&rw), 0);
        task_handle_release(w);
        test_rt_free(rt);
}

struct badpoll {
        TASK_FRAME;
        struct task_rwlock *rw;
        struct task_rwlock_read rd;
        struct task_rwlock_write wr;
        int rc[4];
        bool ready[4];
};

static int badpoll_fn(struct task_cx *cx, void *arg)
{
        struct badpoll *f = arg;

        TASK_BEGIN(f);
        f->ready[0] = task_rwlock_read_poll(cx, NULL, &f->rd, &f->rc[0]);
        f->ready[1] = task_rwlock_read_poll(cx, f->rw, NULL, &f->rc[1]);
        f->ready[2] = task_rwlock_write_poll(cx, NULL, &f->wr, &f->rc[2]);
        f->ready[3] = task_rwlock_write_poll(cx, f->rw, NULL, &f->rc[3]);
        TASK_END(f);
}

Test(rwlock, bad_input_is_einval, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_rwlock rw;
        struct task_rwlock_read rd = {0};
        struct task_rwlock_write wr = {0};
        int rc = 0;

        cr_assert_eq(task_rwlock_init(NULL, 0), -EINVAL);
        cr_assert_eq(task_rwlock_init(&rw, TASK_SEM_MAX_PERMITS + 1), -EINVAL);
        cr_assert_eq(task_rwlock_init(&rw, 0), 0);
        cr_assert_eq(task_rwlock_destroy(NULL), -EINVAL);
        cr_assert_eq(task_rwlock_try_read(NULL), -EINVAL);
        cr_assert_eq(task_rwlock_try_write(NULL), -EINVAL);
        cr_assert_eq(task_rwlock_read_blocking(NULL), -EINVAL);
        cr_assert_eq(task_rwlock_write_blocking(NULL), -EINVAL);
        cr_assert_eq(task_rwlock_read_unlock(NULL), -EINVAL);
        cr_assert_eq(task_rwlock_write_unlock(NULL), -EINVAL);
        cr_assert_eq(task_rwlock_downgrade(NULL), -EINVAL);
        cr_assert(task_rwlock_read_poll(NULL, &rw, &rd, &rc));
        cr_assert_eq(rc, -EINVAL);
        rc = 0;
        cr_assert(task_rwlock_write_poll(NULL, &rw, &wr, &rc));
        cr_assert_eq(rc, -EINVAL);

        struct badpoll f = {.rw = &rw};
        cr_assert_eq(task_block_on(rt, badpoll_fn, &f, sizeof f), 0);
        for (int i = 0; i < 4; i++) {
                cr_assert(f.ready[i]);
                cr_assert_eq(f.rc[i], -EINVAL);
        }
        cr_assert_eq(task_rwlock_destroy(&rw), 0);
        test_rt_free(rt);
}

/* ---- Stress with stealing ---------------------------------------------------- */

struct shared {
        struct task_rwlock rw;
        atomic_int readers, writers; /* inside right now */
        long value;                  /* written by writers only */
        atomic_long reads;
        long iters;
};

struct user {
        TASK_FRAME;
        struct shared *s;
        struct task_rwlock_read rd;
        struct task_rwlock_write wr;
        long i;
        long seen;
        int id;
};

static int user_fn(struct task_cx *cx, void *arg)
{
        struct user *f = arg;
        struct shared *s = f->s;

        TASK_BEGIN(f);
        for (f->i = 0; f->i < s->iters; f->i++) {
                if ((f->i + f->id) % 8 == 0) {
                        TASK_RWLOCK_WRITE(f, &f->s->rw, &f->wr, NULL);
                        TCHECK(atomic_fetch_add(&s->writers, 1) == 0);
                        TCHECK(atomic_load(&s->readers) == 0);
                        s->value++;
                        if (f->i % 3 == 0)
                                TASK_YIELD(f);
                        TCHECK(atomic_load(&f->s->readers) == 0);
                        atomic_fetch_sub(&f->s->writers, 1);
                        TCHECK(task_rwlock_write_unlock(&f->s->rw) == 0);
                } else {
                        TASK_RWLOCK_READ(f, &f->s->rw, &f->rd, NULL);
                        atomic_fetch_add(&s->readers, 1);
                        TCHECK(atomic_load(&s->writers) == 0);
                        f->seen = s->value;
                        if (f->i % 3 == 0)
                                TASK_YIELD(f);
                        TCHECK(f->s->value == f->seen);
                        atomic_fetch_sub(&f->s->readers, 1);
                        atomic_fetch_add_explicit(&f->s->reads, 1,
                                                  memory_order_relaxed);
                        TCHECK(task_rwlock_read_unlock(&f->s->rw) == 0);
                }
        }
        TASK_END(f);
}

Test(rwlock, stress_readers_share_writers_exclude, .timeout = 120)
{
        task_runtime *rt = test_rt_new_mt(2);
        static struct shared s;
        enum { TASKS = 64 };
        task_handle *h[TASKS];
        long writes = 0;

        cr_assert_eq(task_rwlock_init(&s.rw, 0), 0);
        s.iters = test_scaled(1000000, 20000) / TASKS;
        for (int i = 0; i < TASKS; i++)
                cr_assert_eq(TASK_SPAWN(rt, user_fn,
                                        (&(struct user){.s = &s, .id = i}),
                                        &h[i]),
                             0);
        for (int i = 0; i < TASKS; i++) {
                cr_assert_eq(task_join_blocking(h[i]), 0);
                task_handle_release(h[i]);
        }
        tcheck_assert_none();
        for (int i = 0; i < TASKS; i++)
                for (long k = 0; k < s.iters; k++)
                        writes += (k + i) % 8 == 0;
        cr_assert_eq(s.value, writes);
        cr_assert_eq(atomic_load(&s.reads), s.iters * TASKS - writes);
        cr_assert_eq(task_sem_available(&s.rw.sem), TASK_RWLOCK_MAX_READERS);
        cr_assert_eq(task_rwlock_destroy(&s.rw), 0);
        test_rt_free(rt);
}

/* ---- The current-thread flavor ------------------------------------------------ */

struct ct_main {
        TASK_FRAME;
        struct shared *s;
        task_handle *h[8];
        int i;
        int rc;
};

static int ct_main_fn(struct task_cx *cx, void *arg)
{
        struct ct_main *f = arg;

        TASK_BEGIN(f);
        for (f->i = 0; f->i < 8; f->i++) {
                f->h[f->i] = NULL; /* a failed spawn leaves it untouched */
                TCHECK(TASK_SPAWN(task_cx_runtime(cx), user_fn,
                                  (&(struct user){.s = f->s, .id = f->i}),
                                  &f->h[f->i]) == 0);
        }
        for (f->i = 0; f->i < 8; f->i++) {
                if (!f->h[f->i])
                        continue; /* its failure is recorded */
                TASK_JOIN(f, f->h[f->i], &f->rc);
                TCHECK(f->rc == 0);
                task_handle_release(f->h[f->i]);
        }
        TASK_END(f);
}

Test(rwlock, current_thread_flavor, .timeout = 30)
{
        task_runtime *rt = test_rt_new(TASK_CURRENT_THREAD, 0);
        static struct shared s;
        struct ct_main f = {.s = &s};

        cr_assert_eq(task_rwlock_init(&s.rw, 0), 0);
        s.iters = test_scaled(20000, 2000);
        cr_assert_eq(task_block_on(rt, ct_main_fn, &f, sizeof f), 0);
        tcheck_assert_none();
        cr_assert_eq(task_sem_available(&s.rw.sem), TASK_RWLOCK_MAX_READERS);
        cr_assert_eq(task_rwlock_destroy(&s.rw), 0);
        test_rt_free(rt);
}
