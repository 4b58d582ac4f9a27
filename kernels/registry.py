"""The list of public kernels, each with its test recipe, and the checked
wrappers users call.

Every public kernel is made with :func:`kernel`, which compiles it (with the
options of ``config.py``) and records, beside it, how to test it: which
arguments are arrays of which dimensions, which are written, which integer
codes are allowed, how to make random inputs, the variants to verify (an
activation, an optimizer), its tolerance class and the shapes the benchmarks
time. ``jitprop verify``, the tests and the benchmarks iterate
:data:`KERNELS`; no list of kernel names is kept by hand.

``jitprop.kernels.<name>`` is a thin checked wrapper around the compiled
kernel (stumpy's pattern: a private compiled function and a public one that
checks its inputs), so a wrong shape, dtype or layout is a ``ValueError``
naming the argument, never a segfault. Code that has already checked its
inputs (the model layer) calls :data:`compiled` directly.
"""
import functools
import inspect
import numbers
import types
from dataclasses import dataclass, field

import numpy as np

from jitprop.kernels.config import jit

FLOAT_DTYPES = (np.dtype(np.float64), np.dtype(np.float32))


@dataclass(frozen=True)
class Recipe:
    """How to call, check and test one kernel.

    arrays: argument name -> dimension names, e.g. ``{"x": "B I"}``; a digit
    is a fixed size; arrays named in ``ints`` hold int64, the rest the
    kernel's float dtype. writes: arrays the kernel overwrites or
    accumulates into. f64: arrays that are float64 whatever the kernel's
    dtype (hyperparameters, learning rates). codes: argument name -> the allowed integer codes.
    inputs(rng, b, n_in, n_out, dtype, variant, scale): random arguments.
    variants: names verified separately (an activation, an optimizer).
    family: ``"element"`` (one layer's arithmetic) or ``"network"`` (many
    steps compound rounding) selects the tolerance. extreme: also verified
    with pre-activations scaled by 1e4. check(bound): semantic checks the
    dimensions cannot express (an index in range, a size that must match).
    """
    name: str
    compiled: object
    arrays: dict
    writes: tuple = ()
    ints: tuple = ()
    f64: tuple = ()
    codes: dict = field(default_factory=dict)
    inputs: object = None
    variants: tuple = (None,)
    family: str = "element"
    extreme: bool = False
    bench_shapes: tuple = ()
    check: object = None


KERNELS = []
compiled = types.SimpleNamespace()


def kernel(driver=False, **recipe):
    """Decorator: compile ``fn`` and register it with its recipe, in order.
    ``driver``: fn is plain Python that runs compiled workers (on several
    threads); it is registered as it is."""
    def deco(fn):
        if driver:
            fn.py_func = fn
            disp = fn
        else:
            disp = jit(fn)
        KERNELS.append(Recipe(name=fn.__name__, compiled=disp, **recipe))
        setattr(compiled, fn.__name__, disp)
        return disp
    return deco


def recipe(name):
    for r in KERNELS:
        if r.name == name:
            return r
    raise KeyError(name)


def _describe(x):
    return f"{x.dtype} array of shape {x.shape}"


def check_call(r, bound):
    """Check the bound arguments of kernel ``r``; returns them ready to call
    (float scalars cast to the kernel's dtype). Raises ValueError/TypeError
    naming the argument."""
    args = bound.arguments
    dims = {}
    dtype = None
    for name, spec in r.arrays.items():
        x = args[name]
        if not isinstance(x, np.ndarray):
            raise TypeError(f"{r.name}: {name}: expected a numpy array, got {type(x).__name__}")
        if name in r.ints or name in r.f64:
            want_dt = np.int64 if name in r.ints else np.float64
            if x.dtype != want_dt:
                raise TypeError(f"{r.name}: {name}: expected {np.dtype(want_dt)}, got {x.dtype}")
        else:
            if x.dtype not in FLOAT_DTYPES:
                raise TypeError(f"{r.name}: {name}: expected float64 or float32, got {x.dtype}")
            if dtype is None:
                dtype = x.dtype
            elif x.dtype != dtype:
                raise TypeError(f"{r.name}: {name}: expected {dtype} like the arrays before it, got {x.dtype}")
        want = spec.split()
        if x.ndim != len(want):
            raise ValueError(f"{r.name}: {name}: expected {len(want)}-D ({' x '.join(want)}), got {_describe(x)}")
        for axis, (d, n) in enumerate(zip(want, x.shape)):
            if d.isdigit():
                if n != int(d):
                    raise ValueError(f"{r.name}: {name}: axis {axis} should be {d}, got {_describe(x)}")
            elif d in dims and dims[d] != n:
                raise ValueError(f"{r.name}: {name}: axis {axis} ({d}) should be {dims[d]} as in the "
                                 f"arguments before it, got {_describe(x)}")
            else:
                dims[d] = n
        if not x.flags.c_contiguous:
            raise ValueError(f"{r.name}: {name}: expected a C-contiguous array (np.ascontiguousarray), got a view")
        if name in r.writes and not x.flags.writeable:
            raise ValueError(f"{r.name}: {name}: the kernel writes into it, but it is read-only")
    for name, allowed in r.codes.items():
        v = args[name]
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or int(v) not in allowed.values():
            names = ", ".join(f"{k}={c}" for k, c in allowed.items())
            raise ValueError(f"{r.name}: {name}: expected one of {names}, got {v!r}")
        args[name] = int(v)
    for name, v in args.items():
        if name in r.arrays or name in r.codes:
            continue
        if isinstance(v, (bool, np.bool_)):
            continue
        if isinstance(v, numbers.Integral):
            args[name] = int(v)
        elif isinstance(v, numbers.Real):
            if not np.isfinite(v):
                raise ValueError(f"{r.name}: {name}: expected a finite number, got {v!r}")
            args[name] = dtype.type(v) if dtype is not None else float(v)
        else:
            raise TypeError(f"{r.name}: {name}: expected a number, got {type(v).__name__}")
    if r.check is not None:
        r.check(args, dims)
    return bound


def checked(r):
    """The public wrapper of kernel ``r``: same signature, checked inputs."""
    py = r.compiled.py_func
    sig = inspect.signature(py)

    @functools.wraps(py)
    def wrapper(*a, **kw):
        try:
            bound = sig.bind(*a, **kw)
        except TypeError as exc:
            raise TypeError(f"{r.name}: {exc}") from None
        bound = check_call(r, bound)
        return r.compiled(*bound.args, **bound.kwargs)

    wrapper.__signature__ = sig
    wrapper.compiled = r.compiled
    wrapper.recipe = r
    return wrapper
