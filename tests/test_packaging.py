"""Packaging: one version, a license, an sdist whose tests run, typed."""
import subprocess
import sys
import tarfile
from importlib.metadata import metadata, version
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_the_version_is_written_once_and_read_from_metadata():
    import jitprop
    assert jitprop.__version__ == version("jitprop")
    done = subprocess.run([sys.executable, "-m", "jitprop", "--version"], capture_output=True, text=True)
    assert done.stdout.strip() == f"jitprop {version('jitprop')}"
    hits = [p for p in ROOT.rglob("*.py") if ".ci" not in p.parts and version("jitprop") in p.read_text()
            and p.name != "test_packaging.py"]
    assert hits == []  # no second copy of the version string in the code


def test_license_and_typing_markers():
    meta = metadata("jitprop")
    assert meta.get("License-Expression") == "MIT"
    assert "MIT License" in (ROOT / "LICENSE").read_text()
    assert (ROOT / "jitprop" / "py.typed").exists()
    assert ".venv/" in (ROOT / ".gitignore").read_text()
    extras = set(meta.get_all("Provides-Extra"))
    assert {"plot", "peers", "test"} <= extras


@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="needs the git checkout to list the tracked files")
def test_the_sdist_carries_the_tests_and_their_conftest(tmp_path):
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    src = tmp_path / "src"
    for name in tracked:
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_bytes((ROOT / name).read_bytes())
    done = subprocess.run([sys.executable, "-m", "build", "--sdist", "--outdir", str(tmp_path / "dist"), str(src)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    (sdist,) = (tmp_path / "dist").glob("*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    want = {n for n in tracked if n.startswith("tests/") and n.endswith(".py")} | {"LICENSE", "jitprop/py.typed"}
    assert want <= names, sorted(want - names)
