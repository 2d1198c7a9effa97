/*
 * redis/server/util.c - numbers, glob matching and clocks with Redis 7.0's
 * exact rules (Redis's util.c).
 *
 * Every command that takes a number or a pattern goes through here, so
 * what this file accepts is what the server accepts:
 *
 *  - rds_str2ll is string2ll: the canonical decimal form only.  No spaces,
 *    no '+', no leading zeros, no "-0", at most 20 characters, and the
 *    value must fit a long long.  Clients rely on "01" and " 1" being
 *    refused with "value is not an integer or out of range".
 *  - rds_str2ld is string2ld (INCRBYFLOAT): strtold over a NUL-terminated
 *    copy of at most 5 KB, which must consume the whole argument (so an
 *    embedded NUL is refused, as Redis 7.0.15 refuses "1\0"), refusing a
 *    leading space, NaN, and an overflow (or an underflow to zero).
 *  - rds_str2d is string2d (getDoubleFromObject): the same with strtod,
 *    with no length limit.
 *  - rds_ld2str is ld2string(LD_STR_HUMAN): "%.17Lf" with the trailing
 *    zeros and '.' removed, and "-0" printed as "0".
 *  - rds_glob_match is stringmatchlen, including its two guards against
 *    abusive patterns (Redis 7.0.9+): skipLongerMatches, which stops the
 *    exponential backtracking of patterns like "*a*a*a*a*b", and a
 *    recursion limit of 1000 nested '*'.  Redis's implementation reads one
 *    byte past a pattern (its strings are NUL-terminated); this one checks
 *    the length instead, with the same results.  Bytes compare as Redis's
 *    (signed) chars in ranges, so "[a-\xff]" behaves as it does there.
 *
 * No function here allocates except rds_str2d with an argument longer
 * than 128 bytes (it needs a NUL-terminated copy, as long as the input).
 * Everything is thread-safe; nothing depends on the locale (the server
 * never calls setlocale, so strtold and printf use the "C" locale).
 */
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>
#include <unistd.h>

/* Redis's MAX_LONG_DOUBLE_CHARS: longer float arguments are refused. */
#define RDS_MAX_LONG_DOUBLE_CHARS (5 * 1024)

/* ---- Integers ---------------------------------------------------------------- */

bool rds_str2ll(const void *s, size_t len, long long *out)
{
        const unsigned char *p = s;
        const unsigned char *end = p + len;
        unsigned long long v;
        bool negative = false;

        /* Empty, or longer than any long long can be printed. */
        if (len == 0 || len >= RDS_LONG_STR_SIZE)
                return false;
        if (len == 1 && p[0] == '0') {
                *out = 0;
                return true;
        }
        if (p[0] == '-') {
                negative = true;
                if (++p == end)
                        return false;
        }
        /* The first digit is 1-9: "0" alone was handled above, so this
         * refuses leading zeros and "-0". */
        if (p[0] < '1' || p[0] > '9')
                return false;
        v = (unsigned long long)(*p++ - '0');
        /* At most 19 more digits: 20 digits fit in an unsigned long long
         * only up to ULLONG_MAX, hence the checks. */
        for (; p < end; p++) {
                unsigned d = (unsigned)(*p - '0');

                if (d > 9)
                        return false;
                if (v > ULLONG_MAX / 10)
                        return false;
                v *= 10;
                if (v > ULLONG_MAX - d)
                        return false;
                v += d;
        }
        if (negative) {
                if (v > (unsigned long long)LLONG_MAX + 1)
                        return false;
                /* -v, computed in unsigned arithmetic so that LLONG_MIN
                 * does not overflow. */
                *out = v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN
                                                              : -(long long)v;
        } else {
                if (v > LLONG_MAX)
                        return false;
                *out = (long long)v;
        }
        return true;
}

bool rds_str2ull(const void *s, size_t len, unsigned long long *out)
{
        const unsigned char *p = s;
        unsigned long long v;
        size_t i;

        if (len == 0 || len >= RDS_LONG_STR_SIZE)
                return false;
        if (len == 1 && p[0] == '0') {
                *out = 0;
                return true;
        }
        if (p[0] < '1' || p[0] > '9')
                return false;
        v = (unsigned long long)(p[0] - '0');
        for (i = 1; i < len; i++) {
                unsigned d = (unsigned)(p[i] - '0');

                if (d > 9 || v > ULLONG_MAX / 10)
                        return false;
                v *= 10;
                if (v > ULLONG_MAX - d)
                        return false;
                v += d;
        }
        *out = v;
        return true;
}

