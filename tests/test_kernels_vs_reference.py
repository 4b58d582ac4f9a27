"""Every compiled kernel against its NumPy twin (tolerances and their reasons
are in jitprop/verify.py), plus property tests for shapes and extreme values."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import jitprop.kernels as K
import jitprop.kernels.reference as R
from jitprop.verify import TOL, compare, make_inputs, run_all

from conftest import DTYPES


@pytest.mark.parametrize("name", K.KERNEL_NAMES)
def test_kernel_matches_twin_over_shapes(name):
    rows = run_all(seed=7, names=[name])
    for row in rows:
        assert row["passed"], row
        assert row["shapes"] >= 49


def test_a_wrong_kernel_would_fail_verification(monkeypatch):
    # The comparison must be able to fail: perturb the compiled output.
    real = K.linear_forward

    def off_by_a_little(out, x, w, b):
        real(out, x, w, b)
        out += 1e-9
    monkeypatch.setattr(K, "linear_forward", off_by_a_little)
    rows = run_all(seed=1, quick=True, names=["linear_forward"])
    assert not rows[0]["passed"]


dims = st.integers(min_value=1, max_value=300)
batches = st.integers(min_value=1, max_value=64)
dtypes = st.sampled_from(DTYPES)
names = st.sampled_from(["linear_forward", "linear_sigmoid_forward", "linear_relu_forward",
                         "linear_backward", "linear_sigmoid_backward", "linear_relu_backward",
                         "softmax_cross_entropy", "mse", "hinge", "cross_entropy", "sgd_update"])


@settings(max_examples=60, deadline=None)
@given(name=names, b=batches, n_in=dims, n_out=st.integers(1, 40), dt=dtypes, seed=st.integers(0, 2**31))
def test_random_shapes_match_twin(name, b, n_in, n_out, dt, seed):
    args = make_inputs(name, np.random.default_rng(seed), b, n_in, n_out, dt)
    _, rel = compare(name, args, dt)
    assert rel <= TOL[dt]


@settings(max_examples=60, deadline=None)
@given(b=batches, k=st.integers(1, 20), scale=st.floats(1.0, 1e4), dt=dtypes, soft=st.booleans(),
       seed=st.integers(0, 2**31))
def test_extreme_logits_stay_finite_and_accurate(b, k, scale, dt, soft, seed):
    rng = np.random.default_rng(seed)
    z = (rng.standard_normal((b, k)) * scale).astype(dt)
    t = rng.random((b, k)) if soft else np.eye(k)[rng.integers(0, k, b)]
    t = (t / t.sum(axis=1, keepdims=True)).astype(dt)
    for M in (K, R):
        d = np.empty_like(z)
        loss = M.softmax_cross_entropy(d, z, t)
        assert np.isfinite(loss) and np.isfinite(d).all()
        s = np.empty_like(z)
        M.sigmoid_forward(s, z)
        assert np.isfinite(s).all() and (s >= 0).all() and (s <= 1).all()
        p = np.empty_like(z)
        M.softmax_forward(p, z)
        assert np.isfinite(p).all()
        np.testing.assert_allclose(p.sum(axis=1), 1, rtol=1e-5 if dt == np.float32 else 1e-12)
    # against a float64 log-sum-exp written independently of both
    z64 = z.astype(np.float64)
    m = z64.max(axis=1, keepdims=True)
    lse = m + np.log(np.exp(z64 - m).sum(axis=1, keepdims=True))
    want = float(-(t * (z64 - lse)).sum() / b)
    d = np.empty_like(z)
    got = K.softmax_cross_entropy(d, z, t)
    assert abs(got - want) <= (1e-5 if dt == np.float32 else 1e-12) * max(1.0, abs(want))


@pytest.mark.parametrize("dt", DTYPES)
def test_sigmoid_is_accurate_in_the_tails(dt):
    z = np.array([[-1e4, -700.0, -80.0, -30.0, 0.0, 30.0, 80.0, 700.0, 1e4]], dt)
    exact = 1 / (1 + np.exp(-z.astype(np.longdouble)))
    for M in (K, R):
        s = np.empty_like(z)
        M.sigmoid_forward(s, z)
        # relative accuracy also where sigmoid is tiny (no 1 - (1 - tiny) cancellation)
        mask = exact > np.finfo(dt).tiny
        np.testing.assert_allclose(s[mask], exact[mask].astype(dt), rtol=4 * np.finfo(dt).eps)


@pytest.mark.parametrize("dt", DTYPES)
def test_cross_entropy_of_zero_probability_is_finite(dt):
    p = np.array([[0.0, 1.0]], dt)
    t = np.array([[1.0, 0.0]], dt)
    for M in (K, R):
        d = np.empty_like(p)
        loss = M.cross_entropy(d, p, t)
        assert np.isfinite(loss) and np.isfinite(d).all()
        assert loss == pytest.approx(-np.log(dt(1e-12)), rel=1e-5)


def test_sgd_update_in_place_formula(rng):
    p = rng.standard_normal((5, 4))
    g = rng.standard_normal((5, 4))
    want = p - 0.1 * (g + 0.01 * p)
    K.sgd_update(p, g, 0.1, 0.01)
    np.testing.assert_allclose(p, want, rtol=1e-15)


@pytest.mark.parametrize("M", [K, R], ids=["numba", "numpy"])
def test_backward_skips_d_in_when_asked(M, rng):
    x, w = rng.standard_normal((3, 4)), rng.standard_normal((2, 4))
    d_out, a = rng.standard_normal((3, 2)), rng.random((3, 2))
    d_in = np.full((3, 4), 7.0)
    dw, db = np.zeros((2, 4)), np.zeros((1, 2))
    M.linear_sigmoid_backward(d_in, dw, db, np.empty((3, 2)), d_out, a, x, w, False)
    assert (d_in == 7.0).all()
    np.testing.assert_allclose(dw, (d_out * a * (1 - a)).T @ x, rtol=1e-12)


@pytest.mark.parametrize("M", [K, R], ids=["numba", "numpy"])
def test_backward_accumulates_into_dw_db(M, rng):
    x, w, d = rng.standard_normal((5, 3)), rng.standard_normal((2, 3)), rng.standard_normal((5, 2))
    dw, db = np.ones((2, 3)), np.ones((1, 2))
    M.linear_backward(np.empty((5, 3)), dw, db, d, x, w, True)
    np.testing.assert_allclose(dw, 1 + d.T @ x, rtol=1e-12)
    np.testing.assert_allclose(db, 1 + d.sum(0, keepdims=True), rtol=1e-12)
