"""Every compiled kernel against its NumPy twin over its registry recipe
(tolerances and their reasons are in jitprop/verify.py), every backward
kernel against finite differences, plus property tests for shapes and
extreme values."""
import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

import jitprop.kernels as K
import jitprop.kernels.reference as R
from jitprop.kernels.activations import ACTIVATIONS, reference_output
from jitprop.kernels.optimizers import ADAM, MOMENTUM, SGD, hyper_vector
from jitprop.kernels.registry import KERNELS
from jitprop.verify import compare, jobs, row_name, run_all, tolerance

from conftest import DTYPES, numeric_grad

@pytest.mark.parametrize("name", K.KERNEL_NAMES)
def test_kernel_matches_twin_over_shapes(name):
    rows = run_all(seed=7, names=[name])
    assert len(rows) == 2 * len(KERNELS[list(K.KERNEL_NAMES).index(name)].variants)
    for row in rows:
        assert row["passed"], row
        assert row["shapes"] >= 49


def test_every_activation_and_optimizer_has_verify_rows():
    names = {row_name(r, v) for r, v, _ in jobs()}
    for act in ACTIVATIONS:
        assert f"linear_forward[{act}]" in names and f"linear_backward[{act}]" in names
    for opt in ("sgd", "momentum", "adam"):
        assert f"optimizer_step[{opt}]" in names and f"train_epoch[{opt}]" in names
        assert f"train_epoch_per_sample[{opt}]" in names


def test_a_wrong_kernel_would_fail_verification():
    # The comparison must be able to fail: perturb the compiled output.
    real = K.linear_forward.compiled

    def off_by_a_little(out, x, w, b, act):
        real(out, x, w, b, act)
        out += 1e-9
    args = KERNELS[[r.name for r in KERNELS].index("linear_forward")].inputs(np.random.default_rng(1), 3, 7, 3,
                                                                               np.float64, "sigmoid")
    _, rel = compare("linear_forward", args, np.float64, kernel=off_by_a_little)
    assert rel > 1e-12


@pytest.mark.parametrize("act", list(ACTIVATIONS))
@pytest.mark.parametrize("M", [K, R], ids=["numba", "numpy"])
def test_linear_backward_by_finite_differences(M, act, rng):
    # loss = sum(v * linear_forward(x, w, b)); float64 central differences
    # (error ~1e-10), so rtol 1e-6 catches any wrong term.
    code = ACTIVATIONS[act]
    x, w, b = rng.standard_normal((4, 5)), rng.standard_normal((3, 5)) * 0.5, rng.standard_normal((1, 3))
    v = rng.standard_normal((4, 3))

    def loss():
        out = np.empty((4, 3))
        M.linear_forward(out, x, w, b, code)
        return float((v * out).sum())
    z = x @ w.T + b
    if act in ("relu", "leaky-relu"):
        assert np.abs(z).min() > 1e-3  # away from the kink for this seed
    a = np.empty((4, 3))
    M.linear_forward(a, x, w, b, code)
    d_in, dw, db = np.empty((4, 5)), np.zeros((3, 5)), np.zeros((1, 3))
    M.linear_backward(d_in, dw, db, np.empty((4, 3)), v, a, x, w, code, True)
    for analytic, wrt in ((d_in, x), (dw, w), (db, b)):
        np.testing.assert_allclose(analytic, numeric_grad(loss, wrt), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("act", list(ACTIVATIONS))
@pytest.mark.parametrize("M", [K, R], ids=["numba", "numpy"])
def test_activation_backward_by_finite_differences(M, act, rng):
    code = ACTIVATIONS[act]
    z = rng.standard_normal((3, 6))
    z[np.abs(z) < 1e-2] = 0.5
    v = rng.standard_normal((3, 6))

    def loss():
        out = np.empty_like(z)
        M.activation_forward(out, z, code)
        return float((v * out).sum())
    a = np.empty_like(z)
    M.activation_forward(a, z, code)
    np.testing.assert_allclose(a, reference_output(z, code), rtol=1e-14, atol=1e-300)
    d = np.empty_like(z)
    M.activation_backward(d, v, a, code)
    np.testing.assert_allclose(d, numeric_grad(loss, z), rtol=1e-6, atol=1e-8)


def _adam_by_hand(p, g, m, v, lr, t, b1=0.9, b2=0.999, eps=1e-8, wd=0.0, decoupled=False):
    # torch.optim.Adam / AdamW, written out independently of both implementations.
    if decoupled:
        p = p * (1 - lr * wd)
    else:
        g = g + wd * p
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)
    return p - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


