/*
 * test_buf.c - byte buffers without I/O (libtask/buf.h): the cursors,
 * reserve (in place, compaction, geometric growth), commit, append,
 * printf, find with its resume offset, split_to and split_view, clear,
 * shrink, free, lent storage, the size limit, the busy guard, bad input,
 * and -ENOMEM by fault injection with the buffer left unchanged.
 *
 * "Does not allocate" is checked with the fault-injection countdown
 * (runtime-priv.h, as tests/runtime/test_badinput.c uses it): armed at 1,
 * the next allocation attempt fails and brings it to 0, so a countdown
 * still at 1 after a call proves the call attempted none.  Hence the
 * internal library.
 */
#include "helpers.h"
#include "runtime-priv.h"

#include <libtask/buf.h>

#include <stdint.h>

static void fault_set(long n)
{
        atomic_store(&task__fault_alloc_countdown, n);
}

static long fault_get(void)
{
        return atomic_load(&task__fault_alloc_countdown);
}

/* Fill @p with a recognisable pattern starting at @seed. */
static void pattern(unsigned char *p, size_t n, unsigned seed)
{
        for (size_t i = 0; i < n; i++)
                p[i] = (unsigned char)(seed + i * 7);
}

static bool is_pattern(const unsigned char *p, size_t n, unsigned seed)
{
        for (size_t i = 0; i < n; i++)
                if (p[i] != (unsigned char)(seed + i * 7))
                        return false;
        return true;
}

/* ---- Basics ------------------------------------------------------------------ */

Test(buf, zeroed_struct_is_an_empty_buffer, .timeout = 10)
{
        struct task_buf b = {0};

        cr_assert_eq(task_buf_len(&b), 0);
        cr_assert_null(task_buf_data(&b));
        cr_assert_eq(task_buf_capacity(&b), 0);
        cr_assert_eq(task_buf_spare_len(&b), 0);
        cr_assert_eq(task_buf_advance(&b, 0), 0);
        cr_assert_eq(task_buf_advance(&b, 1), -EINVAL);
        cr_assert_eq(task_buf_append(&b, "abc", 3), 0);
        cr_assert_eq(task_buf_len(&b), 3);
        cr_assert_eq(memcmp(task_buf_data(&b), "abc", 3), 0);
        cr_assert_geq(task_buf_capacity(&b), TASK_BUF_MIN_CAP);
        cr_assert_eq(task_buf_free(&b), 0);
        cr_assert_eq(task_buf_capacity(&b), 0);
        cr_assert_eq(task_buf_len(&b), 0);
        cr_assert_eq(task_buf_free(&b), 0, "free twice is fine");
}

Test(buf, init_resets_everything, .timeout = 10)
{
        struct task_buf b;

        memset(&b, 0xa5, sizeof b);
        cr_assert_eq(task_buf_init(&b), 0);
        cr_assert_eq(task_buf_len(&b), 0);
        cr_assert_eq(task_buf_capacity(&b), 0);
        cr_assert_eq(b.max, 0);
        cr_assert_eq(b.busy, 0);
}

Test(buf, advance_consumes_from_the_front_without_moving_bytes, .timeout = 10)
{
        struct task_buf b = {0};
        unsigned char *p;

        cr_assert_eq(task_buf_append(&b, "hello world", 11), 0);
        p = task_buf_data(&b);
        cr_assert_eq(task_buf_advance(&b, 6), 0);
        cr_assert_eq(task_buf_data(&b), p + 6, "advance moved the bytes");
        cr_assert_eq(task_buf_len(&b), 5);
        cr_assert_eq(memcmp(task_buf_data(&b), "world", 5), 0);
        cr_assert_eq(task_buf_advance(&b, 6), -EINVAL, "past the end");
        cr_assert_eq(task_buf_len(&b), 5, "a failed advance changed it");
        cr_assert_eq(task_buf_advance(&b, 5), 0);
        /* Drained: the cursors are back at 0, all capacity is spare. */
        cr_assert_eq(b.rpos, 0);
        cr_assert_eq(b.wpos, 0);
        cr_assert_eq(task_buf_spare_len(&b), task_buf_capacity(&b));
        task_buf_free(&b);
}

