"""jitprop: backpropagation for multilayer perceptrons, with Numba-compiled CPU
kernels each checked against a pure-NumPy twin.

    import jitprop
    net = jitprop.mlp([784, 128, 10], activation="relu", output="softmax")
    history = jitprop.train(net, jitprop.CrossEntropy(), x, labels, epochs=5,
                            optimizer=jitprop.Adam(lr=1e-3))
"""
from importlib.metadata import PackageNotFoundError, version as _version

from jitprop.model import *  # noqa: F401,F403  (the public API is model.__all__)
from jitprop.model import __all__ as _model_all

try:
    __version__ = _version("jitprop")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = [*_model_all, "__version__"]

# scikit-learn estimators, imported on first use so `import jitprop` does not
# import scikit-learn (an optional extra: pip install "jitprop[sklearn]").
_LAZY = {"MLPClassifier": "jitprop.sklearn", "MLPRegressor": "jitprop.sklearn"}


def __getattr__(name):
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'jitprop' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_LAZY])
