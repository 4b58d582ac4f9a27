"""Your own data (.npz, .csv), the load_dataset front door, the HaMLeT split
and raw scaling, and the argument checks of the data helpers."""
import io
import re
import zipfile

import numpy as np
import pytest

from jitprop.data import (
    DataFileError, dataset_arrays, hamlet_split, load_arrays, load_dataset, mnist_arrays, shuffle, two_circles,
    validation_split, vectorize,
)


def npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def test_npz_any_width_and_classes(tmp_path, rng):
    x = rng.standard_normal((40, 3))
    y = np.arange(40) % 7
    d = load_arrays(npz(tmp_path / "d.npz", x_train=x, y_train=y, x_test=x[:5], y_test=y[:5]))
    assert (d.n_features, d.n_classes) == (3, 7) and d.y_train.dtype == np.int64
    np.testing.assert_array_equal(d.x_train, x)
    assert d.x_test.shape == (5, 3) and d.source == str(tmp_path / "d.npz")
    d = load_arrays(npz(tmp_path / "e.npz", x_train=rng.integers(0, 256, (12, 4, 4)).astype(np.uint8),
                        y_train=(np.arange(12) % 2).reshape(12, 1)))
    assert d.x_train.shape == (12, 16) and d.x_test is None and d.y_train.shape == (12,)


def test_csv_with_and_without_header(tmp_path):
    body = "3,0,255,7\n0,1,2,3\n1,4,5,6\n2,9,9,9\n"
    (tmp_path / "a.csv").write_text("label,p1,p2,p3\n" + body)
    (tmp_path / "b.csv").write_text(body)
    a, b = load_arrays(tmp_path / "a.csv"), load_arrays(tmp_path / "b.csv")
    for d in (a, b):
        assert d.x_train.dtype == np.uint8 and d.x_train.shape == (4, 3) and d.n_classes == 4
        np.testing.assert_array_equal(d.y_train, [3, 0, 1, 2])
    (tmp_path / "c.csv").write_text("1,0.5,-2\n0,1e3,0\n")
    c = load_arrays(tmp_path / "c.csv", test_path=tmp_path / "c.csv")
    assert c.x_train.dtype == np.float64 and c.x_test.shape == (2, 2)


def test_a_folder_of_idx_files(tmp_path, rng):
    from jitprop.data import write_idx
    write_idx(tmp_path / "letters-train-images-idx3-ubyte.gz", rng.integers(0, 256, (26, 6, 6)).astype(np.uint8))
    write_idx(tmp_path / "letters-train-labels-idx1-ubyte.gz", np.arange(26, dtype=np.uint8))
    d = load_dataset(str(tmp_path))
    assert (d.n_features, d.n_classes) == (36, 26) and d.x_test is None


def test_mnist_csv_reads_as_load_mnist(tmp_path, mnist):
    x, y = mnist[2][:200], mnist[3][:200]
    table = np.column_stack([y, x])
    (tmp_path / "m.csv").write_text("label," + ",".join(f"p{i}" for i in range(784)) + "\n" +
                                    "\n".join(",".join(map(str, r)) for r in table) + "\n")
    d = load_arrays(tmp_path / "m.csv")
    np.testing.assert_array_equal(d.x_train, x)
    assert d.x_train.dtype == np.uint8 and d.n_features == 784


