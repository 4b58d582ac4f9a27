"""SIMD vectors for the compiled kernels: a Numba type for an LLVM vector
(``VEC_BYTES`` wide: 8 float32 or 4 float64 lanes on AVX2, twice that with
AVX-512) and the handful of operations a GEMM micro-kernel needs.

Numba has no vector type and LLVM will not keep a register tile of
accumulators in registers across a loop by itself, so the micro-kernels in
``gemm.py`` spell out their vectors: ``vload``/``vstore`` at an element
index of a C-contiguous array, ``vbroadcast`` (an element loaded into every
lane: AVX-512's embedded broadcast), ``vzero``, ``vfma``, ``hsum`` (a
fixed-order horizontal sum, so results do not depend on where a tile falls),
and the arithmetic operators, ``np.sqrt`` and ``fma`` (scalars among vectors
are broadcast), so the optimizer rules written for scalars run on vectors
unchanged. ``load``/``store`` read and write one element: ``arr[i]`` with a
computed index compiles to a negative-index wraparound as well, integer work
the inner loops cannot afford. ``imin``/``imax`` (min and max of signed
integers) and ``view2d`` (a 2-d view of a flat buffer) stand in for Python's
builtins and ``reshape``, which compile functions of their own.

Everything here is compiled inline into its callers (LLVM intrinsics); these
are not kernels and have no twins. ``tests/test_simd.py`` checks each.
"""
import operator

import numpy as np
from llvmlite import binding as llvm
from llvmlite import ir
from numba import types
from numba.core.imputils import impl_ret_borrowed
from numba.extending import intrinsic, lower_builtin, models, register_model, type_callable
from numba.np.arrayobj import populate_array

VEC_BYTES = 64 if "+avx512f" in llvm.get_host_cpu_features().flatten().split(",") else 32


class Vec(types.Type):
    """An LLVM vector of ``lanes`` elements of the float type ``dtype``."""

    def __init__(self, dtype, lanes):
        self.dtype, self.lanes = dtype, lanes
        super().__init__(name=f"Vec({dtype}, {lanes})")


@register_model(Vec)
class _VecModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, ir.VectorType(dmm.lookup(fe_type.dtype).get_value_type(), fe_type.lanes))


def _vector_intrinsic(builder, base, vec, nargs):
    """The LLVM intrinsic ``base`` (e.g. llvm.fma) for vector type ``vec``."""
    elem = "f32" if isinstance(vec.element, ir.FloatType) else "f64"
    name = f"{base}.v{vec.count}{elem}"
    fnty = ir.FunctionType(vec, [vec] * nargs)
    fn = builder.module.globals.get(name)
    return fn if fn is not None else ir.Function(builder.module, fnty, name)


