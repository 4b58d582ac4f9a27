"""Shared fixtures of the data tests (this module holds no tests): small IDX
sets, a local HTTP server on 127.0.0.1, and guards that keep every data test
off the network and out of the real cache."""
import errno
import gzip
import hashlib
import http.server
import os
import threading
from pathlib import Path

import numpy as np
import pytest

from jitprop.data.datasets import FASHION_SPEC, MNIST_SPEC
from jitprop.data.idx import IDX_FILES, write_idx

DEAD_URL = "http://127.0.0.1:9/"  # the discard port: nothing listens, the connection is refused


@pytest.fixture
def offline(monkeypatch):
    """No data test reaches beyond this machine: both mirrors point at a
    closed local port unless the test serves files itself, and the IDX
    folder variables of the person running the tests are ignored."""
    monkeypatch.setenv("JITPROP_MNIST_URL", DEAD_URL)
    monkeypatch.setenv("JITPROP_FASHION_URL", DEAD_URL)
    monkeypatch.delenv("JITPROP_MNIST_IDX", raising=False)
    monkeypatch.delenv("JITPROP_FASHION_IDX", raising=False)


def small_arrays(seed=0, n_train=20, n_test=5, side=28):
    rng = np.random.default_rng(seed)
    return {"train-images-idx3-ubyte": rng.integers(0, 256, (n_train, side, side)).astype(np.uint8),
            "train-labels-idx1-ubyte": (np.arange(n_train) % 10).astype(np.uint8),
            "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, side, side)).astype(np.uint8),
            "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test).astype(np.uint8)}


def write_set(folder, arrays, gz=True):
    """Write the four files into ``folder``; returns {file name: bytes}."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for stem, arr in arrays.items():
        name = stem + (".gz" if gz else "")
        write_idx(folder / name, arr)
        out[name] = (folder / name).read_bytes()
    return out


def md5(data):
    return hashlib.md5(data).hexdigest()


def as_small(monkeypatch, spec, files, arrays, sha256=None):
    """Make ``spec`` expect the small set: its MD5s, row counts and (for
    MNIST) the SHA-256 of the decoded arrays."""
    from jitprop.data.cache import sha256 as digest
    monkeypatch.setattr(spec, "md5", {name: md5(data) for name, data in files.items()})
    n_train = arrays["train-labels-idx1-ubyte"].shape[0]
    n_test = arrays["t10k-labels-idx1-ubyte"].shape[0]
    monkeypatch.setattr(spec, "rows", {"train": n_train, "test": n_test})
    if spec.sha256 is not None or sha256:
        keys = dict(zip(("x_train", "y_train", "x_test", "y_test"), IDX_FILES))
        monkeypatch.setattr(spec, "sha256", {
            k: digest(arrays[stem].reshape(arrays[stem].shape[0], -1) if k.startswith("x") else arrays[stem])
            for k, stem in keys.items()})


@pytest.fixture
def small_fashion(tmp_path, monkeypatch, offline):
    """A small Fashion-MNIST look-alike: (arrays, files) with the spec
    patched to expect it, files written under tmp_path/idx."""
    arrays = small_arrays(seed=1)
    files = write_set(tmp_path / "idx", arrays)
    as_small(monkeypatch, FASHION_SPEC, files, arrays)
    return arrays, files


@pytest.fixture
def small_mnist(tmp_path, monkeypatch, offline):
    arrays = small_arrays(seed=2)
    files = write_set(tmp_path / "idx", arrays)
    as_small(monkeypatch, MNIST_SPEC, files, arrays)
    return arrays, files


class Server:
    """A local HTTP server in a thread serving ``files`` ({path: bytes}).

    ``mode[path]`` changes how one path is served: "truncate" sends the full
    Content-Length, half the body, then closes; "no-length" sends half the
    body without a Content-Length; "hang" sends the headers and a few bytes,
    then waits until the server stops.
    """

    def __init__(self):
        self.files, self.mode, self.requests = {}, {}, []
        self.stop = threading.Event()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append(self.path)
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                mode = server.mode.get(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "text/html" if self.path.endswith("/") else "application/octet-stream")
                if mode != "no-length":
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if mode in ("truncate", "no-length"):
                    self.wfile.write(body[: len(body) // 2])
                    self.close_connection = True
                elif mode == "hang":
                    self.wfile.write(body[:10])
                    self.wfile.flush()
                    server.stop.wait(60)
                else:
                    self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


def serve_set(server, prefix, files):
    for name, data in files.items():
        server.files[f"/{prefix}/{name}"] = data
    return f"{server.url}{prefix}/"


def block_writes(monkeypatch, folder):
    """Make ``folder`` behave as read-only for this process (root ignores
    permission bits): any open for writing, file creation, rename or
    removal inside it raises EACCES."""
    import builtins
    folder = os.path.realpath(folder)
    inside = lambda p: os.path.realpath(os.fspath(p)).startswith(folder + os.sep) or \
        os.path.realpath(os.fspath(p)) == folder  # noqa: E731

    def deny(p):
        raise PermissionError(errno.EACCES, "Permission denied (test: read-only folder)", os.fspath(p))

    real_open, real_os_open = builtins.open, os.open

    def fake_open(file, mode="r", *args, **kwargs):
        if isinstance(file, (str, bytes, os.PathLike)) and any(c in mode for c in "wax+") and inside(file):
            deny(file)
        return real_open(file, mode, *args, **kwargs)

    def fake_os_open(path, flags, *args, **kwargs):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT) and inside(path):
            deny(path)
        return real_os_open(path, flags, *args, **kwargs)

    def guard(name):
        real = getattr(os, name)

        def fake(p, *args, **kwargs):
            if inside(p):
                deny(p)
            return real(p, *args, **kwargs)
        monkeypatch.setattr(os, name, fake)

    monkeypatch.setattr(builtins, "open", fake_open)
    monkeypatch.setattr(os, "open", fake_os_open)
    for name in ("mkdir", "unlink", "remove", "replace", "rename", "rmdir"):
        guard(name)


def gzip_bytes(data):
    return gzip.compress(data, mtime=0)
