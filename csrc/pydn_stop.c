/*
 * pydn_stop.c - stopping long C work: Ctrl-C (SIGINT) and deadlines (declared in pydn.h).
 *
 * cffi releases the GIL during our calls and Python's own SIGINT handler only sets a
 * flag that the interpreter reads once the call returns, so without this a forward pass
 * of minutes cannot be interrupted.  While at least one guarded call runs, a C handler
 * of ours is installed in front of whatever handler SIGINT had (Python's): it counts the
 * signal (sigint_gen) and then calls that handler, so Python still raises
 * KeyboardInterrupt in its main thread.  Each outermost guarded call notes the count when
 * it begins and its deadline (pydn_set_deadline); pydn_stopping() compares.  The forward
 * loop checks between layers and the pool between tasks (a stopped call skips the rest
 * of its work), and the guard then fails the call with PYDN_FAILED_INTERRUPT or
 * _TIMEOUT.  A signal stops every call in progress, on every thread and network; a
 * deadline only its own call.  The networks stay usable: the next pass overwrites what
 * the stopped one left half-done.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "pydn.h"

typedef struct {
    unsigned gen;         /* sigint_gen when the call began */
    double deadline;      /* CLOCK_MONOTONIC seconds, 0: none */
    atomic_int observed;  /* the PYDN_FAILED_* reason once a check saw it, else 0 */
} stop_state;

static atomic_uint sigint_gen;
static __thread stop_state own;          /* of this thread's outermost guarded call */
static __thread stop_state *current;     /* own, a caller's (pool worker), or NULL */
static __thread double next_deadline;

/* --- the SIGINT handler, installed while guarded calls run ---------------------------- */

static pthread_mutex_t sig_lock = PTHREAD_MUTEX_INITIALIZER;
static int sig_users;              /* guarded calls in progress, all threads */
static struct sigaction chained;   /* the handler ours calls after counting */

static void on_sigint(int sig, siginfo_t *info, void *context)
{
    int saved = errno;
    if (chained.sa_flags & SA_SIGINFO) {
        atomic_fetch_add(&sigint_gen, 1);
        chained.sa_sigaction(sig, info, context);
    } else if (chained.sa_handler == SIG_DFL) { /* the default: end the process */
        signal(sig, SIG_DFL);
        raise(sig);
    } else if (chained.sa_handler != SIG_IGN) {
        atomic_fetch_add(&sigint_gen, 1);
        chained.sa_handler(sig);
    }
    errno = saved;
}

static int ours(const struct sigaction *a)
{
    return (a->sa_flags & SA_SIGINFO) && a->sa_sigaction == on_sigint;
}

static void sigint_hold(void)
{
    pthread_mutex_lock(&sig_lock);
    if (sig_users++ == 0) {
        struct sigaction now, mine;
        sigaction(SIGINT, NULL, &now);
        if (!ours(&now)) {
            chained = now;
            memset(&mine, 0, sizeof mine);
            mine.sa_sigaction = on_sigint;
            mine.sa_flags = SA_SIGINFO | (now.sa_flags & (SA_ONSTACK | SA_RESTART));
            sigemptyset(&mine.sa_mask);
            sigaction(SIGINT, &mine, NULL);
        }
    }
    pthread_mutex_unlock(&sig_lock);
}

/* Back to the chained handler, unless someone (signal.signal) replaced ours meanwhile. */
static void sigint_release(void)
{
    pthread_mutex_lock(&sig_lock);
    if (--sig_users == 0) {
        struct sigaction now;
        sigaction(SIGINT, NULL, &now);
        if (ours(&now)) sigaction(SIGINT, &chained, NULL);
    }
    pthread_mutex_unlock(&sig_lock);
}

/* A forked child has no calls in progress. */
static void after_fork_child(void) { sig_users = 0; }

__attribute__((constructor)) static void stop_init(void)
{
    pthread_atfork(NULL, NULL, after_fork_child);
}

/* --- the calls ------------------------------------------------------------------------ */

void pydn_set_deadline(double deadline) { next_deadline = deadline; }

/* The outermost guard of this thread begins / ends (pydn_guard.c). */
void pydn_stop_begin(void)
{
    own.gen = atomic_load(&sigint_gen);
    own.deadline = next_deadline;
    next_deadline = 0;
    atomic_store(&own.observed, 0);
    current = &own;
    sigint_hold();
}

/* The reason the call was stopped (PYDN_FAILED_*), 0 when it was not. */
int pydn_stop_end(void)
{
    sigint_release();
    current = NULL;
    return atomic_load(&own.observed);
}

static double coarse_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int pydn_stopping(void)
{
    stop_state *s = current;
    if (!s) return 0;
    int why = atomic_load_explicit(&s->observed, memory_order_relaxed);
    if (why) return why;
    if (atomic_load_explicit(&sigint_gen, memory_order_relaxed) != s->gen)
        why = PYDN_FAILED_INTERRUPT;
    else if (s->deadline > 0 && coarse_now() >= s->deadline)
        why = PYDN_FAILED_TIMEOUT;
    if (why) atomic_store(&s->observed, why);
    return why;
}

const char *pydn_stop_message(int why)
{
    return why == PYDN_FAILED_INTERRUPT ? "interrupted (SIGINT)" : "stopped at its deadline";
}

void pydn_stop_point(void)
{
    int why = pydn_stopping();
    if (why && pydn_guarded()) pydn_guard_fail(why, pydn_stop_message(why));
}

void *pydn_stop_state(void) { return current; }

void *pydn_stop_adopt(void *state)
{
    stop_state *was = current;
    current = state;
    return was;
}
