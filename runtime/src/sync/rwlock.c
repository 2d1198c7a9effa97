/* rwlock.c - placeholder until the rwlock primitive lands (issue 3). */
#include <libtask/rwlock.h>
