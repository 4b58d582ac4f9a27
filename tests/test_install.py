"""The installed package: jitprop.* only, nothing under a bare name."""
import subprocess
import sys

import pytest


@pytest.mark.parametrize("bare", ["data", "model", "kernels", "bench"])
def test_no_bare_top_level_packages(bare, tmp_path):
    done = subprocess.run([sys.executable, "-c", f"import {bare}"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode != 0 and "ModuleNotFoundError" in done.stderr


def test_subpackages_import_under_jitprop(tmp_path):
    code = "import jitprop.kernels, jitprop.model, jitprop.data, jitprop.bench, jitprop.functional; print('ok')"
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert done.stdout.strip() == "ok", done.stderr


def test_console_script_is_installed(tmp_path):
    import pathlib
    import shutil
    beside = pathlib.Path(sys.executable).parent / "jitprop"  # where pip puts the venv's scripts
    exe = str(beside) if beside.exists() else shutil.which("jitprop")
    assert exe is not None
    done = subprocess.run([exe, "--help"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0 and "train" in done.stdout and "verify" in done.stdout
