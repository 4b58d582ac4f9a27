"""The seed assignments' experiments and the pictures (matplotlib and
scikit-learn are in the test extra, so both run for real here)."""
import struct
import subprocess
import sys

import numpy as np
import pytest

from jitprop import experiments
from jitprop.cli import main


def png_size(path):
    """(width, height) from a PNG's IHDR chunk, after checking the signature."""
    raw = open(path, "rb").read(32)
    assert raw[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert raw[12:16] == b"IHDR"
    return struct.unpack(">II", raw[16:24])


def test_circles_loss_decreases(tmp_path, capsys):
    out = tmp_path / "circles.png"
    assert main(["experiment", "circles", "--plot", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    losses = [float(l.split()[-1]) for l in lines if l.startswith("step")]
    assert len(losses) == 100
    # observed 8.617 -> 0.422 (Assignment 1's N(0, 1) weights start with a large L2 term; 1.158 -> 0.581
    # with the former He-initialised Network); the bound leaves room for other BLAS builds
    assert losses[-1] < 0.65 and losses[-1] < 0.6 * losses[0]
    assert all(b <= a + 0.05 for a, b in zip(losses, losses[1:]))  # no jumps up
    accuracy = float(lines[-1].split()[-1].rstrip("%"))
    assert accuracy >= 95.0
    assert png_size(out) == (550, 500)


def test_circles_runs_assignment_1s_classes():
    from jitprop.sequential import Dense, ReLU, SequentialNN
    model, x, y, losses, acc = experiments.circles(steps=3)
    assert isinstance(model, SequentialNN)
    assert [type(l) for l in model.layers] == [Dense, ReLU, Dense, ReLU, Dense]
    assert [l.W.shape for l in model.layers[::2]] == [(2, 16), (16, 16), (16, 1)]
    state = np.random.get_state()  # the weights come from RandomState(seed), not the global generator
    again = experiments.circles(steps=3)[0]
    assert np.array_equal(np.random.get_state()[1], state[1]) and np.random.get_state()[2] == state[2]
    for a, b in zip(model.get_params(), again.get_params()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("argv, match", [
    (["circles", "--lr", "0"], "argument --lr: expected a finite number > 0, got '0'"),  # was a ZeroDivisionError
    (["circles", "--steps", "-5"], "argument --steps: expected an integer >= 1, got '-5'"),  # ran zero steps
    (["circles", "--seed", "-1"], "argument --seed: expected an integer >= 0, got '-1'"),
    (["circles", "--weight-decay", "-0.1"], "argument --weight-decay: expected a finite number >= 0, got '-0.1'"),
    (["universal", "--bound", "nan"], "argument --bound: expected a finite number > 0, got 'nan'"),  # printed NaNs
    (["digits", "--batch-size", "0"], "argument --batch-size: expected an integer >= 1, got '0'"),
])
def test_bad_experiment_arguments_are_usage_errors(argv, match, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["experiment", *argv])
    assert exc.value.code == 2
    assert match in capsys.readouterr().err


def test_digits_accuracy():
    model, history, acc = experiments.digits()
    # observed 0.948: Assignment 1's classes (hinge loss, N(0, 1) weights, raw 0..16 pixels); the former
    # softmax + cross-entropy Network with He initialisation reached 0.983
    assert acc >= 0.9
    assert history.cost[-1] < 0.01 * history.cost[0]  # observed 59.9 -> 0.089
    assert len(history.cost) == 30 and type(model).__name__ == "SequentialNN"


def test_digits_without_scikit_learn_says_what_to_install(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(SystemExit, match="pip install scikit-learn"):
        main(["experiment", "digits"])


def test_two_step_neurons_make_a_box():
    x = np.array([-1.0, 0.0, 0.5, 0.999, 1.0, 2.0])
    np.testing.assert_array_equal(experiments.box(x, 0.0, 1.0, 3.0), [0, 3, 3, 3, 0, 0])


def test_universal_error_shrinks_as_boxes_double(tmp_path, capsys):
    out = tmp_path / "universal.png"
    assert main(["experiment", "universal", "--plot", str(out)]) == 0
    rows = [l.split() for l in capsys.readouterr().out.splitlines()[1:]]
    counts = [int(r[0]) for r in rows]
    max_err = [float(r[2]) for r in rows]
    assert counts == [4, 8, 16, 32, 64, 128, 256]
    # f is Lipschitz, so the error is O(width): it halves as the boxes double
    for a, b in zip(max_err, max_err[1:]):
        assert b < 0.6 * a
    assert max_err[-1] < 0.02
    assert png_size(out) == (700, 450)


def test_train_plot_and_inspect_pictures(mnist, tmp_path):
    ckpt, curves = tmp_path / "c.npz", tmp_path / "curves.png"
    done = subprocess.run([sys.executable, "-m", "jitprop", "train", "--layers", "784,16,10", "--val-size", "55000",
                           "--epochs", "2", "--batch-size", "50", "--lr", "0.001", "--quiet", "--save", str(ckpt),
                           "--plot", str(curves)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert png_size(curves) == (1100, 420)
    weights, preds = tmp_path / "w.png", tmp_path / "p.png"
    done = subprocess.run([sys.executable, "-m", "jitprop", "inspect", str(ckpt), "--weights", str(weights),
                           "--predictions", str(preds)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert png_size(weights) == (900, 380)  # two layers, 450 px each
    assert png_size(preds) == (1260, 600)   # 12 images in 2 rows of 6
    assert "misclassified of 12 shown" in done.stderr


def test_without_matplotlib_the_flags_say_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    for argv in (["experiment", "universal", "--plot", str(tmp_path / "u.png")],
                 ["experiment", "circles", "--plot", str(tmp_path / "c.png")],
                 ["train", "--plot", str(tmp_path / "t.png")]):
        with pytest.raises(SystemExit, match=r'pip install "jitprop\[plot\]"'):
            main(argv)
    assert list(tmp_path.iterdir()) == []


def test_learning_curves_draw_train_and_test_loss(monkeypatch, tmp_path):
    # Homework 1 Q4's figure: the train and test loss per epoch.
    from jitprop import plots
    figures = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: figures.append(fig) or path)
    records = [{"epoch": e, "cost": 1.0 / e, "val_accuracy": None, "val_loss": None, "test_accuracy": 0.8 + e / 100,
                "test_loss": 1.2 / e} for e in (1, 2, 3)]
    plots.learning_curves(records, tmp_path / "c.png", 0.83)
    loss_ax, acc_ax = figures[0].axes
    assert loss_ax.get_legend_handles_labels()[1] == ["training cost (mean minibatch cost)", "test loss"]
    assert list(loss_ax.lines[1].get_ydata()) == [r["test_loss"] for r in records]
    assert "test accuracy per epoch" in acc_ax.get_legend_handles_labels()[1]
