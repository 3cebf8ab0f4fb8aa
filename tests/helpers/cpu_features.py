"""What a DARKNET_FAST build should run on this machine's CPU, from the flags Linux lists
in /proc/cpuinfo (only those the OS has enabled), to check the build's own run-time
probe (``pydarknet.cpu.kernels()``, csrc/fast/kernel.c) against."""

from __future__ import annotations

import platform
from pathlib import Path

__all__ = ["expected_kernels"]

# x86-64-v3 (abm: LZCNT) and the AVX-512 subsets of x86-64-v4.
_V3 = {"avx2", "fma", "bmi1", "bmi2", "f16c", "abm", "movbe"}
_V4 = {"avx512f", "avx512dq", "avx512cd", "avx512bw", "avx512vl"}


def expected_kernels() -> str:
    if platform.machine() == "aarch64":
        return "neon"  # Advanced SIMD: every aarch64 CPU
    if platform.machine() != "x86_64":
        return "portable"
    flags: set[str] = set()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            flags = set(line.partition(":")[2].split())
            break
    if _V3 <= flags:
        return "avx512" if _V4 <= flags else "avx2"
    return "portable"
