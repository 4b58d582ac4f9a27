"""exp(x) for x <= 0 in plain arithmetic, so that loops calling it vectorise.

Numba compiles ``np.exp`` to a call into libm, one element at a time (about
3.6 ns per float32 element here, most of a sigmoid layer's time). This is
the textbook method instead: write x = k ln2 + r with k an integer and
|r| <= ln2/2, take exp(r) from its Taylor series and multiply by 2**k, built
from k's bits. Everything is a multiply, add, floor, compare or bit move,
which LLVM turns into SIMD code.

Accuracy, measured in tests/test_fastexp.py against np.exp: within 1 ulp
for every argument whose exp is a normal number of the dtype. Below that
(x < -87.33 in float32, x < -708.3 in float64) the result is 0, not a
subnormal; exp(-inf) = 0, exp(nan) = nan. Arguments above 0 are not
supported (callers pass -|z| or z - max(z)).
"""
import functools

import numpy as np
from numba import types
from numba.extending import intrinsic, lower_builtin, type_callable

from jitprop.kernels.config import jit, jit_inner_exact

# ln2 split in two: LN2_HI has few enough significant bits that k * LN2_HI
# is exact for every k used here, LN2_LO carries the rest.
LN2_HI_F32, LN2_LO_F32 = 0.693359375, -2.12194440e-4
LN2_HI_F64, LN2_LO_F64 = 0.693145751953125, 1.42860682030941723212e-6
LOG2_E = 1.4426950408889634
LOWEST_F32 = -87.33  # exp(LOWEST) is just above float32's smallest normal
LOWEST_F64 = -708.3


@intrinsic
def _bits_as_float(typingctx, i):
    """The float whose bits are the int32 or int64 ``i`` (ndarray.view for one
    scalar, without the function of its own Numba compiles for that)."""
    ft = {types.int32: types.float32, types.int64: types.float64}.get(i)
    if ft is None:
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], context.get_value_type(ft))
    return ft(i), codegen


@jit_inner_exact
def _exp_nonpositive_f32(x):
    f = np.float32
    lowest = f(LOWEST_F32)
    xc = lowest if x < lowest else x  # keeps nan: nan < lowest is false
    k = np.floor(xc * f(LOG2_E) + f(0.5))
    r = xc - k * f(LN2_HI_F32) - k * f(LN2_LO_F32)
    # Taylor series to r**7: the next term is below 0.1 ulp for |r| <= ln2/2.
    p = f(1 / 5040)
    p = p * r + f(1 / 720)
    p = p * r + f(1 / 120)
    p = p * r + f(1 / 24)
    p = p * r + f(1 / 6)
    p = p * r + f(0.5)
    p = p * r + f(1)
    p = p * r + f(1)
    scale = _bits_as_float(np.int32((np.int32(k) + 127) << 23))  # 2**k
    y = p * scale
    return f(0) if x < lowest else y


@jit_inner_exact
def _exp_nonpositive_f64(x):
    lowest = LOWEST_F64
    xc = lowest if x < lowest else x
    k = np.floor(xc * LOG2_E + 0.5)
    r = xc - k * LN2_HI_F64 - k * LN2_LO_F64
    # Taylor series to r**13: the next term is below 0.05 ulp for |r| <= ln2/2.
    p = 1 / 6227020800
    p = p * r + 1 / 479001600
    p = p * r + 1 / 39916800
    p = p * r + 1 / 3628800
    p = p * r + 1 / 362880
    p = p * r + 1 / 40320
    p = p * r + 1 / 5040
    p = p * r + 1 / 720
    p = p * r + 1 / 120
    p = p * r + 1 / 24
    p = p * r + 1 / 6
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    scale = _bits_as_float(np.int64((np.int64(k) + 1023) << 52))
    y = p * scale
    return 0.0 if x < lowest else y


def exp_nonpositive(x):
    """exp(x) for x <= 0, in x's float type (usable inside compiled code only)."""
    raise TypeError("exp_nonpositive is for compiled code; use np.exp in Python")


# Typed and lowered as a direct call of the helper for x's type (an
# @overload would compile a function of its own to make that call).
_HELPERS = {types.float32: _exp_nonpositive_f32, types.float64: _exp_nonpositive_f64}


def _helper_type(context, x):
    return context.resolve_value_type(_HELPERS[x])


@type_callable(exp_nonpositive)
def _exp_nonpositive_type(context):
    def typer(x):
        if x not in _HELPERS:
            return None
        return context.resolve_function_type(_helper_type(context, x), (x,), {}).return_type
    return typer


@lower_builtin(exp_nonpositive, types.Float)
def _exp_nonpositive_lower(context, builder, sig, args):
    fnty = _helper_type(context.typing_context, sig.args[0])
    return context.get_function(fnty, fnty.get_call_type(context.typing_context, sig.args, {}))(builder, args)


@functools.partial(jit, exact=True)
def exp_nonpositive_array(out, x):
    """out = exp(x) elementwise for 1-d float arrays (for tests and timing)."""
    for i in range(x.shape[0]):
        out[i] = exp_nonpositive(x[i])
