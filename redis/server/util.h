/*
 * redis/server/util.h - the small string helpers every command needs, with
 * Redis's exact acceptance rules (util.c in Redis): what counts as an
 * integer or a float argument, how numbers are printed, glob matching.
 */
#ifndef RDS_UTIL_H
#define RDS_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest output of rds_ll2str / rds_d2str, with the NUL. */
#define RDS_LONG_STR_SIZE 21
#define RDS_DOUBLE_STR_SIZE 128

/*
 * rds_str2ll - parse a signed 64-bit decimal as Redis's string2ll: no
 * leading/trailing spaces, no '+', no leading zeros ("0" itself is fine),
 * "-0" refused, within [LLONG_MIN, LLONG_MAX].  True on success.
 */
bool rds_str2ll(const void *s, size_t len, long long *out);
/* As rds_str2ll, into a uint64 (no '-'). */
bool rds_str2ull(const void *s, size_t len, unsigned long long *out);
/*
 * rds_str2ld - parse a float argument as Redis's string2ld/strtold rules
 * for INCRBYFLOAT: no spaces, not empty, not NaN; "inf" is accepted here
 * and refused by the caller where Redis refuses it.  True on success.
 */
bool rds_str2ld(const void *s, size_t len, long double *out);
/* As above for a double (Redis's getDoubleFromObject: strtod rules). */
bool rds_str2d(const void *s, size_t len, double *out);

/* Print @v into @buf (RDS_LONG_STR_SIZE bytes).  Returns the length. */
size_t rds_ll2str(char *buf, long long v);

/* How many decimal digits @v has (1..20): lets the reply encoder reserve
 * exactly and print straight into its buffer. */
static inline unsigned rds_ull_digits(unsigned long long v)
{
        unsigned n = 1;

        for (;;) {
                if (v < 10)
                        return n;
                if (v < 100)
                        return n + 1;
                if (v < 1000)
                        return n + 2;
                if (v < 10000)
                        return n + 3;
                v /= 10000;
                n += 4;
        }
}

/* Write the @n = rds_ull_digits(@v) digits of @v at @dst (no NUL). */
static inline void rds_ull_write(char *dst, unsigned long long v, unsigned n)
{
        static const char d2[201] = "00010203040506070809"
                                    "10111213141516171819"
                                    "20212223242526272829"
                                    "30313233343536373839"
                                    "40414243444546474849"
                                    "50515253545556575859"
                                    "60616263646566676869"
                                    "70717273747576777879"
                                    "80818283848586878889"
                                    "90919293949596979899";
        char *p = dst + n;

        while (v >= 100) {
                unsigned i = (unsigned)(v % 100) * 2;

                v /= 100;
                *--p = d2[i + 1];
                *--p = d2[i];
        }
        if (v >= 10) {
                *--p = d2[v * 2 + 1];
                *--p = d2[v * 2];
        } else {
                *--p = (char)('0' + v);
        }
}
/*
 * rds_ld2str - print a long double the way INCRBYFLOAT replies: "%.17Lf"
 * with trailing zeros (and a trailing '.') removed (Redis's ld2string
 * LD_STR_HUMAN).  Returns the length, or 0 if it does not fit / is not
 * finite.
 */
size_t rds_ld2str(char *buf, size_t size, long double v);
/* Print a double as Redis replies one (%.17g; "inf", "-inf"). */
size_t rds_d2str(char *buf, size_t size, double v);

/*
 * rds_glob_match - Redis's stringmatchlen: '*', '?', '[...]' with ranges
 * and '^' negation, '\' escapes; @nocase folds ASCII case.  Binary safe.
 * Bounded: a pattern with many '*' cannot take exponential time (Redis 7's
 * skipLongerMatches rule).
 */
bool rds_glob_match(const void *pat, size_t plen, const void *str, size_t slen,
                    bool nocase);

/* Case-insensitive equality of a binary argument and a C string. */
bool rds_arg_is(const void *p, size_t len, const char *lit);

/* Wall-clock time in milliseconds / microseconds since the epoch. */
int64_t rds_unix_ms(void);
int64_t rds_unix_us(void);

/*
 * rds_siphash - SipHash-1-2 (Redis's choice for its dicts) of
 * @data[0..@len) under the 128-bit @key: a keyed hash, so that a client
 * that does not know the key cannot choose names that collide.  Used by
 * the keyspace and the pub/sub registry.
 */
uint64_t rds_siphash(const void *data, size_t len, const uint64_t key[2]);
/* Fill @key with random bits (getrandom; the clock if that fails). */
void rds_random_seed(uint64_t key[2]);

/*
 * rds_split_word - the next word of a line split as Redis's sdssplitargs
 * does (inline requests, redis.conf lines): blanks separate words; "..."
 * takes \n \r \t \b \a \\ \" and \xHH escapes, '...' takes \' only; a
 * closing quote must be followed by a blank or the end of the line.
 * @sp: in/out, the cursor into the line; @end: the line's end.  The word's
 * decoded bytes go to @out, which needs room for end - *sp bytes at most
 * (a word never decodes to more bytes than it spans).  Returns 1 with
 * *@outlen set, 0 when only blanks are left, or -EINVAL (unbalanced
 * quotes; *@sp is left as it was).
 */
int rds_split_word(const unsigned char **sp, const unsigned char *end,
                   unsigned char *out, size_t *outlen);

#endif /* RDS_UTIL_H */