@pytest.mark.parametrize("arrays, message", [
    (dict(x_train=np.zeros(5), y_train=np.arange(5)), r"x_train: expected \(rows, features\) of 2 or more dimensions, got shape \(5,\)"),
    (dict(x_train=np.zeros((0, 3)), y_train=np.zeros(0, int)), r"x_train: expected at least one row and one feature, got shape \(0, 3\)"),
    (dict(x_train=np.array([[1.0, np.nan], [0, 0]]), y_train=[0, 1]), "x_train: expected finite values, got nan at row 0, column 1"),
    (dict(x_train=np.zeros((2, 2)), y_train=[0.0, 1.5]), "y_train: expected integer labels, got 1.5 at row 1"),
    (dict(x_train=np.zeros((2, 2)), y_train=[True, False]), "y_train: expected integer labels, got dtype bool"),
    (dict(x_train=np.zeros((3, 2)), y_train=[1, 2, 3]), r"y_train: expected labels 0..K-1 with every class present; labels run 1..3 but class 0 has no rows \(labels must count from 0\)"),
    (dict(x_train=np.zeros((3, 2)), y_train=[0, 2, 2]), "class 1 has no rows"),
    (dict(x_train=np.zeros((3, 2)), y_train=[0, -1, 1]), "y_train: expected labels 0..K-1, got -1 at row 1"),
    (dict(x_train=np.zeros((3, 2)), y_train=[0, 0, 0]), "expected at least 2 classes"),
    (dict(x_train=np.zeros((3, 2)), y_train=[0, 1, 10**12]), "labels run up to 1000000000000 but there are only 3 rows"),
    (dict(x_train=np.zeros((100, 2)), y_train=np.arange(50) % 2), "y_train has 50 labels but x_train has 100 rows"),
    (dict(x_train=np.zeros((2, 2)), y_train=np.eye(2)), r"expected 1-D class labels, got shape \(2, 2\) \(one-hot\?"),
    (dict(x_train=np.zeros((2, 2)), y_train=[0, 1], x_test=np.zeros((1, 3)), y_test=[0]), "x_test: expected 2 features per row"),
    (dict(x_train=np.zeros((2, 2)), y_train=[0, 1], x_test=np.zeros((1, 2)), y_test=[2]), r"y_test: expected labels in 0..1 \(the classes of y_train\), got 2 at row 0"),
    (dict(x_train=np.zeros((2, 2)), y_train=[0, 1], x_test=np.zeros((1, 2))), "has x_test but not y_test"),
    (dict(x=np.zeros((2, 2)), y=[0, 1]), r"no array x_train; expected x_train, y_train and optionally x_test, y_test, found \['x', 'y'\]"),
    (dict(x_train=np.array(["a", "b"]).reshape(2, 1), y_train=[0, 1]), "x_train: expected numbers .integer or float., got dtype <U1"),
])
def test_npz_errors_name_file_array_and_problem(tmp_path, arrays, message):
    path = npz(tmp_path / "bad.npz", **{k: np.asarray(v) for k, v in arrays.items()})
    with pytest.raises(DataFileError) as err:
        load_arrays(path)
    assert str(err.value).startswith(f"{path}: ") and re.search(message, str(err.value)), str(err.value)


def test_npz_object_arrays_are_refused_without_unpickling(tmp_path):
    path = tmp_path / "obj.npz"
    np.savez(path, x_train=np.array([{"a": 1}, None], dtype=object), y_train=np.array([0, 1]))
    with pytest.raises(DataFileError, match=r"x_train: holds Python objects \(object\); only numeric arrays"):
        load_arrays(path)


