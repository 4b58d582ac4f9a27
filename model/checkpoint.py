"""Checkpoints: a network, its training state and configuration in one file.

A checkpoint is a NumPy ``.npz`` (no pickle) holding ``params`` (the flat
parameter buffer), optionally ``optimizer_state`` (S, P), and ``header``, a
JSON document: the format tag and version, the layer list, dtype, and what
the writer adds: the epoch just completed, the RNG state of the sample
order, the optimizer (its configuration and update count), the schedule,
the run configuration, the history, the data statistics (``data``: mean and
std of the standardisation, dataset, widths) and a ``run_id``.

Reading checks everything before it allocates: the header's size, every
field's type and range, and the array sizes in the ``.npy`` headers against
what the layers need, so a crafted file is a ``CheckpointError`` naming what
is wrong, never a traceback or a huge allocation. Writing is atomic
(temporary file, then rename), so a crash never leaves a half-written
checkpoint; an existing file that is not a checkpoint of the same run is
never overwritten unless asked (``overwrite=True``).
"""
import json
import math
import os
import zipfile
from pathlib import Path

import numpy as np

from jitprop.files import atomic_write
from jitprop.model.layers import Activation, Dropout, Linear, SoftMax, is_custom
from jitprop.model.network import Network

FORMAT = "jitprop-checkpoint"
VERSION = 2
READS = (1, 2)
MAX_HEADER_BYTES = 16 << 20      # the JSON header, in bytes
MAX_WIDTH = 1 << 24              # a layer's width
MAX_PARAMS = 1 << 31             # scalars in the flat buffer
_SIMPLE = {cls.__name__: cls for cls in (*Activation.by_name.values(), SoftMax)}


class CheckpointError(ValueError):
    """A file that is missing, damaged or not a jitprop checkpoint, or that
    lacks what the caller needs."""


def describe_layers(net):
    """The layer list of ``net`` as JSON-ready dicts."""
    out = []
    for layer in net.layers:
        if is_custom(layer):
            raise CheckpointError(f"net: cannot save the user-defined layer {type(layer).__name__} "
                                  "(a checkpoint holds jitprop's layers only)")
        if isinstance(layer, Linear):
            out.append({"type": "Linear", "n_in": layer.n_in, "n_out": layer.n_out})
        elif isinstance(layer, Dropout):
            out.append({"type": "Dropout", "drop_rate": layer.drop_rate})
        elif type(layer).__name__ in _SIMPLE:
            out.append({"type": type(layer).__name__})
        else:
            raise CheckpointError(f"net: cannot save a layer of type {type(layer).__name__}")
    return out


def is_checkpoint(path):
    try:
        read_checkpoint(path)
    except CheckpointError:
        return False
    return True


def save_checkpoint(path, net, *, optimizer=None, run_id=None, overwrite=False, **state):
    """Write ``net`` (and ``optimizer``'s state, and ``state``: JSON-ready
    values) to ``path`` atomically. An existing file is replaced only when it
    is a checkpoint with the same ``run_id`` (None counts as an id), or with
    ``overwrite=True``. ``data=dict(mean=..., std=...)`` records the input
    standardisation, so ``jitprop predict`` can score the network."""
    path = Path(path)
    if path.exists() and not overwrite:
        try:
            old, _, _ = read_checkpoint(path)
        except CheckpointError:
            raise CheckpointError(f"{path}: exists and is not a jitprop checkpoint; refusing to overwrite it "
                                  "(pass overwrite=True, or --overwrite, to replace it)") from None
        if old.get("run_id") != run_id:
            raise CheckpointError(f"{path}: holds another run ({_summary(old)}); refusing to overwrite it "
                                  "(pass overwrite=True, or --overwrite, to replace it)")
    header = {"format": FORMAT, "version": VERSION, "layers": describe_layers(net),
              "dtype": np.dtype(net.dtype).name, "run_id": run_id, **state}
    arrays = {"params": net.params}
    if optimizer is not None:
        header["optimizer"] = {"config": optimizer.config(), "t": optimizer.t}
        if optimizer.state is not None:
            arrays["optimizer_state"] = optimizer.state
    text = json.dumps(header, allow_nan=False)
    with atomic_write(path) as f:
        np.savez(f, header=np.array(text), **arrays)
    return path


