"""The one place the model layer chooses between compiled kernels and twins."""
from jitprop.checks import check_backend

DEFAULT_BACKEND = "numba"


def ops(backend):
    """The kernel module for ``backend``: ``jitprop.kernels`` (compiled) or
    ``jitprop.kernels.reference`` (NumPy twins); both have the same names."""
    check_backend(backend)
    if backend == "numba":
        import jitprop.kernels as kernels
        return kernels
    import jitprop.kernels.reference as reference
    return reference
