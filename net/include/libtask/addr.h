/*
 * libtask/addr.h - socket addresses: IPv4, IPv6 and Unix, parsed from and
 * formatted to text.  (PLACEHOLDER: the net module fills in the API; the
 * struct below is fixed, the resolver and the sockets use it.)
 */
#ifndef LIBTASK_ADDR_H
#define LIBTASK_ADDR_H

#include <libtask/common.h>

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

#ifdef __cplusplus
}
#endif

#endif /* LIBTASK_ADDR_H */
