"""The vectorisable exp used by the sigmoid kernels (kernels/fastexp.py),
against exp in extended precision.

Tolerance: 1 ulp of the dtype for every argument whose exp is a normal
number. The Taylor series is cut where the next term is below 0.1 ulp, the
range reduction is exact to well below that, and the Horner steps round
about half an ulp in all, so 1 ulp bounds what the method can do; a wrong
coefficient or a folded range reduction (the reason for EXACT_FASTMATH)
costs tens of ulps and fails.
"""
import numpy as np
import pytest

from jitprop.kernels.fastexp import LOWEST_F32, LOWEST_F64, exp_nonpositive_array

from conftest import DTYPES

LOWEST = {np.float32: LOWEST_F32, np.float64: LOWEST_F64}


def _fast_exp(x):
    out = np.empty_like(x)
    exp_nonpositive_array(out, x)
    return out


@pytest.mark.parametrize("dt", DTYPES)
def test_within_one_ulp_over_the_whole_normal_range(dt):
    rng = np.random.default_rng(0)
    lowest = LOWEST[dt]
    x = np.concatenate([
        np.linspace(lowest, 0, 400_001),
        -rng.exponential(3.0, 200_000),            # dense near 0, where sigmoid lives
        -rng.uniform(0, 1e-6, 10_000),             # tiny arguments: exp close to 1
        np.linspace(lowest, lowest + 1, 10_001),   # the bottom edge
    ]).astype(dt)
    x = x[x >= lowest]
    got = _fast_exp(x).astype(np.longdouble)
    exact = np.exp(x.astype(np.longdouble))
    ulps = np.abs(got - exact) / (exact * np.finfo(dt).eps)
    assert ulps.max() <= 1.0, (x[np.argmax(ulps)], ulps.max())


@pytest.mark.parametrize("dt", DTYPES)
def test_edges_and_special_values(dt):
    lowest = LOWEST[dt]
    x = np.array([0.0, -0.0, lowest, np.nextafter(dt(lowest), dt(-np.inf)), -1e4, -np.inf, np.nan], dt)
    got = _fast_exp(x)
    assert got[0] == 1 and got[1] == 1
    assert got[2] >= np.finfo(dt).tiny            # the lowest argument still gives a normal number
    assert got[3] == 0 and got[4] == 0 and got[5] == 0   # below it: 0 (not a subnormal)
    assert np.isnan(got[6])                        # nan stays nan, so divergence is still caught


def test_only_compiled_code_can_call_it():
    from jitprop.kernels.fastexp import exp_nonpositive
    with pytest.raises(TypeError, match="compiled code"):
        exp_nonpositive(-1.0)