def test_npz_header_claiming_a_huge_array_is_refused_before_reading(tmp_path):
    import tracemalloc
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": (10**7, 10**5)})
    path = tmp_path / "huge.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("x_train.npy", buf.getvalue() + bytes(100))
        z.writestr("y_train.npy", buf.getvalue())
    tracemalloc.start()
    try:
        with pytest.raises(DataFileError, match=r"x_train: the header declares shape \(10000000, 100000\) of float64 "
                                                r"\(8000000000000 bytes\) but the member holds 100 bytes"):
            load_arrays(path)
        assert tracemalloc.get_traced_memory()[1] < 1 << 20
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("text, message", [
    ("", "empty"),
    ("label,a,b\n", "no data rows after the header line"),
    ("1,2\n0,3\n1,x\n", "not a table of numbers: line 3, column 2: 'x' is not a number"),
    ("a,b\n1,2\n0,3,4\n", "not a table of numbers: line 3 has 3 fields, the first data line has 2"),
    ("1\n0\n", "expected a label column and at least one feature column, got 1 column"),
    ("h1,h2\n1,2\n0,nan\n", r"x_train: expected finite numbers, got nan at line 3, column 2"),
    ("1.5,2\n0,3\n", r"y_train \(column 1, the labels\): expected integer labels, got 1.5 at line 1"),
    ("1,2\n2,3\n", "class 0 has no rows"),
])
def test_csv_errors_name_file_line_and_column(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(DataFileError) as err:
        load_arrays(path)
    assert str(err.value).startswith(f"{path}: ") and re.search(message, str(err.value)), str(err.value)


def test_other_files(tmp_path):
    with pytest.raises(DataFileError, match="no such file"):
        load_arrays(tmp_path / "none.npz")
    (tmp_path / "d.txt").write_text("1,2\n")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataFileError, match=r"empty: no file named like \*train-images\* for x_train"):
        load_arrays(tmp_path / "empty")
    with pytest.raises(DataFileError, match=r"d.txt: expected a .npz or .csv file, got .txt"):
        load_arrays(tmp_path / "d.txt")
    (tmp_path / "z.npz").write_text("not a zip")
    with pytest.raises(DataFileError, match="z.npz: not a readable .npz file"):
        load_arrays(tmp_path / "z.npz")


def test_load_dataset_front_door(tmp_path, mnist, rng):
    d = load_dataset("mnist")
    assert (d.n_features, d.n_classes, d.source) == (784, 10, "mnist") and d.x_test.shape == (10000, 784)
    path = npz(tmp_path / "d.npz", x_train=rng.standard_normal((30, 2)), y_train=np.arange(30) % 3)
    assert load_dataset(str(path)).n_classes == 3
    with pytest.raises(ValueError, match=r"dataset: expected one of \('mnist', 'fashion-mnist'\) or the path of a "
                                         r"\.npz or \.csv file, got 'fashoin' \(no such file\)"):
        load_dataset("fashoin")


def test_dataset_arrays_on_a_file(tmp_path, rng):
    path = npz(tmp_path / "d.npz", x_train=rng.standard_normal((30, 2)) * 5 + 3, y_train=np.arange(30) % 3)
    d = dataset_arrays(str(path), np.float32, 6)
    assert d["x_train"].shape == (24, 2) and d["x_val"].shape == (6, 2) and d["x_test"] is None
    assert d["x_train"].dtype == np.float32 and abs(float(d["x_train"].mean())) < 1e-5
    assert (d["n_features"], d["n_classes"]) == (2, 3)
    with pytest.raises(ValueError, match="split: 'hamlet' pools the training and test rows; .*d.npz has no test set"):
        dataset_arrays(str(path), split="hamlet")


# --- the HaMLeT split, raw scaling, mnist_arrays -------------------------------

def seed_load_data(images, labels, seed):
    """HaMLeT's load_data and split, as in the seed notebook (float64)."""
    np.random.seed(seed)
    p = np.random.permutation(images.shape[0])
    images, labels = images[p, :], labels[p]
    images = (images - np.mean(images)) / np.std(images)
    return images[:50000], labels[:50000], images[50000:], labels[50000:]


def test_hamlet_split_is_the_seeds(mnist):
    x_all = np.concatenate([mnist[0], mnist[2]])
    y_all = np.concatenate([mnist[1], mnist[3]])
    d = hamlet_split(x_all, y_all, seed=7)
    want = seed_load_data(x_all.astype(np.float64), y_all, 7)
    np.testing.assert_array_equal(d["y_train"], want[1])
    np.testing.assert_array_equal(d["y_val"], want[3])
    # same statistics (mean exact, std to rounding), so the same values to rounding
    np.testing.assert_allclose(d["x_val"], want[2], rtol=1e-12, atol=1e-12)
    assert d["x_train"].shape == (50000, 784) and d["x_val"].shape == (20000, 784)
    assert d["mean"] == float(np.mean(x_all.astype(np.float64)))


