/*
 * test_task_main.c - TASK_MAIN: runs task_main_prog (a program whose main()
 * is TASK_MAIN) with different arguments and environments and checks its
 * exit status, which is the frame's exit_code.  The program's path comes
 * from the build (TASK_MAIN_PROG).
 */
#include "helpers.h"

#include <spawn.h>
#include <sys/wait.h>

#ifndef TASK_MAIN_PROG
#error "TASK_MAIN_PROG must name the task_main_prog executable"
#endif

extern char **environ;

/* Run the program with @args (NULL-terminated, after argv[0]) and @workers
 * as $LIBTASK_WORKERS (NULL: unset); returns its exit status. */
static int run(const char *workers, const char *const *args)
{
        char *argv[16];
        char *envp[256];
        char wenv[64];
        int n = 0, e = 0, status;
        pid_t pid;

        argv[n++] = (char *)TASK_MAIN_PROG;
        for (int i = 0; args[i] && n < 15; i++)
                argv[n++] = (char *)args[i];
        argv[n] = NULL;
        for (char **p = environ; *p && e < 250; p++)
                if (strncmp(*p, "LIBTASK_WORKERS=", 16) != 0)
                        envp[e++] = *p;
        if (workers) {
                snprintf(wenv, sizeof wenv, "LIBTASK_WORKERS=%s", workers);
                envp[e++] = wenv;
        }
        envp[e] = NULL;
        cr_assert_eq(posix_spawn(&pid, TASK_MAIN_PROG, NULL, NULL, argv, envp),
                     0, "cannot run %s", TASK_MAIN_PROG);
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFEXITED(status), "%s died (status 0x%x)", TASK_MAIN_PROG,
                  status);
        return WEXITSTATUS(status);
}

Test(task_main, runs_the_coroutine_with_argv, .timeout = 20)
{
        int rc = run(NULL, (const char *[]){"ok", "beta", NULL});
        cr_assert_eq(rc, 0, "TASK_MAIN program failed check %d", rc - 10);
}

Test(task_main, exit_code_is_the_frames, .timeout = 20)
{
        cr_assert_eq(run(NULL, (const char *[]){"exit", "42", NULL}), 42);
        cr_assert_eq(run(NULL, (const char *[]){"exit", "0", NULL}), 0);
        cr_assert_eq(run(NULL, (const char *[]){"argc", "a", "b", "c", NULL}),
                     5);
}

Test(task_main, libtask_workers_sets_the_worker_count, .timeout = 20)
{
        int rc = run("3", (const char *[]){"workers", "3", NULL});
        cr_assert_eq(rc, 0, "LIBTASK_WORKERS=3 gave %d workers", rc - 100);
        rc = run("1", (const char *[]){"workers", "1", NULL});
        cr_assert_eq(rc, 0, "LIBTASK_WORKERS=1 gave %d workers", rc - 100);
}
