"""Options and shared fixtures of the benchmark suite.

Run: ``pytest bench/ --benchmark-only [--quick] [--benchmark-json out.json]``
or ``jitprop bench``. The suite is kept out of the test run by
``testpaths = ["tests"]`` in pyproject.toml.
"""
import numpy as np
import pytest

from jitprop.bench import workloads as W


def pytest_addoption(parser):
    group = parser.getgroup("jitprop")
    group.addoption("--quick", action="store_true", help=f"{W.N_QUICK} training images instead of {W.N_FULL}")
    group.addoption("--archs", default="seed,default", help="architectures to time (comma-separated)")
    group.addoption("--impls", default=",".join(W.IMPLS), help="implementations to time (comma-separated)")
    group.addoption("--dtypes", default=",".join(W.DTYPES), help="dtypes to time (comma-separated)")


def pytest_generate_tests(metafunc):
    if "workload" not in metafunc.fixturenames:
        return
    opt = metafunc.config.getoption
    impls = [i for i in opt("--impls").split(",") if i]
    if "torch" in impls and not W.torch_available():
        impls.remove("torch")  # the report prints "not installed" rows instead
    cases = [(arch, impl, dtype, b)
             for arch in opt("--archs").split(",") for dtype in opt("--dtypes").split(",")
             for impl in impls for b in W.batches_for(impl)]
    metafunc.parametrize("workload", cases, ids=[f"{a}-{i}-{d}-b{b}" for a, i, d, b in cases])


@pytest.fixture(scope="session")
def n_samples(request):
    return W.N_QUICK if request.config.getoption("--quick") else W.N_FULL


@pytest.fixture(scope="session")
def mnist_by_dtype(n_samples):
    from jitprop.data import mnist_arrays
    out = {}
    for dt in W.DTYPES:
        d = mnist_arrays(np.dtype(dt).type, n_val=10000)  # first 50000 training images
        out[dt] = (d["x_train"][:n_samples], d["y_train"][:n_samples])
    return out
