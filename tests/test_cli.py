"""The jitprop command, end to end on real MNIST."""
import json
import subprocess
import sys

import pytest

from jitprop.cli import main


def run(*args, **kw):
    return subprocess.run([sys.executable, "-m", "jitprop", *args], capture_output=True, text=True, timeout=900, **kw)


def test_hamlet_task5_one_epoch_reaches_84_percent(mnist, tmp_path):
    # The seed notebook shows 85.4% validation accuracy after its first epoch.
    out = tmp_path / "run.json"
    done = run("train", "--preset", "hamlet-task5", "--split", "holdout", "--val-size", "10000", "--epochs", "1",
               "--json", str(out), "--quiet")
    assert done.returncode == 0, done.stderr
    summary = json.loads(out.read_text())
    assert summary["history"][0]["val_accuracy"] >= 0.84
    assert summary["config"]["layers"] == "784,128,32,10" and summary["config"]["batch_size"] == 12
    assert summary["compile_seconds"] >= 0 and summary["train_seconds"] > 0
    assert summary["versions"]["jitprop"]
    last = done.stdout.strip().splitlines()[-1]
    assert last == f"test accuracy: {100 * summary['test_accuracy']:.2f}%"


@pytest.mark.parametrize("args, message", [
    (["--preset", "nope"], "--preset: expected one of default, hamlet-task4, hamlet-task5, homework-q5, homework-q4, "
                           "got 'nope'"),
    (["--backend", "cuda"], "argument --backend: invalid choice: 'cuda'"),
    (["--layers", "784,x,10"], "--layers: expected comma-separated positive widths"),
    (["--layers", "784,10,3"], "--layers: the data has 784 inputs and 10 classes, got '784,10,3'"),
    (["--lr", "-1"], "--lr: expected a number > 0, got -1.0"),
    (["--lr", "abc"], "argument --lr: expected a number, got 'abc'"),
    (["--batch-size", "0"], "--batch-size: expected an integer >= 1, got 0"),
    (["--epochs", "0"], "--epochs: expected an integer >= 1, got 0"),
    (["--threads", "999"], "--threads: expected 1.."),
    (["--val-size", "70000"], "--val-size: expected an integer in 0..59999, got 70000"),
    (["--impl", "per-sample", "--batch-size", "12"], "--batch-size: --impl per-sample trains one sample at a time"),
    (["--backend", "numpy", "--impl", "fused"], "--backend: numpy does not fit --impl fused"),
    (["--init", "wide"], "--init: expected a non-negative number or one of he, lecun, glorot, got 'wide'"),
    (["--nesterov"], "--nesterov: Nesterov momentum needs --momentum > 0"),
    (["--optimizer", "adam", "--momentum", "0.9"], "--momentum: applies to --optimizer sgd, not adam"),
    (["--lr-decay", "0.5"], "--lr-decay: applies to --schedule exponential or step, not cosine; it would do nothing"),
    (["--schedule", "exponential", "--step-size", "3"], "--step-size: applies to --schedule step, not exponential"),
    (["--schedule", "step", "--min-lr", "0.1"], "--min-lr: applies to --schedule cosine, not step"),
    (["--optimizer", "sgd", "--beta2", "0.9"], "--beta2: applies to --optimizer adam, not sgd"),
    (["--json", "/no/such/folder/x.json"], "--json: the folder /no/such/folder does not exist"),
    (["--save", "/no/such/folder/x.npz"], "--save: the folder /no/such/folder does not exist"),
    (["--log", "/no/such/folder/x.jsonl"], "--log: the folder /no/such/folder does not exist"),
    (["--plot", "/no/such/folder/x.png"], "--plot: the folder /no/such/folder does not exist"),
])
def test_bad_arguments_are_usage_errors_that_name_the_flag(args, message, mnist):
    done = run("train", "--quiet", *args)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert "jitprop train: Network" not in done.stderr  # refused before the run header


