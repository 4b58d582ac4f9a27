"""The named data sets (MNIST, Fashion-MNIST): what they are, how to check
them, and the one way they are cached.

Each is 60000 training and 10000 test images of 28x28 uint8 pixels with
uint8 labels 0..9, published as four IDX ``.gz`` files with known MD5s.
:func:`load_named` reads the cache, else builds it from the sources the data
set's module gives, under the build lock.
"""
import contextlib
import hashlib
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from jitprop.data import cache
from jitprop.data.download import DownloadError, base_urls, fetch
from jitprop.data.errors import CacheUnavailable, FashionMNISTUnavailable, IDXError, MNISTUnavailable
from jitprop.data.idx import IDX_FILES, IDX_MD5, check_labels_file, find_idx, read_idx

KEYS = ("x_train", "y_train", "x_test", "y_test")
FILE_KEYS = dict(zip(KEYS, IDX_FILES))


@dataclass
class Dataset:
    """A named data set. Tests replace ``md5``, ``rows`` and ``sha256`` with
    those of small files they write."""
    name: str                  # as on the command line: "mnist"
    title: str                 # in messages: "MNIST"
    cache_name: str            # file in the cache folder
    md5: dict                  # published .gz name -> MD5
    urls: tuple                # HTTPS base URLs of the four .gz files
    url_env: str               # overrides urls
    idx_env: str               # a folder of the IDX files
    home: str                  # where a person gets the files
    error: type                # the unavailable error
    sha256: dict = None        # SHA-256 of the decoded arrays, when published/known
    rows: dict = field(default_factory=lambda: {"train": 60000, "test": 10000})
    image_shape: tuple = (28, 28)
    n_classes: int = 10

    def shapes(self):
        """Expected shape of each cached array."""
        n = int(np.prod(self.image_shape))
        r = self.rows
        return {"x_train": (r["train"], n), "y_train": (r["train"],),
                "x_test": (r["test"], n), "y_test": (r["test"],)}

    def idx_shape(self, key):
        split = "train" if key.endswith("train") else "test"
        return (self.rows[split], *self.image_shape) if key.startswith("x") else (self.rows[split],)

    def max_gz_bytes(self, key):
        """Cap for a download: the raw IDX size plus 1% and 4 KB (gzip of
        incompressible data is barely larger than the data)."""
        raw = 16 + int(np.prod(self.idx_shape(key)))
        return raw + raw // 100 + 4096

    def how_to_get(self):
        names = ", ".join(f + ".gz" for f in IDX_FILES)
        return (f"get the four files ({names}) from {self.home}, put them in one folder DIR, and run "
                f"`jitprop data import {self.name} DIR` (or set {self.idx_env}=DIR)")


MNIST_SPEC = Dataset(
    name="mnist", title="MNIST", cache_name="mnist.npz", md5=IDX_MD5,
    urls=("https://ossci-datasets.s3.amazonaws.com/mnist/",
          "https://storage.googleapis.com/cvdf-datasets/mnist/"),
    url_env="JITPROP_MNIST_URL", idx_env="JITPROP_MNIST_IDX",
    home="https://ossci-datasets.s3.amazonaws.com/mnist/ (a mirror of yann.lecun.com/exdb/mnist)",
    error=MNISTUnavailable)

FASHION_SPEC = Dataset(
    name="fashion-mnist", title="Fashion-MNIST", cache_name="fashion-mnist.npz",
    md5={"train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
         "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
         "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
         "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310"},
    # The README's links are the S3 website endpoint, which serves plain HTTP
    # only; the same bucket over HTTPS, then the repository's data/fashion.
    urls=("https://fashion-mnist.s3.eu-central-1.amazonaws.com/",
          "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"),
    url_env="JITPROP_FASHION_URL", idx_env="JITPROP_FASHION_IDX",
    home="https://github.com/zalandoresearch/fashion-mnist (folder data/fashion)",
    error=FashionMNISTUnavailable)

NAMES = {"mnist": MNIST_SPEC, "fashion-mnist": FASHION_SPEC}


def get(name):
    """The ``Dataset`` called ``name`` ("mnist" or "fashion-mnist")."""
    key = name.lower().replace("_", "-") if isinstance(name, str) else name
    if key not in NAMES:
        raise ValueError(f"dataset: expected one of {tuple(NAMES)}, got {name!r}")
    return NAMES[key]


def say(msg):
    print(f"jitprop: {msg}", file=sys.stderr, flush=True)


def check(spec, arrays, stored=None):
    """Raise ``ValueError`` unless ``arrays`` have the data set's shapes and
    labels and match its known SHA-256 (else the ``stored`` ones)."""
    digests = spec.sha256 if spec.sha256 is not None else stored
    if digests is None:
        digests = {k: cache.sha256(arrays[k]) for k in KEYS}
    cache.verify_arrays(arrays, spec.shapes(), digests)
    for k in ("y_train", "y_test"):
        if arrays[k].size and arrays[k].max() >= spec.n_classes:
            raise ValueError(f"{k}: expected labels in 0..{spec.n_classes - 1}, got {int(arrays[k].max())}")


