"""The benchmark report and its FLOP counts (not timed: the suite is in bench/).
These run without PyTorch or JAX installed."""
import json
import sys

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
    def train(impl, batch, best, **more):
        return _bench("training", best, arch="seed", impl=impl, dtype="float32", batch_size=batch,
                      threads=1, samples=1000, flops=2e9, **more)
    return {"benchmarks": [
        _bench("gemm", 0.1, dtype="float32", n=2048, threads=2, flops=2e10),  # 200 GFLOP/s
        train("per-sample", 1, 1.0), train("per-sample-jit", 1, 0.05), train("torch", 1, 0.5),
        train("jax-scan", 1, 0.1), train("jax-jit", 1, 0.2),
        train("fused", 12, 0.04), train("torch", 12, 0.08), train("batched", 12, 0.1),
        train("jax-scan", 12, 0.05), train("jax-jit", 12, 0.0625),
        # the shared-machine rows: 4x and 2x slower than quiet
        train("fused", 12, 0.16, load="1 core busy"), train("jax-scan", 12, 0.1, load="1 core busy"),
    ], "machine_info": {"jitprop_peers": {"torch": "2.13.0+cpu", "jax": "0.10.2"}}}


def test_report_builds_from_a_small_json(tmp_path):
    path = tmp_path / "b.json"
    path.write_text(json.dumps(small_json()))
    data = report.load(path)
    rows, gemm = report.build_rows(data)
    assert gemm == {"float32": pytest.approx(200.0)}
    by = {(r["impl"], r["batch"], r["load"]): r for r in rows}
    fused = by[("fused", 12, "")]
    assert fused["samples_per_second"] == pytest.approx(25000)
    assert fused["speedup_vs_per_sample"] == pytest.approx(25.0)
    assert fused["vs_torch"] == pytest.approx(2.0)
    assert fused["vs_jax"] == pytest.approx(1.25)  # over jax-scan (20,000/s), not jax-jit (16,000/s)
    assert fused["gflops"] == pytest.approx(50.0) and fused["pct_gemm"] == pytest.approx(25.0)
    assert fused["share_of_quiet"] is None
    assert by[("per-sample-jit", 1, "")]["vs_torch"] == pytest.approx(10.0)
    assert by[("per-sample-jit", 1, "")]["vs_jax"] == pytest.approx(2.0)
    assert by[("batched", 12, "")]["vs_torch"] == pytest.approx(0.8)
    assert by[("jax-jit", 12, "")]["vs_jax"] == pytest.approx(0.8)
    assert by[("jax-scan", 12, "")]["vs_jax"] == pytest.approx(1.0)
    assert by[("jax-scan", 12, "")]["vs_torch"] == pytest.approx(1.6)
    # loaded rows: ratios against the peer under the same load, share of the quiet figure
    busy = by[("fused", 12, "1 core busy")]
    assert busy["samples_per_second"] == pytest.approx(6250)
    assert busy["share_of_quiet"] == pytest.approx(0.25)
    assert busy["vs_jax"] == pytest.approx(0.625)
    assert busy["vs_torch"] is None and busy["speedup_vs_per_sample"] is None
    assert by[("jax-scan", 12, "1 core busy")]["share_of_quiet"] == pytest.approx(0.5)
    # sorted by batch, quiet before loaded, then in the suite's implementation order
    assert [(r["impl"], r["batch"], r["load"]) for r in rows] == [
        ("per-sample", 1, ""), ("per-sample-jit", 1, ""), ("torch", 1, ""), ("jax-jit", 1, ""),
        ("jax-scan", 1, ""), ("batched", 12, ""), ("fused", 12, ""), ("torch", 12, ""), ("jax-jit", 12, ""),
        ("jax-scan", 12, ""), ("fused", 12, "1 core busy"), ("jax-scan", 12, "1 core busy")]
    table = report.format_table(rows, gemm, report.peer_versions(data))
    assert "25,000" in table and "GEMM rate float32: 200.0 GFLOP/s" in table
    assert "x jax" in table.splitlines()[0]
    assert "fused (1 core busy)" in table and "jax-scan (1 core busy)" in table
    assert "seed float32 batch 12 fused ran at 6,250 samples/s, 25% of its 25,000 without the load" in table
    assert "peers: jax 0.10.2, torch 2.13.0+cpu" in table
    lines = table.splitlines()
    assert len({len(line) for line in lines[:len(rows) + 2]}) == 1  # one column width for every row


