"""The JAX peer of the benchmarks (bench/jax_workloads.py, run in the
worker processes of bench/jax_worker.py): it trains like the reference, a
float32 case stays float32 with float64 enabled, nothing compiles once
warmed up, and a one-thread worker really has one core. Needs JAX (the
``peers`` extra); the report's tests run without it."""
import os

import numpy as np
import pytest

pytest.importorskip("jax")

from jitprop.bench import workloads as W  # noqa: E402
from jitprop.bench.jax_worker import JaxWorker  # noqa: E402


@pytest.fixture(scope="module")
def worker():
    w = JaxWorker(1)
    yield w
    w.close()


def _epoch(worker, impl, arch, dtype, x, y, batch):
    a = W.ARCHS[arch]
    net, _ = W.make_net(arch, dtype)
    worker.put("x", x)
    worker.put("y", y)
    worker.put("order", W.epoch_order(len(x)), on_device=False)
    worker.call("set_params", net.params, a["sizes"])
    stats = worker.call("epoch", impl, "x", "y", "order", batch, a["lr"], a["activation"], a["cost"])
    return worker.call("get_params"), stats


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("arch", list(W.ARCHS))
def test_jax_trains_like_the_reference(worker, arch, dtype):
    # 50 rows at batch 12: four full minibatches and a short one of 2,
    # which jax-scan trains outside its scan as jitprop trains it too
    # (leaving that step out moves the weights by ~1e-3, far above the tolerance).
    rng = np.random.default_rng(1)
    x = rng.standard_normal((50, 784)).astype(dtype)
    y = rng.integers(0, 10, 50)
    batches = (12, 1) if (arch, dtype) == ("seed", "float64") else (12,)
    for batch in batches:
        ref, cost = W.make_net(arch, dtype)
        W.run_jitprop("per-sample" if batch == 1 else "batched", ref, cost, x, y, batch, W.ARCHS[arch]["lr"])
        start, _ = W.make_net(arch, dtype)
        for impl in ("jax-jit", "jax-scan"):
            got, _ = _epoch(worker, impl, arch, dtype, x, y, batch)
            assert got.dtype == np.dtype(dtype)
            tol = 1e-10 if dtype == "float64" else 2e-5
            np.testing.assert_allclose(got, ref.params, rtol=tol, atol=tol, err_msg=f"{impl} b{batch}")
            assert np.abs(got - start.params).max() > 1e-3  # it trained


def test_float32_stays_float32_with_float64_enabled(worker):
    x = np.zeros((30, 784), np.float32)
    y = np.zeros(30, np.int64)
    net, _ = W.make_net("wide", "float32")
    a = W.ARCHS["wide"]
    worker.put("x", x)
    worker.put("y", y)
    worker.put("order", W.epoch_order(30), on_device=False)
    worker.call("set_params", net.params, a["sizes"])
    for impl in ("jax-jit", "jax-scan"):
        text = worker.call("lowered_text", impl, "x", "y", "order", 12, a["lr"], a["activation"], a["cost"])
        assert "f32" in text and "f64" not in text, impl
    net64, _ = W.make_net("wide", "float64")
    worker.call("set_params", net64.params, a["sizes"])
    worker.put("x", x.astype(np.float64))
    text = worker.call("lowered_text", "jax-scan", "x", "y", "order", 12, a["lr"], a["activation"], a["cost"])
    assert "f64" in text  # float64 is really enabled in the worker


def test_nothing_compiles_after_compile_epoch(worker):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((70, 784)).astype(np.float32)
    y = rng.integers(0, 10, 70)
    a = W.ARCHS["seed"]
    net, _ = W.make_net("seed", "float32")
    worker.put("x", x)
    worker.put("y", y)
    worker.put("order", W.epoch_order(70), on_device=False)
    for impl in ("jax-scan", "jax-jit"):
        worker.call("set_params", net.params, a["sizes"])
        seconds = worker.call("compile", impl, "x", "y", "order", 16, a["lr"], a["activation"], a["cost"])
        stats = worker.call("epoch", impl, "x", "y", "order", 16, a["lr"], a["activation"], a["cost"])
        assert seconds > 0 and stats["compiles"] == 0, impl
    stats = worker.call("epoch", "jax-scan", "x", "y", "order", 14, a["lr"], a["activation"], a["cost"])
    assert stats["compiles"] >= 1  # a new batch size does compile: the counter counts
    worker.call("forget")  # each bench case starts so, to report all its compiling as its warm-up
    stats = worker.call("epoch", "jax-scan", "x", "y", "order", 16, a["lr"], a["activation"], a["cost"])
    assert stats["compiles"] == 2  # the scan and the short last step, both compiled before


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs 2 CPUs to tell 1 thread from all")
def test_one_thread_worker_runs_on_one_core(worker):
    info = worker.call("info")
    assert len(info["cpus"]) == 1 and info["xla_pool_threads"] == 1
    x = np.random.default_rng(4).standard_normal((1200, 784)).astype(np.float32)
    _, stats = _epoch(worker, "jax-scan", "wide", "float32", x, np.zeros(1200, np.int64), 600)
    _, stats = _epoch(worker, "jax-scan", "wide", "float32", x, np.zeros(1200, np.int64), 600)  # warm
    assert stats["compiles"] == 0 and stats["cpu"] <= 1.05 * stats["wall"] + 0.005
    two = JaxWorker(2)
    try:
        assert len(two.info["cpus"]) == 2 and two.info["xla_pool_threads"] == 2
    finally:
        two.close()
