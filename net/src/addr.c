/*
 * addr.c - socket addresses (libtask/addr.h): parsing "host:port" text
 * with IP literals, Unix paths, formatting, accessors.
 *
 * Pure functions over caller-owned values: no allocation, no state.  The
 * only system calls are if_nametoindex()/if_indextoname() for an IPv6
 * scope given or shown by name.  Parsing is strict (inet_pton, which
 * rejects short forms like "127.1" and leading zeros, and a port of
 * decimal digits only) so that a typo never turns into a surprising
 * address.
 */
#include <libtask/addr.h>

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

/* The longest IPv6 text with a scope: 45 + '%' + IF_NAMESIZE - 1 + NUL. */
#define IP_TEXT_MAX (INET6_ADDRSTRLEN + IF_NAMESIZE + 1)

static void addr_clear(struct task_addr *a)
{
        memset(a, 0, sizeof(*a));
}

/* Parse a port: 1..5 decimal digits, <= 65535, the whole of [s, s+n). */
static int parse_port(const char *s, size_t n, uint16_t *port)
{
        unsigned v = 0;

        if (n == 0 || n > 5)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -EINVAL;
                v = v * 10 + (unsigned)(s[i] - '0');
        }
        if (v > 65535)
                return -EINVAL;
        *port = (uint16_t)v;
        return 0;
}

/* An IPv6 scope: an interface name, or a decimal index. */
static int parse_scope(const char *s, uint32_t *scope)
{
        unsigned long v = 0;
        bool digits = *s != '\0';

        if (!*s)
                return -EINVAL;
        for (const char *p = s; *p; p++) {
                if (*p < '0' || *p > '9') {
                        digits = false;
                        break;
                }
                v = v * 10 + (unsigned long)(*p - '0');
                if (v > UINT32_MAX)
                        return -EINVAL;
        }
        if (digits) {
                *scope = (uint32_t)v;
                return 0;
        }
        if (strlen(s) >= IF_NAMESIZE)
                return -EINVAL;
        *scope = if_nametoindex(s);
        return *scope ? 0 : -ENODEV;
}

/* An IP literal of @n bytes (no brackets, no port). */
static int parse_ip(struct task_addr *a, const char *s, size_t n, uint16_t port)
{
        char tmp[IP_TEXT_MAX];

        if (n == 0 || n >= sizeof(tmp))
                return -EINVAL;
        memcpy(tmp, s, n);
        tmp[n] = '\0';
        if (memchr(tmp, ':', n) == NULL) {
                struct sockaddr_in *sin = (struct sockaddr_in *)&a->ss;
                if (inet_pton(AF_INET, tmp, &sin->sin_addr) != 1)
                        return -EINVAL;
                sin->sin_family = AF_INET;
                sin->sin_port = htons(port);
                a->len = sizeof(*sin);
                return 0;
        }
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a->ss;
        char *pct = strchr(tmp, '%');
        if (pct) {
                int rc = parse_scope(pct + 1, &sin6->sin6_scope_id);
                if (rc)
                        return rc;
                *pct = '\0';
        }
        if (inet_pton(AF_INET6, tmp, &sin6->sin6_addr) != 1)
                return -EINVAL;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        a->len = sizeof(*sin6);
        return 0;
}

int task_addr_parse(struct task_addr *a, const char *text)
{
        const char *colon;
        uint16_t port;
        int rc;

        if (!a)
                return -EINVAL;
        addr_clear(a);
        if (!text || !*text)
                return -EINVAL;
        if (text[0] == '[') {
                const char *close = strchr(text, ']');
                if (!close || close[1] != ':')
                        return -EINVAL;
                rc = parse_port(close + 2, strlen(close + 2), &port);
                if (rc == 0) {
                        size_t n = (size_t)(close - text - 1);
                        /* Brackets hold IPv6 only. */
                        if (!memchr(text + 1, ':', n))
                                rc = -EINVAL;
                        else
                                rc = parse_ip(a, text + 1, n, port);
                }
        } else {
                colon = strrchr(text, ':');
                if (!colon)
                        return -EINVAL;
                rc = parse_port(colon + 1, strlen(colon + 1), &port);
                if (rc)
                        goto out;
                size_t n = (size_t)(colon - text);
                if (n == 0 || (n == 1 && text[0] == '*'))
                        return task_addr_any(a, AF_INET, port);
                /* An unbracketed IPv6 literal ("::1:80") is ambiguous. */
                if (memchr(text, ':', n))
                        rc = -EINVAL;
                else
                        rc = parse_ip(a, text, n, port);
        }
out:
        if (rc)
                addr_clear(a);
        return rc;
}