Test(buf, commit_makes_spare_bytes_readable, .timeout = 10)
{
        struct task_buf b = {0};

        cr_assert_eq(task_buf_reserve(&b, 10), 0);
        cr_assert_geq(task_buf_spare_len(&b), 10);
        memcpy(task_buf_spare(&b), "0123456789", 10);
        cr_assert_eq(task_buf_commit(&b, 4), 0);
        cr_assert_eq(task_buf_len(&b), 4);
        cr_assert_eq(memcmp(task_buf_data(&b), "0123", 4), 0);
        cr_assert_eq(task_buf_commit(&b, task_buf_spare_len(&b) + 1), -EINVAL);
        cr_assert_eq(task_buf_len(&b), 4);
        cr_assert_eq(task_buf_commit(&b, 0), 0);
        task_buf_free(&b);
}

/* ---- Reserve: in place, compaction, growth ------------------------------- */

Test(buf, reserve_that_fits_neither_moves_nor_allocates, .timeout = 10)
{
        struct task_buf b = {0};
        unsigned char *mem;

        cr_assert_eq(task_buf_reserve(&b, 1000), 0);
        cr_assert_eq(task_buf_append(&b, "xy", 2), 0);
        mem = b.mem;
        fault_set(1);
        for (int i = 0; i < 1000; i++)
                cr_assert_eq(task_buf_reserve(&b, 100), 0);
        cr_assert_eq(fault_get(), 1, "a reserve that fits allocated");
        fault_set(0);
        cr_assert_eq(b.mem, mem);
        cr_assert_eq(memcmp(task_buf_data(&b), "xy", 2), 0);
        task_buf_free(&b);
}

Test(buf, reserve_compacts_when_the_consumed_prefix_pays, .timeout = 10)
{
        struct task_buf b = {0};
        unsigned char chunk[64];
        unsigned char *mem;
        size_t cap;

        cr_assert_eq(task_buf_reserve(&b, 64), 0);
        cap = task_buf_capacity(&b);
        pattern(chunk, sizeof chunk, 3);
        cr_assert_eq(task_buf_append(&b, chunk, cap), 0); /* full */
        mem = b.mem;
        cr_assert_eq(task_buf_advance(&b, 40), 0); /* rpos 40 >= len 24 */
        fault_set(1);
        cr_assert_eq(task_buf_reserve(&b, 30), 0);
        cr_assert_eq(fault_get(), 1, "compaction allocated");
        fault_set(0);
        cr_assert_eq(b.mem, mem, "compaction reallocated");
        cr_assert_eq(task_buf_capacity(&b), cap);
        cr_assert_eq(b.rpos, 0);
        cr_assert_eq(task_buf_len(&b), cap - 40);
        cr_assert(is_pattern(task_buf_data(&b), cap - 40, 3 + 40 * 7));
        cr_assert_geq(task_buf_spare_len(&b), 30);
        task_buf_free(&b);
}

Test(buf, reserve_grows_when_the_prefix_is_small, .timeout = 10)
{
        struct task_buf b = {0};
        unsigned char chunk[64];
        size_t cap;

        cr_assert_eq(task_buf_reserve(&b, 64), 0);
        cap = task_buf_capacity(&b);
        cr_assert_eq(cap, 64);
        pattern(chunk, sizeof chunk, 9);
        cr_assert_eq(task_buf_append(&b, chunk, 64), 0);
        /* rpos 10 < len 54: moving 54 bytes to win 10 does not pay. */
        cr_assert_eq(task_buf_advance(&b, 10), 0);
        cr_assert_eq(task_buf_reserve(&b, 5), 0);
        cr_assert_eq(task_buf_capacity(&b), 128, "geometric growth");
        cr_assert_eq(b.rpos, 0, "growth drops the consumed prefix");
        cr_assert_eq(task_buf_len(&b), 54);
        cr_assert(is_pattern(task_buf_data(&b), 54, 9 + 10 * 7));
        task_buf_free(&b);
}

Test(buf, growth_is_geometric, .timeout = 30)
{
        struct task_buf b = {0};
        size_t cap = 0;
        int grows = 0;
        unsigned char c = 0;

        for (size_t i = 0; i < (1u << 20); i++) {
                cr_assert_eq(task_buf_append(&b, &c, 1), 0);
                c++;
                if (task_buf_capacity(&b) != cap) {
                        grows++;
                        cap = task_buf_capacity(&b);
                }
        }
        /* 64 -> 1 MiB by doubling: 15 capacities. */
        cr_assert_leq(grows, 15, "%d growths", grows);
        cr_assert_eq(task_buf_len(&b), 1u << 20);
        for (size_t i = 0; i < (1u << 20); i++)
                cr_assert_eq(task_buf_data(&b)[i], (unsigned char)i);
        task_buf_free(&b);
}

