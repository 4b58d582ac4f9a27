"""Checkpoints: a network, its training state and configuration in one file.

A checkpoint is a NumPy ``.npz`` (no pickle) holding ``params`` (the flat
parameter buffer) and ``header``, a JSON document: the format tag, the layer
list, dtype, the epoch just completed, the RNG state that draws the sample
order of later epochs, the learning rate of the next epoch, the training
configuration and anything else the caller adds (the standardisation mean
and std, the history so far). It is written to a temporary file and renamed
into place, so a crash never leaves a half-written checkpoint, and an
existing file that is not a jitprop checkpoint is never overwritten.
"""
import json
import zipfile
from pathlib import Path

import numpy as np

from jitprop.model.layers import Dropout, Linear, ReLU, Sigmoid, SoftMax
from jitprop.model.network import Network

FORMAT = "jitprop-checkpoint"
VERSION = 1
_SIMPLE = {"Sigmoid": Sigmoid, "ReLU": ReLU, "SoftMax": SoftMax}


class CheckpointError(ValueError):
    """A file that is missing, damaged or not a jitprop checkpoint."""


def describe_layers(net):
    out = []
    for layer in net.layers:
        if isinstance(layer, Linear):
            out.append({"type": "Linear", "n_in": layer.n_in, "n_out": layer.n_out})
        elif isinstance(layer, Dropout):
            out.append({"type": "Dropout", "drop_rate": layer.drop_rate})
        elif type(layer).__name__ in _SIMPLE:
            out.append({"type": type(layer).__name__})
        else:
            raise TypeError(f"net: cannot save a layer of type {type(layer).__name__}")
    return out


def is_checkpoint(path):
    try:
        read_checkpoint(path)
    except CheckpointError:
        return False
    return True


def save_checkpoint(path, net, **state):
    """Write ``net`` and ``state`` (JSON-serialisable) to ``path`` atomically."""
    from jitprop.files import atomic_write
    path = Path(path)
    if path.exists() and not is_checkpoint(path):
        raise CheckpointError(f"{path}: exists and is not a jitprop checkpoint; refusing to overwrite it")
    header = {"format": FORMAT, "version": VERSION, "layers": describe_layers(net),
              "dtype": np.dtype(net.dtype).name, **state}
    with atomic_write(path) as f:
        np.savez(f, params=net.params, header=np.array(json.dumps(header)))
    return path


def read_checkpoint(path):
    """``(header, params)`` of a checkpoint, or a ``CheckpointError`` saying what is wrong."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such checkpoint")
    try:
        with np.load(path, allow_pickle=False) as z:
            if "header" not in z.files or "params" not in z.files:
                raise CheckpointError(f"{path}: not a jitprop checkpoint (no header)")
            header = json.loads(str(z["header"]))
            params = z["params"]
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, KeyError) as exc:
        raise CheckpointError(f"{path}: not a readable jitprop checkpoint (truncated or foreign: {exc})") from exc
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a jitprop checkpoint (format {header.get('format') if isinstance(header, dict) else None!r})")
    if header.get("version") != VERSION:
        raise CheckpointError(f"{path}: checkpoint version {header.get('version')}, this jitprop reads {VERSION}")
    return header, params


def build_network(header, params, backend="numba"):
    dtype = np.dtype(header["dtype"]).type
    layers = []
    for spec in header["layers"]:
        kind = spec["type"]
        if kind == "Linear":
            layers.append(Linear(spec["n_in"], spec["n_out"], backend=backend, dtype=dtype,
                                 rng=np.random.default_rng(0)))
        elif kind == "Dropout":
            layers.append(Dropout(spec["drop_rate"], backend=backend, dtype=dtype))
        elif kind in _SIMPLE:
            layers.append(_SIMPLE[kind](backend=backend, dtype=dtype))
        else:
            raise CheckpointError(f"checkpoint: unknown layer type {kind!r}")
    net = Network(layers, backend=backend, dtype=dtype)
    if params.shape != net.params.shape or params.dtype != net.params.dtype:
        raise CheckpointError(f"checkpoint: expected {net.params.shape[0]} {header['dtype']} parameters, "
                              f"got {params.shape} {params.dtype}")
    net.params[:] = params
    net.set_training(False)
    return net


def load(path, backend="numba"):
    """The ``Network`` saved in checkpoint ``path``, ready for prediction."""
    header, params = read_checkpoint(path)
    return build_network(header, params, backend)
