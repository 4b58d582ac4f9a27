"""Where jitprop keeps data, and the cache files in it.

A cache is one compressed ``.npz`` per data set holding uint8 arrays and the
SHA-256 of each, written atomically. Reading one needs no write: the build
lock is taken only to build, and whoever holds it removes the temporary
files and folders a killed build left (``.<cache name>.*.tmp``).
"""
import contextlib
import errno
import glob
import hashlib
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from jitprop.data.errors import CacheUnavailable
from jitprop.files import atomic_write, file_lock

ENV = "JITPROP_DATA_DIR"


def data_dir(path=None):
    """The cache folder: ``path``, else ``$JITPROP_DATA_DIR``, else
    ``$XDG_CACHE_HOME/jitprop``, else ``$HOME/.cache/jitprop``. Created if
    missing. Raises ``CacheUnavailable`` (naming ``JITPROP_DATA_DIR``) when
    none of these is set, or the folder is a file or cannot be created."""
    what = "cache_dir"
    if path is None:
        path, what = os.environ.get(ENV) or None, ENV
    if path is None:
        base = os.environ.get("XDG_CACHE_HOME") or None
        if base is None and os.environ.get("HOME"):
            base = os.path.join(os.environ["HOME"], ".cache")
        if base is None:
            raise CacheUnavailable(f"no folder for jitprop's data: HOME and XDG_CACHE_HOME are not set; "
                                   f"set {ENV} to a writable folder")
        path, what = os.path.join(base, "jitprop"), "the default cache folder"
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise CacheUnavailable(f"{what}: {path} is a file, not a folder; give a folder "
                               f"(or set {ENV} to one)")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CacheUnavailable(f"{what}: cannot create the folder {path} ({exc.strerror}); "
                               f"set {ENV} to a writable folder") from exc
    return path


def sha256(arr):
    """SHA-256 (hex) of ``arr.tobytes()`` in C order (hashed in place, no copy)."""
    return hashlib.sha256(np.ascontiguousarray(arr).reshape(-1).view(np.uint8)).hexdigest()


def file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify_arrays(arrays, shapes, digests):
    """Raise ``ValueError`` naming the first array whose dtype (uint8), shape
    (``shapes[key]``, None for a free size) or SHA-256 (``digests[key]``) is
    not the expected one."""
    for key, shape in shapes.items():
        a = arrays[key]
        ok_shape = a.ndim == len(shape) and all(w is None or w == g for w, g in zip(shape, a.shape))
        if a.dtype != np.uint8 or not ok_shape:
            raise ValueError(f"{key}: expected uint8 {shape}, got {a.dtype} {a.shape}")
        digest = sha256(a)
        if digest != digests[key]:
            raise ValueError(f"{key}: SHA-256 {digest} does not match the expected {digests[key]}")


def read_cache(path, keys):
    """``(arrays, stored_digests, source)`` of a cache file; any damage raises."""
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is not an .npz (zip) file")
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in keys}
        stored = {k: str(z[f"sha256_{k}"]) for k in keys}
        source = str(z["source"])
    return arrays, stored, source


def write_cache(path, arrays, source):
    """Write ``arrays`` and their SHA-256 atomically to ``path`` (an
    uncompressed .npz; compressed ones written before are read as well). A failed
    write (full disk, read-only folder) raises ``CacheUnavailable``."""
    extra = {f"sha256_{k}": np.array(sha256(a)) for k, a in arrays.items()}
    try:
        with atomic_write(path) as f:
            # uncompressed: reading 55 MB of MNIST from the page cache beats
            # inflating 11 MB (0.14 s) on every run
            np.savez(f, source=np.array(source), **arrays, **extra)
    except OSError as exc:
        raise CacheUnavailable(cannot_write(path, exc)) from exc


def cannot_write(path, exc):
    """The message for an ``OSError`` while writing under the cache folder."""
    reason = "the disk is full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
    return (f"cannot write {path} ({reason}); free some space or set {ENV} "
            f"to another folder")


def stale_pattern(cache_name):
    """The glob of our temporary files and folders for ``cache_name``."""
    return f".{glob.escape(cache_name)}.*.tmp"


def temp_folder(folder, cache_name):
    """A new temporary folder of our naming in ``folder`` (remove it when done;
    if the process is killed, the next build removes it)."""
    try:
        return Path(tempfile.mkdtemp(prefix=f".{cache_name}.", suffix=".tmp", dir=folder))
    except OSError as exc:
        raise CacheUnavailable(cannot_write(Path(folder) / f".{cache_name}.*.tmp", exc)) from exc


def clean_stale(folder, cache_name):
    """Remove ``.<cache_name>.*.tmp`` files and folders in ``folder``. Call
    only while holding the build lock: every build makes its temporaries
    under that lock, so any found then were left by a killed process."""
    removed = []
    for p in Path(folder).glob(stale_pattern(cache_name)):
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
        removed.append(p.name)
    return removed


def clean_stale_if_idle(folder, cache_name):
    """After a read: if temporaries of our naming are there and no build
    holds the lock, remove them; a folder we cannot write is left alone."""
    if not any(Path(folder).glob(stale_pattern(cache_name))):
        return
    import fcntl
    try:
        with open(Path(folder) / f"{cache_name}.lock", "a") as f:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            try:
                clean_stale(folder, cache_name)
            finally:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)
    except OSError:
        pass  # a build is running (it cleans), or the folder is read-only


@contextlib.contextmanager
def build_lock(folder, cache_name):
    """Hold ``<folder>/<cache_name>.lock`` while building, after removing stale
    temporaries. A lock that cannot be taken (read-only folder, the lock path
    is a folder) raises ``CacheUnavailable``."""
    lock = Path(folder) / f"{cache_name}.lock"
    stack = contextlib.ExitStack()
    try:
        stack.enter_context(file_lock(lock))
    except OSError as exc:
        raise CacheUnavailable(f"cannot build the cache in {folder}: cannot take the lock {lock} "
                               f"({exc.strerror or exc}); remove it if it is not a file, or set "
                               f"{ENV} to a writable folder") from exc
    with stack:
        clean_stale(folder, cache_name)
        yield


def move_aside(path):
    """Rename a damaged cache to ``<name>.corrupt`` (replacing an older one)."""
    aside = path.with_name(path.name + ".corrupt")
    try:
        if aside.is_dir() and not aside.is_symlink():
            raise IsADirectoryError(errno.EISDIR, "it is a folder")
        os.replace(path, aside)
    except OSError as exc:
        raise CacheUnavailable(f"the cache {path} is damaged and cannot be moved aside to {aside} "
                               f"({exc.strerror or exc}); remove both, or set {ENV} to another "
                               f"folder") from exc
    return aside