Test(buf, reserve_exactly_what_is_needed_when_more_than_double, .timeout = 10)
{
        struct task_buf b = {0};

        cr_assert_eq(task_buf_append(&b, "ab", 2), 0);
        cr_assert_eq(task_buf_reserve(&b, 10000), 0);
        cr_assert_eq(task_buf_capacity(&b), 10002);
        cr_assert_eq(memcmp(task_buf_data(&b), "ab", 2), 0);
        task_buf_free(&b);
}

Test(buf, steady_state_request_loop_never_allocates, .timeout = 30)
{
        struct task_buf b = {0};
        unsigned char msg[100];

        pattern(msg, sizeof msg, 1);
        /* Warm up: the first append sizes the buffer. */
        cr_assert_eq(task_buf_append(&b, msg, sizeof msg), 0);
        cr_assert_eq(task_buf_advance(&b, sizeof msg), 0);
        fault_set(1);
        for (int i = 0; i < 100000; i++) {
                /* A partial frame left over, then the rest arrives. */
                cr_assert_eq(task_buf_append(&b, msg, 30), 0);
                cr_assert_eq(task_buf_append(&b, msg + 30, 70), 0);
                cr_assert_eq(task_buf_advance(&b, 100), 0);
        }
        cr_assert_eq(fault_get(), 1, "the steady state allocated");
        fault_set(0);
        task_buf_free(&b);
}

Test(buf, reserve_overflow_is_enomem_not_a_crash, .timeout = 10)
{
        struct task_buf b = {0};

        cr_assert_eq(task_buf_append(&b, "abc", 3), 0);
        cr_assert_eq(task_buf_reserve(&b, SIZE_MAX), -ENOMEM);
        cr_assert_eq(task_buf_reserve(&b, SIZE_MAX - 3), -ENOMEM);
        cr_assert_eq(task_buf_reserve(&b, SIZE_MAX / 2), -ENOMEM);
        cr_assert_eq(task_buf_len(&b), 3);
        cr_assert_eq(memcmp(task_buf_data(&b), "abc", 3), 0);
        task_buf_free(&b);
}

/* ---- -ENOMEM ---------------------------------------------------------------- */

/* A snapshot to compare a buffer against after a failed call. */
struct snap {
        unsigned char *mem;
        size_t cap, rpos, wpos;
};

static struct snap snap_of(const struct task_buf *b)
{
        return (struct snap){b->mem, b->cap, b->rpos, b->wpos};
}

static void assert_same(const struct task_buf *b, struct snap s)
{
        cr_assert_eq(b->mem, s.mem, "storage changed");
        cr_assert_eq(b->cap, s.cap, "capacity changed");
        cr_assert_eq(b->rpos, s.rpos, "read cursor changed");
        cr_assert_eq(b->wpos, s.wpos, "write cursor changed");
}

Test(buf, enomem_leaves_the_buffer_unchanged, .timeout = 10)
{
        struct task_buf b = {0};
        unsigned char big[1000];
        struct snap s;

        /* Empty, no storage yet. */
        fault_set(1);
        cr_assert_eq(task_buf_append(&b, "x", 1), -ENOMEM);
        fault_set(0);
        cr_assert_eq(task_buf_capacity(&b), 0);
        cr_assert_null(b.mem);

        /* With bytes, a consumed prefix, and growth needed. */
        pattern(big, sizeof big, 5);
        cr_assert_eq(task_buf_append(&b, big, 100), 0);
        cr_assert_eq(task_buf_advance(&b, 10), 0);
        s = snap_of(&b);
        fault_set(1);
        cr_assert_eq(task_buf_append(&b, big, sizeof big), -ENOMEM);
        cr_assert_eq(fault_get(), 0);
        fault_set(1);
        cr_assert_eq(task_buf_reserve(&b, 5000), -ENOMEM);
        fault_set(1);
        cr_assert_eq(task_buf_printf(&b, "%2000d", 7), -ENOMEM);
        fault_set(0);
        assert_same(&b, s);
        cr_assert(is_pattern(task_buf_data(&b), 90, 5 + 10 * 7));

        /* Nothing consumed: the realloc path fails the same way. */
        cr_assert_eq(task_buf_clear(&b), 0);
        cr_assert_eq(task_buf_append(&b, big, task_buf_capacity(&b)), 0);
        s = snap_of(&b);
        fault_set(1);
        cr_assert_eq(task_buf_reserve(&b, 1), -ENOMEM);
        fault_set(0);
        assert_same(&b, s);
        task_buf_free(&b);
}

