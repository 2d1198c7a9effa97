/*
 * tsan-shim/criterion/criterion.h - a minimal stand-in for Criterion, used
 * only by the ThreadSanitizer build of the tests.
 *
 * Why: Criterion cannot start under TSan (Snaipe/Criterion#274, open since
 * 2018): its BoxFort arena looks for free address space in a range that
 * TSan's shadow memory occupies and aborts with "Could not initialize
 * inheritable arena".  tests/meson.build puts this directory on the include
 * path instead of Criterion's when b_sanitize contains "thread", so the
 * suites compile unchanged.
 *
 * What it provides: Test(suite, name, .timeout = N), the cr_assert* macros
 * the suites use, cr_log_info and a main() that runs every test in its own
 * forked process with its timeout, in order, and exits non-zero if any
 * failed, crashed or timed out.  `--filter suite/name` (a fnmatch pattern)
 * selects tests, like Criterion's.  Assertions are for the test's own
 * thread (as with Criterion); a failure ends the test process at once.
 */
#ifndef LIBTASK_TSAN_SHIM_CRITERION_H
#define LIBTASK_TSAN_SHIM_CRITERION_H

#include <fnmatch.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* An assertion without a message passes "" as its format. */
#pragma GCC diagnostic ignored "-Wformat-zero-length"

/* A race report ends the test process: the runner sees a crash. */
const char *__tsan_default_options(void);
const char *__tsan_default_options(void)
{
        return "halt_on_error=1:second_deadlock_stack=1";
}

struct cr_shim_opts {
        int unused;
        double timeout;
};

struct cr_shim_test {
        const char *suite, *name;
        void (*fn)(void);
        double timeout;
        struct cr_shim_test *next;
};

static struct cr_shim_test *cr_shim_head, **cr_shim_tail = &cr_shim_head;

#define Test(suite, name, ...)                                                 \
        static void suite##_##name##_impl(void);                               \
        static struct cr_shim_test suite##_##name##_desc = {                   \
            #suite, #name, suite##_##name##_impl, 0, NULL};                    \
        __attribute__((constructor)) static void suite##_##name##_reg(void)    \
        {                                                                      \
                struct cr_shim_opts o = {0, __VA_ARGS__};                      \
                suite##_##name##_desc.timeout = o.timeout;                     \
                *cr_shim_tail = &suite##_##name##_desc;                        \
                cr_shim_tail = &suite##_##name##_desc.next;                    \
        }                                                                      \
        static void suite##_##name##_impl(void)

__attribute__((format(printf, 4, 5), noreturn)) static void
cr_shim_fail(const char *file, int line, const char *expr, const char *fmt, ...)
{
        va_list ap;

        fprintf(stderr, "[----] %s:%d: Assertion Failed\n[----]   %s\n", file,
                line, expr);
        if (fmt && *fmt) {
                fprintf(stderr, "[----]   ");
                va_start(ap, fmt);
                vfprintf(stderr, fmt, ap);
                va_end(ap);
                fprintf(stderr, "\n");
        }
        fflush(stderr);
        /* Other threads (runtime workers) may still run: no atexit work. */
        _exit(1);
}

/* `"" __VA_ARGS__` turns an optional format string into a possibly empty one. */
#define cr_assert(cond, ...)                                                   \
        do {                                                                   \
                if (!(cond))                                                   \
                        cr_shim_fail(__FILE__, __LINE__, #cond,                \
                                     "" __VA_ARGS__);                          \
        } while (0)
#define cr_assert_not(cond, ...)                                               \
        do {                                                                   \
                if (cond)                                                      \
                        cr_shim_fail(__FILE__, __LINE__, "!(" #cond ")",       \
                                     "" __VA_ARGS__);                          \
        } while (0)
#define cr_assert_fail(...)                                                    \
        cr_shim_fail(__FILE__, __LINE__, "cr_assert_fail", "" __VA_ARGS__)
