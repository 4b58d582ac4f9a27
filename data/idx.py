"""Reader (and writer, for tests and users) of the IDX format of the
original MNIST files, plain or gzip-compressed."""
import gzip
import hashlib
from pathlib import Path

import numpy as np

# MD5 of the published .gz files.
IDX_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09}


class IDXError(ValueError):
    pass


def _open(path):
    path = Path(path)
    with open(path, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gz else open(path, "rb")


def read_idx(path):
    """Read an IDX file (``.gz`` or plain) into an array of its stored type."""
    with _open(path) as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _TYPES:
        raise IDXError(f"{path}: not an IDX file (bad magic number {raw[:4].hex()})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise IDXError(f"{path}: truncated header")
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_TYPES[raw[2]])
    want = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != want:
        raise IDXError(f"{path}: expected {want} data bytes for shape {shape}, found {len(raw) - header} (truncated or corrupt)")
    return np.frombuffer(raw, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(path, array, compress=None):
    """Write a uint8/int8 array as IDX; gzip it if ``compress`` (default: the
    name ends in ``.gz``)."""
    array = np.ascontiguousarray(array)
    if array.dtype not in _CODES:
        raise IDXError(f"array: expected uint8 or int8, got {array.dtype}")
    header = bytes([0, 0, _CODES[array.dtype], array.ndim])
    header += b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    compress = str(path).endswith(".gz") if compress is None else compress
    opener = gzip.open if compress else open
    with opener(path, "wb") as f:
        f.write(header + array.tobytes())


def _find(folder, stem):
    for name in (stem + ".gz", stem):
        p = Path(folder) / name
        if p.exists():
            return p
    raise FileNotFoundError(f"{folder}: expected {stem}.gz or {stem}")


def load_idx_folder(folder, check_md5=True):
    """Load the four MNIST IDX files from ``folder`` as
    ``(x_train, y_train, x_test, y_test)`` with images flattened to (N, 784).

    ``.gz`` files named as published are checked against their published MD5
    when ``check_md5``.
    """
    arrays = []
    for stem in IDX_FILES:
        path = _find(folder, stem)
        if check_md5 and path.name in IDX_MD5:
            digest = hashlib.md5(path.read_bytes()).hexdigest()
            if digest != IDX_MD5[path.name]:
                raise IDXError(f"{path}: MD5 {digest} does not match the published {IDX_MD5[path.name]}")
        arr = read_idx(path)
        if arr.dtype != np.uint8:
            raise IDXError(f"{path}: expected uint8 data, got {arr.dtype}")
        arrays.append(arr.reshape(arr.shape[0], -1) if "images" in stem else arr)
    x_train, y_train, x_test, y_test = arrays
    for xs, ys, what in ((x_train, y_train, "train"), (x_test, y_test, "t10k")):
        if xs.shape[0] != ys.shape[0]:
            raise IDXError(f"{folder}: {what} has {xs.shape[0]} images but {ys.shape[0]} labels")
    return x_train, y_train, x_test, y_test