Test(buf, enomem_falls_back_to_compaction_when_that_suffices, .timeout = 10)
{
        struct task_buf b = {0};
        unsigned char chunk[64];

        pattern(chunk, sizeof chunk, 11);
        cr_assert_eq(task_buf_append(&b, chunk, 64), 0);
        cr_assert_eq(task_buf_capacity(&b), 64);
        /* rpos 30 < len 34: growth preferred, but 30 bytes are free. */
        cr_assert_eq(task_buf_advance(&b, 30), 0);
        fault_set(1);
        cr_assert_eq(task_buf_reserve(&b, 30), 0);
        fault_set(0);
        cr_assert_eq(task_buf_capacity(&b), 64);
        cr_assert_eq(b.rpos, 0);
        cr_assert(is_pattern(task_buf_data(&b), 34, 11 + 30 * 7));
        task_buf_free(&b);
}

Test(buf, split_to_enomem_changes_neither_buffer, .timeout = 10)
{
        struct task_buf b = {0}, out = {0};
        struct snap sb;

        cr_assert_eq(task_buf_append(&b, "hello", 5), 0);
        sb = snap_of(&b);
        fault_set(1);
        cr_assert_eq(task_buf_split_to(&b, 3, &out), -ENOMEM);
        fault_set(0);
        assert_same(&b, sb);
        cr_assert_eq(task_buf_len(&out), 0);
        cr_assert_eq(task_buf_capacity(&out), 0);
        task_buf_free(&b);
}

/* ---- Limit -------------------------------------------------------------------- */

Test(buf, limit_refuses_with_enobufs_and_changes_nothing, .timeout = 10)
{
        struct task_buf b = {0};
        unsigned char data[100];
        struct snap s;

        pattern(data, sizeof data, 2);
        cr_assert_eq(task_buf_set_limit(&b, 100), 0);
        cr_assert_eq(task_buf_append(&b, data, 60), 0);
        cr_assert_eq(task_buf_append(&b, data + 60, 40), 0);
        cr_assert_leq(task_buf_capacity(&b), 100, "grew past the limit");
        s = snap_of(&b);
        cr_assert_eq(task_buf_append(&b, "x", 1), -ENOBUFS);
        cr_assert_eq(task_buf_reserve(&b, 1), -ENOBUFS);
        cr_assert_eq(task_buf_printf(&b, "%d", 1), -ENOBUFS);
        cr_assert_eq(task_buf_reserve(&b, SIZE_MAX), -ENOBUFS);
        assert_same(&b, s);
        cr_assert(is_pattern(task_buf_data(&b), 100, 2));

        /* Consuming makes room again, by compaction within the limit. */
        cr_assert_eq(task_buf_advance(&b, 50), 0);
        cr_assert_eq(task_buf_append(&b, data, 50), 0);
        cr_assert_leq(task_buf_capacity(&b), 100);
        cr_assert_eq(task_buf_len(&b), 100);
        cr_assert(is_pattern(task_buf_data(&b), 50, 2 + 50 * 7));
        cr_assert(is_pattern(task_buf_data(&b) + 50, 50, 2));

        /* Lifting it. */
        cr_assert_eq(task_buf_set_limit(&b, 0), 0);
        cr_assert_eq(task_buf_append(&b, "x", 1), 0);
        task_buf_free(&b);
}