def _without(data, impls):
    data["benchmarks"] = [b for b in data["benchmarks"] if b["extra_info"].get("impl") not in impls]
    return data


def test_report_without_torch_says_not_installed():
    data = _without(small_json(), {"torch"})
    rows, gemm = report.build_rows(data, torch_installed=False)
    torch_rows = [r for r in rows if r["impl"] == "torch"]
    assert {r["batch"] for r in torch_rows} == {1, 12}  # one per quiet batch; none for the loaded rows
    assert all(r["samples_per_second"] is None for r in torch_rows)
    assert all(r["vs_torch"] == report.TORCH_MISSING for r in rows)
    assert by_impl(rows, "jax-scan")[0]["vs_jax"] == pytest.approx(1.0)  # the other peer is unaffected
    assert "not installed" in report.format_table(rows, gemm)


def by_impl(rows, impl):
    return [r for r in rows if r["impl"] == impl]


def test_report_without_jax_says_not_installed():
    data = _without(small_json(), {"jax-jit", "jax-scan"})
    rows, gemm = report.build_rows(data, jax_installed=False)
    for impl in ("jax-jit", "jax-scan"):
        assert [(r["batch"], r["load"], r["samples_per_second"], r["vs_jax"]) for r in by_impl(rows, impl)] == [
            (1, "", None, report.MISSING), (12, "", None, report.MISSING)]
        assert all(r["vs_torch"] is None for r in by_impl(rows, impl))
    assert all(r["vs_jax"] == report.MISSING for r in rows)
    table = report.format_table(rows, gemm)
    missing = [line for line in table.splitlines() if line.split()[1:2] == ["jax-scan"]]
    assert len(missing) == 2 and all(line.count("not installed") == 2 for line in missing)


def test_report_without_either_peer_imports_neither(monkeypatch):
    # None in sys.modules makes `import torch` / `import jax` raise ImportError.
    for name in ("torch", "jax", "jaxlib"):
        monkeypatch.setitem(sys.modules, name, None)
    data = _without(small_json(), {"torch", "jax-jit", "jax-scan"})
    rows, gemm = report.build_rows(data, torch_installed=False, jax_installed=False)
    assert "not installed" in report.format_table(rows, gemm, report.peer_versions(data))
    assert not workloads.torch_available()
    from jitprop.bench import jax_workloads
    assert not jax_workloads.jax_available()


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
            impls = [i for i in workloads.IMPLS if i not in workloads.PEERS and batch in workloads.batches_for(i)]
            for impl in impls:
                net, cost = workloads.make_net(arch, "float64")
                workloads.run_jitprop(impl, net, cost, x, y, batch, workloads.ARCHS[arch]["lr"])
                np.testing.assert_allclose(net.params, ref.params, rtol=1e-9, atol=1e-10, err_msg=impl)
            if workloads.torch_available():
                net, _ = workloads.make_net(arch, "float64")
                model = workloads.torch_model(net, workloads.ARCHS[arch]["activation"],
                                                  workloads.ARCHS[arch]["cost"])
                workloads.run_torch(model, arch, x, y, workloads.epoch_order(48), batch, workloads.ARCHS[arch]["lr"])
                np.testing.assert_allclose(workloads.torch_params(model), ref.params, rtol=1e-9, atol=1e-10)


