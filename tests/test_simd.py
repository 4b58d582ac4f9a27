"""The SIMD vector operations the micro-kernels are built from, against NumPy."""
import numpy as np
import pytest

from jitprop.kernels.config import jit
from jitprop.kernels.simd import (fma, hsum, imax, imin, load, sfma, store, vbroadcast, vfma, view2d, vlanes, vload,
                                  vstore, vzero)

from conftest import DTYPES


@jit
def _ops(out, a, b, c, s):
    """Rows of out: fma, +, -, *, /, fma(s, x, y) (a scalar among vectors),
    sqrt(|a|), broadcast of a[3], zero, then hsum of a in out[9, 0]."""
    lanes = vlanes(a)
    x, y, z = vload(a, 0), vload(b, 0), vload(c, 0)
    vstore(out, 0, vfma(x, y, z))
    vstore(out, lanes, x + y)
    vstore(out, 2 * lanes, x - y)
    vstore(out, 3 * lanes, x * y)
    vstore(out, 4 * lanes, x / y)
    vstore(out, 5 * lanes, fma(s, x, y))
    vstore(out, 6 * lanes, np.sqrt(z * z))
    vstore(out, 7 * lanes, vbroadcast(a, a, 3) * 2 + x)
    vstore(out, 8 * lanes, vzero(a))
    out[9 * lanes] = hsum(x)


@pytest.mark.parametrize("dt", DTYPES)
def test_vector_operations_match_numpy(dt):
    rng = np.random.default_rng(0)
    n = 16  # at least one vector of any width used here (<= 16 lanes)
    a, b, c = (rng.standard_normal(n).astype(dt) for _ in range(3))
    b[np.abs(b) < 0.1] = 0.5
    out = np.zeros(10 * n, dt)
    _ops(out, a, b, c, 1.5)
    L = _lanes(a)
    rows = out[:9 * L].reshape(9, L)
    a, b, c = a[:L], b[:L], c[:L]
    tol = dict(rtol=4 * np.finfo(dt).eps, atol=0)
    np.testing.assert_allclose(rows[0], (a.astype(np.float64) * b + c).astype(dt), **tol)  # fused: one rounding
    np.testing.assert_array_equal(rows[1], a + b)
    np.testing.assert_array_equal(rows[2], a - b)
    np.testing.assert_array_equal(rows[3], a * b)
    np.testing.assert_allclose(rows[4], a / b, **tol)
    np.testing.assert_allclose(rows[5], (dt(1.5) * a.astype(np.float64) + b).astype(dt), **tol)
    np.testing.assert_allclose(rows[6], np.abs(c), **tol)
    np.testing.assert_array_equal(rows[7], a[3] * dt(2) + a)
    assert (rows[8] == 0).all()
    # hsum: halves added pairwise, a fixed order
    want = a.astype(dt)
    while want.shape[0] > 1:
        h = want.shape[0] // 2
        want = want[:h] + want[h:]
    assert out[9 * L] == want[0]


@jit
def _lanes_of(a):
    return vlanes(a)


def _lanes(a):
    return _lanes_of(a)


def test_lanes_fill_a_register():
    assert _lanes(np.zeros(4, np.float32)) in (8, 16) and _lanes(np.zeros(4)) in (4, 8)
    assert _lanes(np.zeros(4, np.float32)) == 2 * _lanes(np.zeros(4))


@jit
def _scalar_fma(out, a, b, c):
    for i in range(out.shape[0]):
        out[i] = sfma(a[i], b[i], c[i])


@pytest.mark.parametrize("dt", DTYPES)
def test_scalar_fma_rounds_once_as_a_vector_lane(dt):
    """sfma is fused whatever the code generation (one rounding: (1 + e)(1 - e) - 1
    is -e**2, not the 0 of a separate multiply and add), and equals vfma lane by lane."""
    e = np.finfo(dt).eps
    one = np.ones(1, dt)
    out = np.zeros(1, dt)
    _scalar_fma(out, one + e, one - e, -one)
    assert out[0] == -dt(e) * dt(e) and ((one + e) * (one - e) - one)[0] == 0
    rng = np.random.default_rng(1)
    a, b, c = (rng.standard_normal(16).astype(dt) for _ in range(3))
    lanes = np.zeros(10 * 16, dt)
    _ops(lanes, a, b, c, 1.5)
    scalar = np.zeros(16, dt)
    _scalar_fma(scalar, a, b, c)
    L = _lanes(a)
    np.testing.assert_array_equal(scalar[:L], lanes[:L])