Test(buf, limit_below_what_is_held_keeps_the_bytes, .timeout = 10)
{
        struct task_buf b = {0};

        cr_assert_eq(task_buf_append(&b, "0123456789", 10), 0);
        cr_assert_eq(task_buf_set_limit(&b, 4), 0);
        cr_assert_eq(task_buf_len(&b), 10);
        /* Over the limit, even a reserve of 0 is refused... */
        cr_assert_eq(task_buf_reserve(&b, 0), -ENOBUFS);
        cr_assert_eq(task_buf_len(&b), 10);
        /* ... until enough is consumed. */
        cr_assert_eq(task_buf_advance(&b, 8), 0);
        cr_assert_eq(task_buf_append(&b, "ab", 2), 0);
        cr_assert_eq(task_buf_append(&b, "c", 1), -ENOBUFS);
        task_buf_free(&b);
}

/* ---- Lent storage --------------------------------------------------------------- */

Test(buf, lent_storage_needs_no_allocation_until_outgrown, .timeout = 10)
{
        unsigned char mem[128];
        unsigned char data[300];
        struct task_buf b;

        pattern(data, sizeof data, 4);
        cr_assert_eq(task_buf_init_storage(&b, mem, sizeof mem), 0);
        cr_assert_eq(task_buf_capacity(&b), 128);
        fault_set(1);
        cr_assert_eq(task_buf_append(&b, data, 128), 0);
        cr_assert_eq(task_buf_advance(&b, 100), 0);
        cr_assert_eq(task_buf_append(&b, data, 100), 0); /* compaction */
        cr_assert_eq(fault_get(), 1, "lent storage allocated");
        fault_set(0);
        cr_assert_eq(b.mem, mem);

        /* Outgrown: the bytes move to the heap. */
        cr_assert_eq(task_buf_append(&b, data, 300), 0);
        cr_assert_neq(b.mem, mem);
        cr_assert_eq(task_buf_len(&b), 428);
        cr_assert(is_pattern(task_buf_data(&b), 28, 4 + 100 * 7));
        cr_assert(is_pattern(task_buf_data(&b) + 28, 100, 4));
        cr_assert(is_pattern(task_buf_data(&b) + 128, 300, 4));

        /* Shrunk to fit again: back into the lent storage. */
        cr_assert_eq(task_buf_advance(&b, 400), 0);
        cr_assert_eq(task_buf_shrink(&b, 0), 0);
        cr_assert_eq(b.mem, mem);
        cr_assert_eq(task_buf_capacity(&b), 128);
        cr_assert_eq(task_buf_len(&b), 28);
        cr_assert(is_pattern(task_buf_data(&b), 28, 4 + 272 * 7));

        /* Free: the caller's memory stays the buffer's storage. */
        cr_assert_eq(task_buf_append(&b, data, 300), 0);
        cr_assert_eq(task_buf_free(&b), 0);
        cr_assert_eq(b.mem, mem);
        cr_assert_eq(task_buf_capacity(&b), 128);
        cr_assert_eq(task_buf_len(&b), 0);
}

Test(buf, init_storage_bad_input, .timeout = 10)
{
        struct task_buf b;
        unsigned char mem[4];

        cr_assert_eq(task_buf_init_storage(NULL, mem, 4), -EINVAL);
        cr_assert_eq(task_buf_init_storage(&b, NULL, 4), -EINVAL);
        cr_assert_eq(task_buf_init_storage(&b, NULL, 0), 0);
        cr_assert_eq(task_buf_capacity(&b), 0);
        cr_assert_eq(task_buf_init_storage(&b, mem, 0), 0);
        cr_assert_eq(task_buf_capacity(&b), 0);
        cr_assert_null(b.mem);
}

/* ---- Shrink, clear, free -------------------------------------------------------- */

