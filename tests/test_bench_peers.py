"""The end-to-end peer scripts without their peer: one line naming the
extra, exit status 1 (run without PyTorch or JAX installed too)."""
import subprocess
import sys

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
