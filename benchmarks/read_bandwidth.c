/* The machine's memory read bandwidth, measured: each thread sums its share of a
 * 512 MiB buffer (far past any cache) with 64-byte vector loads (GCC vector
 * extensions, -O2 -march=native), best of 5 passes.  Prints GB/s.  bench_peers.py
 * prints it beside each run: on a shared host it moves (on this project's machine, 2
 * threads: 68 GB/s at one hour, 37 two hours later), and with it every engine that
 * streams its weights from memory.
 * usage: read_bandwidth THREADS */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef float vf __attribute__((vector_size(64)));
#define BYTES ((size_t)512 << 20)

static vf *buf;
static size_t per;
static volatile float sink;

static void *run(void *arg) {
    const vf *p = buf + (size_t)arg * per;
    vf s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
    for (size_t i = 0; i + 4 <= per; i += 4) {
        s0 += p[i];
        s1 += p[i + 1];
        s2 += p[i + 2];
        s3 += p[i + 3];
    }
    vf s = s0 + s1 + s2 + s3;
    sink = s[0];
    return NULL;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    if (threads < 1 || threads > 256) return 2;
    if (posix_memalign((void **)&buf, 64, BYTES)) return 1;
    memset(buf, 1, BYTES);
    per = BYTES / sizeof(vf) / threads;
    pthread_t tid[256];
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (int t = 0; t < threads; t++) pthread_create(&tid[t], NULL, run, (void *)(size_t)t);
        for (int t = 0; t < threads; t++) pthread_join(tid[t], NULL);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double sec = (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec);
        double gbs = (double)per * threads * sizeof(vf) / sec / 1e9;
        if (gbs > best) best = gbs;
    }
    printf("%.1f\n", best);
    free(buf);
    return 0;
}