Test(buf, shrink_gives_back_capacity_and_keeps_the_bytes, .timeout = 10)
{
        struct task_buf b = {0};
        static unsigned char data[1 << 20];

        pattern(data, sizeof data, 6);
        cr_assert_eq(task_buf_append(&b, data, sizeof data), 0);
        cr_assert_eq(task_buf_advance(&b, sizeof data - 10), 0);
        cr_assert_eq(task_buf_shrink(&b, 0), 0);
        cr_assert_eq(task_buf_capacity(&b), 10);
        cr_assert_eq(task_buf_len(&b), 10);
        cr_assert(is_pattern(task_buf_data(&b), 10,
                             6 + (unsigned)((sizeof data - 10) * 7)));
        /* keep: at least that much stays. */
        cr_assert_eq(task_buf_reserve(&b, 5000), 0);
        cr_assert_eq(task_buf_shrink(&b, 1000), 0);
        cr_assert_eq(task_buf_capacity(&b), 1000);
        /* A failed realloc keeps what it has, and is not an error. */
        cr_assert_eq(task_buf_reserve(&b, 5000), 0);
        size_t cap = task_buf_capacity(&b);
        fault_set(1);
        cr_assert_eq(task_buf_shrink(&b, 0), 0);
        fault_set(0);
        cr_assert_eq(task_buf_capacity(&b), cap);
        cr_assert_eq(task_buf_len(&b), 10);
        /* Empty and nothing kept: no storage at all. */
        cr_assert_eq(task_buf_clear(&b), 0);
        cr_assert_eq(task_buf_shrink(&b, 0), 0);
        cr_assert_eq(task_buf_capacity(&b), 0);
        cr_assert_null(b.mem);
        cr_assert_eq(task_buf_shrink(&b, 0), 0);
        cr_assert_eq(task_buf_free(&b), 0);
}

Test(buf, clear_keeps_the_capacity, .timeout = 10)
{
        struct task_buf b = {0};
        size_t cap;

        cr_assert_eq(task_buf_append(&b, "abcdef", 6), 0);
        cr_assert_eq(task_buf_advance(&b, 2), 0);
        cap = task_buf_capacity(&b);
        cr_assert_eq(task_buf_clear(&b), 0);
        cr_assert_eq(task_buf_len(&b), 0);
        cr_assert_eq(task_buf_capacity(&b), cap);
        cr_assert_eq(task_buf_spare_len(&b), cap);
        task_buf_free(&b);
}

/* ---- printf ----------------------------------------------------------------------- */

Test(buf, printf_appends_formatted_text, .timeout = 10)
{
        struct task_buf b = {0};
        char big[3000];

        cr_assert_eq(task_buf_append(&b, "*", 1), 0);
        cr_assert_eq(task_buf_printf(&b, "%d\r\n$%zu\r\n", 2, (size_t)3), 7);
        cr_assert_eq(task_buf_len(&b), 8);
        cr_assert_eq(memcmp(task_buf_data(&b), "*2\r\n$3\r\n", 8), 0);
        /* Larger than the spare part: it grows and formats again. */
        memset(big, 'q', sizeof big - 1);
        big[sizeof big - 1] = 0;
        cr_assert_eq(task_buf_printf(&b, "<%s>", big), 3001);
        cr_assert_eq(task_buf_len(&b), 8 + 3001);
        cr_assert_eq(task_buf_data(&b)[8], '<');
        cr_assert_eq(task_buf_data(&b)[8 + 3000], '>');
        cr_assert_eq(task_buf_printf(&b, "%s", ""), 0);
        cr_assert_eq(task_buf_len(&b), 8 + 3001);
        cr_assert_eq(task_buf_printf(NULL, "x"), -EINVAL);
        cr_assert_eq(task_buf_printf(&b, NULL), -EINVAL);
        task_buf_free(&b);
}

/* ---- find --------------------------------------------------------------------------- */

Test(buf, find_from_an_offset, .timeout = 10)
{
        struct task_buf b = {0};
        size_t resume = 12345;

        cr_assert_eq(task_buf_append(&b, "ab\r\ncd\r\nef", 10), 0);
        cr_assert_eq(task_buf_find(&b, 0, "\r\n", 2, NULL), 2);
        cr_assert_eq(task_buf_find(&b, 2, "\r\n", 2, NULL), 2);
        cr_assert_eq(task_buf_find(&b, 3, "\r\n", 2, NULL), 6);
        cr_assert_eq(task_buf_find(&b, 7, "\r\n", 2, &resume), -ENOENT);
        cr_assert_eq(resume, 9, "resume %zu", resume);
        cr_assert_eq(task_buf_find(&b, 0, "c", 1, NULL), 4);
        cr_assert_eq(task_buf_find(&b, 5, "c", 1, &resume), -ENOENT);
        cr_assert_eq(resume, 10);
        cr_assert_eq(task_buf_find(&b, 10, "c", 1, &resume), -ENOENT);
        cr_assert_eq(resume, 10);
        cr_assert_eq(task_buf_find(&b, 11, "c", 1, NULL), -EINVAL);
        cr_assert_eq(task_buf_find(&b, 0, "c", 0, NULL), -EINVAL);
        cr_assert_eq(task_buf_find(&b, 0, NULL, 1, NULL), -EINVAL);
        cr_assert_eq(task_buf_find(NULL, 0, "c", 1, NULL), -EINVAL);
        /* Offsets are from the readable start: advance shifts them. */
        cr_assert_eq(task_buf_advance(&b, 4), 0);
        cr_assert_eq(task_buf_find(&b, 0, "\r\n", 2, NULL), 2);
        task_buf_free(&b);

        struct task_buf e = {0};
        cr_assert_eq(task_buf_find(&e, 0, "\r\n", 2, &resume), -ENOENT);
        cr_assert_eq(resume, 0);
}