def _summary(header):
    layers = [l for l in header.get("layers", []) if l.get("type") == "Linear"]
    widths = [layers[0]["n_in"]] + [l["n_out"] for l in layers] if layers else []
    return f"network {'-'.join(map(str, widths))}, epoch {header.get('epoch', '?')}"


def _fail(path, why):
    raise CheckpointError(f"{path}: {why}")


def _member_array(path, z, name, max_bytes, want_shape=None, want_dtype=None):
    """Read member ``name``.npy of the zip after checking its header."""
    info = z.getinfo(name + ".npy")
    if info.flag_bits & 0x1:
        _fail(path, f"{name} is encrypted; not a jitprop checkpoint")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        _fail(path, f"{name} uses an unsupported zip compression ({info.compress_type}); not a jitprop checkpoint")
    with z.open(info) as f:
        try:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
            else:
                raise ValueError(f"npy format version {version}")
        except (ValueError, OSError, EOFError, SyntaxError, TypeError) as exc:
            _fail(path, f"{name} is not a readable array ({exc})")
        if dtype.hasobject:
            _fail(path, f"{name} holds Python objects; jitprop checkpoints never do (not loaded)")
        n = math.prod(shape) if shape else 1
        if n * dtype.itemsize > min(max_bytes, _memory_limit()):
            _fail(path, f"{name} declares {shape} {dtype} ({n * dtype.itemsize:,} bytes), more than allowed here")
        if info.file_size < n * dtype.itemsize:
            _fail(path, f"{name} declares {n * dtype.itemsize:,} bytes of data but the file holds {info.file_size:,} "
                        "(truncated or forged)")
        if want_shape is not None and (tuple(shape) != tuple(want_shape) or dtype != want_dtype):
            _fail(path, f"{name}: expected {tuple(want_shape)} {want_dtype} for these layers, got {tuple(shape)} {dtype}")
        try:
            data = f.read(n * dtype.itemsize)
        except (OSError, EOFError, zipfile.BadZipFile) as exc:
            _fail(path, f"{name} could not be read ({exc})")
        if len(data) != n * dtype.itemsize:
            _fail(path, f"{name} is truncated ({len(data)} of {n * dtype.itemsize} bytes)")
        arr = np.frombuffer(data, dtype).reshape(shape, order="F" if fortran else "C")
        return arr.copy(order="C")


