"""The end-to-end peer scripts (python -m jitprop.bench.torch_train and
jax_train): they train to jitprop's weights from the same flags, refuse what
they do not implement, and without their peer print one line naming the
extra and exit 1 (run without PyTorch or JAX installed too)."""
import subprocess
import sys

import numpy as np
import pytest

from jitprop.bench import jax_train, peers, torch_train


@pytest.mark.parametrize("script, module", [(jax_train, "jax"), (torch_train, "torch")])
def test_script_without_its_peer_names_the_extra(script, module, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, module, None)  # `import module` now raises ImportError
    with pytest.raises(SystemExit) as exc:
        script.main()
    message = str(exc.value.code)
    assert message == (f"python -m {script.__name__} needs {module}, which is not installed: "
                       'pip install "jitprop[peers]"')
    assert capsys.readouterr().out == ""  # nothing trained, nothing printed


def test_python_dash_m_without_jax_exits_1_with_one_line():
    blocker = ("import sys, runpy; sys.modules['jax'] = None; "
               "runpy.run_module('jitprop.bench.jax_train', run_name='__main__')")
    done = subprocess.run([sys.executable, "-c", blocker], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f'python -m jitprop.bench.jax_train needs jax, which is not installed: {peers.EXTRA}']
    assert done.stdout == ""


# The peer scripts redo a jitprop run from the same flags: a small one here.
SMALL = ["--layers", "784,16,10", "--epochs", "2", "--val-size", "57000", "--threads", "1"]


def _installed(module):
    import importlib.util
    return importlib.util.find_spec(module) is not None


@pytest.mark.parametrize("optimizer", [["--optimizer", "adam"], ["--optimizer", "sgd", "--no-mean-loss", "--lr",
                                                                  "0.001", "--schedule", "step", "--step-size", "1"]])
@pytest.mark.parametrize("script, module", [("jax_train", "jax"), ("torch_train", "torch")])
def test_peer_script_trains_to_jitprops_weights(mnist, tmp_path, script, module, optimizer):
    if not _installed(module):
        pytest.skip(f"{module} is not installed (the peers extra)")
    from jitprop.config import RunConfig
    from jitprop.session import Run
    out = tmp_path / "p.npy"
    done = subprocess.run([sys.executable, "-m", f"jitprop.bench.{script}", *SMALL, *optimizer, "--save-params",
                           str(out)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    settings = dict(layers="784,16,10", epochs=2, val_size=57000, threads=1,
                    **(dict(optimizer="adam") if optimizer[1] == "adam" else
                       dict(optimizer="sgd", mean_loss=False, lr=0.001, schedule="step", step_size=1)))
    ours = Run(RunConfig.from_preset("default", **settings), progress=False).train()
    theirs = np.load(out)
    assert theirs.dtype == np.float32 and theirs.shape == ours.net.params.shape
    # float32, 94 steps: the products and sums round differently, nothing more
    np.testing.assert_allclose(theirs, ours.net.params, rtol=0, atol=2e-5)
    accuracy = float(done.stdout.strip().splitlines()[-1].split()[-1].rstrip("%"))
    assert abs(accuracy - 100 * ours.test_accuracy) <= 0.2


@pytest.mark.parametrize("script", ["jax_train", "torch_train"])
def test_peer_script_refuses_what_it_does_not_implement(script):
    done = subprocess.run([sys.executable, "-m", f"jitprop.bench.{script}", "--optimizer", "sgd", "--momentum",
                           "0.9"], capture_output=True, text=True, timeout=120)
    if "is not installed" in done.stderr:
        pytest.skip(done.stderr.strip())
    assert done.returncode == 2
    assert "--momentum: the peer scripts implement plain SGD and Adam without weight decay; expected 0, got 0.9" \
        in done.stderr