@jit
def _copy_back(dst, src, idx):
    """dst[idx[j]] = src[idx[j]] through load and store (flat, no wraparound)."""
    for j in range(idx.shape[0]):
        store(dst, idx[j], load(src, idx[j]))


@pytest.mark.parametrize("dt", DTYPES)
def test_load_and_store_read_and_write_one_element_at_a_flat_index(dt):
    src = np.arange(12, dtype=dt).reshape(3, 4)
    dst = np.zeros((3, 4), dt)
    _copy_back(dst, src, np.array([0, 5, 11], np.int64))
    want = np.zeros((3, 4), dt)
    want.flat[[0, 5, 11]] = src.flat[[0, 5, 11]]
    np.testing.assert_array_equal(dst, want)


@jit
def _picks(out, a, b):
    """Rows of out: imin, imax of int64 pairs; imin of an int32 and an int64."""
    for i in range(a.shape[0]):
        out[0, i] = imin(a[i], b[i])
        out[1, i] = imax(a[i], b[i])
        out[2, i] = imin(np.int32(a[i]), b[i])


def test_integer_min_and_max_match_python_s():
    a = np.array([-5, 3, 7, -2**40, 2**40, 0], np.int64)
    b = np.array([-6, 3, -7, 1, 2**41, -1], np.int64)
    out = np.zeros((3, 6), np.int64)
    _picks(out, a, b)
    assert out[0].tolist() == [min(x, y) for x, y in zip(a.tolist(), b.tolist())]
    assert out[1].tolist() == [max(x, y) for x, y in zip(a.tolist(), b.tolist())]
    assert out[2].tolist() == [min(int(np.int64(x).astype(np.int32)), y) for x, y in zip(a.tolist(), b.tolist())]


@jit
def _mixed_fma(out, a, b, s):
    lanes = vlanes(a)
    x, y = vload(a, 0), vload(b, 0)
    vstore(out, 0, fma(x, 3, y))
    vstore(out, lanes, fma(s, s, y))
    vstore(out, 2 * lanes, fma(x, y, s))


@pytest.mark.parametrize("dt", DTYPES)
def test_fma_broadcasts_any_scalar_among_vectors(dt):
    """Broadcasting and casting of scalars (rounding once is checked above)."""
    rng = np.random.default_rng(2)
    a, b = (rng.standard_normal(16).astype(dt) for _ in range(2))
    out = np.zeros(3 * 16, dt)
    _mixed_fma(out, a, b, 0.75)
    L = _lanes(a)
    a64, b64, s = a[:L].astype(np.float64), b[:L].astype(np.float64), dt(0.75)
    tol = dict(rtol=4 * np.finfo(dt).eps, atol=0)
    np.testing.assert_allclose(out[:L], (a64 * 3 + b64).astype(dt), **tol)
    np.testing.assert_allclose(out[L:2 * L], (np.float64(s) * s + b64).astype(dt), **tol)
    np.testing.assert_allclose(out[2 * L:3 * L], (a64 * b64 + s).astype(dt), **tol)


@jit
def _through_view(out, flat, start, rows, cols):
    """out[r, c] = 2 * view[r, c] via view2d, writing through the view too;
    returns the view's shape and row stride in elements."""
    v = view2d(flat, start, rows, cols)
    for r in range(v.shape[0]):
        for c in range(v.shape[1]):
            out[r, c] = 2 * v[r, c]
            v[r, c] += 1
    return v.shape[0], v.shape[1], v.strides[0] // v.itemsize


@pytest.mark.parametrize("rows, cols, start", [(3, 4, 5), (1, 7, 0), (0, 4, 2)])
def test_view2d_is_the_reshaped_slice_of_a_flat_buffer(rows, cols, start):
    flat = np.arange(30, dtype=np.float32)
    want = flat[start:start + rows * cols].reshape((rows, cols)).copy()
    out = np.zeros((max(rows, 1), cols), np.float32)
    assert _through_view(out, flat, start, rows, cols) == (rows, cols, cols)
    np.testing.assert_array_equal(out[:rows], 2 * want)
    np.testing.assert_array_equal(flat[start:start + rows * cols].reshape((rows, cols)), want + 1)  # a view
    assert (flat[:start] == np.arange(start)).all() and (flat[start + rows * cols:] == np.arange(start + rows * cols, 30)).all()
