"""`jitprop sweep` and jitprop.sweep: specs, candidates, scoring, the
results table and the reproducing command, on a LocalCluster of 2 worker
processes (loopback, no dashboard) training on the 8x8 digits; a worker
that dies costs only its candidate; GridSearchCV under joblib's dask
backend; without dask, one line naming the extra."""
import json
import os
import sys

import numpy as np
import pytest

from jitprop import sweep
from jitprop.cli import main
from jitprop.config import RunConfig
from jitprop.session import Run


@pytest.fixture(scope="module")
def digits_npz(tmp_path_factory):
    from sklearn.datasets import load_digits
    x, y = load_digits(return_X_y=True)
    path = tmp_path_factory.mktemp("data") / "digits.npz"
    np.savez(path, x_train=x[:1200], y_train=y[:1200], x_test=x[1200:], y_test=y[1200:])
    return str(path)


def tiny(digits_npz, **kw):
    """A run of a few milliseconds: 64-16-10, 2 epochs, 200 validation rows."""
    return dict(dict(data=digits_npz, layers="16", epochs=2, batch_size=32, val_size=200, threads=1), **kw)


# ------------------------------------------------------------ Run.build(data)

def test_run_build_trains_on_the_arrays_given(digits_npz, monkeypatch):
    from jitprop import session
    cfg = RunConfig.from_preset("default", **tiny(digits_npz))
    expected = Run(cfg, progress=False).train()
    data = session.load_data(cfg)
    monkeypatch.setattr(session, "load_data", lambda cfg: pytest.fail("build(data=...) read the data set"))
    got = Run(cfg, progress=False).build(data=data).train()
    assert got.val_accuracy == expected.val_accuracy and got.test_accuracy == expected.test_accuracy
    np.testing.assert_array_equal(got.net.params, expected.net.params)


# ------------------------------------------------------------------ specs

def test_grid_is_every_combination_typed_by_the_setting():
    grid = sweep.parse_grid(["lr=0.001,0.01", "batch-size=32,64", "nesterov=true,false", "layers=128:64,32"])
    assert grid == {"lr": [0.001, 0.01], "batch_size": [32, 64], "nesterov": [True, False],
                    "layers": ["128", "64,32"]}
    cands = sweep.grid_candidates({"lr": [0.1, 0.2], "batch_size": [32, 64, 128]})
    assert len(cands) == 6 and cands[0] == {"lr": 0.1, "batch_size": 32} and cands[-1] == {"lr": 0.2, "batch_size": 128}


def test_random_draws_stay_in_the_space_and_repeat_with_the_seed():
    space = sweep.parse_space(["lr=log:1e-4:1e-1", "batch_size=32,64", "momentum=uniform:0:0.9", "epochs=int:2:4"])
    assert space["lr"] == ("log", 1e-4, 1e-1) and space["batch_size"] == ("choice", [32, 64])
    cands = sweep.random_candidates(space, 50, seed=3)
    assert cands == sweep.random_candidates(space, 50, seed=3) != sweep.random_candidates(space, 50, seed=4)
    assert all(1e-4 <= c["lr"] <= 1e-1 and c["batch_size"] in (32, 64) and 0 <= c["momentum"] <= 0.9
               and c["epochs"] in (2, 3, 4) and isinstance(c["epochs"], int) for c in cands)
    assert {c["epochs"] for c in cands} == {2, 3, 4}
    assert len(sweep.random_candidates(sweep.parse_space(["batch_size=32,64"]), 20)) == 2  # duplicates dropped


@pytest.mark.parametrize("argv, message", [
    (["--grid", "lrr=0.1"], "--grid: 'lrr' is not a setting; expected one of dataset, data,"),
    (["--grid", "lr=fast"], "--grid: lr: expected a number, got 'fast'"),
    (["--grid", "lr"], "--grid: expected KEY=VALUES such as lr=0.001,0.01, got 'lr'"),
    (["--random", "3", "--space", "lr=log:0:1"], "--space: lr: expected 0 < LO < HI in log:LO:HI, got 'log:0:1'"),
    (["--random", "3", "--space", "optimizer=log:1:2"], "--space: optimizer: log:LO:HI needs a numeric setting"),
    (["--random", "3"], "--random: expected N >= 1 with --space KEY=SPEC ..., got 3 and no --space"),
    ([], "--grid or --random: expected one of them"),
    (["--grid", "lr=0.1", "--random", "2", "--space", "lr=0.1"], "--grid or --random: expected one of them"),
    (["--grid", "lr=0.1,0.2", "--lr", "0.3"], "--lr: is both fixed and swept"),
    (["--grid", "lr=0.1", "--folds", "1"], "--folds: expected K >= 2, got 1"),
    (["--grid", "lr=0.1", "--folds", "3", "--val-size", "10"], "--folds: scores on folds of the training rows"),
])
def test_bad_specs_are_usage_errors_naming_the_flag(argv, message, capsys):
    if "--folds" not in argv and "--val-size" not in argv:
        argv = argv + ["--val-size", "100"]
    assert main(["sweep", *argv]) == 2
    assert message in capsys.readouterr().err