@pytest.mark.parametrize("M", [K, R], ids=["numba", "numpy"])
@pytest.mark.parametrize("decoupled", [False, True])
def test_adam_follows_its_formula_over_several_steps(M, decoupled, rng):
    p = rng.standard_normal(50)
    state = np.zeros((2, 50))
    want_p, m, v = p.copy(), np.zeros(50), np.zeros(50)
    for t in range(1, 6):
        g = rng.standard_normal(50)
        M.optimizer_step(p, g, state, ADAM, hyper_vector(weight_decay=0.01, decoupled=decoupled), 0.01, t)
        want_p, m, v = _adam_by_hand(want_p, g, m, v, 0.01, t, wd=0.01, decoupled=decoupled)
    np.testing.assert_allclose(p, want_p, rtol=1e-12)
    np.testing.assert_allclose(state, np.stack([m, v]), rtol=1e-12)


def test_adam_s_bias_correction_power_has_the_bits_of_numba_s_power():
    # step_constants raises beta to the step with its own loop instead of
    # ``**`` (which compiles a function of its own on a first run): same bits
    from jitprop.kernels.config import jit
    from jitprop.kernels.optimizers import _power

    @jit
    def both(out, b, n):
        for i in range(n.shape[0]):
            out[0, i] = _power(b[i], n[i])
            out[1, i] = b[i] ** n[i]

    n = np.array([0, 1, 2, 3, 7, 100, 937, 65535, 65536, 65537, 10 ** 6], np.int64)
    b = np.array([0.9, 0.999, 0.95, 1.5, 0.9999, 0.999, 0.99, 0.9999, 0.99999, 0.99999, 0.999999])
    out = np.zeros((2, n.shape[0]))
    both(out, b, n)
    assert out[0].tobytes() == out[1].tobytes()


@pytest.mark.parametrize("M", [K, R], ids=["numba", "numpy"])
@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum_follows_its_formula(M, nesterov, rng):
    p = rng.standard_normal(20)
    state = np.zeros((1, 20))
    want, vel = p.copy(), np.zeros(20)
    for t in range(1, 4):
        g = rng.standard_normal(20)
        M.optimizer_step(p, g, state, MOMENTUM, hyper_vector(momentum=0.9, nesterov=nesterov, weight_decay=1e-3), 0.1, t)
        gg = g + 1e-3 * want
        vel = 0.9 * vel + gg
        want = want - 0.1 * (gg + 0.9 * vel if nesterov else vel)
    np.testing.assert_allclose(p, want, rtol=1e-13)


def test_sgd_update_in_place_formula(rng):
    p = rng.standard_normal((20,))
    g = rng.standard_normal((20,))
    want = p - 0.1 * (g + 0.01 * p)
    K.optimizer_step(p, g, np.zeros((0, 20)), SGD, hyper_vector(weight_decay=0.01), 0.1, 1)
    np.testing.assert_allclose(p, want, rtol=1e-15)


dims = st.integers(min_value=1, max_value=300)
batches = st.integers(min_value=1, max_value=64)
element = [(r, v) for r in KERNELS if r.family == "element" for v in r.variants]


@settings(max_examples=80, deadline=None)
@given(case=st.sampled_from(element), b=batches, n_in=dims, n_out=st.integers(1, 40), dt=st.sampled_from(DTYPES),
       seed=st.integers(0, 2**31))
def test_random_shapes_match_twin(case, b, n_in, n_out, dt, seed):
    r, variant = case
    args = r.inputs(np.random.default_rng(seed), b, n_in, n_out, dt, variant)
    _, rel = compare(r.name, args, dt)
    assert rel <= tolerance(r, dt)


@settings(max_examples=60, deadline=None)
@given(b=batches, k=st.integers(1, 20), scale=st.floats(1.0, 1e4), dt=st.sampled_from(DTYPES), soft=st.booleans(),
       seed=st.integers(0, 2**31))
# logits [787.94, 785.77]: a float32 log under the "afn" flag made the loss 1.5e-4 off (fails on the old kernel)
@example(b=1, k=2, scale=590.0, dt=np.float32, soft=False, seed=54604217)
def test_extreme_logits_stay_finite_and_accurate(b, k, scale, dt, soft, seed):
    rng = np.random.default_rng(seed)
    z = (rng.standard_normal((b, k)) * scale).astype(dt)
    t = rng.random((b, k)) if soft else np.eye(k)[rng.integers(0, k, b)]
    t = (t / t.sum(axis=1, keepdims=True)).astype(dt)
    for M in (K, R):
        d = np.empty_like(z)
        loss = M.softmax_cross_entropy(d, z, t)
        assert np.isfinite(loss) and np.isfinite(d).all()
        for act in ACTIVATIONS.values():
            s = np.empty_like(z)
            M.activation_forward(s, z, act)
            assert np.isfinite(s).all()
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
        M.activation_forward(s, z, ACTIVATIONS["sigmoid"])
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


