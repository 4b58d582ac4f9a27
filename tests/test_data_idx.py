"""IDX files: any well-formed set is read; crafted or wrong files are refused
with a message naming the file, without allocating what the header claims."""
import gzip
import re
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from jitprop.data import IDXError, load_idx_folder, read_idx, write_idx
from jitprop.data.datasets import FASHION_SPEC, MNIST_SPEC, import_idx, read_named_idx
from test_data_fixtures import as_small, offline, small_arrays, write_set  # noqa: F401

MB = 1 << 20


def header(code, *dims):
    return bytes([0, 0, code, len(dims)]) + b"".join(int(d).to_bytes(4, "big") for d in dims)


def peak_of(fn, *args):
    """(result or exception, peak bytes allocated by Python and numpy)."""
    tracemalloc.start()
    try:
        try:
            out = fn(*args)
        except Exception as exc:  # noqa: BLE001 - returned for the caller to check
            out = exc
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("name, raw, message", [
    ("magic", b"\x08\x03\x00\x00" + bytes(16), "not an IDX file .magic number 08030000"),
    ("type", b"\x00\x00\x07\x01" + bytes(8), "not an IDX file"),
    ("empty", b"", "not an IDX file .magic number missing"),
    ("no-dims", header(8), "declares 0 dimensions"),
    ("zero-dim", header(8, 0, 28, 28), r"shape \(0, 28, 28\), with a dimension of 0"),
    ("short-header", header(8, 5, 5)[:9], r"truncated header .2 dimensions."),
    ("mismatch", header(8, 3, 4) + bytes(11), r"declares shape \(3, 4\) of uint8, 12 bytes of data, but the file "
                                               r"holds 11 bytes"),
    ("too-long", header(8, 3, 4) + bytes(13), "but the file holds 13 bytes"),
    ("terabytes", header(8, 1 << 20, 1 << 20, 1 << 10) + bytes(64), r"1\.13 PB.*more than half this machine's memory"),
    ("max-dims", header(8, *[2**32 - 1] * 4) + bytes(64), r"\(4294967295, 4294967295, 4294967295, 4294967295\) of "
                                                          r"uint8, 340,282,366,604,025,813,516,997,721,482,669,850,625 bytes"),
    ("big-but-possible", header(8, 60000, 28, 28) + bytes(64), r"47,040,000 bytes \(47 MB\) of data, but the file holds 64 bytes"),
])
@pytest.mark.parametrize("gz", [False, True])
def test_bad_headers_name_the_file_and_allocate_nothing(tmp_path, name, raw, message, gz):
    path = tmp_path / (f"{name}-idx" + (".gz" if gz else ""))
    path.write_bytes(gzip.compress(raw) if gz else raw)
    if gz and name in ("mismatch", "too-long"):  # gzip: the sizes show while decompressing
        message = "expected 12 data bytes .* found 11" if name == "mismatch" else "more data than the 12 bytes"
    if gz and name == "big-but-possible":  # 47 MB cannot come out of a ~100-byte gzip file
        message = r"47 MB\) of data, more than a gzip file of \d+ bytes can hold"
    err, peak = peak_of(read_idx, path)
    assert isinstance(err, IDXError), err
    assert str(err).startswith(str(path) + ": ")
    assert re.search(message, str(err)), str(err)
    assert not re.search(r"-\d", str(err)[len(str(path)):])  # no negative byte counts
    assert peak < 2 * MB, f"{peak} bytes allocated for a {path.stat().st_size}-byte file"


def test_gzip_bomb_is_refused_after_the_declared_size(tmp_path):
    # 64 MB of zeros compress to ~64 KB; the header declares 100 bytes.
    path = tmp_path / "bomb-idx3-ubyte.gz"
    with gzip.open(path, "wb") as f:
        f.write(header(8, 10, 10))
        for _ in range(64):
            f.write(bytes(MB))
    assert path.stat().st_size < 200_000
    err, peak = peak_of(read_idx, path)
    assert isinstance(err, IDXError) and "more data than the 100 bytes the header declares" in str(err)
    assert peak < 4 * MB


