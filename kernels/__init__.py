"""Compiled kernels (Numba), each checked against its NumPy twin in
``jitprop.kernels.reference`` (same names, same order).

The names here are checked wrappers: a wrong shape, dtype or layout is a
clear error naming the argument. The compiled functions themselves are in
``jitprop.kernels.registry.compiled`` (for callers that have checked their
inputs already) and each kernel's test recipe in ``registry.KERNELS``.
"""
from jitprop.kernels import activations, epoch, linear, losses, optimizers  # noqa: F401  (registers them)
from jitprop.kernels.activations import ACTIVATIONS
from jitprop.kernels.losses import LOSSES
from jitprop.kernels.optimizers import OPTIMIZERS
from jitprop.kernels.registry import KERNELS, checked

# The kernels in this order of modules, each module's in the order written
# (the order of the twins in reference.py), whatever order imports ran in.
MODULES = ("activations", "linear", "losses", "optimizers", "epoch")
KERNELS.sort(key=lambda r: (MODULES.index(r.compiled.py_func.__module__.rsplit(".", 1)[1]),
                            r.compiled.py_func.__code__.co_firstlineno))

KERNEL_NAMES = tuple(r.name for r in KERNELS)
for _r in KERNELS:
    globals()[_r.name] = checked(_r)
del _r

__all__ = ["ACTIVATIONS", "LOSSES", "OPTIMIZERS", "KERNELS", "KERNEL_NAMES", *KERNEL_NAMES]