@pytest.mark.parametrize("M", [K, R], ids=["numba", "numpy"])
def test_backward_skips_d_in_when_asked(M, rng):
    x, w = rng.standard_normal((3, 4)), rng.standard_normal((2, 4))
    d_out, a = rng.standard_normal((3, 2)), rng.random((3, 2))
    d_in = np.full((3, 4), 7.0)
    dw, db = np.zeros((2, 4)), np.zeros((1, 2))
    M.linear_backward(d_in, dw, db, np.empty((3, 2)), d_out, a, x, w, ACTIVATIONS["sigmoid"], False)
    assert (d_in == 7.0).all()
    np.testing.assert_allclose(dw, (d_out * a * (1 - a)).T @ x, rtol=1e-12)


@pytest.mark.parametrize("M", [K, R], ids=["numba", "numpy"])
def test_backward_accumulates_into_dw_db(M, rng):
    x, w, d = rng.standard_normal((5, 3)), rng.standard_normal((2, 3)), rng.standard_normal((5, 2))
    dw, db = np.ones((2, 3)), np.ones((1, 2))
    M.linear_backward(np.empty((5, 3)), dw, db, np.empty((5, 2)), d, d, x, w, 0, True)
    np.testing.assert_allclose(dw, 1 + d.T @ x, rtol=1e-12)
    np.testing.assert_allclose(db, 1 + d.sum(0, keepdims=True), rtol=1e-12)


@pytest.mark.parametrize("M", [K, R], ids=["numba", "numpy"])
@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("per_sample", [False, True], ids=["minibatch", "per-sample"])
def test_a_step_with_a_non_finite_row_of_x_stops_before_its_update(M, dt, per_sample, rng):
    # The epoch kernels check each row of x as a step reads it (train() no
    # longer makes a pass over x first): NaN or an infinity in a row, in the
    # vectors or the tail of the row, ends the epoch before that step's
    # update, its cost and the later ones NaN, the weights those of the
    # steps before. With ReLU the NaN would otherwise vanish in the forward
    # pass (max(NaN, 0) is 0) and poison the weights through the gradient.
    sizes, acts = np.array([41, 20, 3]), np.array([ACTIVATIONS["relu"], ACTIVATIONS["identity"]])
    n, b = 30, 1 if per_sample else 4
    p0 = (rng.standard_normal(41 * 20 + 20 + 20 * 3 + 3) * 0.1).astype(dt)
    x = rng.standard_normal((n, 41)).astype(dt)
    y = np.eye(3, dtype=dt)[rng.integers(0, 3, n)]
    order = rng.permutation(n).astype(np.int64)

    def epoch(p, rows):
        state, lrs = np.zeros((0, p.size), dt), np.full(-(-rows // b), 0.01)
        if per_sample:
            return M.train_epoch_per_sample(p, state, sizes, acts, 1, 0, np.zeros(7), 0, x, y, order[:rows], lrs)
        return M.train_epoch(p, state, sizes, acts, 1, 0, np.zeros(7), 0, False, x, y, order[:rows], b, lrs)

    stop = 17 // b
    before = p0.copy()
    epoch(before, stop * b)  # the steps before the bad row's
    for bad in (np.nan, np.inf, -np.inf):
        for col in (0, 20, 40):  # first vector, second, scalar tail (16 float32 or 8 float64 lanes)
            x[order[17], col] = bad
            p = p0.copy()
            costs = epoch(p, n)
            x[order[17], col] = 1.0
            assert np.isfinite(costs[:stop]).all() and np.isnan(costs[stop:]).all(), (bad, col, costs)
            np.testing.assert_array_equal(p, before)


@pytest.mark.parametrize("dt", DTYPES)
def test_finite_mark_is_nan_only_for_nan_and_infinities(dt):
    import numba
    from jitprop.kernels.worker import finite_mark
    mark = numba.njit(lambda x, o, n: finite_mark(x, o, n))
    x = np.full(50, np.finfo(dt).max, dt)  # finite values whose sum overflows
    x[::2] *= -1
    assert mark(x, 3, 41) == 0.0
    for bad in (np.nan, np.inf, -np.inf):
        for i in (3, 20, 43):  # first vector, second, tail
            y = x.copy()
            y[i] = bad
            assert np.isnan(mark(y, 3, 41)), (bad, i)
            assert mark(y, i + 1, 6) == 0.0  # the values after it are fine
