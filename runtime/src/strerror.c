/*
 * strerror.c - task_strerror(): one static string per return code.
 *
 * The errors the runtime gives a meaning of its own are spelled out here;
 * any other errno falls back to glibc's static description.
 */
#include <libtask/common.h>

#include <errno.h>
#include <limits.h>
#include <string.h>

const char *task_strerror(int err)
{
        if (err == INT_MIN)
                return "unknown error";
        if (err < 0)
                err = -err;
        switch (err) {
        case 0:
                return "success";
        case EINVAL:
                return "invalid argument";
        case ENOMEM:
                return "out of memory";
        case ESHUTDOWN:
                return "the runtime is shutting down";
        case ECANCELED:
                return "the task was cancelled";
        case EDEADLK:
                return "blocking call from a runtime worker thread";
        case EBUSY:
                return "resource busy (join handles, wakers or waiters still held, or block_on already running)";
        case EPIPE:
                return "closed: the other side is gone";
        case EAGAIN:
                return "not ready now (a try call would have to wait)";
        case EOVERFLOW:
                return "receiver lagged: values were missed (or a count would overflow)";
        case ECHILD:
                return "the set is empty";
        default: {
                const char *s = strerrordesc_np(err);
                return s ? s : "unknown error";
        }
        }
}
