/*
 * arch.h - the only CPU-specific code of csrc/fast, so that it compiles for any CPU.
 *
 * Every kernel is plain C (the portable version, what ARM and other CPUs run).  On x86-64
 * a few hot loops are also compiled for AVX2 and AVX-512 and one is picked for the CPU
 * at run time, since the build has no -march.  Not with GCC's target_clones (ifuncs):
 * their resolvers read the compiler runtime's CPU model, which zig's clang (the release
 * wheels' compiler) leaves at zero, so every clone resolved to the baseline; and not on
 * glibc only.  Instead:
 *
 *   PYDN_BODY void f_body(params) { ... }      the kernel, inlined into each version;
 *   PYDN_SIMD(f, (params), (args))             defines static void f(params), which runs
 *                                              the AVX-512, AVX2 or baseline version;
 *   PYDN_SIMD_FMA(f, (params), (args))         the same with FMA too (x86-64-v4 / -v3
 *                                              levels: "avx2" alone has no FMA), for
 *                                              kernels whose results may round differently;
 *   pydn_simd_level()                          what the CPU runs, a PYDN_LEVEL_* below:
 *                                              on x86-64 from CPUID and the OS's XCR0
 *                                              (kernel.c); PYDN_KERNEL=portable|neon|avx2|
 *                                              avx512 caps it at that level (tests);
 *   PYDN_X86_SIMD                              1 where x86 code (target attributes,
 *                                              <immintrin.h> intrinsics) may be used;
 *   pydn_cpu_relax()                           the hint for a spin-wait loop (as ggml's
 *                                              ggml_thread_cpu_relax).
 *
 * PYDN_PORTABLE (CMake -DDARKNET_PORTABLE=ON) builds the portable code on x86 too, so
 * that the tests run what other CPUs run (tests/test_portable_build.py).
 */
#ifndef PYDN_FAST_ARCH_H
#define PYDN_FAST_ARCH_H

/* Kernel levels: what a CPU can run, and the level each set of microkernels needs
 * (csrc/fast/arch/kernels.h).  The x86 numbers are x86-64-v3 / -v4's. */
#define PYDN_LEVEL_PORTABLE 0
#define PYDN_LEVEL_NEON 1   /* aarch64's Advanced SIMD (every aarch64 CPU) */
#define PYDN_LEVEL_AVX2 3   /* x86-64-v3: AVX2, FMA, BMI1/2, F16C, LZCNT, MOVBE */
#define PYDN_LEVEL_AVX512 4 /* x86-64-v4: AVX-512 F, CD, BW, DQ, VL, and v3 */

int pydn_simd_level(void);
/* What pydn_simd_level() found, -1 before its first call: the dispatchers read it with
 * no call (some run per row of tiles; the call was 1.4 % of a yolov3 pass). */
extern int pydn_simd_found;
static inline int pydn_simd(void)
{
    int level = __atomic_load_n(&pydn_simd_found, __ATOMIC_RELAXED);
    return level >= 0 ? level : pydn_simd_level();
}

#define PYDN_BODY static inline __attribute__((always_inline))

#if defined(__x86_64__) && defined(__GNUC__) && !defined(PYDN_PORTABLE)
#define PYDN_X86_SIMD 1
#define PYDN_DISPATCH_(f, params, args, t4, t3)                                          \
    __attribute__((target(t4))) static void f##_l4 params { f##_body args; }           \
    __attribute__((target(t3))) static void f##_l3 params { f##_body args; }           \
    static void f params                                                                \
    {                                                                                   \
        int level = pydn_simd();                                                        \
        if (level >= PYDN_LEVEL_AVX512)                                                 \
            f##_l4 args;                                                                \
        else if (level >= PYDN_LEVEL_AVX2)                                              \
            f##_l3 args;                                                                \
        else                                                                            \
            f##_body args;                                                              \
    }
#define PYDN_SIMD(f, params, args) PYDN_DISPATCH_(f, params, args, "avx512f", "avx2")
/* The x86-64-v3 / -v4 features, listed: clang (zig's, the release wheels') ignores the
 * features of target("arch=x86-64-v4"), inlined such a version into its dispatcher and
 * ran it as baseline x86-64 code. */
#define PYDN_V3 "avx2,fma,bmi,bmi2,f16c,lzcnt,movbe,popcnt"
#define PYDN_SIMD_FMA(f, params, args)                                                   \
    PYDN_DISPATCH_(f, params, args, "avx512f,avx512cd,avx512bw,avx512dq,avx512vl," PYDN_V3, \
                   PYDN_V3)
#else
#define PYDN_X86_SIMD 0
#define PYDN_SIMD(f, params, args)                                                       \
    static void f params { f##_body args; }
#define PYDN_SIMD_FMA(f, params, args) PYDN_SIMD(f, params, args)
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