def test_help_teaches_and_shows_every_default(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for word in ("--preset", "hamlet-task5", "--impl", "per-sample-jit", "--json", "examples:", "last line",
                 "--optimizer", "--schedule", "cosine", "--log", "jitprop-checkpoint.npz", "TQDM_DISABLE"):
        assert word in text, word
    for default in ("(default: 0.002;", "(default: 64;", "(default: 6;", "(default: 0.8", "(default: adam",
                    "hamlet-task4: 0.0001", "hamlet-task5: sgd", "(default: 784,128,10;"):
        assert default in text, default


def test_the_command_exits_with_main_s_status_after_freezing_the_heap(monkeypatch, capsys):
    # Frozen objects are passed over by the collections Python's exit runs
    # (0.3-0.4 s after a first run's compile); main() itself freezes nothing.
    import gc

    import jitprop.cli as cli
    frozen = []
    monkeypatch.setattr(gc, "freeze", lambda: frozen.append(True))
    monkeypatch.setattr(sys, "argv", ["jitprop", "--lr"])
    with pytest.raises(SystemExit) as done:
        cli.entry()
    assert done.value.code == 2 and frozen == [True]
    assert main(["--version"]) == 0 and frozen == [True]
    assert "jitprop" in capsys.readouterr().out


def test_the_command_turns_numpy_s_transparent_huge_pages_off_unless_told(monkeypatch, capsys):
    # With them on, the first touch of the training set stalled 0.2-0.5 s
    # while the kernel compacted memory; main() (the library's callers)
    # leaves NumPy's setting alone, and so does the command when the user set
    # NUMPY_MADVISE_HUGEPAGE.
    import gc

    import numpy._core.multiarray as multiarray

    import jitprop.cli as cli
    monkeypatch.setattr(gc, "freeze", lambda: None)
    monkeypatch.setattr(sys, "argv", ["jitprop", "--version"])
    monkeypatch.delenv("NUMPY_MADVISE_HUGEPAGE", raising=False)
    before = multiarray._set_madvise_hugepage(True)
    try:
        assert main(["--version"]) == 0 and multiarray._set_madvise_hugepage(True) is True  # main: untouched
        with pytest.raises(SystemExit):
            cli.entry()
        assert multiarray._set_madvise_hugepage(True) is False  # the command turned them off
        monkeypatch.setenv("NUMPY_MADVISE_HUGEPAGE", "1")
        with pytest.raises(SystemExit):
            cli.entry()
        assert multiarray._set_madvise_hugepage(True) is True  # the user's choice kept
    finally:
        multiarray._set_madvise_hugepage(before)
    capsys.readouterr()


def test_verify_command_prints_a_table_and_exits_zero():
    done = run("verify", "--quick")
    assert done.returncode == 0, done.stdout + done.stderr
    for row in ("linear_forward[tanh]", "linear_backward[leaky-relu]", "optimizer_step[adam]",
                "train_epoch[momentum]", "train_epoch_per_sample[sgd]"):
        assert row in done.stdout
    assert "FAIL" not in done.stdout and "rel err" in done.stdout
    assert done.stdout.strip().splitlines()[-1].endswith(" passed, 0 failed")


def test_verify_exits_one_on_failure(monkeypatch, capsys):
    from jitprop.kernels.registry import compiled
    real = compiled.optimizer_step
    monkeypatch.setattr(compiled, "optimizer_step", lambda p, g, s, k, h, lr, t: real(p, g, s, k, h, lr * 1.001, t))
    assert main(["verify", "--quick"]) == 1
    assert "FAIL" in capsys.readouterr().out


def test_data_verify(mnist):
    done = run("data", "verify")
    assert done.returncode == 0
    assert done.stdout.count("sha256 ok") == 4


def test_non_terminal_output_has_no_carriage_returns_and_tqdm_env_is_honoured(mnist, tmp_path):
    done = run("train", "--layers", "784,16,10", "--val-size", "55000", "--epochs", "2", "--batch-size", "50")
    assert done.returncode == 0, done.stderr
    assert "\r" not in done.stderr and "\r" not in done.stdout  # no bar redraws into a pipe
    assert [l.split()[1] for l in done.stdout.splitlines() if l.startswith("epoch")] == ["1/2", "2/2"]
    import os
    env = dict(os.environ, TQDM_DISABLE="1")
    done = run("train", "--layers", "784,16,10", "--val-size", "55000", "--epochs", "1", "--batch-size", "50", env=env)
    assert done.returncode == 0 and "\r" not in done.stderr


def test_log_writes_one_json_line_per_epoch(mnist, tmp_path):
    log = tmp_path / "m.jsonl"
    done = run("train", "--layers", "784,16,10", "--val-size", "55000", "--epochs", "2", "--batch-size", "50",
               "--eval-test", "--log", str(log), "--quiet")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(l) for l in log.read_text().splitlines()]
    assert [l["epoch"] for l in lines] == [1, 2]
    for key in ("cost", "val_accuracy", "val_loss", "test_accuracy", "test_loss", "learning_rate", "seconds",
                "samples_per_second"):
        assert all(l[key] is not None for l in lines), key


def test_ctrl_c_while_the_command_is_still_importing_ends_quietly():
    # As the console script runs: jitprop imported (the handler installed), main() not yet called.
    code = ("import sys; sys.argv[0] = 'jitprop'; import jitprop.cli, os, signal, time; "
            "os.kill(os.getpid(), signal.SIGINT); time.sleep(5); print('not interrupted')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 130 and "Traceback" not in done.stderr and "not interrupted" not in done.stdout
    # inside main(), while the subcommand's modules load: the usual one line
    code = ("import sys; sys.argv[0] = 'jitprop'; import jitprop.cli as c, os, signal; "
            "real = c.build_parser\n"
            "def slow():\n    os.kill(os.getpid(), signal.SIGINT)\n    return real()\n"
            "c.build_parser = slow; sys.exit(c.main(['train', '--help']))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 130 and done.stderr.strip() == "jitprop: interrupted", done.stderr


def test_stderr_closed_and_stdout_into_head_end_without_a_traceback(mnist):
    cmd = [sys.executable, "-m", "jitprop", "train", "--layers", "784,16,10", "--val-size", "55000", "--epochs", "3",
           "--batch-size", "50"]
    done = subprocess.run(" ".join(cmd) + " 2>&-", shell=True, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and done.stdout.strip().splitlines()[-1].startswith("test accuracy")
    done = subprocess.run(" ".join(cmd) + " | head -1", shell=True, capture_output=True, text=True, timeout=600,
                          executable="/bin/bash")
    assert done.stdout.startswith("epoch   1/3") and "Traceback" not in done.stderr and "Broken pipe" not in done.stderr
