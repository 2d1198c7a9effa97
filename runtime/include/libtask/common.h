/*
 * libtask/common.h - what every libtask header shares: the export macro,
 * the error convention and task_strerror().
 *
 * Errors: every action returns 0 (or a non-negative count) on success and a
 * negative errno on failure.  libtask never reports through the global errno.
 * Errors the runtime itself defines:
 *
 *   -EINVAL      an argument is NULL, out of range or inconsistent.
 *   -ENOMEM      an allocation failed; nothing was created, nothing leaked.
 *   -ESHUTDOWN   the runtime is shutting down (or shut down): no new tasks.
 *   -ECANCELED   the task was aborted (join result).
 *   -EDEADLK     a blocking call was made from a worker thread of the very
 *                runtime it would wait on.
 *   -EBUSY       the runtime cannot be freed: join handles are still held.
 */
#ifndef LIBTASK_COMMON_H
#define LIBTASK_COMMON_H

#if defined(LIBTASK_BUILDING) && defined(__GNUC__)
#define TASK_API __attribute__((visibility("default")))
#else
#define TASK_API
#endif

#include <errno.h> /* the codes every call returns, negated */

#ifdef __cplusplus
extern "C" {
#endif

/*
 * task_strerror - a static, human-readable string for a libtask return code.
 * @err: a negative errno as returned by any libtask call (or its absolute
 *       value).  Never NULL; the string is owned by libtask and never freed.
 */
TASK_API const char *task_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif /* LIBTASK_COMMON_H */