def _memory_limit():
    """Half the machine's memory: no checkpoint array may ask for more."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2
    except (ValueError, OSError, AttributeError):
        return 1 << 34


def _positive_int(path, what, v, limit):
    if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= limit:
        _fail(path, f"{what}: expected an integer in 1..{limit}, got {v!r}")
    return v


def check_layers(path, layers):
    """Validate the layer list; returns the number of parameters it needs."""
    if not isinstance(layers, list) or not layers:
        _fail(path, f"layers: expected a non-empty list, got {type(layers).__name__}")
    total, width = 0, None
    for i, spec in enumerate(layers):
        if not isinstance(spec, dict) or not isinstance(spec.get("type"), str):
            _fail(path, f"layers[{i}]: expected an object with a type, got {spec!r:.80}")
        kind = spec["type"]
        if kind == "Linear":
            n_in = _positive_int(path, f"layers[{i}].n_in", spec.get("n_in"), MAX_WIDTH)
            n_out = _positive_int(path, f"layers[{i}].n_out", spec.get("n_out"), MAX_WIDTH)
            if width is not None and width != n_in:
                _fail(path, f"layers[{i}]: expects {n_in} inputs but the layer before gives {width}")
            width = n_out
            total += n_in * n_out + n_out
            if total > MAX_PARAMS:
                _fail(path, f"layers: more than {MAX_PARAMS:,} parameters")
        elif kind == "Dropout":
            rate = spec.get("drop_rate")
            if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
                _fail(path, f"layers[{i}].drop_rate: expected a number in [0, 1), got {rate!r}")
        elif kind not in _SIMPLE:
            _fail(path, f"layers[{i}]: unknown layer type {kind!r}")
    if total == 0:
        _fail(path, "layers: no Linear layer")
    return total


def check_data(path, header):
    """The input statistics (``data`` in v2, top-level in v1), checked."""
    data = header.get("data") if header.get("version") == 2 else {k: header[k] for k in ("mean", "std") if k in header}
    if data is None:
        return None
    if not isinstance(data, dict):
        _fail(path, f"data: expected an object, got {type(data).__name__}")
    for key in ("mean", "std"):
        v = data.get(key)
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            _fail(path, f"data.{key}: expected a finite number, got {v!r}")
    if data.get("std") is not None and data["std"] <= 0:
        _fail(path, f"data.std: expected a positive standard deviation, got {data['std']!r}")
    return data


def read_checkpoint(path):
    """``(header, params, optimizer_state)`` of a checkpoint (the state is
    None without one), or a ``CheckpointError`` saying what is wrong."""
    path = Path(path)
    if not path.exists():
        _fail(path, "no such checkpoint")
    if not path.is_file():
        _fail(path, "is not a file")
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            if "header.npy" not in names or "params.npy" not in names:
                _fail(path, "not a jitprop checkpoint (no header)")
            raw = _member_array(path, z, "header", MAX_HEADER_BYTES)
            if raw.dtype.kind != "U" or raw.shape != ():
                _fail(path, f"not a jitprop checkpoint (header is {raw.dtype} {raw.shape})")
            try:
                header = json.loads(str(raw))
            except (ValueError, RecursionError) as exc:
                _fail(path, f"the header is not valid JSON ({type(exc).__name__})")
            if not isinstance(header, dict) or header.get("format") != FORMAT:
                _fail(path, "not a jitprop checkpoint (format "
                            f"{header.get('format') if isinstance(header, dict) else None!r:.40})")
            if header.get("version") not in READS:
                _fail(path, f"checkpoint version {header.get('version')!r:.20}, this jitprop reads {READS}")
            dtype = header.get("dtype")
            if dtype not in ("float32", "float64"):
                _fail(path, f"dtype: expected float32 or float64, got {dtype!r:.40}")
            n = check_layers(path, header.get("layers"))
            check_data(path, header)
            params = _member_array(path, z, "params", n * 8, (n,), np.dtype(dtype))
            state = None
            if "optimizer_state.npy" in names:
                state = _member_array(path, z, "optimizer_state", 3 * n * 8)
                if state.ndim != 2 or state.shape[1] != n or state.dtype != np.dtype(dtype):
                    _fail(path, f"optimizer_state: expected (S, {n}) {dtype}, got {state.shape} {state.dtype}")
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, KeyError, ValueError, NotImplementedError,
            RuntimeError) as exc:
        _fail(path, f"not a readable jitprop checkpoint (truncated or foreign: {type(exc).__name__}: {exc})")
    if not np.isfinite(params).all():
        _fail(path, "params: holds non-finite values")
    return header, params, state


def build_network(header, params, backend="numba"):
    """The network a (checked) header describes, with ``params`` copied in."""
    dtype = np.dtype(header["dtype"]).type
    layers = []
    for spec in header["layers"]:
        kind = spec["type"]
        if kind == "Linear":
            layers.append(Linear(spec["n_in"], spec["n_out"], 0.0, backend=backend, dtype=dtype,
                                 rng=np.random.default_rng(0)))
        elif kind == "Dropout":
            layers.append(Dropout(spec["drop_rate"], backend=backend, dtype=dtype))
        else:
            layers.append(_SIMPLE[kind](backend=backend, dtype=dtype))
    net = Network(layers, backend=backend, dtype=dtype)
    net.params[:] = params
    net.set_training(False)
    return net


def load(path, backend="numba"):
    """The ``Network`` saved in checkpoint ``path``, ready for prediction."""
    header, params, _ = read_checkpoint(path)
    return build_network(header, params, backend)
