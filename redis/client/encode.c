/*
 * redis/client/encode.c - commands as RESP requests (task_redis_encode).
 *
 * A request is always a multibulk, the one form every Redis-compatible
 * server accepts and the only binary-safe one:
 *
 *     *<argc>\r\n  then, per argument,  $<len>\r\n<bytes>\r\n
 *
 * The size is computed first, so a caller can size its buffer with one
 * call (cap 0) and fill it with a second; nothing is written unless the
 * whole request fits, and nothing is allocated.  Callers: the clients
 * (client.c, buffered.c, ...) writing into their output buffer, and
 * task-redis-bench building its request templates.
 */
#include <libtask/redis_value.h>

#include <errno.h>
#include <limits.h>
#include <string.h>

/* Decimal digits of @v (at least one). */
static size_t enc_ndigits(size_t v)
{
        size_t n = 1;

        while (v >= 10) {
                v /= 10;
                n++;
        }
        return n;
}

/* Writes @c, then @v in decimal, then CRLF at @p; returns the end. */
static char *enc_header(char *p, char c, size_t v)
{
        size_t n = enc_ndigits(v);

        *p++ = c;
        for (size_t i = n; i > 0; i--) {
                p[i - 1] = (char)('0' + v % 10);
                v /= 10;
        }
        p += n;
        *p++ = '\r';
        *p++ = '\n';
        return p;
}

long long task_redis_encode(void *out, size_t cap, int argc,
                            const char *const *argv, const size_t *lens)
{
        size_t need;

        if (argc < 1 || !argv || (!out && cap > 0))
                return -EINVAL;
        /* Pass 1: the size, checking the arguments on the way. */
        need = 1 + enc_ndigits((size_t)argc) + 2;
        for (int i = 0; i < argc; i++) {
                size_t len;

                if (lens) {
                        len = lens[i];
                        if (!argv[i] && len > 0)
                                return -EINVAL;
                } else {
                        if (!argv[i])
                                return -EINVAL;
                        len = strlen(argv[i]);
                }
                /* Cannot overflow before the check below: each argument
                 * lives in memory, so len < SIZE_MAX / 2. */
                need += 1 + enc_ndigits(len) + 2 + len + 2;
                if (need > (size_t)LLONG_MAX)
                        return -EINVAL;
        }
        if (need > cap)
                return (long long)need;

        /* Pass 2: the bytes. */
        char *p = out;

        p = enc_header(p, '*', (size_t)argc);
        for (int i = 0; i < argc; i++) {
                size_t len = lens ? lens[i] : strlen(argv[i]);

                p = enc_header(p, '$', len);
                if (len > 0)
                        memcpy(p, argv[i], len);
                p += len;
                *p++ = '\r';
                *p++ = '\n';
        }
        return (long long)need;
}