/*
 * A line parser fed one byte at a time keeps find's resume offset and so
 * examines every byte at most once (plus nlen - 1 bytes of overlap per
 * search); a needle split across two arrivals is still found.
 */
Test(buf, find_resume_never_rescans, .timeout = 30)
{
        struct task_buf b = {0};
        const size_t line = 20000;
        size_t from = 0, scanned = 0, searches = 0;
        ssize_t at = -ENOENT;

        for (size_t i = 0; i < line && at < 0; i++) {
                cr_assert_eq(task_buf_append(&b, "x", 1), 0);
                scanned += task_buf_len(&b) - from;
                searches++;
                at = task_buf_find(&b, from, "\r\n", 2, &from);
        }
        cr_assert_eq(at, -ENOENT);
        cr_assert_eq(task_buf_append(&b, "\r", 1), 0);
        at = task_buf_find(&b, from, "\r\n", 2, &from);
        cr_assert_eq(at, -ENOENT);
        cr_assert_eq(from, line, "resume must stay at the half needle");
        cr_assert_eq(task_buf_append(&b, "\n", 1), 0);
        at = task_buf_find(&b, from, "\r\n", 2, &from);
        cr_assert_eq(at, (ssize_t)line);
        /* Each search looked at the new byte and at most one old one. */
        cr_assert_leq(scanned, 2 * searches, "%zu bytes for %zu searches",
                      scanned, searches);
        task_buf_free(&b);
}

/* ---- split ---------------------------------------------------------------------------- */

Test(buf, split_to_moves_a_prefix_into_another_buffer, .timeout = 10)
{
        struct task_buf b = {0}, out = {0};

        cr_assert_eq(task_buf_append(&b, "GET key\r\nSET", 12), 0);
        cr_assert_eq(task_buf_append(&out, ">", 1), 0);
        cr_assert_eq(task_buf_split_to(&b, 9, &out), 0);
        cr_assert_eq(task_buf_len(&out), 10);
        cr_assert_eq(memcmp(task_buf_data(&out), ">GET key\r\n", 10), 0);
        cr_assert_eq(task_buf_len(&b), 3);
        cr_assert_eq(memcmp(task_buf_data(&b), "SET", 3), 0);
        cr_assert_eq(task_buf_split_to(&b, 4, &out), -EINVAL);
        cr_assert_eq(task_buf_split_to(&b, 1, &b), -EINVAL);
        cr_assert_eq(task_buf_split_to(&b, 1, NULL), -EINVAL);
        cr_assert_eq(task_buf_split_to(&b, 0, &out), 0);
        cr_assert_eq(task_buf_split_to(&b, 3, &out), 0);
        cr_assert_eq(task_buf_len(&b), 0);
        cr_assert_eq(task_buf_len(&out), 13);
        /* Limits of the destination apply. */
        cr_assert_eq(task_buf_append(&b, "abc", 3), 0);
        cr_assert_eq(task_buf_set_limit(&out, 14), 0);
        cr_assert_eq(task_buf_split_to(&b, 2, &out), -ENOBUFS);
        cr_assert_eq(task_buf_len(&b), 3);
        task_buf_free(&b);
        task_buf_free(&out);
}

