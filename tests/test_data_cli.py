"""`jitprop data`: import, verify, path; usage errors exit 2, runtime
failures one line and exit 1, and an import never leaves a cache that a
later run rejects."""
import gzip
import os
import subprocess
import sys

import numpy as np
import pytest

from jitprop.cli import main
from jitprop.data.datasets import FASHION_SPEC, MNIST_SPEC
from test_data_fixtures import as_small, offline, small_arrays, small_fashion, write_set  # noqa: F401


def run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "jitprop", *args], capture_output=True, text=True, timeout=300,
                          env=None if env is None else dict(os.environ, **env))


def fails(argv):
    """The one-line message of a runtime failure (SystemExit with a text)."""
    with pytest.raises(SystemExit) as err:
        main(argv)
    assert isinstance(err.value.code, str), err.value.code
    return err.value.code


def test_import_then_verify_fashion(tmp_path, monkeypatch, small_fashion, capsys):
    monkeypatch.setenv("JITPROP_DATA_DIR", str(tmp_path / "cache"))
    assert main(["data", "import", "fashion-mnist", str(tmp_path / "idx")]) == 0
    out = capsys.readouterr().out
    assert out == (f"imported Fashion-MNIST: 20 training and 5 test images, verified, cached at "
                   f"{tmp_path / 'cache' / 'fashion-mnist.npz'}\n")
    assert main(["data", "verify", "--dataset", "fashion-mnist"]) == 0
    out = capsys.readouterr().out
    assert "the digests stored when it was built" in out and out.count("sha256 ok") == 4


def test_import_of_bad_files_caches_nothing(tmp_path, monkeypatch, offline):
    # 60000 images of 700 pixels and labels of 200, well-formed IDX files
    # under the published (unpacked) names: refused before anything is cached.
    monkeypatch.setenv("JITPROP_DATA_DIR", str(tmp_path / "cache"))
    idx = tmp_path / "idx"
    arrays = small_arrays()
    arrays["train-images-idx3-ubyte"] = np.zeros((60000, 28, 25), np.uint8)
    write_set(idx, arrays, gz=False)
    msg = fails(["data", "import", "mnist", str(idx)])
    assert msg == (f"jitprop data import mnist: {idx / 'train-images-idx3-ubyte'}: expected shape (60000, 28, 28), "
                   "the header declares (60000, 28, 25)")
    arrays = small_arrays()
    arrays["train-labels-idx1-ubyte"][4] = 200
    write_set(idx, arrays, gz=False)
    monkeypatch.setattr(MNIST_SPEC, "rows", {"train": 20, "test": 5})
    msg = fails(["data", "import-idx", str(idx)])
    assert msg == (f"jitprop data import-idx: {idx / 'train-labels-idx1-ubyte'}: expected labels in 0..9, "
                   "got 200 at index 4")
    assert not (tmp_path / "cache" / "mnist.npz").exists()


def test_import_refuses_files_with_another_md5(tmp_path, monkeypatch, offline):
    monkeypatch.setenv("JITPROP_DATA_DIR", str(tmp_path / "cache"))
    write_set(tmp_path / "idx", small_arrays())
    msg = fails(["data", "import", "fashion-mnist", str(tmp_path / "idx")])
    assert "train-images-idx3-ubyte.gz: MD5 " in msg and "does not match the published 8d4fb7e6c68d591d4c3dfef9ec88bf0d" in msg
    assert not (tmp_path / "cache" / "fashion-mnist.npz").exists()


def test_verify_fashion_offline_is_one_line_exit_1(tmp_path):
    done = run("data", "verify", "--dataset", "fashion-mnist",
               env={"JITPROP_DATA_DIR": str(tmp_path), "JITPROP_FASHION_URL": "http://127.0.0.1:9/"})
    assert done.returncode == 1 and done.stdout == ""
    lines = [ln for ln in done.stderr.splitlines() if not ln.startswith("jitprop: fetching")]
    assert len(lines) == 1 and lines[0].startswith("jitprop data verify: Fashion-MNIST is not cached")
    assert "jitprop data import fashion-mnist DIR" in lines[0]


def test_path_with_a_file_as_the_folder(tmp_path):
    f = tmp_path / "f"
    f.write_text("")
    done = run("data", "path", env={"JITPROP_DATA_DIR": str(f)})
    assert done.returncode == 1 and done.stderr == (f"jitprop data path: JITPROP_DATA_DIR: {f} is a file, not a "
                                                    "folder; give a folder (or set JITPROP_DATA_DIR to one)\n")


@pytest.mark.parametrize("argv, message", [
    (["data", "import", "fashion", "."], "invalid choice: 'fashion'"),
    (["data", "import", "mnist", "/no/such/folder"], "argument DIR: expected a folder holding the four IDX files"),
    (["data", "import", "mnist"], "the following arguments are required: DIR"),
    (["data", "verify", "--dataset", "cifar"], "invalid choice: 'cifar'"),
])
def test_usage_errors_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as err:
        main(argv)
    assert err.value.code == 2 and message in capsys.readouterr().err


def test_gzip_bomb_import_is_refused(tmp_path, monkeypatch, offline):
    # A crafted t10k-labels.gz: header says 5 labels, 64 MB of zeros follow.
    monkeypatch.setenv("JITPROP_DATA_DIR", str(tmp_path / "cache"))
    arrays = small_arrays()
    files = write_set(tmp_path / "idx", arrays)
    bomb = tmp_path / "idx" / "t10k-labels-idx1-ubyte.gz"
    with gzip.open(bomb, "wb") as f:
        f.write(bytes([0, 0, 8, 1]) + (5).to_bytes(4, "big"))
        for _ in range(64):
            f.write(bytes(1 << 20))
    files[bomb.name] = bomb.read_bytes()
    as_small(monkeypatch, FASHION_SPEC, files, arrays)
    msg = fails(["data", "import", "fashion-mnist", str(tmp_path / "idx")])
    assert msg.endswith("more data than the 5 bytes the header declares for shape (5,) (stopped reading there: "
                        "corrupt, or a decompression bomb)")