def test_rounds_fill_the_budget_within_bounds():
    assert rounds_for(0.001) == MAX_ROUNDS        # fast epochs: as many rounds as allowed
    assert rounds_for(1.0) == 3 == MIN_ROUNDS     # 3 s of timing
    assert rounds_for(0.5) == 6
    assert rounds_for(20.0) == MIN_ROUNDS         # a slow epoch still gets its three chances
    assert rounds_for(ONE_ROUND_SECONDS + 1) == 1  # minutes per epoch: timed once


def test_compact_json_drops_raw_timings_and_keeps_the_table(tmp_path):
    data = small_json()
    for b in data["benchmarks"]:
        b["stats"]["data"] = [0.1] * 10000
    small = report.compact(data)
    assert all("data" not in b["stats"] for b in small["benchmarks"])
    assert len(json.dumps(small)) < len(json.dumps(data)) / 50
    assert report.build_rows(small) == report.build_rows(data)


def test_environment_records_versions_cpu_and_threads():
    env = report.environment()
    for key in ("jitprop", "numpy", "numba", "cpu", "cores", "blas", "numba_threading_layer"):
        assert key in env
    assert env["cores"] >= 1 and isinstance(env["blas"], list)


def test_compare_gives_per_case_speedups_and_the_command_prints_them(tmp_path, capsys):
    from jitprop.cli import main
    old, new = small_json(), small_json()
    for b in new["benchmarks"]:
        b["stats"]["min"] /= 2  # everything twice as fast
    new["benchmarks"] = new["benchmarks"][:-1]  # a case only the old run has is left out
    rows = report.compare(old, new)
    assert len(rows) == len(new["benchmarks"]) and all(r[3] == pytest.approx(2.0) for r in rows)
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(old))
    b.write_text(json.dumps(new))
    assert main(["bench", "--compare", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "seed fused float32 12" in out and "2.00x" in out
    assert main(["bench", "--table", str(b)]) == 0
    assert "x jax" in capsys.readouterr().out
    (tmp_path / "bad.json").write_text("{")
    assert main(["bench", "--table", str(tmp_path / "bad.json")]) == 2


def test_compare_matches_a_run_stored_before_the_wide_network_was_renamed(tmp_path):
    old, new = small_json(), small_json()
    for b in old["benchmarks"]:
        b["extra_info"]["arch"] = "default" if b["extra_info"].get("arch") == "seed" else b["extra_info"].get("arch")
    for b in new["benchmarks"]:
        b["extra_info"]["arch"] = "wide" if b["extra_info"].get("arch") == "seed" else b["extra_info"].get("arch")
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(old))
    b.write_text(json.dumps(new))
    assert report.compare(old, new) == [r for r in report.compare(new, new) if r[0][0] != "training"]
    assert len(report.compare(report.load(a), report.load(b))) == len(new["benchmarks"])


def sklearn_json():
    """small_json plus the scikit-learn side by side at 1 and 2 threads."""
    def side(peer, threads, best, accuracy):
        return _bench("sklearn", best, peer=peer, threads=threads, dtype="float32", rows=50000, epochs=3,
                      samples=150000, batch_size=64, accuracy=accuracy, warmup_seconds=0.0)
    data = small_json()
    data["benchmarks"] += [side("jitprop", 2, 1.5, 0.9612), side("sklearn", 2, 3.0, 0.9620),
                           side("sklearn", 1, 5.0, 0.9600), side("jitprop", 1, 2.0, 0.9605)]
    return data


def test_report_has_the_scikit_learn_side_by_side():
    rows, gemm = report.build_rows(sklearn_json(), sklearn_installed=True)
    side = [r for r in rows if r.get("kind") == "sklearn"]
    assert [(r["peer"], r["threads"]) for r in side] == [("sklearn", 1), ("jitprop", 1), ("sklearn", 2),
                                                         ("jitprop", 2)]
    by = {(r["peer"], r["threads"]): r for r in side}
    assert by[("sklearn", 1)]["samples_per_second"] == pytest.approx(30000)  # 150000 samples / 5 s
    assert by[("jitprop", 1)]["vs_sklearn"] == pytest.approx(2.5) and by[("jitprop", 2)]["vs_sklearn"] == 2.0
    assert by[("jitprop", 1)]["accuracy_gap"] == pytest.approx(0.05)
    assert by[("jitprop", 2)]["accuracy_gap"] == pytest.approx(-0.08)
    assert by[("sklearn", 2)]["vs_sklearn"] is None and by[("sklearn", 2)]["dtype"] == "float32"
    # the training rows are as without the side by side
    assert [r for r in rows if r.get("kind") != "sklearn"] == report.build_rows(small_json())[0]
    table = report.format_table(rows, gemm)
    lines = table.splitlines()
    start = lines.index(next(line for line in lines if line.startswith("scikit-learn side by side")))
    assert lines[start + 1].split() == ["peer", "thr", "dtype", "fit", "s", "samples/s", "test", "acc", "%", "x",
                                        "sklearn", "acc", "-", "sklearn"]
    assert lines[start + 3].split() == ["sklearn", "1", "float32", "5.00", "30,000", "96.00", "-", "-"]
    assert lines[start + 4].split() == ["jitprop", "1", "float32", "2.00", "75,000", "96.05", "2.50", "+0.05"]
    assert lines[start + 6].split() == ["jitprop", "2", "float32", "1.50", "100,000", "96.12", "2.00", "-0.08"]
    assert len({len(line) for line in lines[start + 1:start + 7]}) == 1  # one column width for every row


def test_report_without_scikit_learn_says_not_installed(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)  # `import sklearn` raises ImportError; the report looks it up
    rows, gemm = report.build_rows(small_json())
    side = [r for r in rows if r.get("kind") == "sklearn"]
    assert [(r["threads"], r["samples_per_second"], r["vs_sklearn"]) for r in side] == [
        (1, None, report.MISSING), (2, None, report.MISSING)]
    lines = report.format_table(rows, gemm).splitlines()
    assert sum(line.startswith("sklearn ") and line.count("not installed") == 2 for line in lines) == 2


def test_report_plot_leaves_out_the_side_by_side(tmp_path):
    rows, _ = report.build_rows(sklearn_json(), sklearn_installed=True)
    report.plot(rows, tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 0


def _turns(arch, dtype, batch, samples, first, second):
    return {"stats": {"min": first + second, "median": 2 * (first + second)},
            "extra_info": {"kind": "alternating", "arch": arch, "dtype": dtype, "batch_size": batch, "threads": 2,
                           "samples": samples, "impls": ["fused", "jax-scan"], "best_seconds": [first, second],
                           "seconds": [[first, 2 * first, 1.5 * first], [2 * second, second, second]]}}


def test_report_has_the_by_turns_table_and_keeps_it_out_of_the_rest(tmp_path):
    data = small_json()
    data["benchmarks"] += [_turns("seed", "float32", 64, 1000, 0.004, 0.005),
                           _turns("seed", "float32", 12, 1000, 0.01, 0.008)]
    rows, gemm = report.build_rows(data)
    turns = [r for r in rows if r.get("kind") == "alternating"]
    assert [(r["batch"], r["rounds"]) for r in turns] == [(12, 3), (64, 3)]  # sorted by batch
    assert turns[1]["samples_per_second"] == pytest.approx(250_000)       # the fastest round, not the median
    assert turns[1]["peer_samples_per_second"] == pytest.approx(200_000)
    assert turns[1]["ratio"] == pytest.approx(1.25) and turns[0]["ratio"] == pytest.approx(0.8)
    table = report.format_table(rows, gemm)
    block = table[table.index("jitprop and jax-scan by turns"):].splitlines()
    assert "250,000" in block[4] and "200,000" in block[4] and block[4].endswith("1.25")
    main_table = table[:table.index("jitprop and jax-scan by turns")]
    assert "250,000" not in main_table  # not a row of the main table


def test_alternating_cases_take_turns_from_fresh_weights():
    """Two real cases (fused and jit, seed network, float64) timed by turns:
    the order alternates, each side gets one time per round, each round
    starts from the initial weights, and the report's extra_info has the
    fastest of each."""
    from jitprop.bench.cases import Alternating, Case
    rng = np.random.default_rng(1)
    x = rng.standard_normal((300, 784))
    y = rng.integers(0, 10, 300)
    fused = Case("seed", "fused", "float64", 12, x, y, threads=1)
    jit = Case("seed", "jit", "float64", 12, x, y, threads=1)
    pair = Alternating(fused, jit)
    calls, trained = [], []
    for case in pair.cases:
        def fn(*args, _case=case, _fn=case.fn):
            calls.append(_case.impl)
            before = args[0].params.copy()
            _fn(*args)
            trained.append((before, args[0].params.copy()))
        case.fn = fn
    start = workloads.make_net("seed", "float64")[0].params
    for _ in range(3):
        args, kwargs = pair.setup()
        pair.fn(*args, **kwargs)
    assert calls == ["fused", "jit", "jit", "fused", "fused", "jit"]
    assert all(np.array_equal(before, start) and not np.array_equal(after, start) for before, after in trained)
    np.testing.assert_allclose(trained[0][1], trained[1][1], rtol=1e-9, atol=1e-10)  # both trained the same
    assert [len(s) for s in pair.seconds] == [3, 3]
    info = pair.finish()
    assert info["kind"] == "alternating" and info["impls"] == ["fused", "jit"]
    assert info["best_seconds"] == [min(pair.seconds[0]), min(pair.seconds[1])]
    assert info["samples"] == 300 and info["batch_size"] == 12 and info["threads"] == 1


def test_report_puts_a_loaded_pair_by_turns_in_its_own_table():
    """Two thread counts of one implementation timed by turns with a
    neighbour running (bench/test_shared.py): a table of its own, the ratio
    of the first count's fastest round over the second's, not mixed into the
    JAX table."""
    data = small_json()
    pair = _turns("seed", "float32", 64, 1000, 0.004, 0.005)
    pair["extra_info"].update(impls=["fused", "fused"], threads_each=[2, 1], load="1 core busy")
    data["benchmarks"] += [pair, _turns("seed", "float32", 64, 1000, 0.002, 0.003)]
    rows, gemm = report.build_rows(data)
    turns = [r for r in rows if r.get("kind") == "alternating"]
    assert [(r["load"], r["threads_each"]) for r in turns] == [("", [2, 2]), ("1 core busy", [2, 1])]
    assert turns[1]["ratio"] == pytest.approx(1.25)
    table = report.format_table(rows, gemm)
    jax_block = table[table.index("jitprop and jax-scan by turns"):table.index("under load, by turns")]
    assert "500,000" in jax_block and "250,000" not in jax_block
    loaded = table[table.index("under load, by turns"):].splitlines()
    assert loaded[3].split() == ["seed", "float32", "64", "1", "core", "busy", "3", "fused",
                                 "2", "250,000", "1", "200,000", "1.25"]
    only = report.format_alternating([turns[1]])  # a run without JAX: no empty JAX table
    assert only.startswith("under load, by turns") and "jax-scan" not in only


def test_alternating_runs_each_case_at_its_own_thread_count():
    """The pair of test_shared.py: one side on two threads, the other on
    one, whatever the block around sets."""
    import numba

    from jitprop.bench.cases import Alternating
    from jitprop.kernels import team
    from jitprop.threads import limit_threads

    class Side:
        def __init__(self, threads):
            self.threads, self.seen = threads, []

        def setup(self):
            return (), {}

        def fn(self):
            self.seen.append(team.threads())

    two, one = Side(2), Side(1)
    pair = Alternating(two, one, load="1 core busy")
    with limit_threads(2):
        for _ in range(2):
            args, kwargs = pair.setup()
            pair.fn(*args, **kwargs)
        assert team.threads() == min(2, numba.config.NUMBA_NUM_THREADS)  # the block's count is back
    assert two.seen == [min(2, numba.config.NUMBA_NUM_THREADS)] * 2 and one.seen == [1, 1]
