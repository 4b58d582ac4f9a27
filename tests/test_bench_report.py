"""The benchmark report and its FLOP counts (not timed: the suite is in bench/)."""
import json

import numpy as np
import pytest

from jitprop.bench import flops, report, workloads
from jitprop.bench.rounds import MAX_ROUNDS, MIN_ROUNDS, ONE_ROUND_SECONDS, rounds_for


def test_training_flops_by_hand():
    # widths 2 -> 3 -> 1, 4 samples in batches of 2:
    # matmul terms 6 and 3; per sample 6 * 9 - 2 * 6 = 42 (no input gradient
    # for the first layer); 2 steps x 2 FLOPs x 13 parameters = 52.
    assert flops.n_parameters([2, 3, 1]) == 13
    assert flops.training_flops([2, 3, 1], 4, 2) == 4 * 42 + 52
    assert flops.gemm_flops(10) == 2000


def _bench(kind, best, **info):
    # The report uses the fastest round; the median is there to show it is not used.
    return {"stats": {"min": best, "median": 1.5 * best}, "extra_info": dict(kind=kind, **info)}


def small_json():
    def train(impl, batch, best):
        return _bench("training", best, arch="seed", impl=impl, dtype="float32", batch_size=batch,
                      threads=1, samples=1000, flops=2e9)
    return {"benchmarks": [
        _bench("gemm", 0.1, dtype="float32", n=2048, threads=2, flops=2e10),  # 200 GFLOP/s
        train("per-sample", 1, 1.0), train("per-sample-jit", 1, 0.05), train("torch", 1, 0.5),
        train("fused", 12, 0.04), train("torch", 12, 0.08), train("batched", 12, 0.1),
    ]}


def test_report_builds_from_a_small_json(tmp_path):
    path = tmp_path / "b.json"
    path.write_text(json.dumps(small_json()))
    rows, gemm = report.build_rows(report.load(path))
    assert gemm == {"float32": pytest.approx(200.0)}
    by = {(r["impl"], r["batch"]): r for r in rows}
    fused = by[("fused", 12)]
    assert fused["samples_per_second"] == pytest.approx(25000)
    assert fused["speedup_vs_per_sample"] == pytest.approx(25.0)
    assert fused["vs_torch"] == pytest.approx(2.0)
    assert fused["gflops"] == pytest.approx(50.0) and fused["pct_gemm"] == pytest.approx(25.0)
    assert by[("per-sample-jit", 1)]["vs_torch"] == pytest.approx(10.0)
    assert by[("batched", 12)]["vs_torch"] == pytest.approx(0.8)
    # sorted by batch, then in the suite's implementation order
    assert [(r["impl"], r["batch"]) for r in rows] == [
        ("per-sample", 1), ("per-sample-jit", 1), ("torch", 1), ("batched", 12), ("fused", 12), ("torch", 12)]
    table = report.format_table(rows, gemm)
    assert "25,000" in table and "GEMM rate float32: 200.0 GFLOP/s" in table


def test_report_without_torch_says_not_installed():
    data = small_json()
    data["benchmarks"] = [b for b in data["benchmarks"] if b["extra_info"].get("impl") != "torch"]
    rows, gemm = report.build_rows(data, torch_installed=False)
    torch_rows = [r for r in rows if r["impl"] == "torch"]
    assert {r["batch"] for r in torch_rows} == {1, 12}
    assert all(r["vs_torch"] == report.TORCH_MISSING for r in rows)
    assert "not installed" in report.format_table(rows, gemm)


def test_every_suite_implementation_trains_like_the_reference():
    """The bench's own workload code, on a small slice of real-shaped data:
    each implementation (PyTorch too when installed) reaches the reference
    weights from the same start and order."""
    rng = np.random.default_rng(0)
    for arch in workloads.ARCHS:
        x = rng.standard_normal((48, 784)).astype(np.float64)
        y = rng.integers(0, 10, 48)
        for batch in (1, 12):
            ref_impl = "per-sample" if batch == 1 else "batched"
            ref, cost = workloads.make_net(arch, "float64")
            workloads.run_jitprop(ref_impl, ref, cost, x, y, batch, workloads.ARCHS[arch]["lr"])
            impls = [i for i in workloads.IMPLS if i != "torch" and batch in workloads.batches_for(i)]
            for impl in impls:
                net, cost = workloads.make_net(arch, "float64")
                workloads.run_jitprop(impl, net, cost, x, y, batch, workloads.ARCHS[arch]["lr"])
                np.testing.assert_allclose(net.params, ref.params, rtol=1e-9, atol=1e-10, err_msg=impl)
            if workloads.torch_available():
                net, _ = workloads.make_net(arch, "float64")
                model = workloads.torch_model(net, arch)
                workloads.run_torch(model, arch, x, y, workloads.epoch_order(48), batch, workloads.ARCHS[arch]["lr"])
                np.testing.assert_allclose(workloads.torch_params(model), ref.params, rtol=1e-9, atol=1e-10)


def test_rounds_fill_the_budget_within_bounds():
    assert rounds_for(0.001) == MAX_ROUNDS        # fast epochs: as many rounds as allowed
    assert rounds_for(1.0) == 3 == MIN_ROUNDS     # 3 s of timing
    assert rounds_for(0.5) == 6
    assert rounds_for(20.0) == MIN_ROUNDS         # a slow epoch still gets its three chances
    assert rounds_for(ONE_ROUND_SECONDS + 1) == 1  # minutes per epoch: timed once
