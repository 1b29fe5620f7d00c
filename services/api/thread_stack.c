/* thread_stack.c: the stack-size floor of roma-api's threads (see thread_stack.h). */
#include "thread_stack.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

static _Atomic size_t min_stack;

void thread_stack_set_min(size_t bytes) { atomic_store(&min_stack, bytes); }

size_t thread_stack_current(void)
{
    pthread_attr_t a;
    size_t sz = 0;
    if (pthread_getattr_np(pthread_self(), &a) != 0) return 0;
    if (pthread_attr_getstacksize(&a, &sz) != 0) sz = 0;
    pthread_attr_destroy(&a);
    return sz;
}

/* Interposes glibc's function for every caller in the process (civetweb's worker threads are the
 * point); see thread_stack.h for why. */
int pthread_attr_setstacksize(pthread_attr_t *attr, size_t size)
{
    static int (*real)(pthread_attr_t *, size_t);
    int (*fn)(pthread_attr_t *, size_t) = __atomic_load_n(&real, __ATOMIC_ACQUIRE);
    if (!fn) {
        void *sym = dlsym(RTLD_NEXT, "pthread_attr_setstacksize");
        if (!sym) return ENOSYS;
        memcpy(&fn, &sym, sizeof fn); /* ISO C has no object-to-function pointer cast */
        __atomic_store_n(&real, fn, __ATOMIC_RELEASE);
    }
    size_t floor = atomic_load(&min_stack);
    return fn(attr, size < floor ? floor : size);
}