def test_gzip_corrupt_stream_is_an_idx_error(tmp_path, rng):
    path = tmp_path / "c-idx1-ubyte.gz"
    write_idx(path, rng.integers(0, 10, 5000).astype(np.uint8))
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(IDXError, match=str(path)):
        read_idx(path)
    path.write_bytes(bytes(raw[: len(raw) // 2]))  # truncated gzip
    with pytest.raises(IDXError, match="truncated|corrupt"):
        read_idx(path)


def test_other_idx_types_are_read_in_native_order(tmp_path):
    path = tmp_path / "f-idx"
    values = np.array([[1.5, -2.0], [3.25, 0.0]], ">f4")
    path.write_bytes(bytes([0, 0, 0x0D, 2]) + (2).to_bytes(4, "big") * 2 + values.tobytes())
    out = read_idx(path)
    assert out.dtype == np.float32 and out.dtype.isnative
    np.testing.assert_array_equal(out, values)


def test_generic_folder_any_count_and_size(tmp_path, rng):
    # 30 images of 5x7 pixels, 12 classes, files named like the published ones
    # but not them: read without any checksum.
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", rng.integers(0, 256, (30, 5, 7)).astype(np.uint8))
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", (np.arange(30) % 12).astype(np.uint8))
    x_train, y_train, x_test, y_test = load_idx_folder(tmp_path)
    assert x_train.shape == (30, 35) and y_train.max() == 11
    assert x_test is None and y_test is None
    write_idx(tmp_path / "my-test-images-idx3-ubyte", rng.integers(0, 256, (4, 5, 7)).astype(np.uint8))
    write_idx(tmp_path / "my-test-labels-idx1-ubyte", np.array([0, 1, 2, 3], np.uint8))
    assert load_idx_folder(tmp_path)[2].shape == (4, 35)


def test_generic_folder_errors(tmp_path, rng):
    write_idx(tmp_path / "train-images-idx3-ubyte", rng.integers(0, 256, (6, 2, 2)).astype(np.uint8))
    with pytest.raises(IDXError, match="no file named like .train-labels. for y_train"):
        load_idx_folder(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.arange(5, dtype=np.uint8))
    with pytest.raises(IDXError, match="train-images-idx3-ubyte has 6 images but train-labels-idx1-ubyte has 5 labels"):
        load_idx_folder(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.array([0, 1, 2, 3, 4, -1], np.int8))
    with pytest.raises(IDXError, match=r"train-labels-idx1-ubyte: expected non-negative labels, got -1 at index 5"):
        load_idx_folder(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.arange(6, dtype=np.uint8))
    write_idx(tmp_path / "t10k-images-idx3-ubyte", rng.integers(0, 256, (2, 2, 2)).astype(np.uint8))
    with pytest.raises(IDXError, match="found t10k-images-idx3-ubyte for x_test but no file for y_test"):
        load_idx_folder(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.arange(6, dtype=np.uint8))
    with pytest.raises(IDXError, match="more than one file for y_train"):
        load_idx_folder(tmp_path)


def test_named_set_enforces_md5_only_for_that_set(tmp_path, offline):
    arrays = small_arrays()
    write_set(tmp_path, arrays)
    assert load_idx_folder(tmp_path)[0].shape == (20, 784)  # generic: fine
    for spec in (MNIST_SPEC, FASHION_SPEC):
        with pytest.raises(IDXError, match=f"train-images-idx3-ubyte.gz: MD5 .* does not match the published "
                                           f"{spec.md5['train-images-idx3-ubyte.gz']} of {spec.title}"):
            load_idx_folder(tmp_path, dataset=spec.name)


def test_named_set_checks_shape_from_the_header(tmp_path):
    # Unpacked (no MD5 to check): 60000x700 "MNIST" images are refused from
    # the header alone (the file holds only the header).
    (tmp_path / "train-images-idx3-ubyte").write_bytes(header(8, 60000, 28, 25))
    err, peak = peak_of(read_named_idx, MNIST_SPEC, tmp_path)
    assert isinstance(err, IDXError)
    assert str(err) == (f"{tmp_path / 'train-images-idx3-ubyte'}: expected shape (60000, 28, 28), "
                        "the header declares (60000, 28, 25)")
    assert peak < MB


def test_named_set_rejects_labels_out_of_range(tmp_path, monkeypatch, offline):
    arrays = small_arrays()
    arrays["t10k-labels-idx1-ubyte"][3] = 200
    write_set(tmp_path / "idx", arrays, gz=False)  # unpacked: no MD5 to check
    as_small(monkeypatch, FASHION_SPEC, {}, arrays)
    with pytest.raises(IDXError, match=r"t10k-labels-idx1-ubyte: expected labels in 0..9, got 200 at index 3"):
        import_idx(FASHION_SPEC, tmp_path / "idx", cache_dir=tmp_path / "cache")
    assert not (tmp_path / "cache" / FASHION_SPEC.cache_name).exists()


def test_mnist_import_checks_the_decoded_arrays_sha256(tmp_path, monkeypatch, offline):
    # Unpacked files of the right shape but not MNIST's pixels: the SHA-256
    # table catches them, naming the file.
    arrays = small_arrays()
    write_set(tmp_path, arrays, gz=False)
    monkeypatch.setattr(MNIST_SPEC, "rows", {"train": 20, "test": 5})
    with pytest.raises(IDXError, match="train-images-idx3-ubyte: the decoded x_train has SHA-256 .*, not MNIST's"):
        read_named_idx(MNIST_SPEC, tmp_path)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(code=st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0x07, 0xFF]),
       dims=st.lists(st.sampled_from([0, 1, 2, 3, 28, 255, 60000, 2**31, 2**32 - 1]), max_size=5),
       data_len=st.integers(0, 300), gz=st.booleans(), magic0=st.sampled_from([0, 0, 0, 1]))
def test_fuzz_idx_headers(tmp_path_factory, code, dims, data_len, gz, magic0):
    """Any header: the array it declares, or an IDXError naming the file;
    never another exception, never a large allocation."""
    raw = bytes([magic0, 0, code, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims) + bytes(data_len)
    path = tmp_path_factory.mktemp("fuzz") / ("f.gz" if gz else "f")
    path.write_bytes(gzip.compress(raw) if gz else raw)
    out, peak = peak_of(read_idx, path)
    if isinstance(out, np.ndarray):
        assert out.shape == tuple(dims) and out.nbytes == data_len
    else:
        assert isinstance(out, IDXError), repr(out)
        assert str(out).startswith(f"{path}: ")
    assert peak < MB
