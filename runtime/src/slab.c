/*
 * slab.c - the task allocator, which is also the registry of all tasks.
 *
 * A task is one allocation: header + frame.  They come from size-classed
 * slab pages (64 KiB, aligned to their size, so a task finds its page, its
 * heap and its runtime from its address alone):
 *
 *  - Every worker has a heap (struct task__heap) it uses without locks.
 *    Non-worker threads share the runtime's external heap under a spinlock.
 *  - Per class, a heap keeps a local free list, the page being bump-
 *    allocated, and a remote-free stack: a thread freeing a task that is not
 *    its own heap's pushes it there (multi-producer CAS push); the owner
 *    takes the whole stack with one exchange when its local list runs dry.
 *    Taking everything at once means no ABA.
 *  - Classes: whole cache lines from 64 to 2048 bytes, so that no two tasks
 *    share a line (see runtime-priv.h); an idle task with a frame of up to
 *    8 bytes costs exactly 64 bytes.  Bigger tasks are "large": power-of-
 *    two blocks from malloc, recycled per runtime.
 *
 * Registry: every page and large block is pushed on a runtime-wide list
 * that only grows, and nothing is given back to the system before the
 * runtime is freed.  So the task dump, the stall detector and shutdown can
 * walk every slot at any time, from any thread, with no lock: a slot holds
 * a live task iff its state word is non-zero (freeing stores 0).  A slot is
 * published to walkers by the release store of its page's `bump` after its
 * state word was zeroed; the caller then fills the header and stores the
 * state last.
 *
 * Pages are carved from 2 MiB chunks that come from aligned_alloc, not mmap, so that LeakSanitizer scans
 * them (frames may hold the only pointer to user memory).  Under ASan the
 * frames of free slots are poisoned.
 */
#include "runtime-priv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#ifdef TASK__ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define PAGE_HDR 64

_Static_assert(sizeof(struct task__slab_page) <= PAGE_HDR, "page header");
_Static_assert(sizeof(struct task__large) % 16 == 0, "large prefix");

_Atomic long task__fault_alloc_countdown;

bool task__fault_alloc(void)
{
        long v = atomic_load_explicit(&task__fault_alloc_countdown,
                                      memory_order_relaxed);
        while (v > 0) {
                if (atomic_compare_exchange_weak_explicit(
                        &task__fault_alloc_countdown, &v, v - 1,
                        memory_order_relaxed, memory_order_relaxed))
                        return v == 1;
        }
        return false;
}

/* Process-wide task ids, handed to heaps in blocks to avoid a shared RMW
 * per spawn. */
static _Atomic uint64_t id_blocks = 1;
#define ID_BLOCK 1024

uint64_t task__id_next(struct task__heap *h)
{
        if (h->id_next == h->id_end) {
                h->id_next = atomic_fetch_add_explicit(&id_blocks, ID_BLOCK,
                                                       memory_order_relaxed);
                h->id_end = h->id_next + ID_BLOCK;
        }
        return h->id_next++;
}

static inline unsigned class_of(size_t size)
{
        return (unsigned)((size - 1) / TASK__CACHELINE);
}

static inline uint32_t class_size(unsigned cls)
{
        return TASK__CACHELINE * (cls + 1);
}

static inline struct task__slab_page *page_of(const struct task *t)
{
        return (struct task__slab_page *)((uintptr_t)t &
                                          ~(uintptr_t)(TASK__SLAB_PAGE - 1));
}

void task__heap_init(struct task__heap *h, struct task_runtime *rt)
{
        memset(h, 0, sizeof(*h));
        for (unsigned i = 0; i < TASK__SLAB_NCLASS; i++)
                atomic_init(&h->remote[i].head, NULL);
        h->rt = rt;
        task__spin_init(&h->lock);
}

static struct task__slab_page *page_new(struct task__heap *h, unsigned cls)
{
        struct task__slab_page *p;

        struct task_runtime *rt = h->rt;

