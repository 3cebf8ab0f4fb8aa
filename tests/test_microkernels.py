"""Each microkernel (csrc/fast/arch/kernel_<isa>.c, arch/kernels.h) against numpy at
every edge size: the GEMM's 1 to 48 columns x 1 to 8 rows of filters, the Winograd
product's 1 to 12 tiles, the F(4x4) tile store's filter counts; written, and added to.
What lies outside the result (past its columns, rows, filters) must stay untouched.
Every kernel level this CPU runs is checked, each in its own process (``PYDN_KERNEL``
is read once); test_wheel_aarch64.py runs the same check under qemu for NEON."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from helpers.cpu_features import expected_kernels
from test_fast_cpu import needs_fast

# Run as a script (argv: nothing); prints "ok <kernels> <calls>".
CHECK = r"""
import numpy as np
from pydarknet._lib import ffi, lib

rng = np.random.default_rng(5)
fp = lambda a: ffi.from_buffer("float[]", a)
calls = 0


def near(got, want, what):
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5, err_msg=what)


# GEMM: c[r][p] (+)= sum_k w[k][r] b[k][p], a panel of 8 filters packed [k][8].
for K in (1, 3, 130):
    w = rng.standard_normal((K, 8)).astype(np.float32)
    b = rng.standard_normal((K, 53)).astype(np.float32)  # rows ldb = 53 apart
    full = w.T.astype(np.float64) @ b
    for n in range(1, 49):
        for mrows in (1, 3, 7, 8):
            for add in (0, 1):
                c0 = rng.standard_normal((9, 50)).astype(np.float32)
                c = c0.copy()
                assert lib.pydn_kernel_gemm(fp(w), fp(b), 53, K, n, fp(c), 50, mrows, add) == 0
                want = c0.copy()
                want[:mrows, :n] = full[:mrows, :n] + (c0[:mrows, :n] if add else 0)
                near(c, want, f"gemm K={K} n={n} mrows={mrows} add={add}")
                assert np.array_equal(c[mrows:], c0[mrows:]) and np.array_equal(c[:, n:], c0[:, n:])
                calls += 1

# Winograd product: out[t][f] (+)= sum_c v[c][t] u[c][f], 32 filters, rows ldo = 40 apart.
for C in (1, 5, 64):
    u = rng.standard_normal((C, 32)).astype(np.float32)
    for nt in range(1, 13):
        v = rng.standard_normal((C, nt)).astype(np.float32)
        for add in (0, 1):
            o0 = rng.standard_normal((13, 40)).astype(np.float32)
            o = o0.copy()
            assert lib.pydn_kernel_product(fp(u), fp(v), C, nt, fp(o), 40, add) == 0
            want = o0.copy()
            want[:nt, :32] = v.T.astype(np.float64) @ u + (o0[:nt, :32] if add else 0)
            near(o, want, f"product C={C} nt={nt} add={add}")
            assert np.array_equal(o[nt:], o0[nt:]) and np.array_equal(o[:, 32:], o0[:, 32:])
            calls += 1

# F(4x4) tile store: x[pixel][filter] (16 pixels, rows ld = 24 apart) into planes of
# 7 rows x wd = 9; the kernel stores the first `done` filters whole, the caller the rest.
x = rng.standard_normal((16, 24)).astype(np.float32)
for nk in range(1, 21):
    out = np.full((21, 7, 9), np.nan, np.float32)
    done = lib.pydn_kernel_store_tile4(fp(x), 24, nk, fp(out), 9, 63)
    assert 0 <= done <= nk
    tile = x[:, :done].T.reshape(done, 4, 4)  # filter, row, column
    assert np.array_equal(out[:done, :4, :4], tile), f"store_tile4 nk={nk}"
    rest = out.copy()
    rest[:done, :4, :4] = np.nan
    assert np.isnan(rest).all(), f"store_tile4 nk={nk}: wrote outside the tile"
    calls += 1

print("ok", ffi.string(lib.pydn_kernel_name()).decode(), calls)
"""


def levels() -> list[str]:
    """The kernel levels this CPU runs, the best first (PYDN_KERNEL names)."""
    best = expected_kernels()
    order = {"avx512": ["avx512", "avx2"], "avx2": ["avx2"], "neon": ["neon"]}
    return [*order.get(best, []), "portable"]


def run_check(python: tuple[str, ...], level: str) -> list[str]:
    """The check's last line, run by `python` with PYDN_KERNEL=level."""
    env = {**os.environ, "PYDN_KERNEL": level}
    res = subprocess.run([*python, "-c", CHECK], env=env, capture_output=True, text=True,
                         timeout=900)  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    return res.stdout.split()


@needs_fast
@pytest.mark.parametrize("level", levels())
def test_microkernels_at_every_edge_size(level: str) -> None:
    assert run_check((sys.executable,), level) == ["ok", level, str(24 * 48 + 36 * 2 + 20)]
