/* thread_stack.h: a floor under the stack size of every thread the API process creates.
 *
 * Debian's libcivetweb 1.15 is built with USE_STACK_SIZE=102400: every worker thread gets a 100 KB
 * stack (measured with pthread_getattr_np inside a handler) and the library has no run-time option to
 * change it. cJSON recurses once per nesting level, and a handler's own frames (log lines, replies)
 * take tens of KB, so 100 KB is not enough for the JSON depth we allow, least of all under ASan.
 * roma-api therefore defines pthread_attr_setstacksize itself: the dynamic linker binds civetweb's
 * call to the executable's definition first, which raises the requested size to the configured
 * floor and forwards to glibc's. Larger requests pass unchanged; untouched stack pages cost no memory. */
#ifndef ROMA_API_THREAD_STACK_H
#define ROMA_API_THREAD_STACK_H

#include <stddef.h>

/* Sets the floor (bytes) for threads created from now on. Call before mg_start. */
void thread_stack_set_min(size_t bytes);
/* The stack size of the calling thread (0 when unknown): for logs and tests. */
size_t thread_stack_current(void);

#endif