def _vec_of(arr):
    return Vec(arr.dtype, VEC_BYTES * 8 // arr.dtype.bitwidth)


def _pointer(context, builder, arrty, arr, index, vty):
    data = context.make_array(arrty)(context, builder, value=arr).data
    elem = builder.gep(data, [index])
    return builder.bitcast(elem, context.get_value_type(vty).as_pointer())


@intrinsic
def vlanes(typingctx, arr):
    """The number of lanes of ``arr``'s dtype (a compile-time constant)."""
    lanes = _vec_of(arr).lanes

    def codegen(context, builder, sig, args):
        return context.get_constant(types.intp, lanes)
    return types.intp(arr), codegen


@intrinsic
def vload(typingctx, arr, index):
    """The vector at flat element ``index`` of C-contiguous ``arr``."""
    vty = _vec_of(arr)

    def codegen(context, builder, sig, args):
        ptr = _pointer(context, builder, sig.args[0], args[0], args[1], vty)
        return builder.load(ptr, align=arr.dtype.bitwidth // 8)
    return vty(arr, index), codegen


@intrinsic
def vbroadcast(typingctx, like, arr, index):
    """A vector (lanes of ``like``'s dtype) with every lane arr's element at
    flat ``index`` (arr C-contiguous, of like's dtype): one broadcast load,
    without the negative-index wraparound Numba adds to ``arr[index]``."""
    vty = _vec_of(like)
    if arr.dtype != like.dtype:
        return None

    def codegen(context, builder, sig, args):
        data = context.make_array(sig.args[1])(context, builder, value=args[1]).data
        val = builder.load(builder.gep(data, [args[2]]))
        return _splat(context, builder, vty, val, sig.args[1].dtype)
    return vty(like, arr, index), codegen


@intrinsic
def load(typingctx, arr, index):
    """arr's element at flat ``index`` (C-contiguous arr), without the
    negative-index wraparound Numba adds to ``arr[index]`` (integer work in
    the inner loops of the micro-kernels)."""
    if not isinstance(arr, types.Array):
        return None

    def codegen(context, builder, sig, args):
        data = context.make_array(sig.args[0])(context, builder, value=args[0]).data
        return builder.load(builder.gep(data, [args[1]]))
    return arr.dtype(arr, index), codegen


@intrinsic
def store(typingctx, arr, index, value):
    """arr's element at flat ``index`` = value (C-contiguous arr), without
    the negative-index wraparound of ``arr[index] = value``."""
    if not isinstance(arr, types.Array):
        return None

    def codegen(context, builder, sig, args):
        data = context.make_array(sig.args[0])(context, builder, value=args[0]).data
        builder.store(context.cast(builder, args[2], sig.args[2], sig.args[0].dtype), builder.gep(data, [args[1]]))
        return context.get_dummy_value()
    return types.void(arr, index, value), codegen


@intrinsic
def view2d(typingctx, arr, start, rows, cols):
    """The (rows, cols) C-contiguous view of 1-d C-contiguous ``arr`` from
    flat element ``start``: ``arr[start:start + rows * cols].reshape((rows,
    cols))`` without bounds checks (and without the function of its own
    Numba compiles for reshape)."""
    if not (isinstance(arr, types.Array) and arr.ndim == 1 and arr.layout == "C"
            and all(isinstance(t, types.Integer) for t in (start, rows, cols))):
        return None
    out = types.Array(arr.dtype, 2, "C", readonly=not arr.mutable)

    def codegen(context, builder, sig, args):
        src = context.make_array(sig.args[0])(context, builder, value=args[0])
        start_, rows_, cols_ = (context.cast(builder, v, t, types.intp) for v, t in zip(args[1:], sig.args[1:]))
        view = context.make_array(out)(context, builder)
        itemsize = src.itemsize
        populate_array(view, data=builder.gep(src.data, [start_]), shape=[rows_, cols_],
                       strides=[builder.mul(cols_, itemsize), itemsize], itemsize=itemsize, meminfo=src.meminfo,
                       parent=src.parent)
        return impl_ret_borrowed(context, builder, out, view._getvalue())
    return out(arr, start, rows, cols), codegen


def _signed_pick(pred, a, b):
    """The signature and code generation of a select between signed
    integers a and b (a where ``a pred b``), as an intp."""
    if not (isinstance(a, types.Integer) and a.signed and isinstance(b, types.Integer) and b.signed):
        return None

    def codegen(context, builder, sig, args):
        x, y = (context.cast(builder, v, t, types.intp) for v, t in zip(args, sig.args))
        return builder.select(builder.icmp_signed(pred, x, y), x, y)
    return types.intp(a, b), codegen


@intrinsic
def imin(typingctx, a, b):
    """min(a, b) of signed integers, as an intp (Python's ``min`` compiles a
    function of its own for each pair of types, first-run time for a select)."""
    return _signed_pick("<=", a, b)


@intrinsic
def imax(typingctx, a, b):
    """max(a, b) of signed integers, as an intp."""
    return _signed_pick(">=", a, b)


@intrinsic
def vstore(typingctx, arr, index, v):
    """Store vector ``v`` at flat element ``index`` of ``arr``."""
    if not isinstance(v, Vec) or v.dtype != arr.dtype:
        return None

    def codegen(context, builder, sig, args):
        ptr = _pointer(context, builder, sig.args[0], args[0], args[1], sig.args[2])
        builder.store(args[2], ptr, align=arr.dtype.bitwidth // 8)
        return context.get_dummy_value()
    return types.void(arr, index, v), codegen


@intrinsic
def vfma(typingctx, a, b, c):
    """a * b + c, fused (one rounding), lane by lane."""
    if not (isinstance(a, Vec) and a == b == c):
        return None

    def codegen(context, builder, sig, args):
        fn = _vector_intrinsic(builder, "llvm.fma", args[0].type, 3)
        return builder.call(fn, args)
    return a(a, b, c), codegen


def _scalar_fma(a, b, c):
    """sfma's signature and code generation (None for other types)."""
    if not (isinstance(a, types.Float) and a == b == c):
        return None

    def codegen(context, builder, sig, args):
        name = "llvm.fma.f32" if a == types.float32 else "llvm.fma.f64"
        ty = args[0].type
        fn = builder.module.globals.get(name) or ir.Function(builder.module, ir.FunctionType(ty, [ty] * 3), name)
        return builder.call(fn, args)
    return a(a, b, c), codegen


@intrinsic
def sfma(typingctx, a, b, c):
    """a * b + c for floats of one type, fused (one rounding): as one lane of
    ``vfma``, whatever the optimizer does to the code around it."""
    return _scalar_fma(a, b, c)


@intrinsic
def fma(typingctx, a, b, c):
    """a * b + c with one rounding, for floats of one type or vectors (a
    scalar among vectors is broadcast); compiled code only."""
    vec = next((t for t in (a, b, c) if isinstance(t, Vec)), None)
    if vec is None:
        return _scalar_fma(a, b, c)
    if not all(t == vec or isinstance(t, (types.Float, types.Integer)) for t in (a, b, c)):
        return None

    def codegen(context, builder, sig, args):
        vals = [v if t == vec else _splat(context, builder, vec, v, t) for t, v in zip(sig.args, args)]
        return builder.call(_vector_intrinsic(builder, "llvm.fma", vals[0].type, 3), vals)
    return vec(a, b, c), codegen


@intrinsic
def hsum(typingctx, v):
    """The sum of the lanes of ``v``, in a fixed order (halves added pairwise
    down to one lane), so a result does not depend on where it was computed."""
    if not isinstance(v, Vec):
        return None

    def codegen(context, builder, sig, args):
        x, n = args[0], v.lanes
        i32 = ir.IntType(32)
        while n > 1:
            half = n // 2
            lo = builder.shuffle_vector(x, x, ir.Constant(ir.VectorType(i32, half), list(range(half))))
            hi = builder.shuffle_vector(x, x, ir.Constant(ir.VectorType(i32, half), list(range(half, n))))
            x = builder.fadd(lo, hi)
            n = half
        return builder.extract_element(x, ir.Constant(i32, 0))
    return v.dtype(v), codegen


def _splat(context, builder, vty, val, valty):
    val = context.cast(builder, val, valty, vty.dtype)
    vec_t = context.get_value_type(vty)
    r = builder.insert_element(ir.Constant(vec_t, ir.Undefined), val, ir.Constant(ir.IntType(32), 0))
    return builder.shuffle_vector(r, ir.Constant(vec_t, ir.Undefined),
                                  ir.Constant(ir.VectorType(ir.IntType(32), vty.lanes), [0] * vty.lanes))


# The arithmetic operators and np.sqrt on vectors, so the optimizers' scalar
# rules run on vectors unchanged. Typed and lowered directly (an @overload
# would compile a function of its own per signature for every operator,
# time the first run spends for nothing).
def _scalar(t):
    return isinstance(t, (types.Float, types.Integer))


def _binary_type(context):
    def typer(a, b):
        if isinstance(a, Vec) and (b == a or _scalar(b)):
            return a
        if isinstance(b, Vec) and _scalar(a):
            return b
        return None
    return typer


def _lower_binary(op):
    def both(context, builder, sig, args):
        return getattr(builder, op)(*args)

    def vec_scalar(context, builder, sig, args):
        return getattr(builder, op)(args[0], _splat(context, builder, sig.args[0], args[1], sig.args[1]))

    def scalar_vec(context, builder, sig, args):
        return getattr(builder, op)(_splat(context, builder, sig.args[1], args[0], sig.args[0]), args[1])
    return both, vec_scalar, scalar_vec


for _pyop, _op in ((operator.add, "fadd"), (operator.sub, "fsub"), (operator.mul, "fmul"),
                   (operator.truediv, "fdiv")):
    type_callable(_pyop)(_binary_type)
    _both, _vec_scalar, _scalar_vec = _lower_binary(_op)
    lower_builtin(_pyop, Vec, Vec)(_both)
    for _s in (types.Float, types.Integer):
        lower_builtin(_pyop, Vec, _s)(_vec_scalar)
        lower_builtin(_pyop, _s, Vec)(_scalar_vec)


@type_callable(np.sqrt)
def _sqrt_type(context):
    def typer(a):
        return a if isinstance(a, Vec) else None
    return typer


@lower_builtin(np.sqrt, Vec)
def _sqrt_lower(context, builder, sig, args):
    return builder.call(_vector_intrinsic(builder, "llvm.sqrt", args[0].type, 1), args)


@intrinsic
def vzero(typingctx, like):
    """A vector of zeros (lanes of ``like``'s dtype)."""
    vty = _vec_of(like)

    def codegen(context, builder, sig, args):
        return ir.Constant(context.get_value_type(vty), None)
    return vty(like), codegen
