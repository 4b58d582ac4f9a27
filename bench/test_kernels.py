"""Kernel micro-benchmarks: each kernel against its NumPy twin at the shapes
training uses (seed network, batch 12 and 1). Validated before timed."""
import numpy as np
import pytest

import jitprop.kernels as K
import jitprop.kernels.reference as R
from jitprop.threads import limit_threads
from jitprop.verify import TOL, compare, make_inputs

SHAPES = [(12, 784, 128), (12, 128, 32), (12, 32, 10), (1, 784, 128)]
KERNELS = ["linear_sigmoid_forward", "linear_sigmoid_backward", "linear_relu_forward",
           "linear_relu_backward", "softmax_cross_entropy", "mse", "sgd_update"]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", SHAPES, ids=[f"b{b}-{i}x{o}" for b, i, o in SHAPES])
@pytest.mark.parametrize("name", KERNELS)
@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_kernel(benchmark, backend, name, shape, dtype):
    dt = np.dtype(dtype).type
    b, n_in, n_out = shape
    args = make_inputs(name, np.random.default_rng(0), b, n_in, n_out, dt)
    _, rel = compare(name, args, dt)
    assert rel <= TOL[dt]
    fn = getattr(K if backend == "numba" else R, name)
    with limit_threads(1):
        fn(*args)  # compile or load before timing
        benchmark.group = f"{name} {dtype} b{b} {n_in}x{n_out}"
        benchmark.extra_info.update(kind="kernel", kernel=name, backend=backend, dtype=dtype, shape=list(shape))
        benchmark(fn, *args)
