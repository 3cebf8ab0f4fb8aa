/*
 * csrc/fast/pool.c - the thread pool of the DARKNET_FAST build.
 *
 * Why not OpenMP: a `#pragma omp parallel` region ends in a barrier that every thread
 * of the team must reach, so each of the ~40 regions of a forward pass waits until
 * every worker has been given a CPU.  On a machine whose cores are shared with other
 * busy processes that costs a scheduler tick (4 ms here) per region, several times a
 * detection (measured: 30 ms became 200+ ms).  Here the caller runs tasks itself and
 * waits only for tasks a worker has actually claimed: a worker that wakes late finds
 * nothing left and goes back to sleep, so a busy machine slows us down gracefully.
 *
 * One job at a time: a second thread calling in while the pool is busy (another
 * network used concurrently) runs its tasks on its own, serially.
 *
 * Stopping (pydn_stopping, Ctrl-C or a deadline): the workers adopt the caller's stop
 * state, and every task checks it before it runs; once the call should stop, the
 * remaining tasks are skipped (counted done) and the caller's forward loop ends it.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "fast.h"
#include "pydn.h"

#define POOL_MAX 64
/* Polls (about 1 ms on Zen 5) before a worker sleeps on the condition variable: long
 * enough to span the serial gaps between a pass's parallel loops.  Waking a sleeping
 * worker costs more than that where its CPU went idle (a virtual machine halts the
 * vCPU): with 100 us, yolov3-tiny after a 0.5 s pause took 16.9 ms against 13.7 back
 * to back; with 1 ms, 14.0 against 13.6 (bench_peers.py, 2 threads).  The spin runs on
 * the worker's own core and ends 1 ms after the last task. */
#define SPIN 40000

static pthread_mutex_t busy = PTHREAD_MUTEX_INITIALIZER; /* held by the job's caller */
static pthread_mutex_t wake_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static int workers;                     /* started */
static int job_workers;                 /* workers that may join the current job */
static pydn_task_fn job_fn;
static void *job_ctx;
static void *job_stop;                  /* the caller's stop state (pydn_stop_state) */
static int job_n;
static atomic_uint job_gen;             /* bumped for each job */
static atomic_ullong claim;             /* (generation << 32) | next task */
static atomic_int done;                 /* tasks of the current job finished */
static int n_threads;                   /* 0: not chosen yet */

/* Claim and run tasks of job `gen` until none is left. */
static void run_tasks(unsigned gen, pydn_task_fn fn, void *ctx, int n)
{
    unsigned long long c = atomic_load(&claim);
    for (;;) {
        if ((unsigned)(c >> 32) != gen || (int)(unsigned)c >= n) return;
        if (!atomic_compare_exchange_weak(&claim, &c, c + 1)) continue;
        if (!pydn_stopping()) fn(ctx, (int)(unsigned)c);
        atomic_fetch_add(&done, 1);
        c = atomic_load(&claim);
    }
}

static void *worker(void *arg)
{
    int index = (int)(size_t)arg;
    unsigned seen = atomic_load(&job_gen);
    for (;;) {
        for (int i = 0; i < SPIN && atomic_load(&job_gen) == seen; ++i) pydn_cpu_relax();
        pthread_mutex_lock(&wake_lock);
        while (atomic_load(&job_gen) == seen) pthread_cond_wait(&wake, &wake_lock);
        unsigned gen = seen = atomic_load(&job_gen);
        pydn_task_fn fn = job_fn;
        void *ctx = job_ctx, *stop = job_stop;
        int n = job_n, joins = index < job_workers;
        pthread_mutex_unlock(&wake_lock);
        if (joins) {
            pydn_stop_adopt(stop);
            run_tasks(gen, fn, ctx, n);
            pydn_stop_adopt(NULL);
        }
    }
    return NULL;
}

static void start_workers(int want)
{
    if (want > POOL_MAX) want = POOL_MAX;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    while (workers < want) {
        pthread_t t;
        if (pthread_create(&t, &attr, worker, (void *)(size_t)workers)) break;
        ++workers;
    }
    pthread_attr_destroy(&attr);
}

void pydn_parallel_for(int n, pydn_task_fn fn, void *ctx)
{
    int helpers = pydn_threads() - 1;
    if (helpers > n - 1) helpers = n - 1;
    if (helpers <= 0 || pthread_mutex_trylock(&busy)) {
        for (int i = 0; i < n && !pydn_stopping(); ++i) fn(ctx, i);
        return;
    }
    start_workers(helpers);
    pthread_mutex_lock(&wake_lock);
    unsigned gen = atomic_load(&job_gen) + 1;
    job_fn = fn;
    job_ctx = ctx;
    job_stop = pydn_stop_state();
    job_n = n;
    job_workers = helpers;
    atomic_store(&done, 0);
    atomic_store(&claim, (unsigned long long)gen << 32);
    atomic_store(&job_gen, gen);
    pthread_cond_broadcast(&wake);
    pthread_mutex_unlock(&wake_lock);
    run_tasks(gen, fn, ctx, n);
    /* Only tasks that a worker is running now remain. */
    for (int i = 0; atomic_load(&done) < n; ++i)
        if (i < SPIN) pydn_cpu_relax(); else sched_yield();
    pthread_mutex_unlock(&busy);
}

/* A forked child has none of the workers: start over (the caller runs every task
 * itself until new workers exist, so nothing waits on a thread that is gone). */
static void after_fork_child(void)
{
    pthread_mutex_init(&busy, NULL);
    pthread_mutex_init(&wake_lock, NULL);
    pthread_cond_init(&wake, NULL);
    workers = 0;
}

__attribute__((constructor)) static void pool_init(void)
{
    pthread_atfork(NULL, NULL, after_fork_child);
}

/* Default: OMP_NUM_THREADS when set (the usual knob), else the CPUs we may run on. */
int pydn_threads(void)
{
    if (n_threads > 0) return n_threads;
    const char *env = getenv("OMP_NUM_THREADS");
    int n = env ? atoi(env) : 0;
    if (n <= 0) {
        cpu_set_t set;
        n = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
    }
    n_threads = n > POOL_MAX + 1 ? POOL_MAX + 1 : (n > 0 ? n : 1);
    return n_threads;
}

int pydn_set_threads(int n)
{
    n_threads = n > 0 ? (n > POOL_MAX + 1 ? POOL_MAX + 1 : n) : 0;
    return pydn_threads();
}

int pydn_get_threads(void) { return pydn_threads(); }
