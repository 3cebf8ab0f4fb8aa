/* The machine's fp32 FMA peak, measured: each thread runs independent chains of
 * fused multiply-adds on 64-byte vectors (GCC vector extensions; built with
 * -O2 -march=native by bench_peers.py, so they become the widest FMA the CPU has),
 * enough chains to hide the FMA latency.  Prints GFLOP/s (2 FLOPs per FMA lane), the
 * best of several timed runs.   usage: fma_peak THREADS */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef float vf __attribute__((vector_size(64)));
#define CHAINS 12 /* the accumulators in run() */
#define LANES ((int)(sizeof(vf) / sizeof(float)))
#define ITERS 20000000L

static volatile float sink;

/* Twelve accumulators as separate variables, so that they stay in registers. */
#define STEP(x) x = x * m + a
static void *run(void *arg) {
    (void)arg;
    vf m, a;
    for (int i = 0; i < LANES; i++) { m[i] = 0.999999f; a[i] = 1e-7f; }
    vf c0 = m, c1 = m * 2, c2 = m * 3, c3 = m * 4, c4 = m * 5, c5 = m * 6;
    vf c6 = m * 7, c7 = m * 8, c8 = m * 9, c9 = m * 10, c10 = m * 11, c11 = m * 12;
    for (long it = 0; it < ITERS; it++) {
        STEP(c0); STEP(c1); STEP(c2); STEP(c3); STEP(c4); STEP(c5);
        STEP(c6); STEP(c7); STEP(c8); STEP(c9); STEP(c10); STEP(c11);
    }
    vf s = c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11;
    sink = s[0];
    return NULL;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    if (threads < 1 || threads > 256) return 2;
    pthread_t tid[256];
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (int t = 0; t < threads; t++) pthread_create(&tid[t], NULL, run, NULL);
        for (int t = 0; t < threads; t++) pthread_join(tid[t], NULL);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double sec = (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec);
        double gflops = 2.0 * LANES * CHAINS * ITERS * threads / sec / 1e9;
        if (gflops > best) best = gflops;
    }
    printf("%.1f\n", best);
    return 0;
}