int task_addr_from_ip(struct task_addr *a, const char *ip, uint16_t port)
{
        int rc;

        if (!a)
                return -EINVAL;
        addr_clear(a);
        if (!ip)
                return -EINVAL;
        rc = parse_ip(a, ip, strlen(ip), port);
        if (rc)
                addr_clear(a);
        return rc;
}

int task_addr_unix(struct task_addr *a, const char *path)
{
        struct sockaddr_un *sun;
        size_t n;

        if (!a)
                return -EINVAL;
        addr_clear(a);
        if (!path || !*path || (path[0] == '@' && !path[1]))
                return -EINVAL;
        sun = (struct sockaddr_un *)&a->ss;
        n = strlen(path);
        /* A path keeps a NUL inside sun_path; an abstract name need not,
         * but one byte of it is the leading NUL that replaces the '@'. */
        if (n >= sizeof(sun->sun_path))
                return -ENAMETOOLONG;
        sun->sun_family = AF_UNIX;
        memcpy(sun->sun_path, path, n);
        if (path[0] == '@') {
                sun->sun_path[0] = '\0';
                a->len =
                    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
        } else {
                a->len =
                    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
        }
        return 0;
}

int task_addr_from_sockaddr(struct task_addr *a, const struct sockaddr *sa,
                            socklen_t len)
{
        if (!a)
                return -EINVAL;
        addr_clear(a);
        if (!sa || len < sizeof(sa_family_t) || len > sizeof(a->ss))
                return -EINVAL;
        switch (sa->sa_family) {
        case AF_INET:
                if (len < sizeof(struct sockaddr_in))
                        return -EINVAL;
                len = sizeof(struct sockaddr_in);
                break;
        case AF_INET6:
                if (len < sizeof(struct sockaddr_in6))
                        return -EINVAL;
                len = sizeof(struct sockaddr_in6);
                break;
        case AF_UNIX:
                if (len > sizeof(struct sockaddr_un))
                        return -EINVAL;
                break;
        default:
                return -EINVAL;
        }
        memcpy(&a->ss, sa, len);
        a->len = len;
        return 0;
}

int task_addr_loopback(struct task_addr *a, int family, uint16_t port)
{
        if (!a)
                return -EINVAL;
        if (family == AF_INET)
                return task_addr_from_ip(a, "127.0.0.1", port);
        if (family == AF_INET6)
                return task_addr_from_ip(a, "::1", port);
        addr_clear(a);
        return -EINVAL;
}

int task_addr_any(struct task_addr *a, int family, uint16_t port)
{
        if (!a)
                return -EINVAL;
        if (family == AF_INET)
                return task_addr_from_ip(a, "0.0.0.0", port);
        if (family == AF_INET6)
                return task_addr_from_ip(a, "::", port);
        addr_clear(a);
        return -EINVAL;
}

/* snprintf's result as ours: the length, or -ENOSPC with "" in @buf. */
static int fit(char *buf, size_t size, int n)
{
        if (n < 0 || (size_t)n >= size) {
                if (size)
                        buf[0] = '\0';
                return -ENOSPC;
        }
        return n;
}

static int format_unix(const struct task_addr *a, char *buf, size_t size)
{
        const struct sockaddr_un *sun = (const struct sockaddr_un *)&a->ss;
        size_t off = offsetof(struct sockaddr_un, sun_path);
        size_t n;

        if (a->len <= off)
                return fit(buf, size, snprintf(buf, size, "(unnamed)"));
        n = a->len - off;
        if (sun->sun_path[0] != '\0') {
                /* A path: up to its NUL (the length may count it). */
                size_t k = strnlen(sun->sun_path, n);
                return fit(buf, size,
                           snprintf(buf, size, "%.*s", (int)k, sun->sun_path));
        }
        if (n + 1 > size) /* '@' replaces the NUL; plus our NUL */
                return fit(buf, size, -1);
        buf[0] = '@';
        for (size_t i = 1; i < n; i++)
                buf[i] = sun->sun_path[i] ? sun->sun_path[i] : '@';
        buf[n] = '\0';
        return (int)n;
}

