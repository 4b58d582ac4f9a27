"""`jitprop sweep` and jitprop.sweep: specs, candidates, scoring, the
results table and the reproducing command, on a LocalCluster of 2 worker
processes (loopback, no dashboard) training on the 8x8 digits; a worker
that dies costs only its candidate; GridSearchCV under joblib's dask
backend; without dask, one line naming the extra."""
import json
import os
import sys

import numpy as np
import pytest

from jitprop import sweep
from jitprop.cli import main
from jitprop.config import RunConfig
from jitprop.session import Run


@pytest.fixture(scope="module")
def digits_npz(tmp_path_factory):
    from sklearn.datasets import load_digits
    x, y = load_digits(return_X_y=True)
    path = tmp_path_factory.mktemp("data") / "digits.npz"
    np.savez(path, x_train=x[:1200], y_train=y[:1200], x_test=x[1200:], y_test=y[1200:])
    return str(path)


def tiny(digits_npz, **kw):
    """A run of a few milliseconds: 64-16-10, 2 epochs, 200 validation rows."""
    return dict(dict(data=digits_npz, layers="16", epochs=2, batch_size=32, val_size=200, threads=1), **kw)


# ------------------------------------------------------------ Run.build(data)

def test_run_build_trains_on_the_arrays_given(digits_npz, monkeypatch):
    from jitprop import session
    cfg = RunConfig.from_preset("default", **tiny(digits_npz))
    expected = Run(cfg, progress=False).train()
    data = session.load_data(cfg)
    monkeypatch.setattr(session, "load_data", lambda cfg: pytest.fail("build(data=...) read the data set"))
    got = Run(cfg, progress=False).build(data=data).train()
    assert got.val_accuracy == expected.val_accuracy and got.test_accuracy == expected.test_accuracy
    np.testing.assert_array_equal(got.net.params, expected.net.params)
