/*
 * pydn_alloc.c - the allocator of upstream's files (renamed to these by pydn_trap.h).
 *
 * Upstream never checks malloc/calloc/realloc: under a memory limit (ulimit -v, a
 * cgroup) a failed allocation returned NULL and the next write ended the process with
 * SIGSEGV.  Here a failure inside a guarded call jumps to the guard instead, which
 * fails the call with PYDN_FAILED_MEMORY (Python: pydarknet.MemoryError); outside one
 * (a pool worker, or no pydarknet call) upstream's behaviour is kept.
 *
 * While a network is being built (pydn_alloc_track_begin .. _end) every block upstream
 * allocates is remembered, so that a build that fails half-way (out of memory, Ctrl-C,
 * Darknet giving up) frees all it held.  Building is also where these allocations and
 * reads check for Ctrl-C; later (resizing a network) a jump would leave it half-made.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "pydn.h"

/* --- the blocks of the network being built: an open-addressing set ------------------- */

#define GONE ((void *)1) /* a removed entry */

static __thread void **blocks;
static __thread size_t cap, used; /* slots, and slots not empty (live + GONE) */
static __thread int tracking;

static size_t slot_of(const void *p, size_t mask)
{
    uint64_t h = (uint64_t)(uintptr_t)p * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 17) & mask;
}

static void put(void *p);

static void grow(void)
{
    void **old = blocks;
    size_t old_cap = cap;
    size_t live = 0;
    for (size_t i = 0; i < old_cap; ++i) live += old[i] && old[i] != GONE;
    size_t want = 1024;
    while (want < 4 * (live + 1)) want *= 2;
    void **fresh = calloc(want, sizeof *fresh); /* the real calloc: not renamed here */
    if (!fresh) {
        tracking = 0; /* cannot remember more: stop tracking rather than fail */
        return;
    }
    blocks = fresh;
    cap = want;
    used = 0;
    for (size_t i = 0; i < old_cap; ++i)
        if (old[i] && old[i] != GONE) put(old[i]);
    free(old);
}

static void put(void *p)
{
    if (4 * (used + 1) > 3 * cap) grow();
    if (!tracking) return;
    size_t mask = cap - 1, i = slot_of(p, mask);
    while (blocks[i] && blocks[i] != GONE) i = (i + 1) & mask;
    if (!blocks[i]) ++used;
    blocks[i] = p;
}

static void drop(void *p)
{
    if (!cap) return;
    size_t mask = cap - 1, i = slot_of(p, mask);
    for (; blocks[i]; i = (i + 1) & mask)
        if (blocks[i] == p) {
            blocks[i] = GONE;
            return;
        }
}

void pydn_alloc_track_begin(void)
{
    tracking = 1;
}

void pydn_alloc_track_end(int release)
{
    for (size_t i = 0; i < cap; ++i)
        if (release && blocks[i] && blocks[i] != GONE) free(blocks[i]);
    free(blocks);
    blocks = NULL;
    cap = used = 0;
    tracking = 0;
}

/* --- the renamed functions ------------------------------------------------------------ */

static void *checked(void *p, size_t bytes, const char *what)
{
    if (!p && bytes) {
        char text[160];
        snprintf(text, sizeof text, "out of memory: Darknet's %s of %zu bytes failed", what,
                 bytes);
        if (pydn_guarded()) pydn_guard_fail(PYDN_FAILED_MEMORY, text);
        return NULL;
    }
    if (tracking) {
        if (pydn_stopping()) { /* Ctrl-C while building: drop the block and stop */
            free(p);
            pydn_stop_point();
        }
        if (p) put(p);
    }
    return p;
}

void *pydn_malloc(size_t n) { return checked(malloc(n), n, "malloc"); }

void *pydn_calloc(size_t n, size_t size)
{
    size_t bytes = n * size;
    if (size && bytes / size != n) bytes = SIZE_MAX;
    return checked(calloc(n, size), bytes, "calloc");
}

void *pydn_realloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (q && tracking && p) drop(p);
    return checked(q, n, "realloc");
}

void pydn_free(void *p)
{
    if (tracking && p) drop(p);
    free(p);
}

/* Large reads (a layer's weights) check for Ctrl-C first while a network is loaded. */
size_t pydn_fread(void *ptr, size_t size, size_t n, FILE *stream)
{
    if (size * n >= (64u << 10)) pydn_stop_point();
    return fread(ptr, size, n, stream);
}