int task_addr_format(const struct task_addr *a, char *buf, size_t size)
{
        char ip[INET6_ADDRSTRLEN];

        if (!a || (!buf && size))
                return -EINVAL;
        switch (a->ss.ss_family) {
        case AF_INET: {
                const struct sockaddr_in *sin =
                    (const struct sockaddr_in *)&a->ss;
                inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
                return fit(buf, size,
                           snprintf(buf, size, "%s:%u", ip,
                                    (unsigned)ntohs(sin->sin_port)));
        }
        case AF_INET6: {
                const struct sockaddr_in6 *sin6 =
                    (const struct sockaddr_in6 *)&a->ss;
                char scope[IF_NAMESIZE + 12] = "";
                inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip));
                if (sin6->sin6_scope_id) {
                        char name[IF_NAMESIZE];
                        if (if_indextoname(sin6->sin6_scope_id, name))
                                snprintf(scope, sizeof(scope), "%%%s", name);
                        else
                                snprintf(scope, sizeof(scope), "%%%u",
                                         (unsigned)sin6->sin6_scope_id);
                }
                return fit(buf, size,
                           snprintf(buf, size, "[%s%s]:%u", ip, scope,
                                    (unsigned)ntohs(sin6->sin6_port)));
        }
        case AF_UNIX:
                return format_unix(a, buf, size);
        default:
                if (size)
                        buf[0] = '\0';
                return -EINVAL;
        }
}

int task_addr_family(const struct task_addr *a)
{
        if (!a || a->len == 0)
                return AF_UNSPEC;
        return a->ss.ss_family;
}

int task_addr_port(const struct task_addr *a)
{
        if (!a)
                return -EINVAL;
        if (a->ss.ss_family == AF_INET)
                return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
        if (a->ss.ss_family == AF_INET6)
                return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
        return -EINVAL;
}

int task_addr_set_port(struct task_addr *a, uint16_t port)
{
        if (!a)
                return -EINVAL;
        if (a->ss.ss_family == AF_INET)
                ((struct sockaddr_in *)&a->ss)->sin_port = htons(port);
        else if (a->ss.ss_family == AF_INET6)
                ((struct sockaddr_in6 *)&a->ss)->sin6_port = htons(port);
        else
                return -EINVAL;
        return 0;
}

bool task_addr_equal(const struct task_addr *a, const struct task_addr *b)
{
        if (!a || !b || a->ss.ss_family != b->ss.ss_family)
                return false;
        switch (a->ss.ss_family) {
        case AF_INET: {
                const struct sockaddr_in *x = (const void *)&a->ss;
                const struct sockaddr_in *y = (const void *)&b->ss;
                return x->sin_port == y->sin_port &&
                       x->sin_addr.s_addr == y->sin_addr.s_addr;
        }
        case AF_INET6: {
                const struct sockaddr_in6 *x = (const void *)&a->ss;
                const struct sockaddr_in6 *y = (const void *)&b->ss;
                return x->sin6_port == y->sin6_port &&
                       x->sin6_scope_id == y->sin6_scope_id &&
                       memcmp(&x->sin6_addr, &y->sin6_addr,
                              sizeof(x->sin6_addr)) == 0;
        }
        case AF_UNIX: {
                const struct sockaddr_un *x = (const void *)&a->ss;
                const struct sockaddr_un *y = (const void *)&b->ss;
                size_t off = offsetof(struct sockaddr_un, sun_path);
                size_t nx = a->len > off ? a->len - off : 0;
                size_t ny = b->len > off ? b->len - off : 0;
                if (nx == 0 || ny == 0) /* unnamed */
                        return nx == ny;
                if (x->sun_path[0] && y->sun_path[0]) {
                        /* Paths: up to the NUL, which a length may or may
                         * not count. */
                        size_t kx = strnlen(x->sun_path, nx);
                        size_t ky = strnlen(y->sun_path, ny);
                        return kx == ky &&
                               memcmp(x->sun_path, y->sun_path, kx) == 0;
                }
                /* Abstract names: every byte counts. */
                return !x->sun_path[0] && !y->sun_path[0] && nx == ny &&
                       memcmp(x->sun_path, y->sun_path, nx) == 0;
        }
        default:
                return false;
        }
}
