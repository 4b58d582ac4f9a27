"""The one place the model layer chooses between compiled kernels and twins."""
from jitprop.checks import check_backend

DEFAULT_BACKEND = "numba"


def ops(backend):
    """The kernels for ``backend``: the compiled ones (``"numba"``; unchecked,
    the model layer checks its inputs itself) or their NumPy twins
    (``"numpy"``); both have the same names and signatures."""
    check_backend(backend)
    if backend == "numba":
        from jitprop.kernels.registry import compiled
        import jitprop.kernels  # noqa: F401  (registers every kernel)
        return compiled
    import jitprop.kernels.reference as reference
    return reference