size_t rds_ll2str(char *buf, long long v)
{
        unsigned long long u;
        size_t neg = 0;
        unsigned n;

        if (v < 0) {
                buf[0] = '-';
                neg = 1;
                /* In unsigned arithmetic, so that LLONG_MIN works. */
                u = 0ULL - (unsigned long long)v;
        } else {
                u = (unsigned long long)v;
        }
        n = rds_ull_digits(u);
        rds_ull_write(buf + neg, u, n);
        buf[neg + n] = '\0';
        return neg + n;
}

/* ---- Floats ------------------------------------------------------------------ */

bool rds_str2ld(const void *s, size_t len, long double *out)
{
        char buf[RDS_MAX_LONG_DOUBLE_CHARS];
        long double v;
        char *eptr;

        if (len == 0 || len >= sizeof(buf))
                return false;
        memcpy(buf, s, len);
        buf[len] = '\0';
        errno = 0;
        v = strtold(buf, &eptr);
        if (isspace((unsigned char)buf[0]) || (size_t)(eptr - buf) != len ||
            (errno == ERANGE &&
             (v == HUGE_VALL || v == -HUGE_VALL || fpclassify(v) == FP_ZERO)) ||
            errno == EINVAL || isnan(v))
                return false;
        *out = v;
        return true;
}

bool rds_str2d(const void *s, size_t len, double *out)
{
        char small[128], *buf = small;
        bool ok = false;
        double v;
        char *eptr;

        if (len == 0)
                return false;
        /* strtod stops at a NUL, so an argument with one inside cannot be
         * consumed whole: refused, as string2d refuses it. */
        if (memchr(s, '\0', len))
                return false;
        if (len >= sizeof(small)) {
                buf = malloc(len + 1);
                if (!buf)
                        return false;
        }
        memcpy(buf, s, len);
        buf[len] = '\0';
        errno = 0;
        v = strtod(buf, &eptr);
        if (!isspace((unsigned char)buf[0]) && (size_t)(eptr - buf) == len &&
            !(errno == ERANGE &&
              (v == HUGE_VAL || v == -HUGE_VAL || fpclassify(v) == FP_ZERO)) &&
            !isnan(v)) {
                *out = v;
                ok = true;
        }
        if (buf != small)
                free(buf);
        return ok;
}

size_t rds_ld2str(char *buf, size_t size, long double v)
{
        size_t l;
        int n;

        if (!isfinite(v) || size == 0)
                return 0;
        /* 17 digits: enough for most decimal inputs to round-trip as the
         * user typed them ("10.5", not "10.50000000000000000"), which is
         * Redis's reason for this format. */
        n = snprintf(buf, size, "%.17Lf", v);
        if (n < 0 || (size_t)n + 1 > size)
                return 0;
        l = (size_t)n;
        if (memchr(buf, '.', l)) {
                while (buf[l - 1] == '0')
                        l--;
                if (buf[l - 1] == '.')
                        l--;
        }
        if (l == 2 && buf[0] == '-' && buf[1] == '0') {
                buf[0] = '0';
                l = 1;
        }
        buf[l] = '\0';
        return l;
}

size_t rds_d2str(char *buf, size_t size, double v)
{
        int n;

        /* Spelled out: libcs disagree on how to print an infinity. */
        if (isinf(v)) {
                const char *s = v > 0 ? "inf" : "-inf";
                size_t l = strlen(s);

                if (size < l + 1)
                        return 0;
                memcpy(buf, s, l + 1);
                return l;
        }
        n = snprintf(buf, size, "%.17g", v);
        if (n < 0 || (size_t)n + 1 > size)
                return 0;
        return (size_t)n;
}

/* ---- Glob matching ----------------------------------------------------------- */

/* ASCII tolower of a byte taken as Redis's (signed) char: the server runs
 * in the "C" locale, where tolower() changes only 'A'..'Z'. */