#define cr_assert_eq(a, b, ...) cr_assert((a) == (b), __VA_ARGS__)
#define cr_assert_neq(a, b, ...) cr_assert((a) != (b), __VA_ARGS__)
#define cr_assert_lt(a, b, ...) cr_assert((a) < (b), __VA_ARGS__)
#define cr_assert_leq(a, b, ...) cr_assert((a) <= (b), __VA_ARGS__)
#define cr_assert_gt(a, b, ...) cr_assert((a) > (b), __VA_ARGS__)
#define cr_assert_geq(a, b, ...) cr_assert((a) >= (b), __VA_ARGS__)
#define cr_assert_null(p, ...) cr_assert((p) == NULL, __VA_ARGS__)
#define cr_assert_not_null(p, ...) cr_assert((p) != NULL, __VA_ARGS__)
#define cr_assert_str_eq(a, b, ...)                                            \
        cr_assert(strcmp((a), (b)) == 0, __VA_ARGS__)
#define cr_assert_str_neq(a, b, ...)                                           \
        cr_assert(strcmp((a), (b)) != 0, __VA_ARGS__)

/* A skipped test: say why and end the test's process as a pass (the
 * shim counts passes and failures only; the message is the record). */
#define cr_skip_test(...)                                                      \
        do {                                                                   \
                fprintf(stderr, "[SKIP] ");                                    \
                fprintf(stderr, "" __VA_ARGS__);                               \
                fprintf(stderr, "\n");                                         \
                fflush(stderr);                                                \
                _exit(0);                                                      \
        } while (0)

#define cr_log_info(...)                                                       \
        do {                                                                   \
                fprintf(stderr, "[----] ");                                    \
                fprintf(stderr, __VA_ARGS__);                                  \
                fprintf(stderr, "\n");                                         \
        } while (0)

static double cr_shim_now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Run one test in a child process; 0 when it passed. */
static int cr_shim_run(struct cr_shim_test *t)
{
        double start = cr_shim_now(), limit = t->timeout > 0 ? t->timeout : 0;
        int status = 0;
        pid_t pid, r;

        fflush(NULL);
        pid = fork();
        if (pid < 0) {
                perror("fork");
                return 1;
        }
        if (pid == 0) {
                t->fn();
                fflush(NULL);
                _exit(0);
        }
        for (;;) {
                struct timespec ts = {0, 1000000};
                r = waitpid(pid, &status, WNOHANG);
                if (r == pid)
                        break;
                if (limit > 0 && cr_shim_now() - start > limit) {
                        kill(pid, SIGKILL);
                        waitpid(pid, &status, 0);
                        fprintf(stderr,
                                "[TIME] %s::%s: timed out after %.0f s\n",
                                t->suite, t->name, limit);
                        return 1;
                }
                nanosleep(&ts, NULL);
        }
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
                fprintf(stderr, "[PASS] %s::%s: (%.2fs)\n", t->suite, t->name,
                        cr_shim_now() - start);
                return 0;
        }
        if (WIFSIGNALED(status))
                fprintf(stderr, "[FAIL] %s::%s: CRASH! (signal %d)\n", t->suite,
                        t->name, WTERMSIG(status));
        else
                fprintf(stderr, "[FAIL] %s::%s: exit status %d\n", t->suite,
                        t->name, WEXITSTATUS(status));
        return 1;
}

int main(int argc, char **argv)
{
        const char *filter = NULL;
        int tested = 0, failed = 0;

        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--filter") == 0 && i + 1 < argc)
                        filter = argv[++i];
                else if (strncmp(argv[i], "--filter=", 9) == 0)
                        filter = argv[i] + 9;
        }
        for (struct cr_shim_test *t = cr_shim_head; t; t = t->next) {
                char full[256];
                snprintf(full, sizeof full, "%s/%s", t->suite, t->name);
                if (filter && fnmatch(filter, full, 0) != 0)
                        continue;
                tested++;
                failed += cr_shim_run(t);
        }
        fprintf(stderr,
                "[====] Synthesis: Tested: %d | Passing: %d | Failing: %d\n",
                tested, tested - failed, failed);
        return failed ? 1 : 0;
}

#endif /* LIBTASK_TSAN_SHIM_CRITERION_H */
