"""Kernel micro-benchmarks: each kernel of the registry with benchmark shapes,
against its NumPy twin, at the shapes training uses (seed and wide
networks). Validated before timed; only when `--impls` asks for "kernels"
(or names no implementation filter) and the kernel's dtype is in --dtypes."""
import numpy as np
import pytest

from jitprop.kernels.registry import KERNELS
from jitprop.threads import limit_threads
from jitprop.verify import compare, tolerance

import jitprop.kernels.reference as R

# The variants worth timing: the benchmark networks' activations and the two
# optimizer families; the others run the same loops.
TIMED_VARIANTS = (None, "sigmoid", "relu", "sgd", "adam")
CASES = [(r, v, shape) for r in KERNELS if r.bench_shapes for v in r.variants if v in TIMED_VARIANTS
         for shape in r.bench_shapes]


def _id(case):
    r, v, (b, i, o) = case
    return f"{r.name}{'' if v is None else '-' + v}-b{b}-{i}x{o}"


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_kernel(benchmark, backend, case, kernel_dtype):
    r, variant, (b, n_in, n_out) = case
    dt = np.dtype(kernel_dtype).type
    args = r.inputs(np.random.default_rng(0), b, max(n_in, 1), n_out, dt, variant)
    _, rel = compare(r.name, args, dt)
    assert rel <= tolerance(r, dt)
    fn = r.compiled if backend == "numba" else getattr(R, r.name)
    with limit_threads(1):
        fn(*args)  # compile or load before timing
        benchmark.group = f"{_id(case)} {kernel_dtype}"
        benchmark.extra_info.update(kind="kernel", kernel=r.name, variant=variant, backend=backend,
                                    dtype=kernel_dtype, shape=[b, n_in, n_out])
        benchmark(fn, *args)