def test_mnist_arrays_options(mnist):
    old = mnist_arrays(np.float32, 10000)  # the lead's call
    assert old["x_train"].shape == (50000, 784) and old["x_test"].shape == (10000, 784)
    assert old["x_train"].dtype == np.float32 and old["y_train"].dtype == np.uint8
    h = mnist_arrays(np.float64, split="hamlet", seed=3)
    assert h["x_train"].shape == (50000, 784) and h["x_val"].shape == (20000, 784) and h["x_test"] is None
    raw = mnist_arrays(np.float32, 0, scale="raw")
    assert (raw["mean"], raw["std"]) == (0.0, 1.0) and raw["x_val"] is None
    np.testing.assert_array_equal(raw["x_test"], mnist[2].astype(np.float32))
    assert float(raw["x_train"].max()) == 255.0


@pytest.mark.parametrize("kwargs, message", [
    (dict(dtype=np.int8), "dtype: expected float64 or float32, got <class 'numpy.int8'>"),
    (dict(dtype="float16"), "dtype: expected float64 or float32, got 'float16'"),
    (dict(split="random"), r"split: expected one of \('holdout', 'hamlet'\), got 'random'"),
    (dict(scale="minmax"), r"scale: expected one of \('standardize', 'raw'\), got 'minmax'"),
    (dict(split="hamlet", seed=-1), "seed: expected None or an integer >= 0, got -1"),
    (dict(n_val=60000), r"n_val: expected an integer in 0..59999, got 60000"),
])
def test_mnist_arrays_bad_arguments(mnist, kwargs, message):
    with pytest.raises(ValueError, match=message):
        mnist_arrays(**kwargs)


def test_vectorize_one_label_like_the_seed():
    def seed_vectorize(j):
        v = np.zeros((1, 10))
        v[0, int(j)] = 1.0
        return v
    for j in (0, 7, np.uint8(3), np.int64(9), 4.0, np.array(5)):
        np.testing.assert_array_equal(vectorize(j), seed_vectorize(j))
    np.testing.assert_array_equal(vectorize([1, 2]), np.eye(10)[[1, 2]])  # arrays as before
    with pytest.raises(ValueError, match="labels: expected labels in 0..9, got 10"):
        vectorize(10)
    with pytest.raises(TypeError, match="labels: expected an integer class label, got 2.5"):
        vectorize(2.5)
    with pytest.raises(ValueError, match="dtype: expected float64 or float32"):
        vectorize([1], dtype=np.int32)


def test_helper_argument_checks(rng):
    x = np.zeros((100, 3))
    with pytest.raises(ValueError, match="x and y: expected the same number of rows, got 100 and 50"):
        validation_split(x, np.zeros(50), 10)
    with pytest.raises(ValueError, match="seed: expected None or an integer >= 0, got -1"):
        shuffle(x, np.zeros(100), seed=-1)
    for kwargs, message in [(dict(n=-1), "n: expected an integer >= 2, got -1"),
                            (dict(n=2.5), "n: expected an integer >= 2, got 2.5"),
                            (dict(noise=float("nan")), "noise: expected a finite number, got nan"),
                            (dict(noise=-0.1), "noise: expected a number >= 0.0, got -0.1"),
                            (dict(factor=0), "factor: expected a number > 0.0, got 0"),
                            (dict(factor=1.5), r"factor: expected a number in \(0, 1\)"),
                            (dict(seed=1.5), "seed: expected None or an integer >= 0, got 1.5")]:
        with pytest.raises(ValueError, match=message):
            two_circles(**kwargs)
    with pytest.raises(ValueError, match="x_all and y_all: expected the same number of rows"):
        hamlet_split(x, np.zeros(99), 0)
