/*
 * libtask/addr.h - socket addresses: IPv4, IPv6 and Unix, parsed from and
 * formatted to text.  Rust's std::net::SocketAddr (plus Unix paths).
 *
 * A struct task_addr is a plain value the caller owns (on the stack, in a
 * frame, anywhere); nothing here allocates, blocks or keeps a pointer.
 * Host names are not parsed here: libtask/resolve.h resolves them.
 *
 *     struct task_addr a;
 *     int rc = task_addr_parse(&a, "[::1]:8080");   // 0, or -EINVAL
 *     char text[TASK_ADDR_STRLEN];
 *     task_addr_format(&a, text, sizeof text);        // "[::1]:8080"
 *
 * Text forms accepted by task_addr_parse():
 *   "127.0.0.1:80"          IPv4 dotted quad (four decimal parts), a port
 *   "[::1]:80"              IPv6 in brackets, a port
 *   "[fe80::1%eth0]:80"     IPv6 with a scope: an interface name or index
 *   ":80", "*:80"           the IPv4 wildcard 0.0.0.0 (for bind)
 * A port is 1 to 5 decimal digits, 0..65535.  Anything else (an empty
 * string, a missing or empty port, a port above 65535, a host name, a
 * space, trailing junk) is -EINVAL.
 */
#ifndef LIBTASK_ADDR_H
#define LIBTASK_ADDR_H

#include <libtask/common.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A socket address of any family (sockaddr_in, sockaddr_in6 or
 * sockaddr_un in @ss) and its length.  A plain value: copy it freely.
 */
struct task_addr {
        struct sockaddr_storage ss;
        socklen_t len;
};

/*
 * Room for any address formatted by task_addr_format(), with its NUL:
 * "[" + IPv6 (45) + "%" + an interface name (15) + "]:65535", or "@" and a
 * Unix path (107).
 */
#define TASK_ADDR_STRLEN 112

/*
 * task_addr_parse - parse @text (the forms in the head of this file) into
 * *@a.  Returns 0; -EINVAL (NULL, bad text); -ENODEV (an IPv6 scope names
 * no interface).  On failure *@a is left zeroed (family AF_UNSPEC).
 */
TASK_API int task_addr_parse(struct task_addr *a, const char *text);

/*
 * task_addr_from_ip - an IP literal without a port ("10.0.0.1", "::1",
 * "fe80::1%lo": no brackets) and @port.  Returns as task_addr_parse().
 */
TASK_API int task_addr_from_ip(struct task_addr *a, const char *ip,
                               uint16_t port);

/*
 * task_addr_unix - a Unix socket address.  @path is a file system path,
 * or "@name" for a name in Linux's abstract namespace (no file; gone when
 * the last socket bound to it closes).  Returns 0, or -EINVAL (NULL, empty,
 * "@" alone) or -ENAMETOOLONG (more than 107 bytes; 106 after the "@").
 */
TASK_API int task_addr_unix(struct task_addr *a, const char *path);

/*
 * task_addr_from_sockaddr - copy a sockaddr of @len bytes (as getaddrinfo,
 * accept or recvfrom return it).  Returns 0, or -EINVAL (NULL, a family
 * other than AF_INET, AF_INET6, AF_UNIX, or a length wrong for it).
 */
TASK_API int task_addr_from_sockaddr(struct task_addr *a,
                                     const struct sockaddr *sa, socklen_t len);

/*
 * task_addr_loopback / task_addr_any - 127.0.0.1 or ::1, and 0.0.0.0 or
 * ::, with @port.  @family: AF_INET or AF_INET6.  Returns 0 or -EINVAL.
 */
TASK_API int task_addr_loopback(struct task_addr *a, int family, uint16_t port);
TASK_API int task_addr_any(struct task_addr *a, int family, uint16_t port);

/*
 * task_addr_format - write @a as text into @buf (@size bytes, NUL
 * included): "127.0.0.1:80", "[::1]:80", "[fe80::1%eth0]:80", a Unix
 * path, "@name" for an abstract one (its NUL bytes shown as '@'), or
 * "(unnamed)" for an unbound Unix socket.  Returns the length written
 * (without the NUL); -EINVAL (NULL, an unknown family); -ENOSPC (@size
 * too small; TASK_ADDR_STRLEN is always enough), with @buf then holding
 * "" if @size > 0.
 */
TASK_API int task_addr_format(const struct task_addr *a, char *buf,
                              size_t size);

/* AF_INET, AF_INET6, AF_UNIX, or AF_UNSPEC (0) for NULL or an empty one. */
TASK_API int task_addr_family(const struct task_addr *a);

/* The port (0..65535) of an IP address; -EINVAL for NULL or a Unix one. */
TASK_API int task_addr_port(const struct task_addr *a);

/* Change the port of an IP address.  Returns 0 or -EINVAL. */
TASK_API int task_addr_set_port(struct task_addr *a, uint16_t port);

/*
 * True when @a and @b are the same address (family, address, port, IPv6
 * scope; Unix path).  NULL equals nothing.
 */
TASK_API bool task_addr_equal(const struct task_addr *a,
                              const struct task_addr *b);

/* The address as a sockaddr, for system calls. */
static inline const struct sockaddr *
task_addr_sockaddr(const struct task_addr *a)
{
        return (const struct sockaddr *)&a->ss;
}

#ifdef __cplusplus
}
#endif

#endif /* LIBTASK_ADDR_H */