def test_scoring_is_required(capsys):
    assert main(["sweep", "--grid", "lr=0.1"]) == 2
    assert "--val-size or --folds: expected one of them" in capsys.readouterr().err


def test_train_command_names_every_setting_off_the_preset(digits_npz):
    job = sweep.Job("default", tiny(digits_npz), 0)
    cmd = sweep.train_command(job, {"optimizer": "sgd", "lr": 0.1, "nesterov": True, "momentum": 0.5,
                                    "shuffle": False})
    assert cmd == (f"jitprop train --data {digits_npz} --val-size 200 --no-shuffle --layers 16 --optimizer sgd "
                   "--lr 0.1 --momentum 0.5 --nesterov --epochs 2 --batch-size 32 --threads 1")
    assert sweep.train_command(sweep.Job("hamlet-task4", {"epochs": 3, "threads": 1}), {}) == \
        "jitprop train --preset hamlet-task4 --epochs 3 --threads 1"


def test_folds_partition_the_training_rows():
    data = {"x_train": np.arange(20.0)[:, None], "y_train": np.arange(20), "x_test": np.zeros((1, 1)), "n": 1}
    seen = []
    for k in range(3):
        f = sweep.fold_data(data, 3, k, seed=0)
        assert f["x_test"] is None and f["n"] == 1
        assert sorted(np.r_[f["y_train"], f["y_val"]]) == list(range(20))
        seen += list(f["y_val"])
    assert sorted(seen) == list(range(20))


def test_a_candidate_runs_in_process_and_an_invalid_one_fails_with_the_config_error(digits_npz):
    job = sweep.Job("default", tiny(digits_npz), 0)
    ok = sweep.run_candidate({"lr": 0.01}, job)
    direct = Run(RunConfig.from_preset("default", **tiny(digits_npz), lr=0.01), progress=False).train()
    assert ok["status"] == "ok" and ok["score"] == direct.val_accuracy and ok["fold_scores"] == [ok["score"]]
    bad = sweep.run_candidate({"optimizer": "adam", "momentum": 0.9}, job)
    assert bad["status"] == "failed" and bad["error"] == "--momentum: applies to --optimizer sgd, not adam"
    folds = sweep.run_candidate({"lr": 0.01}, sweep.Job("default", {**tiny(digits_npz), "val_size": 0}, 3))
    assert folds["status"] == "ok" and len(folds["fold_scores"]) == 3
    assert folds["score"] == pytest.approx(np.mean(folds["fold_scores"]))


