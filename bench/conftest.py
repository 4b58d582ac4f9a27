"""Options and shared fixtures of the benchmark suite.

Run: ``pytest bench/ --benchmark-only [--quick] [--benchmark-json out.json]``
or ``jitprop bench``. The suite is kept out of the test run by
``testpaths = ["tests"]`` in pyproject.toml.
"""
import numpy as np
import pytest

from jitprop.bench import jax_workloads as JW
from jitprop.bench import sklearn_workloads as SW
from jitprop.bench import workloads as W
from jitprop.bench.busy import LOADED, LOADED_BY_TURNS
from jitprop.bench.report import JAX_PEER


def pytest_addoption(parser):
    group = parser.getgroup("jitprop")
    group.addoption("--quick", action="store_true", help=f"{W.N_QUICK} training images instead of {W.N_FULL}")
    group.addoption("--archs", default="seed,wide", help="architectures to time (comma-separated)")
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
    impls = [i for i in impls if i != "sklearn"]  # selects the scikit-learn side by side, not a training impl
    if "workload" in metafunc.fixturenames:
        cases = [(arch, impl, dtype, b)
                 for arch in archs for dtype in dtypes for impl in impls for b in W.batches_for(impl)]
        metafunc.parametrize("workload", cases, ids=[f"{a}-{i}-{d}-b{b}" for a, i, d, b in cases])
    if "kernel_dtype" in metafunc.fixturenames:
        # kernel micro-benchmarks only when asked for ("kernels" in --impls, or no --impls filter)
        wanted = "kernels" in opt("--impls").split(",") or opt("--impls") == ",".join(W.IMPLS)
        metafunc.parametrize("kernel_dtype", dtypes if wanted else [])
    if "sklearn_case" in metafunc.fixturenames:
        # the scikit-learn side by side when installed and asked for ("sklearn" in --impls, or no --impls filter);
        # scikit-learn first at each thread count: jitprop's case checks its accuracy against it
        wanted = "sklearn" in opt("--impls").split(",") or opt("--impls") == ",".join(W.IMPLS)
        cases = [(t, p) for t in SW.THREADS for p in SW.PEERS] if wanted and SW.sklearn_available() else []
        metafunc.parametrize("sklearn_case", cases, ids=[f"{p}-t{t}" for t, p in cases])
    if "alternating_workload" in metafunc.fixturenames:
        # jitprop and JAX by turns: when JAX is installed and both sides are asked for
        cases = [(arch, dtype, b) for arch in archs for dtype in dtypes for b in W.BATCHES
                 if JAX_PEER in impls and W.jitprop_side(b) in impls]
        metafunc.parametrize("alternating_workload", cases, ids=[f"{a}-{d}-b{b}-by-turns" for a, d, b in cases])
    if "loaded_workload" in metafunc.fixturenames:
        cases = [c for c in LOADED if c[0] in archs and c[1] in impls and c[2] in dtypes]
        metafunc.parametrize("loaded_workload", cases, ids=[f"{a}-{i}-{d}-b{b}-t{t}-busy" for a, i, d, b, t in cases])
    if "loaded_pair_workload" in metafunc.fixturenames:
        cases = [c for c in LOADED_BY_TURNS if c[0] in archs and c[1] in impls and c[2] in dtypes]
        metafunc.parametrize("loaded_pair_workload", cases,
                             ids=[f"{a}-{i}-{d}-b{b}-t2-t1-busy-by-turns" for a, i, d, b in cases])


def pytest_collection_modifyitems(config, items):
    """The shared-machine cases last: after the quiet cases they are compared to."""
    loaded = {"loaded_workload", "loaded_pair_workload"}
    items.sort(key=lambda item: bool(loaded & set(getattr(item, "fixturenames", ()))))


def pytest_benchmark_update_machine_info(config, machine_info):
    """The peers' versions, for the report's footer."""
    peers = {}
    if W.torch_available():
        import torch
        peers["torch"] = torch.__version__
    if JW.jax_available():
        from importlib.metadata import version
        peers["jax"] = version("jax")  # not imported here: the JAX cases run in worker processes
    if SW.sklearn_available():
        from importlib.metadata import version
        peers["scikit-learn"] = version("scikit-learn")
    machine_info["jitprop_peers"] = peers


@pytest.fixture(autouse=True)
def _no_remembered_neighbour(monkeypatch):
    """Each case starts with no neighbour remembered from an earlier case
    (``jitprop.threads.Neighbour``): a case's rows do not depend on which
    cases ran before it; the rounds of one case share one memory, as a loop
    of train() calls does."""
    import jitprop.threads
    monkeypatch.setattr(jitprop.threads, "NEIGHBOUR", jitprop.threads.Neighbour())


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


@pytest.fixture(scope="session")
def sklearn_mnist(n_samples):
    """The side by side's float32 arrays: the first n_samples training
    images (standardised with their statistics), labels, and the test set."""
    from jitprop.data import mnist_arrays
    d = mnist_arrays(np.float32, n_val=10000)
    return d["x_train"][:n_samples], d["y_train"][:n_samples], d["x_test"], d["y_test"]


@pytest.fixture(scope="session")
def sklearn_accuracy():
    """{threads: scikit-learn's test accuracy}, filled by its cases."""
    return {}
