"""Checkpoints: atomic, refuse to clobber, resume bit for bit, survive Ctrl-C."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import jitprop
from jitprop import CheckpointError, CrossEntropy
from jitprop.config import RunConfig
from jitprop.model.checkpoint import read_checkpoint, save_checkpoint
from jitprop.model.optim import make_optimizer
from jitprop.session import Run


def small_problem(n=200, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 20))
    return x, x[:, :5].argmax(axis=1)


def fresh_net():
    return jitprop.mlp([20, 16, 5], "relu", "softmax", "he", seed=3)


def test_save_and_load_roundtrip(tmp_path):
    net = fresh_net()
    path = save_checkpoint(tmp_path / "c.npz", net, epoch=2, note="hello")
    loaded = jitprop.load(path)
    assert loaded.params.tobytes() == net.params.tobytes()
    assert repr(loaded) == repr(net)
    x, _ = small_problem()
    np.testing.assert_array_equal(loaded.predict(x), net.predict(x))
    header, _, state = read_checkpoint(path)
    assert header["epoch"] == 2 and header["note"] == "hello" and state is None


def test_truncated_foreign_and_missing_files_are_clear_errors(tmp_path):
    path = save_checkpoint(tmp_path / "c.npz", fresh_net(), epoch=1)
    raw = path.read_bytes()
    (tmp_path / "t.npz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(CheckpointError, match="truncated or foreign"):
        jitprop.load(tmp_path / "t.npz")
    np.savez(tmp_path / "f.npz", weights=np.ones(3))
    with pytest.raises(CheckpointError, match="not a jitprop checkpoint"):
        jitprop.load(tmp_path / "f.npz")
    (tmp_path / "notes.txt").write_text("my notes")
    with pytest.raises(CheckpointError, match="not a readable jitprop checkpoint"):
        jitprop.load(tmp_path / "notes.txt")
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        jitprop.load(tmp_path / "missing.npz")


def test_never_overwrites_a_file_that_is_not_a_checkpoint(tmp_path):
    mine = tmp_path / "precious.npz"
    mine.write_bytes(b"a user's file")
    with pytest.raises(CheckpointError, match="refusing to overwrite"):
        save_checkpoint(mine, fresh_net(), epoch=1)
    assert mine.read_bytes() == b"a user's file"
    assert [p.name for p in tmp_path.iterdir()] == ["precious.npz"]  # no temporary left behind


def test_refuses_to_overwrite_another_runs_checkpoint_unless_asked(tmp_path):
    path = save_checkpoint(tmp_path / "c.npz", fresh_net(), run_id="a", epoch=1)
    save_checkpoint(path, fresh_net(), run_id="a", epoch=2)  # the same run continues
    with pytest.raises(CheckpointError, match=r"holds another run \(network 20-16-5, epoch 2\)"):
        save_checkpoint(path, fresh_net(), run_id="b", epoch=1)
    save_checkpoint(path, fresh_net(), run_id="b", epoch=1, overwrite=True)
    assert read_checkpoint(path)[0]["run_id"] == "b"


OPTIMIZERS = {
    "sgd": lambda: jitprop.SGD(0.01, weight_decay=1e-4),
    "momentum": lambda: jitprop.SGD(0.01, momentum=0.9, nesterov=True),
    "adam": lambda: jitprop.Adam(0.003, weight_decay=1e-3, decoupled=True),
}


@pytest.mark.parametrize("opt", list(OPTIMIZERS))
@pytest.mark.parametrize("impl", ["fused", "jit", "per-sample-jit"])
def test_resume_reaches_the_same_bits_as_an_uninterrupted_run(impl, opt, tmp_path):
    x, y = small_problem()
    bs = 1 if impl == "per-sample-jit" else 16
    schedule = jitprop.Cosine(min_lr=1e-4, warmup=0.5)
    kw = dict(batch_size=bs, seed=4, impl=impl, progress=False, schedule=schedule)
    whole = fresh_net()
    jitprop.train(whole, CrossEntropy(), x, y, epochs=4, optimizer=OPTIMIZERS[opt](), **kw)

    # Stop after epoch 2 of 4 (the cosine schedule depends on the total), save, resume.
    saved = {}
    first, optimizer = fresh_net(), OPTIMIZERS[opt]()

    class Stop(Exception):
        pass

    def stop_after_two(record, state):
        if state["epoch"] == 2:
            saved.update(epoch=2, rng_state=state["rng_state"])
            save_checkpoint(tmp_path / "c.npz", first, optimizer=optimizer, **saved)
            raise Stop
    with pytest.raises(Stop):
        jitprop.train(first, CrossEntropy(), x, y, epochs=4, optimizer=optimizer, on_epoch=stop_after_two, **kw)
    header, params, state = read_checkpoint(tmp_path / "c.npz")
    resumed = jitprop.load(tmp_path / "c.npz")
    restored = make_optimizer(header["optimizer"]["config"])
    restored.load_state_dict({"t": header["optimizer"]["t"], "state": state})
    jitprop.train(resumed, CrossEntropy(), x, y, epochs=4, optimizer=restored, start_epoch=header["epoch"] + 1,
                  rng_state=header["rng_state"], **kw)
    assert resumed.params.tobytes() == whole.params.tobytes()


def test_session_resume_from_python_matches_an_uninterrupted_run(mnist, tmp_path):
    cfg = RunConfig.from_preset("default", layers="784,16,10", val_size=55000, epochs=3, batch_size=50,
                                optimizer="adam", lr=0.002, schedule="step", step_size=1, lr_decay=0.5)
    whole = Run(cfg, save=tmp_path / "whole.npz", progress=False).train()
    part = Run(cfg.replace(epochs=2), save=tmp_path / "part.npz", progress=False).train()
    assert part.saved_epoch is None and not part.interrupted
    done = Run.resume(tmp_path / "part.npz", epochs=3, progress=False).train()
    assert done.net.params.tobytes() == whole.net.params.tobytes()
    assert read_checkpoint(tmp_path / "part.npz")[0]["epoch"] == 3  # resumed runs keep saving to their file
    assert [e["cost"] for e in done.history] == [e["cost"] for e in whole.history]


@pytest.mark.parametrize("schedule, noted", [("cosine", True), ("step", False)])
def test_raising_the_epochs_of_a_cosine_run_says_the_result_differs(mnist, tmp_path, schedule, noted):
    ckpt = tmp_path / "c.npz"
    base = [sys.executable, "-m", "jitprop", "train", "--layers", "784,8,10", "--val-size", "58000", "--quiet"]
    done = subprocess.run([*base, "--schedule", schedule, "--epochs", "1", "--save", str(ckpt)], capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    done = subprocess.run([*base[:4], "--resume", str(ckpt), "--epochs", "2", "--quiet"], capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    note = "the cosine schedule now spreads over 2 epochs; epochs 1..1 ran under its 1-epoch form"
    assert (note in done.stderr) == noted, done.stderr


def _train_cmd(*extra):
    return [sys.executable, "-m", "jitprop", "train", "--layers", "784,16,10", "--val-size", "55000",
            "--batch-size", "50", "--optimizer", "sgd", "--no-mean-loss", "--lr", "0.001", "--schedule", "exponential",
            "--lr-decay", "0.97", "--quiet", *extra]


def test_ctrl_c_saves_the_last_epoch_and_resume_matches(mnist, tmp_path):
    epochs = "40"
    ref = tmp_path / "ref.npz"
    done = subprocess.run(_train_cmd("--epochs", epochs, "--save", str(ref)), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr

    ckpt = tmp_path / "run.npz"
    proc = subprocess.Popen(_train_cmd("--epochs", epochs, "--save", str(ckpt)), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not ckpt.exists() and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    if proc.returncode == 0:
        pytest.fail("the run finished before it could be interrupted; make it longer")
    assert proc.returncode == 130, err
    stopped_at = read_checkpoint(ckpt)[0]["epoch"]
    assert f"interrupted; {ckpt} holds epoch {stopped_at}." in err and "--resume" in err  # what is on disk
    assert 1 <= stopped_at < int(epochs)

    done = subprocess.run([sys.executable, "-m", "jitprop", "train", "--resume", str(ckpt), "--quiet"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    (h1, p1, _), (h2, p2, _) = read_checkpoint(ckpt), read_checkpoint(ref)
    assert h1["epoch"] == h2["epoch"] == int(epochs)
    assert p1.tobytes() == p2.tobytes()
    assert [e["cost"] for e in h1["history"]] == [e["cost"] for e in h2["history"]]

    pred = subprocess.run([sys.executable, "-m", "jitprop", "predict", str(ckpt)], capture_output=True, text=True)
    assert pred.returncode == 0 and pred.stdout.strip() == done.stdout.strip().splitlines()[-1]


def test_divergence_keeps_the_last_good_checkpoint(mnist, tmp_path):
    ckpt = tmp_path / "c.npz"
    done = subprocess.run(_train_cmd("--epochs", "3", "--lr-decay", "1e9", "--save", str(ckpt)),
                          capture_output=True, text=True)
    assert done.returncode != 0
    assert "diverged" in done.stderr and "epoch 2" in done.stderr and "lower learning rate" in done.stderr
    assert f"The checkpoint {ckpt} holds epoch 1" in done.stderr
    header, params, _ = read_checkpoint(ckpt)
    assert header["epoch"] == 1 and np.isfinite(params).all()


def test_resume_refuses_config_flags_and_bad_files(mnist, tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"junk")
    done = subprocess.run([sys.executable, "-m", "jitprop", "train", "--resume", str(bad)], capture_output=True, text=True)
    assert done.returncode == 2 and "--resume" in done.stderr and "not a readable jitprop checkpoint" in done.stderr
    assert bad.read_bytes() == b"junk"
    done = subprocess.run([sys.executable, "-m", "jitprop", "train", "--resume", str(bad), "--lr", "0.1"],
                          capture_output=True, text=True)
    assert done.returncode == 2 and "drop --lr" in done.stderr
    mine = tmp_path / "mine.txt"
    mine.write_text("keep me")
    done = subprocess.run(_train_cmd("--epochs", "1", "--save", str(mine)), capture_output=True, text=True)
    assert done.returncode == 2 and "refusing to overwrite" in done.stderr and mine.read_text() == "keep me"


def test_a_checkpoint_from_save_checkpoint_says_what_it_lacks(mnist, tmp_path):
    net = jitprop.mlp([784, 10], "sigmoid", "softmax", 0.01, seed=0, dtype=np.float32)
    bare = save_checkpoint(tmp_path / "bare.npz", net)
    for cmd in (["predict", str(bare)], ["inspect", str(bare), "--predictions", str(tmp_path / "p.png")]):
        done = subprocess.run([sys.executable, "-m", "jitprop", *cmd], capture_output=True, text=True)
        assert done.returncode == 1 and "no input statistics" in done.stderr and "Traceback" not in done.stderr
    done = subprocess.run([sys.executable, "-m", "jitprop", "train", "--resume", str(bare)], capture_output=True,
                          text=True)
    assert done.returncode == 2 and "has no config, epoch, rng_state, optimizer" in done.stderr
    assert "jitprop inspect --weights can read it" in done.stderr  # not predict: it needs the statistics
    from jitprop.data import mnist_arrays
    d = mnist_arrays(np.float32, 0)
    full = save_checkpoint(tmp_path / "full.npz", net, data=dict(mean=d["mean"], std=d["std"]))
    done = subprocess.run([sys.executable, "-m", "jitprop", "predict", str(full)], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith("test accuracy: ")
    done = subprocess.run([sys.executable, "-m", "jitprop", "train", "--resume", str(full)], capture_output=True,
                          text=True)
    assert done.returncode == 2 and "jitprop predict and inspect can read it, resume cannot" in done.stderr


def test_a_full_disk_during_save_keeps_the_old_checkpoint_and_says_so(mnist, tmp_path, monkeypatch):
    import errno

    from jitprop.session import RunError
    cfg = RunConfig.from_preset("default", layers="784,16,10", val_size=55000, epochs=3, batch_size=100)
    run = Run(cfg, save=tmp_path / "c.npz", progress=False)
    real, calls = np.savez, []

    def savez(*a, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(*a, **kw)
    monkeypatch.setattr(np, "savez", savez)
    with pytest.raises(RunError, match=r"--save: writing .*c.npz failed \(No space left on device\); "
                                       r"it still holds epoch 1"):
        run.train()
    assert read_checkpoint(tmp_path / "c.npz")[0]["epoch"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["c.npz"]  # no temporary, no lock left


def test_two_runs_saving_to_one_file_at_once_the_second_is_refused(mnist, tmp_path):
    from jitprop.files import path_lock
    ckpt = tmp_path / "same.npz"
    with path_lock(ckpt):  # as a first run holds it
        done = subprocess.run(_train_cmd("--epochs", "1", "--save", str(ckpt)), capture_output=True, text=True)
    assert done.returncode == 1 and "in use by another jitprop run" in done.stderr
    assert not ckpt.exists()


def test_ctrl_c_in_the_first_epoch_of_a_resumed_run_says_what_the_file_holds(mnist, tmp_path):
    ckpt = tmp_path / "run.npz"
    done = subprocess.run(_train_cmd("--epochs", "2", "--save", str(ckpt)), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    proc = subprocess.Popen([sys.executable, "-m", "jitprop", "train", "--resume", str(ckpt), "--epochs", "400"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(3)  # importing and compiling: the interrupt lands before or during the first epochs
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    epoch = read_checkpoint(ckpt)[0]["epoch"]
    assert proc.returncode == 130, err
    assert f"{ckpt} holds epoch {epoch}" in err and "nothing to save" not in err and "Traceback" not in err
