"""The machine's limit: the GEMM rate of the installed BLAS, all cores, large
square products, measured in the same run as the training workloads."""
import os

import numpy as np
import pytest

from jitprop.bench.flops import gemm_flops
from jitprop.threads import limit_threads

N = 2048


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gemm_rate(benchmark, dtype):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((N, N)).astype(dtype)
    b = rng.standard_normal((N, N)).astype(dtype)
    out = np.empty((N, N), dtype)
    threads = os.cpu_count() or 1
    with limit_threads(threads):
        np.dot(a, b, out=out)  # warm-up
        np.testing.assert_allclose(out[:2], a[:2].astype(np.float64) @ b.astype(np.float64),
                                   rtol=1e-3 if dtype == "float32" else 1e-10, atol=1e-2)
        benchmark.group = "gemm"
        benchmark.extra_info.update(kind="gemm", dtype=dtype, n=N, threads=threads, flops=gemm_flops(N))
        benchmark.pedantic(np.dot, args=(a, b), kwargs={"out": out}, rounds=5, iterations=1, warmup_rounds=1)
