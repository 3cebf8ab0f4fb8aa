/*
 * arch.h - the only CPU-specific code of csrc/fast, so that it compiles for any CPU.
 *
 * Every kernel is plain C (the portable version, what ARM and other CPUs run).  On x86-64
 * with glibc a few hot loops are also compiled for AVX2 and AVX-512, and the loader picks
 * one for the CPU (GCC's target_clones, an ifunc), since the build has no -march.
 *
 *   PYDN_SIMD_CLONES   put before such a function; nothing on other CPUs.
 *   PYDN_SIMD_CLONES_FMA  the same with FMA too (x86-64-v4 / -v3 levels: "avx2" alone has
 *                      no FMA), for kernels whose results may round differently (Winograd).
 *   PYDN_X86_SIMD      1 where x86 code (clones, <immintrin.h> intrinsics) may be used;
 *                      write `#if PYDN_X86_SIMD` ... `#else` plain C `#endif`.
 *   pydn_cpu_relax()   the hint for a spin-wait loop (as ggml's ggml_thread_cpu_relax).
 *
 * PYDN_PORTABLE (CMake -DDARKNET_PORTABLE=ON) builds the portable code on x86 too, so
 * that the tests run what other CPUs run (tests/test_portable_build.py).
 */
#ifndef PYDN_FAST_ARCH_H
#define PYDN_FAST_ARCH_H

#include <stdlib.h> /* defines __GLIBC__ on glibc */

/* ifuncs need glibc (musl has none); target_clones need GCC or clang. */
#if defined(__x86_64__) && defined(__GLIBC__) && defined(__GNUC__) && !defined(PYDN_PORTABLE)
#define PYDN_X86_SIMD 1
#define PYDN_SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#define PYDN_SIMD_CLONES_FMA \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define PYDN_X86_SIMD 0
#define PYDN_SIMD_CLONES
#define PYDN_SIMD_CLONES_FMA
#endif

static inline void pydn_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __asm__ __volatile__("pause" ::: "memory");
#elif defined(__aarch64__) || (defined(__arm__) && __ARM_ARCH >= 7)
    __asm__ __volatile__("yield" ::: "memory");
#endif
}

#endif /* PYDN_FAST_ARCH_H */