def read_named_idx(spec, folder):
    """The four published IDX files of ``spec`` in ``folder`` (``.gz`` or
    unpacked), checked: MD5 of each ``.gz``, shapes from the headers before
    any data is read, labels 0..9, and the SHA-256 of the decoded arrays
    where known. Raises ``IDXError`` naming the file and what is wrong."""
    folder = Path(folder)
    if not folder.is_dir():
        raise IDXError(f"{folder}: not a folder")
    arrays = {}
    for key, stem in FILE_KEYS.items():
        path = find_idx(folder, stem)
        if path.name not in spec.md5:
            if spec.sha256 is None:
                say(f"{path} is unpacked: its {spec.title} MD5 is published for the .gz only, "
                    "so only its shape and labels are checked")
        else:
            digest = _md5(path)
            if digest != spec.md5[path.name]:
                raise IDXError(f"{path}: MD5 {digest} does not match the published {spec.md5[path.name]} "
                               f"of {spec.title}'s {path.name}")
        a = read_idx(path, expect_shape=spec.idx_shape(key))
        if a.dtype != np.uint8:
            raise IDXError(f"{path}: expected uint8 data, got {a.dtype}")
        if key.startswith("y"):
            check_labels_file(path, a, spec.n_classes)
        arrays[key] = a.reshape(a.shape[0], -1) if key.startswith("x") else a
    if spec.sha256 is not None:
        for key in KEYS:
            digest = cache.sha256(arrays[key])
            if digest != spec.sha256[key]:
                raise IDXError(f"{find_idx(folder, FILE_KEYS[key])}: the decoded {key} has SHA-256 "
                               f"{digest}, not {spec.title}'s {spec.sha256[key]}")
    return arrays


def _md5(path):
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def download_idx(spec, folder):
    """Fetch the four ``.gz`` files of ``spec`` into ``folder`` from its
    mirrors (or ``$<url_env>``), each size-capped and MD5-checked, and read
    them as :func:`read_named_idx` does. Raises ``DownloadError`` listing
    each mirror's failure."""
    failures = []
    for base in base_urls(spec.urls, spec.url_env):
        try:
            for key, stem in FILE_KEYS.items():
                name = stem + ".gz"
                if not (Path(folder) / name).exists():
                    fetch(base + name, Path(folder) / name, spec.md5[name], spec.max_gz_bytes(key))
            return read_named_idx(spec, folder)
        except (DownloadError, IDXError) as exc:
            failures.append(str(exc))
    raise DownloadError("; ".join(failures))


def read_verified(spec, path):
    """The arrays of the cache at ``path``, verified; raises on any damage."""
    arrays, stored, _ = cache.read_cache(path, KEYS)
    check(spec, arrays, stored)
    return arrays


def load_named(spec, cache_dir, build):
    """``(x_train, y_train, x_test, y_test)`` of ``spec`` from its cache; if
    it is missing or damaged, ``build(folder)`` returns ``(arrays, source)``
    under the build lock and the verified arrays are cached.

    Reading a good cache takes no lock and writes nothing. A damaged cache is
    moved aside to ``<name>.corrupt`` and rebuilt.
    """
    folder = cache.data_dir(cache_dir)
    path = folder / spec.cache_name
    damage = None
    if path.exists():
        try:
            arrays = read_verified(spec, path)
        except Exception as exc:  # any damage: zip, CRC, missing key, digest
            damage = exc
        else:
            cache.clean_stale_if_idle(folder, spec.cache_name)
            return _tuple(arrays)
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(cache.build_lock(folder, spec.cache_name))
        except CacheUnavailable as exc:
            if damage is None:
                raise
            raise CacheUnavailable(f"the {spec.title} cache {path} is damaged ({type(damage).__name__}: "
                                   f"{damage}) and cannot be rebuilt: {exc}") from exc
        if path.exists():  # again: another process may have rebuilt it meanwhile
            try:
                return _tuple(read_verified(spec, path))
            except Exception as exc:
                aside = cache.move_aside(path)
                say(f"the {spec.title} cache {path} is damaged ({type(exc).__name__}: {exc}); "
                    f"moved it to {aside.name} and rebuilding")
        arrays, source = build(folder)
        check(spec, arrays)
        cache.write_cache(path, arrays, source)
        say(f"{spec.title} verified (SHA-256) and cached at {path}")
        return _tuple(arrays)


def import_idx(spec, folder, cache_dir=None):
    """Check the IDX files of ``spec`` in ``folder``, cache them, and read the
    cache back through the normal verified path; returns the arrays."""
    arrays = read_named_idx(spec, folder)
    check(spec, arrays)
    target = cache.data_dir(cache_dir)
    path = target / spec.cache_name
    with cache.build_lock(target, spec.cache_name):
        cache.write_cache(path, arrays, "idx")
    return _tuple(read_verified(spec, path))


def build_from_idx_env(spec):
    """``$<idx_env>`` as a source: its arrays, or None when it is not set."""
    folder = os.environ.get(spec.idx_env)
    if not folder:
        return None
    try:
        return read_named_idx(spec, folder)
    except IDXError as exc:
        raise IDXError(f"{spec.idx_env}: {exc}") from exc


def build_from_download(spec, folder):
    """Fetch and check the four files in a temporary folder of our naming."""
    tmp = cache.temp_folder(folder, spec.cache_name)
    try:
        say(f"fetching {spec.title}: the four IDX files over HTTPS ...")
        return download_idx(spec, tmp)
    except OSError as exc:
        raise spec.error(cache.cannot_write(tmp, exc)) from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _tuple(arrays):
    return tuple(arrays[k] for k in KEYS)