def test_without_dask_the_command_names_the_extra(monkeypatch, capsys):
    # None in sys.modules makes `import dask` / `import distributed` raise ImportError.
    monkeypatch.setitem(sys.modules, "dask", None)
    monkeypatch.setitem(sys.modules, "distributed", None)
    assert main(["sweep", "--grid", "lr=0.1", "--val-size", "100"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ['jitprop sweep needs dask.distributed, which is not installed: pip install "jitprop[dask]"']


# ------------------------------------------------------- on a LocalCluster

@pytest.fixture(scope="module")
def client():
    """A LocalCluster of 2 worker processes (1 thread each, 127.0.0.1, no
    dashboard) made by the sweep's own local_client; closed at the end."""
    with sweep.local_client(2, threads=1) as c:
        yield c


def test_sweep_command_end_to_end_on_its_own_local_cluster(digits_npz, tmp_path, capsys):
    out_json = tmp_path / "sweep.json"
    args = ["sweep", "--data", digits_npz, "--layers", "16", "--epochs", "2", "--batch-size", "32",
            "--val-size", "200", "--workers", "2", "--quiet", "--json", str(out_json),
            "--grid", "optimizer=sgd,adam", "momentum=0,0.9", "lr=0.003,0.03"]
    assert main(args) == 0
    out = capsys.readouterr().out
    table, best = out.split("\nbest: ")
    lines = table.strip().splitlines()
    assert lines[0].split() == ["rank", "val", "acc", "%", "optimizer", "momentum", "lr", "seconds", "status"]
    rows = lines[2:]
    assert len(rows) == 8
    scores = [float(r.split()[1]) for r in rows[:6]]
    assert scores == sorted(scores, reverse=True)
    assert all("failed: --momentum: applies to --optimizer sgd, not adam" in r for r in rows[6:])
    doc = json.loads(out_json.read_text())
    assert len(doc["candidates"]) == 8 and len(doc["ranking"]) == 6
    assert len({r["worker"] for r in doc["candidates"] if r["status"] == "ok"}) == 2  # both workers trained
    command = best.splitlines()[-1].strip()
    assert command == doc["command"] and command.startswith("jitprop train ") and "--threads 1" in command
    # the printed command reproduces the best candidate's score
    summary = tmp_path / "train.json"
    assert main(command.split()[1:] + ["--quiet", "--json", str(summary)]) == 0
    assert json.loads(summary.read_text())["val_accuracy"] == doc["best"]["score"]


def test_random_search_with_folds_on_an_existing_cluster(client, digits_npz, tmp_path, capsys):
    out_json = tmp_path / "sweep.json"
    args = ["sweep", "--scheduler", client.scheduler.address, "--data", digits_npz, "--layers", "16",
            "--epochs", "2", "--folds", "3", "--quiet", "--json", str(out_json),
            "--random", "4", "--space", "lr=log:1e-3:1e-1", "batch_size=16,64", "--search-seed", "1"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:5] == ["rank", "3-fold", "acc", "%", "+/-"]
    assert "reproduce it; it trains on all training rows:" in out
    doc = json.loads(out_json.read_text())
    assert doc["cluster"] == {"scheduler": client.scheduler.address}
    assert [c["settings"] for c in doc["candidates"]] == sweep.random_candidates(
        sweep.parse_space(["lr=log:1e-3:1e-1", "batch_size=16,64"]), 4, seed=1)
    assert all(len(c["fold_scores"]) == 3 for c in doc["candidates"])


def test_unreachable_scheduler_is_one_line():
    import dask
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}), \
            pytest.raises(SystemExit, match="jitprop sweep: --scheduler: cannot reach tcp://127.0.0.1:9"):
        main(["sweep", "--scheduler", "tcp://127.0.0.1:9", "--val-size", "10", "--grid", "lr=0.1", "--quiet"])


def kill_own_worker_at_lr_half(settings, job):
    """A candidate that takes its worker process down with it."""
    if settings["lr"] == 0.5:
        os._exit(1)
    return sweep.run_candidate(settings, job)


def test_a_dead_worker_costs_only_its_candidate(client, digits_npz):
    import cloudpickle
    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import this test module
    job = sweep.Job("default", tiny(digits_npz), 0)
    candidates = [{"lr": lr} for lr in (0.01, 0.02, 0.5, 0.03, 0.04, 0.05)]
    records = sweep.run_sweep(client, candidates, job, task=kill_own_worker_at_lr_half, progress=False)
    status = [(r["settings"]["lr"], r["status"]) for r in records]
    assert status == [(0.01, "ok"), (0.02, "ok"), (0.5, "failed"), (0.03, "ok"), (0.04, "ok"), (0.05, "ok")]
    assert records[2]["error"] == "its worker died while training it (KilledWorker)"
    client.wait_for_workers(2, timeout=60)  # the nanny restarted the dead one


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_grid_search_cv_under_joblibs_dask_backend(client):
    import joblib
    from sklearn.datasets import load_digits
    from sklearn.model_selection import GridSearchCV

    import jitprop
    x, y = load_digits(return_X_y=True)
    x, y = x[:400] / 16, y[:400]
    grid = {"learning_rate_init": [1e-3, 1e-2], "alpha": [1e-4, 1e-2]}
    est = jitprop.MLPClassifier(hidden_layer_sizes=(16,), max_iter=20, random_state=0, threads=1)
    from distributed import get_task_stream
    with get_task_stream(client) as stream, joblib.parallel_backend("dask", client=client):
        on_cluster = GridSearchCV(est, grid, cv=3, n_jobs=-1).fit(x, y)
    here = GridSearchCV(est, grid, cv=3, n_jobs=1).fit(x, y)
    np.testing.assert_array_equal(on_cluster.cv_results_["mean_test_score"], here.cv_results_["mean_test_score"])
    assert on_cluster.best_params_ == here.best_params_
    workers = {t["worker"] for t in stream.data}
    assert workers and workers <= set(client.scheduler_info()["workers"])  # the 12 fits ran on the cluster
