/* The machine's fp32 FMA peak for one ISA, measured: each thread runs twelve
 * independent chains of fused multiply-adds on the ISA's vectors (enough to hide the
 * FMA latency on two FMA units), all in registers: 12 accumulators and 2 operands fit
 * AVX2's 16 YMM registers (twelve chains of 64-byte vectors did not: they spilled and
 * read 16 GFLOP/s on a Zen 3) and AVX-512's 32.  Prints GFLOP/s (2 FLOPs per FMA
 * lane), the best of several timed runs.
 *
 *   usage: fma_peak THREADS [avx512|avx2|neon [cpu]]   (default: the widest this CPU has)
 *
 * With "cpu", over the threads' CPU time instead of the wall time: the peak per second
 * of CPU a thread actually got, which a busy machine disturbs far less (to compare with
 * CPU times, as ab_builds.py --profile's with PYDN_PROFILE_CPU=1).
 *
 * Built with -O2 -march=native by bench_peers.py and ab_builds.py; each ISA's loop is
 * compiled for it whatever -march says (GCC vector extensions, target attributes). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHAINS 12
#define ITERS 20000000L

static volatile float sink;

/* Twelve accumulators as separate variables, so that they stay in registers. */
#define STEP(x) x = x * m + a
#define RUN(name, bytes, attributes)                                                    \
    typedef float name##_v __attribute__((vector_size(bytes)));                         \
    attributes static void *name(void *arg)                                             \
    {                                                                                   \
        struct timespec t0, t1;                                                         \
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);                                    \
        name##_v m, a;                                                                  \
        for (int i = 0; i < (int)(bytes / sizeof(float)); i++) {                        \
            m[i] = 0.999999f;                                                           \
            a[i] = 1e-7f;                                                               \
        }                                                                               \
        name##_v c0 = m, c1 = m * 2, c2 = m * 3, c3 = m * 4, c4 = m * 5, c5 = m * 6;    \
        name##_v c6 = m * 7, c7 = m * 8, c8 = m * 9, c9 = m * 10, c10 = m * 11;         \
        name##_v c11 = m * 12;                                                          \
        for (long it = 0; it < ITERS; it++) {                                           \
            STEP(c0); STEP(c1); STEP(c2); STEP(c3); STEP(c4); STEP(c5);                  \
            STEP(c6); STEP(c7); STEP(c8); STEP(c9); STEP(c10); STEP(c11);                \
        }                                                                               \
        name##_v s = c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11;        \
        sink = s[0];                                                                    \
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);                                    \
        *(double *)arg = (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec);    \
        return NULL;                                                                    \
    }
#if defined(__x86_64__)
RUN(run_avx512, 64, __attribute__((target("avx512f,fma"))))
RUN(run_avx2, 32, __attribute__((target("avx2,fma"))))
#define HAS(feature) __builtin_cpu_supports(feature)
#else /* aarch64: NEON's 128-bit vectors (32 registers) */
RUN(run_neon, 16, )
#endif

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    if (threads < 1 || threads > 256) return 2;
    void *(*run)(void *) = NULL;
    int lanes = 0;
#if defined(__x86_64__)
    __builtin_cpu_init();
    int has512 = HAS("avx512f") && HAS("fma"), has2 = HAS("avx2") && HAS("fma");
    const char *isa = argc > 2 ? argv[2] : has512 ? "avx512" : "avx2";
    if (!strcmp(isa, "avx512") && has512) {
        run = run_avx512;
        lanes = 16;
    } else if (!strcmp(isa, "avx2") && has2) {
        run = run_avx2;
        lanes = 8;
    }
#else
    const char *isa = argc > 2 ? argv[2] : "neon";
    if (!strcmp(isa, "neon")) {
        run = run_neon;
        lanes = 4;
    }
#endif
    if (!run) {
        fprintf(stderr, "fma_peak: this CPU has no %s with FMA\n", isa);
        return 1;
    }
    int cpu = argc > 3 && !strcmp(argv[3], "cpu");
    pthread_t tid[256];
    double best = 0, busy[256];
    for (int rep = 0; rep < 5; rep++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (int t = 0; t < threads; t++) pthread_create(&tid[t], NULL, run, busy + t);
        for (int t = 0; t < threads; t++) pthread_join(tid[t], NULL);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double sec = (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec);
        for (int t = 0; cpu && t < threads; t++) /* the slowest thread's CPU time */
            sec = t == 0 || busy[t] > sec ? busy[t] : sec;
        double gflops = 2.0 * lanes * CHAINS * ITERS * threads / sec / 1e9;
        if (gflops > best) best = gflops;
    }
    printf("%.1f\n", best);
    return 0;
}
