"""Kill `jitprop train --save` at random moments, many times: the checkpoint
is always a complete one (bit for bit the parameters of the epoch it names),
never a half-written file, and the next run cleans what a killed one left."""
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from jitprop.config import RunConfig
from jitprop.model.checkpoint import read_checkpoint
from jitprop.session import Run

# A small, fast run: 1000 training rows, 10 steps an epoch, a checkpoint every
# few milliseconds, so kills land before, during and after writes.
# A constant rate: a cosine schedule would depend on the (never reached) total.
FLAGS = ["--layers", "784,8,10", "--val-size", "59000", "--batch-size", "100", "--lr", "0.01", "--seed", "3",
         "--schedule", "constant"]
SETTINGS = dict(layers="784,8,10", val_size=59000, batch_size=100, lr=0.01, seed=3, schedule="constant")
TRIALS = 24


def _reference_params(epochs):
    """The parameters after each epoch of the uninterrupted run (in-process)."""
    cfg = RunConfig.from_preset("default", epochs=epochs, **SETTINGS)
    run = Run(cfg, progress=False).build()
    snapshots = {}
    import jitprop
    from jitprop.threads import limit_threads
    d = run.data
    with limit_threads(run.threads):  # as the command runs it
        jitprop.train(run.net, run.cost, d["x_train"], d["y_train"], epochs=epochs, batch_size=cfg.batch_size,
                      optimizer=run.optimizer, schedule=run.schedule, seed=cfg.seed, shuffle=cfg.shuffle,
                      mean_loss=cfg.mean_loss, impl=cfg.resolved_impl,
                      progress=False, on_epoch=lambda r, s: snapshots.update({r["epoch"]: run.net.params.copy()}))
    return snapshots


def test_random_kills_leave_a_complete_checkpoint_and_no_debris(mnist, tmp_path):
    rng = np.random.default_rng(11)
    ckpt = tmp_path / "c.npz"
    epochs = 100000  # longer than the trials last: every run is killed
    last_epoch = 0
    seen = []
    for trial in range(TRIALS):
        if ckpt.exists():
            cmd = [sys.executable, "-m", "jitprop", "train", "--resume", str(ckpt), "--quiet"]
        else:
            cmd = [sys.executable, "-m", "jitprop", "train", *FLAGS, "--epochs", str(epochs), "--save", str(ckpt),
                   "--quiet"]
        before = ckpt.stat().st_mtime_ns if ckpt.exists() else None
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:  # until this run has saved an epoch
            if ckpt.exists() and ckpt.stat().st_mtime_ns != before:
                break
            time.sleep(0.005)
        time.sleep(rng.uniform(0, 0.25))  # then anywhere in the following epochs and writes
        sig = signal.SIGINT if trial % 4 == 3 else signal.SIGKILL
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=120)
        assert "Traceback" not in err, err
        if not ckpt.exists():
            continue
        header, params, _ = read_checkpoint(ckpt)  # always readable: complete or untouched
        assert header["epoch"] >= last_epoch
        if sig == signal.SIGINT and proc.returncode == 130:
            assert f"holds epoch {header['epoch']}" in err  # what is on disk, not what was meant to be
        last_epoch = header["epoch"]
        seen.append((header["epoch"], params))
    assert last_epoch > 0 and len({e for e, _ in seen}) > 3
    reference = _reference_params(last_epoch)
    for epoch, params in seen:
        assert params.tobytes() == reference[epoch].tobytes(), epoch
    # one run that ends normally: it removes the temporaries and the lock a killed run left
    done = subprocess.run([sys.executable, "-m", "jitprop", "train", "--resume", str(ckpt), "--epochs",
                           str(last_epoch + 2), "--quiet"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.npz"]