static int rds_fold(int c)
{
        return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static bool rds_glob_impl(const signed char *pat, size_t plen,
                          const signed char *str, size_t slen, bool nocase,
                          bool *skip_longer, int nesting)
{
        /* Protection against abusive patterns (the stack). */
        if (nesting > 1000)
                return false;

        while (plen && slen) {
                switch (pat[0]) {
                case '*':
                        while (plen > 1 && pat[1] == '*') {
                                pat++;
                                plen--;
                        }
                        if (plen == 1)
                                return true;
                        while (slen) {
                                if (rds_glob_impl(pat + 1, plen - 1, str, slen,
                                                  nocase, skip_longer,
                                                  nesting + 1))
                                        return true;
                                if (*skip_longer)
                                        return false;
                                str++;
                                slen--;
                        }
                        /* The rest of the pattern matches nowhere in the
                         * rest of the string.  A '*' earlier in the
                         * pattern matching more would only make the rest
                         * start later, so it cannot help either: every
                         * caller up the stack can stop (this is what keeps
                         * "*a*a*a*b" from taking exponential time). */
                        *skip_longer = true;
                        return false;
                case '?':
                        str++;
                        slen--;
                        break;
                case '[': {
                        bool negate, match = false;

                        pat++;
                        plen--;
                        negate = plen > 0 && pat[0] == '^';
                        if (negate) {
                                pat++;
                                plen--;
                        }
                        for (;;) {
                                if (plen == 0) {
                                        /* Unterminated class: step back so
                                         * that the pattern ends below. */
                                        pat--;
                                        plen++;
                                        break;
                                } else if (pat[0] == '\\' && plen >= 2) {
                                        pat++;
                                        plen--;
                                        if (pat[0] == str[0])
                                                match = true;
                                } else if (pat[0] == ']') {
                                        break;
                                } else if (plen >= 3 && pat[1] == '-') {
                                        int start = pat[0], end = pat[2];
                                        int c = str[0];

                                        if (start > end) {
                                                int t = start;

                                                start = end;
                                                end = t;
                                        }
                                        if (nocase) {
                                                start = rds_fold(start);
                                                end = rds_fold(end);
                                                c = rds_fold(c);
                                        }
                                        pat += 2;
                                        plen -= 2;
                                        if (c >= start && c <= end)
                                                match = true;
                                } else if (!nocase) {
                                        if (pat[0] == str[0])
                                                match = true;
                                } else if (rds_fold(pat[0]) ==
                                           rds_fold(str[0])) {
                                        match = true;
                                }
                                pat++;
                                plen--;
                        }
                        if (negate)
                                match = !match;
                        if (!match)
                                return false;
                        str++;
                        slen--;
                        break;
                }
                case '\\':
                        if (plen >= 2) {
                                pat++;
                                plen--;
                        }
                        /* fall through */
                default:
                        if (!nocase ? pat[0] != str[0]
                                    : rds_fold(pat[0]) != rds_fold(str[0]))
                                return false;
                        str++;
                        slen--;
                        break;
                }
                pat++;
                plen--;
                if (slen == 0) {
                        while (plen && pat[0] == '*') {
                                pat++;
                                plen--;
                        }
                        break;
                }
        }
        return plen == 0 && slen == 0;
}

bool rds_glob_match(const void *pat, size_t plen, const void *str, size_t slen,
                    bool nocase)
{
        bool skip_longer = false;

        return rds_glob_impl(pat, plen, str, slen, nocase, &skip_longer, 0);
}

bool rds_arg_is(const void *p, size_t len, const char *lit)
{
        const unsigned char *a = p;
        size_t i;

        for (i = 0; i < len; i++) {
                unsigned char c = a[i], l = (unsigned char)lit[i];

                if (l == '\0')
                        return false;
                if (c != l && rds_fold(c) != rds_fold(l))
                        return false;
        }
        return lit[len] == '\0';
}

/* ---- Clocks ------------------------------------------------------------------ */

int64_t rds_unix_us(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t rds_unix_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- Hashing: SipHash-1-2, as Redis (siphash.c) ------------------------------ */

static inline uint64_t rotl64(uint64_t x, unsigned b)
{
        return (x << b) | (x >> (64 - b));
}

static inline uint64_t load_le64(const unsigned char *p)
{
        uint64_t v;

        memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        v = __builtin_bswap64(v);
#endif
        return v;
}

#define SIPROUND                                                               \
        do {                                                                   \
                v0 += v1;                                                      \
                v1 = rotl64(v1, 13);                                           \
                v1 ^= v0;                                                      \
                v0 = rotl64(v0, 32);                                           \
                v2 += v3;                                                      \
                v3 = rotl64(v3, 16);                                           \
                v3 ^= v2;                                                      \
                v0 += v3;                                                      \
                v3 = rotl64(v3, 21);                                           \
                v3 ^= v0;                                                      \
                v2 += v1;                                                      \
                v1 = rotl64(v1, 17);                                           \
                v1 ^= v2;                                                      \
                v2 = rotl64(v2, 32);                                           \
        } while (0)

uint64_t rds_siphash(const void *data, size_t len, const uint64_t key[2])
{
        const unsigned char *in = data;
        uint64_t k0 = key[0], k1 = key[1];
        uint64_t v0 = 0x736f6d6570736575ULL ^ k0;
        uint64_t v1 = 0x646f72616e646f6dULL ^ k1;
        uint64_t v2 = 0x6c7967656e657261ULL ^ k0;
        uint64_t v3 = 0x7465646279746573ULL ^ k1;
        uint64_t b = (uint64_t)len << 56;
        const unsigned char *end = in + (len & ~(size_t)7);

        for (; in != end; in += 8) {
                uint64_t m = load_le64(in);

                v3 ^= m;
                SIPROUND;
                v0 ^= m;
        }
        switch (len & 7) {
        case 7:
                b |= (uint64_t)in[6] << 48;
                /* fall through */
        case 6:
                b |= (uint64_t)in[5] << 40;
                /* fall through */
        case 5:
                b |= (uint64_t)in[4] << 32;
                /* fall through */
        case 4:
                b |= (uint64_t)in[3] << 24;
                /* fall through */
        case 3:
                b |= (uint64_t)in[2] << 16;
                /* fall through */
        case 2:
                b |= (uint64_t)in[1] << 8;
                /* fall through */
        case 1:
                b |= (uint64_t)in[0];
                break;
        case 0:
                break;
        }
        v3 ^= b;
        SIPROUND;
        v0 ^= b;
        v2 ^= 0xff;
        SIPROUND;
        SIPROUND;
        return v0 ^ v1 ^ v2 ^ v3;
}

void rds_random_seed(uint64_t k[2])
{
        size_t got = 0;

        while (got < 2 * sizeof(*k)) {
                ssize_t r = getrandom((char *)k + got, 2 * sizeof(*k) - got, 0);

                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                got += (size_t)r;
        }
        if (got < 2 * sizeof(*k)) {
                /* No getrandom (a very old kernel): weak, but not constant. */
                struct timespec ts;

                clock_gettime(CLOCK_REALTIME, &ts);
                k[0] = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^
                       (uint64_t)(uintptr_t)k;
                k[1] = (uint64_t)ts.tv_sec * 0xbf58476d1ce4e5b9ULL ^
                       (uint64_t)getpid();
        }
}

/* ---- Splitting a line as sdssplitargs --------------------------------------- */

/* isspace() in the "C" locale, which is what sdssplitargs uses to skip
 * blanks and to check what follows a closing quote. */
static inline bool split_is_space(unsigned char c)
{
        return c == ' ' || (c >= '\t' && c <= '\r');
}

static inline int split_hex_val(unsigned char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

int rds_split_word(const unsigned char **sp, const unsigned char *end,
                   unsigned char *out, size_t *outlen)
{
        const unsigned char *s = *sp;
        unsigned char *w = out;
        bool inq = false, insq = false, done = false;

        while (s < end && split_is_space(*s))
                s++;
        if (s == end) {
                *sp = s;
                return 0;
        }
        while (!done) {
                /* -1: the end of the line (sdssplitargs's NUL). */
                int c = s < end ? *s : -1;

                if (inq) {
                        if (c == '\\' && end - s >= 4 && s[1] == 'x' &&
                            split_hex_val(s[2]) >= 0 &&
                            split_hex_val(s[3]) >= 0) {
                                *w++ =
                                    (unsigned char)(split_hex_val(s[2]) * 16 +
                                                    split_hex_val(s[3]));
                                s += 3;
                        } else if (c == '\\' && end - s >= 2) {
                                s++;
                                switch (*s) {
                                case 'n':
                                        *w++ = '\n';
                                        break;
                                case 'r':
                                        *w++ = '\r';
                                        break;
                                case 't':
                                        *w++ = '\t';
                                        break;
                                case 'b':
                                        *w++ = '\b';
                                        break;
                                case 'a':
                                        *w++ = '\a';
                                        break;
                                default:
                                        *w++ = *s;
                                        break;
                                }
                        } else if (c == '"') {
                                /* The closing quote must be followed by a
                                 * blank or the end. */
                                if (end - s >= 2 && !split_is_space(s[1]))
                                        return -EINVAL;
                                done = true;
                        } else if (c < 0) {
                                return -EINVAL;
                        } else {
                                *w++ = (unsigned char)c;
                        }
                } else if (insq) {
                        if (c == '\\' && end - s >= 2 && s[1] == '\'') {
                                s++;
                                *w++ = '\'';
                        } else if (c == '\'') {
                                if (end - s >= 2 && !split_is_space(s[1]))
                                        return -EINVAL;
                                done = true;
                        } else if (c < 0) {
                                return -EINVAL;
                        } else {
                                *w++ = (unsigned char)c;
                        }
                } else {
                        switch (c) {
                        case ' ':
                        case '\n':
                        case '\r':
                        case '\t':
                        case -1:
                                done = true;
                                break;
                        case '"':
                                inq = true;
                                break;
                        case '\'':
                                insq = true;
                                break;
                        default:
                                *w++ = (unsigned char)c;
                                break;
                        }
                }
                if (s < end)
                        s++;
        }
        *sp = s;
        *outlen = (size_t)(w - out);
        return 1;
}