Test(buf, split_view_consumes_without_a_copy, .timeout = 10)
{
        struct task_buf b = {0};
        struct task_buf_view v = {0};
        unsigned char *p;

        cr_assert_eq(task_buf_append(&b, "$3\r\nfoo\r\n", 9), 0);
        p = task_buf_data(&b);
        cr_assert_eq(task_buf_advance(&b, 4), 0);
        cr_assert_eq(task_buf_split_view(&b, 3, &v), 0);
        cr_assert_eq(v.p, p + 4, "the view is not into the storage");
        cr_assert_eq(v.len, 3);
        cr_assert_eq(memcmp(v.p, "foo", 3), 0);
        cr_assert_eq(task_buf_len(&b), 2);
        cr_assert_eq(task_buf_split_view(&b, 3, &v), -EINVAL);
        cr_assert_eq(task_buf_split_view(&b, 2, NULL), -EINVAL);
        /* The last bytes: the cursors reset, the bytes are still there. */
        cr_assert_eq(task_buf_split_view(&b, 2, &v), 0);
        cr_assert_eq(memcmp(v.p, "\r\n", 2), 0);
        cr_assert_eq(task_buf_len(&b), 0);
        struct task_buf e = {0};
        cr_assert_eq(task_buf_split_view(&e, 0, &v), 0);
        cr_assert_eq(v.len, 0);
        task_buf_free(&b);
}

/* ---- The busy guard and bad input ----------------------------------------------------- */

Test(buf, busy_buffer_refuses_every_change, .timeout = 10)
{
        struct task_buf b = {0}, out = {0};
        struct task_buf_view v;
        struct snap s;

        cr_assert_eq(task_buf_append(&b, "abc\r\n", 5), 0);
        s = snap_of(&b);
        b.busy = 1; /* as task_buf_read_poll sets it while in flight */
        cr_assert_eq(task_buf_reserve(&b, 1), -EBUSY);
        cr_assert_eq(task_buf_reserve(&b, 100000), -EBUSY);
        cr_assert_eq(task_buf_append(&b, "x", 1), -EBUSY);
        cr_assert_eq(task_buf_append(&b, "x", 0), -EBUSY);
        cr_assert_eq(task_buf_commit(&b, 1), -EBUSY);
        cr_assert_eq(task_buf_advance(&b, 1), -EBUSY);
        cr_assert_eq(task_buf_printf(&b, "x"), -EBUSY);
        cr_assert_eq(task_buf_clear(&b), -EBUSY);
        cr_assert_eq(task_buf_shrink(&b, 0), -EBUSY);
        cr_assert_eq(task_buf_split_to(&b, 1, &out), -EBUSY);
        cr_assert_eq(task_buf_split_view(&b, 1, &v), -EBUSY);
        cr_assert_eq(task_buf_free(&b), -EBUSY);
        assert_same(&b, s);
        /* Reading is fine. */
        cr_assert_eq(task_buf_find(&b, 0, "\r\n", 2, NULL), 3);
        cr_assert_eq(task_buf_len(&b), 5);
        b.busy = 0;
        cr_assert_eq(task_buf_free(&b), 0);
        cr_assert_eq(task_buf_len(&out), 0);
}

Test(buf, null_arguments_are_einval, .timeout = 10)
{
        struct task_buf b = {0};

        cr_assert_eq(task_buf_init(NULL), -EINVAL);
        cr_assert_eq(task_buf_set_limit(NULL, 1), -EINVAL);
        cr_assert_eq(task_buf_free(NULL), -EINVAL);
        cr_assert_eq(task_buf_advance(NULL, 0), -EINVAL);
        cr_assert_eq(task_buf_reserve(NULL, 1), -EINVAL);
        cr_assert_eq(task_buf_commit(NULL, 0), -EINVAL);
        cr_assert_eq(task_buf_append(NULL, "x", 1), -EINVAL);
        cr_assert_eq(task_buf_append(&b, NULL, 1), -EINVAL);
        cr_assert_eq(task_buf_append(&b, NULL, 0), 0);
        cr_assert_eq(task_buf_clear(NULL), -EINVAL);
        cr_assert_eq(task_buf_shrink(NULL, 0), -EINVAL);
        cr_assert_eq(task_buf_split_to(NULL, 0, &b), -EINVAL);
        cr_assert_eq(task_buf_split_view(NULL, 0, NULL), -EINVAL);
        cr_assert_eq(task_buf_len(NULL), 0);
        cr_assert_null(task_buf_data(NULL));
        cr_assert_null(task_buf_spare(NULL));
        cr_assert_eq(task_buf_spare_len(NULL), 0);
        cr_assert_eq(task_buf_capacity(NULL), 0);
        cr_assert_eq(task_buf_len(&b), 0);
}
