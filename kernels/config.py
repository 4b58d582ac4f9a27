"""Numba options shared by every kernel in jitprop.

Every ``@njit`` in the package is made with :func:`jit`, so the options live in
one place and ``tests/test_kernel_config.py`` can check that none was missed.

``fastmath`` is a flag set rather than ``True``: ``True`` adds ``nnan`` and
``ninf``, which let LLVM delete the ``isfinite`` checks the trainers rely on to
stop on a diverging run.
"""
import numba

FASTMATH = frozenset({"nsz", "arcp", "contract", "afn", "reassoc"})
# For code whose rounding is part of the algorithm (the split-constant range
# reduction in fastexp.py): without ``reassoc`` LLVM may not fold
# ``x - k*hi - k*lo`` into ``x - k*(hi + lo)``, which would cost ~100 ulps.
EXACT_FASTMATH = FASTMATH - {"reassoc"}

OPTIONS = {
    "cache": True,
    "fastmath": set(FASTMATH),
    "nogil": True,
    "error_model": "numpy",
    "boundscheck": False,
}

JITTED = []


def jit(fn):
    """Compile ``fn`` with :data:`OPTIONS` and register it for the config check."""
    compiled = numba.njit(**OPTIONS)(fn)
    JITTED.append(compiled)
    return compiled


def jit_exact(fn):
    """As :func:`jit`, with :data:`EXACT_FASTMATH` (no reassociation)."""
    compiled = numba.njit(**{**OPTIONS, "fastmath": set(EXACT_FASTMATH)})(fn)
    JITTED.append(compiled)
    return compiled