        if (task__fault_alloc())
                return NULL;
        /*
         * Carve the page from the current chunk.  One aligned_alloc per
         * 2 MiB rather than per page: glibc's bookkeeping around an aligned
         * block touches a page of its own, which per 64 KiB page cost 6 %
         * more memory per task.
         */
        task__spin_lock(&rt->chunk_lock);
        if (rt->chunk_left == 0) {
                struct task__chunk *c = malloc(sizeof(*c));
                void *mem =
                    c ? aligned_alloc(TASK__SLAB_PAGE, TASK__SLAB_CHUNK) : NULL;
                if (!mem) {
                        task__spin_unlock(&rt->chunk_lock);
                        free(c);
                        return NULL;
                }
                c->mem = mem;
                c->next = rt->chunks;
                rt->chunks = c;
                rt->chunk_next = mem;
                rt->chunk_left = TASK__SLAB_CHUNK / TASK__SLAB_PAGE;
                POISON(mem, TASK__SLAB_CHUNK);
        }
        p = (struct task__slab_page *)rt->chunk_next;
        rt->chunk_next += TASK__SLAB_PAGE;
        rt->chunk_left--;
        task__spin_unlock(&rt->chunk_lock);

        UNPOISON(p, PAGE_HDR);
        p->heap = h;
        p->slot_size = class_size(cls);
        p->first = PAGE_HDR;
        p->nslots = (TASK__SLAB_PAGE - PAGE_HDR) / p->slot_size;
        atomic_init(&p->bump, 0);
        POISON((char *)p + PAGE_HDR, TASK__SLAB_PAGE - PAGE_HDR);

        /* Publish to walkers.  Release: the page header is complete. */
        struct task__slab_page *old =
            atomic_load_explicit(&rt->pages, memory_order_relaxed);
        do
                p->next_all = old;
        while (!atomic_compare_exchange_weak_explicit(
            &rt->pages, &old, p, memory_order_release, memory_order_relaxed));
        return p;
}

static struct task *large_alloc(struct task_runtime *rt, size_t size)
{
        size_t need = size + sizeof(struct task__large);
        unsigned shift = TASK__LARGE_MIN_SHIFT;

        while (((size_t)1 << shift) < need)
                shift++;
        if (shift > TASK__LARGE_MAX_SHIFT || task__fault_alloc())
                return NULL;

        unsigned c = shift - TASK__LARGE_MIN_SHIFT;
        task__spin_lock(&rt->large_lock);
        struct task__large *b = rt->large_free[c];
        if (b)
                rt->large_free[c] = b->next_free;
        task__spin_unlock(&rt->large_lock);

        if (b) {
                UNPOISON(b + 1, ((size_t)1 << shift) - sizeof(*b));
        } else {
                b = malloc((size_t)1 << shift);
                if (!b)
                        return NULL;
                b->rt = rt;
                b->shift = shift;
                b->next_free = NULL;
                struct task *t = (struct task *)(b + 1);
                atomic_init(&t->state, 0);
                /* Publish to walkers (release: the prefix is complete). */
                struct task__large *old =
                    atomic_load_explicit(&rt->large_all, memory_order_relaxed);
                do
                        b->next_all = old;
                while (!atomic_compare_exchange_weak_explicit(
                    &rt->large_all, &old, b, memory_order_release,
                    memory_order_relaxed));
        }
        struct task *t = (struct task *)(b + 1);
        atomic_store_explicit(&t->state, TASK_ST_LARGE, memory_order_relaxed);
        return t;
}

struct task *task__task_alloc(struct task__heap *h, size_t size)
{
        if (size < TASK__SLAB_MIN)
                size = TASK__SLAB_MIN;
        if (size > TASK__SLAB_MAX)
                return large_alloc(h->rt, size);
        if (task__fault_alloc())
                return NULL;

        unsigned cls = class_of(size);
        struct task__slab_class *c = &h->cls[cls];
        struct task *t = c->free;
        if (!t) {
                /* Acquire: pairs with the remote freers' release push, so
                 * their last writes to the slots happen before our reuse. */
                t = atomic_exchange_explicit(&h->remote[cls].head, NULL,
                                             memory_order_acquire);
        }
        if (t) {
                c->free = t->next;
                /* The next slot is likely in the cache of the thread that
                 * freed it: start fetching it for writing now. */
                if (c->free)
                        __builtin_prefetch(c->free, 1);
                UNPOISON(t + 1, page_of(t)->slot_size - sizeof(*t));
                return t;
        }

