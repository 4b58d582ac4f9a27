"""jitprop: backpropagation for multilayer perceptrons, with Numba-compiled CPU
kernels each checked against a pure-NumPy twin.

    import jitprop
    net = jitprop.mlp([784, 128, 10], activation="relu", output="softmax")
    history = jitprop.train(net, jitprop.CrossEntropy(), x, labels, epochs=5,
                            optimizer=jitprop.Adam(lr=1e-3))

The names below are imported on first use, so ``import jitprop`` (and the
command's ``--help`` and ``--version``) does not load Numba.
"""
import os as _os
import signal as _signal
import sys as _sys

# Run as the `jitprop` command: a Ctrl-C while Python is still importing ends
# the process quietly with the usual status (130) instead of a KeyboardInterrupt
# traceback; jitprop.cli.main turns Ctrl-C back into KeyboardInterrupt.
if _sys.argv and (_os.path.basename(_sys.argv[0]) == "jitprop"
                  or _sys.argv[0].endswith(_os.path.join("jitprop", "__main__.py"))):
    _signal.signal(_signal.SIGINT, lambda signum, frame: _os._exit(130))

# name -> the module that defines it
_LAZY = {
    **{name: "jitprop.model" for name in (
        "ACTIVATION_NAMES", "mlp", "parse_layers", "CheckpointError", "load", "read_checkpoint", "save_checkpoint",
        "Cost", "CrossEntropy", "Hinge", "MeanSquareError", "IMPLS", "Activation", "Dropout", "Identity", "Layer",
        "LeakyReLU", "Linear", "ReLU", "Sigmoid", "SoftMax", "Tanh", "Network", "SGD", "Adam", "Optimizer",
        "l2_term", "Constant", "Cosine", "Exponential", "Schedule", "Step", "History", "TrainingDiverged",
        "accuracy", "evaluate", "train")},
    "RunConfig": "jitprop.config", "ConfigError": "jitprop.config", "PRESETS": "jitprop.config",
    "Run": "jitprop.session", "RunResult": "jitprop.session", "run": "jitprop.session",
}

__all__ = [*_LAZY, "__version__"]

# scikit-learn estimators, imported on first use and kept out of __all__, so
# neither `import jitprop` nor `from jitprop import *` imports scikit-learn
# (an optional extra: pip install "jitprop[sklearn]").
_LAZY.update({"MLPClassifier": "jitprop.sklearn", "MLPRegressor": "jitprop.sklearn"})


def __getattr__(name):
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version
        try:
            value = version("jitprop")
        except PackageNotFoundError:  # a source tree that is not installed
            value = "0+unknown"
        globals()[name] = value
        return value
    if name in _LAZY:
        from importlib import import_module
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'jitprop' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
