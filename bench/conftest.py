"""Options and shared fixtures of the benchmark suite.

Run: ``pytest bench/ --benchmark-only [--quick] [--benchmark-json out.json]``
or ``jitprop bench``. The suite is kept out of the test run by
``testpaths = ["tests"]`` in pyproject.toml.
"""
import numpy as np
import pytest

from jitprop.bench import jax_workloads as JW
from jitprop.bench import workloads as W
from jitprop.bench.busy import LOADED


def pytest_addoption(parser):
    group = parser.getgroup("jitprop")
    group.addoption("--quick", action="store_true", help=f"{W.N_QUICK} training images instead of {W.N_FULL}")
    group.addoption("--archs", default="seed,default", help="architectures to time (comma-separated)")
    group.addoption("--impls", default=",".join(W.IMPLS), help="implementations to time (comma-separated)")
    group.addoption("--dtypes", default=",".join(W.DTYPES), help="dtypes to time (comma-separated)")


def _installed(impls):
    # Peers that are not installed are left out; the report prints "not installed" rows instead.
    missing = set()
    if not W.torch_available():
        missing.add("torch")
    if not JW.jax_available():
        missing.update(JW.JAX_IMPLS)
    return [i for i in impls if i not in missing]


def pytest_generate_tests(metafunc):
    opt = metafunc.config.getoption
    archs, dtypes = opt("--archs").split(","), opt("--dtypes").split(",")
    impls = _installed([i for i in opt("--impls").split(",") if i])
    if "workload" in metafunc.fixturenames:
        cases = [(arch, impl, dtype, b)
                 for arch in archs for dtype in dtypes for impl in impls for b in W.batches_for(impl)]
        metafunc.parametrize("workload", cases, ids=[f"{a}-{i}-{d}-b{b}" for a, i, d, b in cases])
    if "kernel_dtype" in metafunc.fixturenames:
        # kernel micro-benchmarks only when asked for ("kernels" in --impls, or no --impls filter)
        wanted = "kernels" in opt("--impls").split(",") or opt("--impls") == ",".join(W.IMPLS)
        metafunc.parametrize("kernel_dtype", dtypes if wanted else [])
    if "loaded_workload" in metafunc.fixturenames:
        cases = [c for c in LOADED if c[0] in archs and c[1] in impls and c[2] in dtypes]
        metafunc.parametrize("loaded_workload", cases, ids=[f"{a}-{i}-{d}-b{b}-busy" for a, i, d, b in cases])


def pytest_collection_modifyitems(config, items):
    """The shared-machine cases last: after the quiet cases they are compared to."""
    items.sort(key=lambda item: "loaded_workload" in getattr(item, "fixturenames", ()))


def pytest_benchmark_update_machine_info(config, machine_info):
    """The peers' versions, for the report's footer."""
    peers = {}
    if W.torch_available():
        import torch
        peers["torch"] = torch.__version__
    if JW.jax_available():
        from importlib.metadata import version
        peers["jax"] = version("jax")  # not imported here: the JAX cases run in worker processes
    machine_info["jitprop_peers"] = peers


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


@pytest.fixture(scope="session")
def jax_workers():
    """workers(threads) -> the JAX worker process with that many threads,
    started on first use and stopped at the end of the session."""
    from jitprop.bench.jax_worker import JaxWorker
    workers = {}

    def get(threads):
        if threads not in workers:
            workers[threads] = JaxWorker(threads)
        return workers[threads]
    yield get
    for w in workers.values():
        w.close()
