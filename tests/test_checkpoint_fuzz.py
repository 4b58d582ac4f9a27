"""Crafted checkpoints: every header and array mutation is either read (and
then builds a working network) or a CheckpointError naming what is wrong;
never another exception, never a large allocation."""
import io
import json
import resource
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import jitprop
from jitprop.model.checkpoint import CheckpointError, build_network, read_checkpoint, save_checkpoint


def _valid(tmp_path):
    net = jitprop.mlp([6, 4, 3], "tanh", "softmax", 0.3, seed=0)
    opt = jitprop.Adam(0.01)
    opt.bind(net.params)
    path = save_checkpoint(tmp_path / "ok.npz", net, optimizer=opt, epoch=3, rng_state={"x": 1},
                           data={"mean": 33.3, "std": 78.5}, history=[{"epoch": 1, "cost": 0.5}])
    header, params, state = read_checkpoint(path)
    return header, params, state


def _write(path, header_text, arrays, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression) as z:
        b = io.BytesIO()
        np.save(b, np.array(header_text))
        z.writestr("header.npy", b.getvalue())
        for name, arr in arrays.items():
            b = io.BytesIO()
            np.save(b, arr, allow_pickle=True)
            z.writestr(name + ".npy", b.getvalue())


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=6), kids, max_size=3),
    max_leaves=8)
FIELDS = ["format", "version", "layers", "dtype", "data", "epoch", "optimizer", "run_id"]
LAYER_FIELDS = ["type", "n_in", "n_out", "drop_rate"]


@st.composite
def mutations(draw):
    kind = draw(st.sampled_from(["drop", "replace", "layer", "params", "state", "text"]))
    return kind, draw(st.sampled_from(FIELDS)), draw(st.sampled_from(LAYER_FIELDS)), draw(JSON_VALUES), \
        draw(st.integers(0, 3)), draw(st.sampled_from(["f4", "f8", "i8", "U3", "O", "f2"])), draw(st.integers(0, 40))


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(m=mutations())
def test_crafted_headers_are_read_or_refused_with_a_reason(tmp_path, m):
    kind, field, layer_field, value, index, dt, size = m
    header, params, state = _valid(tmp_path)
    arrays = {"params": params, "optimizer_state": state}
    if kind == "drop":
        header.pop(field, None)
    elif kind == "replace":
        header[field] = value
    elif kind == "layer":
        header["layers"][index % len(header["layers"])][layer_field] = value
    elif kind == "params":
        arrays["params"] = np.zeros(size, dt) if dt != "O" else np.array([None] * size, object)
    elif kind == "state":
        arrays["optimizer_state"] = np.zeros((index, size), dt) if dt != "O" else np.array([None], object)
    try:
        text = json.dumps(header)
    except (TypeError, ValueError):
        return
    if kind == "text":
        text = text[:size]  # a cut-off JSON document
    path = tmp_path / "crafted.npz"
    _write(path, text, arrays)
    try:
        h, p, s = read_checkpoint(path)
    except CheckpointError as exc:
        assert str(exc).startswith(str(path))
        return
    net = build_network(h, p)  # what was read is usable
    assert net.params.shape == p.shape and np.isfinite(net.predict(np.ones((2, net.n_in), net.dtype))).all()


def test_deeply_nested_json_and_foreign_zip_members_are_refused(tmp_path):
    deep = "[" * 100000 + "]" * 100000
    _write(tmp_path / "deep.npz", deep, {"params": np.zeros(3)})
    with pytest.raises(CheckpointError, match="not valid JSON"):
        read_checkpoint(tmp_path / "deep.npz")
    np.save(tmp_path / "plain.npy", np.zeros(3))
    with pytest.raises(CheckpointError, match="not a readable jitprop checkpoint"):
        read_checkpoint(tmp_path / "plain.npy")
    header, params, _ = _valid(tmp_path)
    with zipfile.ZipFile(tmp_path / "bz.npz", "w", zipfile.ZIP_BZIP2) as z:
        b = io.BytesIO()
        np.save(b, np.array(json.dumps(header)))
        z.writestr("header.npy", b.getvalue())
        b = io.BytesIO()
        np.save(b, params)
        z.writestr("params.npy", b.getvalue())
    with pytest.raises(CheckpointError, match="unsupported zip compression"):
        read_checkpoint(tmp_path / "bz.npz")
    (tmp_path / "notes.txt").write_text("not a checkpoint\n")
    with pytest.raises(CheckpointError) as exc:
        read_checkpoint(tmp_path / "notes.txt")
    assert "allow_pickle" not in str(exc.value)


def test_a_header_claiming_a_huge_layer_allocates_nothing(tmp_path):
    header, params, _ = _valid(tmp_path)
    header["layers"] = [{"type": "Linear", "n_in": 400000, "n_out": 400000}]
    _write(tmp_path / "big.npz", json.dumps(header), {"params": params})
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(CheckpointError, match="parameters"):
        read_checkpoint(tmp_path / "big.npz")
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000  # kB: nothing like 1.2 TB
    header["layers"] = [{"type": "Linear", "n_in": 40000, "n_out": 40000}]
    buf = io.BytesIO()  # a params member whose .npy header says (1.6e9,) but holds 64 bytes
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": (1600040000,)})
    with zipfile.ZipFile(tmp_path / "forged.npz", "w") as z:
        b = io.BytesIO()
        np.save(b, np.array(json.dumps(header)))
        z.writestr("header.npy", b.getvalue())
        z.writestr("params.npy", buf.getvalue() + bytes(64))
    with pytest.raises(CheckpointError, match="declares"):
        read_checkpoint(tmp_path / "forged.npz")


def test_resuming_a_version_1_file_names_the_commands_that_can_read_it(tmp_path):
    # version 1 kept mean and std at the top of the header; predict reads them there
    from jitprop.config import ConfigError
    from jitprop.session import Run
    header, params, _ = _valid(tmp_path)
    v1 = {k: v for k, v in header.items() if k not in ("data", "optimizer", "rng_state", "epoch")}
    v1.update(version=1, mean=33.3, std=78.5)
    _write(tmp_path / "v1.npz", json.dumps(v1), {"params": params})
    with pytest.raises(ConfigError, match="jitprop predict and inspect can read it, resume cannot"):
        Run.resume(tmp_path / "v1.npz")
