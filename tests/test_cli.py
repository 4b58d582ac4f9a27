"""The jitprop command, end to end on real MNIST."""
import json
import subprocess
import sys

import pytest

from jitprop.cli import main


def run(*args):
    return subprocess.run([sys.executable, "-m", "jitprop", *args], capture_output=True, text=True, timeout=900)


def test_hamlet_task5_one_epoch_reaches_84_percent(mnist, tmp_path):
    # The seed notebook shows 85.4% validation accuracy after its first epoch.
    out = tmp_path / "run.json"
    done = run("train", "--preset", "hamlet-task5", "--epochs", "1", "--json", str(out), "--quiet")
    assert done.returncode == 0, done.stderr
    summary = json.loads(out.read_text())
    assert summary["history"]["epochs"][0]["val_accuracy"] >= 0.84
    assert summary["config"]["layers"] == "784,128,32,10" and summary["config"]["batch_size"] == 12
    assert summary["compile_seconds"] >= 0 and summary["train_seconds"] > 0
    last = done.stdout.strip().splitlines()[-1]
    assert last == f"test accuracy: {100 * summary['test_accuracy']:.2f}%"


def test_other_presets_run_one_short_epoch(mnist, tmp_path):
    for preset in ("homework-q5", "hamlet-task4"):
        done = run("train", "--preset", preset, "--epochs", "1", "--val-size", "50000", "--quiet")
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip().splitlines()[-1].startswith("test accuracy: ")


@pytest.mark.parametrize("args, message", [
    (["--preset", "nope"], "--preset: expected one of default, hamlet-task4, hamlet-task5, homework-q5, got 'nope'"),
    (["--backend", "cuda"], "argument --backend: invalid choice: 'cuda'"),
    (["--layers", "784,x,10"], "layers: expected comma-separated positive widths"),
    (["--layers", "784,10,3"], "layers: MNIST needs 784 inputs and 10 outputs"),
    (["--lr", "-1"], "learning_rate: expected a number > 0.0, got -1.0"),
    (["--batch-size", "0"], "batch_size: expected an integer >= 1, got 0"),
    (["--batch-size", "70000", "--epochs", "1"], "batch_size: expected at most the number of training rows"),
    (["--impl", "per-sample", "--batch-size", "12"], "batch_size: the per-sample implementation trains one sample at a time"),
    (["--backend", "numpy", "--impl", "fused"], "--backend numpy does not fit --impl fused"),
    (["--init-sigma", "wide"], "--init-sigma: expected a number or 'he', got 'wide'"),
])
def test_bad_arguments_are_named(args, message, mnist):
    done = run("train", "--quiet", *args)
    assert done.returncode != 0
    assert message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_help_teaches(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    for word in ("--preset", "hamlet-task5", "--impl", "per-sample-jit", "--json", "examples:", "last line"):
        assert word in text


def test_verify_command_prints_a_table_and_exits_zero():
    done = run("verify", "--quick")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "linear_sigmoid_forward" in done.stdout and "FAIL" not in done.stdout
    assert done.stdout.strip().splitlines()[-1].endswith(" passed, 0 failed")


def test_verify_exits_one_on_failure(monkeypatch, capsys):
    import jitprop.kernels as K
    real = K.sgd_update
    monkeypatch.setattr(K, "sgd_update", lambda p, g, lr, wd: real(p, g, lr * 1.001, wd))
    assert main(["verify", "--quick"]) == 1
    assert "FAIL" in capsys.readouterr().out


def test_data_verify(mnist):
    done = run("data", "verify")
    assert done.returncode == 0
    assert done.stdout.count("sha256 ok") == 4
