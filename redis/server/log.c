/*
 * redis/server/log.c - Redis-style log lines.
 *
 * A line looks like Redis's serverLogRaw():
 *
 *     1234:M 22 Nov 2024 05:25:01.123 * Ready to accept connections
 *
 * pid, the role ('M': we are always a master), the local time to the
 * millisecond, a level mark ('.' debug, '-' verbose, '*' notice, '#'
 * warning) and the message.  Lines go to stderr, or appended to the file
 * named by `logfile`.
 *
 * Threads: any thread may log.  Each line is formatted in a buffer on the
 * caller's stack and written with one write(2), so lines from different
 * threads never interleave (a regular file opened O_APPEND takes each
 * write whole; a pipe does for writes up to PIPE_BUF, and a line is
 * shorter).  The level is an atomic read on every call, so CONFIG SET
 * loglevel takes effect at once.  rds_log_open() and rds_log_close() swap
 * the descriptor and must run while no other thread logs (at start-up
 * and at exit), because a writer may still hold the old descriptor.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "server.h"

/* Redis truncates a message at LOG_MAX_LEN (1024); so do we. */
#define RDS_LOG_MAX_MSG 1024

static atomic_int log_level = RDS_LOG_NOTICE;
/* The descriptor lines go to: 2 (stderr) or the log file's. */
static atomic_int log_fd = STDERR_FILENO;

int rds_log_open(const char *path, int level)
{
        int fd = STDERR_FILENO;

        if (path && path[0]) {
                fd =
                    open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
                if (fd < 0)
                        return -errno;
        }
        int old = atomic_exchange_explicit(&log_fd, fd, memory_order_relaxed);
        if (old > STDERR_FILENO)
                close(old);
        rds_log_set_level(level);
        /* localtime_r() needs the zone loaded; tzset() once here rather
         * than leave it to the first line. */
        tzset();
        return 0;
}

void rds_log_close(void)
{
        int old = atomic_exchange_explicit(&log_fd, STDERR_FILENO,
                                           memory_order_relaxed);
        if (old > STDERR_FILENO)
                close(old);
}

void rds_log_set_level(int level)
{
        if (level < RDS_LOG_DEBUG)
                level = RDS_LOG_DEBUG;
        if (level > RDS_LOG_WARNING)
                level = RDS_LOG_WARNING;
        atomic_store_explicit(&log_level, level, memory_order_relaxed);
}

void rds_log(int level, const char *fmt, ...)
{
        static const char marks[] = ".-*#";
        char line[RDS_LOG_MAX_MSG + 128];
        struct timespec ts;
        struct tm tm;
        size_t n;
        int rc;

        if (level < atomic_load_explicit(&log_level, memory_order_relaxed))
                return;
        if (level < RDS_LOG_DEBUG || level > RDS_LOG_WARNING)
                level = RDS_LOG_WARNING;

        clock_gettime(CLOCK_REALTIME, &ts);
        localtime_r(&ts.tv_sec, &tm);
        rc = snprintf(line, sizeof(line), "%d:M ", (int)getpid());
        n = rc > 0 ? (size_t)rc : 0;
        n += strftime(line + n, sizeof(line) - n, "%d %b %Y %H:%M:%S", &tm);
        rc = snprintf(line + n, sizeof(line) - n, ".%03d %c ",
                      (int)(ts.tv_nsec / 1000000), marks[level]);
        n += rc > 0 ? (size_t)rc : 0;

        va_list ap;
        va_start(ap, fmt);
        size_t room = sizeof(line) - n - 1; /* keep one byte for '\n' */
        if (room > RDS_LOG_MAX_MSG)
                room = RDS_LOG_MAX_MSG;
        rc = vsnprintf(line + n, room, fmt, ap);
        va_end(ap);
        if (rc > 0)
                n += (size_t)rc < room ? (size_t)rc : room - 1;
        line[n++] = '\n';

        int fd = atomic_load_explicit(&log_fd, memory_order_relaxed);
        const char *p = line;
        while (n > 0) {
                ssize_t w = write(fd, p, n);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0)
                        break; /* nowhere else to report it */
                p += w;
                n -= (size_t)w;
        }
}