        struct task__slab_page *p = c->page;
        uint32_t bump =
            p ? atomic_load_explicit(&p->bump, memory_order_relaxed) : 0;
        if (!p || bump == p->nslots) {
                p = page_new(h, cls);
                if (!p)
                        return NULL;
                c->page = p;
                bump = 0;
        }
        t = (struct task *)((char *)p + p->first + (size_t)bump * p->slot_size);
        UNPOISON(t, p->slot_size);
        atomic_init(&t->state, 0);
        /* Release: a walker that sees the new bump sees state == 0. */
        atomic_store_explicit(&p->bump, bump + 1, memory_order_release);
        return t;
}

void task__task_free(struct task *t)
{
        uint64_t st = atomic_load_explicit(&t->state, memory_order_relaxed);

        if (st & TASK_ST_LARGE) {
                struct task__large *b = (struct task__large *)t - 1;
                struct task_runtime *rt = b->rt;
                unsigned c = b->shift - TASK__LARGE_MIN_SHIFT;

                atomic_store_explicit(&t->state, 0, memory_order_relaxed);
                POISON(t + 1,
                       ((size_t)1 << b->shift) - sizeof(*b) - sizeof(*t));
                task__spin_lock(&rt->large_lock);
                b->next_free = rt->large_free[c];
                rt->large_free[c] = b;
                task__spin_unlock(&rt->large_lock);
                return;
        }

        struct task__slab_page *p = page_of(t);
        struct task__heap *h = p->heap;
        unsigned cls = class_of(p->slot_size);
        struct task__slab_class *c = &h->cls[cls];
        struct task__worker *w = task__tls_worker;

        /* Relaxed: walkers only need to eventually stop reporting it. */
        atomic_store_explicit(&t->state, 0, memory_order_relaxed);
        POISON(t + 1, p->slot_size - sizeof(*t));
        if (w && &w->heap == h) {
                t->next = c->free;
                c->free = t;
                return;
        }
        _Atomic(struct task *) *rh = &h->remote[cls].head;
        struct task *old = atomic_load_explicit(rh, memory_order_relaxed);
        do
                t->next = old;
        while (!atomic_compare_exchange_weak_explicit(
            rh, &old, t, memory_order_release, memory_order_relaxed));
}

struct task_runtime *task__rt_of(const struct task *t)
{
        uint64_t st = atomic_load_explicit(&t->state, memory_order_relaxed);

        if (st & TASK_ST_LARGE)
                return ((const struct task__large *)t - 1)->rt;
        return page_of(t)->heap->rt;
}

int task__registry_walk(struct task_runtime *rt,
                        int (*cb)(struct task *t, void *arg), void *arg)
{
        /* Acquire: pairs with the release push of each page / block. */
        for (struct task__slab_page *p =
                 atomic_load_explicit(&rt->pages, memory_order_acquire);
             p; p = p->next_all) {
                uint32_t n =
                    atomic_load_explicit(&p->bump, memory_order_acquire);
                for (uint32_t i = 0; i < n; i++) {
                        struct task *t =
                            (struct task *)((char *)p + p->first +
                                            (size_t)i * p->slot_size);
                        if (atomic_load_explicit(&t->state,
                                                 memory_order_relaxed) &&
                            cb(t, arg))
                                return 1;
                }
        }
        for (struct task__large *b =
                 atomic_load_explicit(&rt->large_all, memory_order_acquire);
             b; b = b->next_all) {
                struct task *t = (struct task *)(b + 1);
                if (atomic_load_explicit(&t->state, memory_order_relaxed) &&
                    cb(t, arg))
                        return 1;
        }
        return 0;
}

void task__registry_destroy(struct task_runtime *rt)
{
        struct task__chunk *c = rt->chunks;
        while (c) {
                struct task__chunk *n = c->next;
                UNPOISON(c->mem, TASK__SLAB_CHUNK);
                free(c->mem);
                free(c);
                c = n;
        }
        rt->chunks = NULL;
        rt->chunk_left = 0;
        struct task__large *b =
            atomic_load_explicit(&rt->large_all, memory_order_acquire);
        while (b) {
                struct task__large *n = b->next_all;
                UNPOISON(b, (size_t)1 << b->shift);
                free(b);
                b = n;
        }
        atomic_store_explicit(&rt->pages, NULL, memory_order_relaxed);
        atomic_store_explicit(&rt->large_all, NULL, memory_order_relaxed);
}
