"""Build the MLPs the command line, the benchmarks and the estimators train."""
import numpy as np

from jitprop.checks import check_positive_int
from jitprop.model.layers import Activation, Linear, SoftMax
from jitprop.model.network import Network

ACTIVATION_NAMES = tuple(name for name in Activation.by_name if name != "identity")
OUTPUTS = ("softmax", "identity", "linear") + ACTIVATION_NAMES
INITS = ("he", "lecun", "glorot")


def parse_layers(text):
    """'784,128,10' -> [784, 128, 10] with a clear error for anything else."""
    parts = [s.strip() for s in str(text).split(",")]
    bad = [s for s in parts if not s.isdigit() or int(s) < 1]
    if bad or len(parts) < 2:
        what = f"{bad[0]!r} is not a positive whole number" if bad else "at least two widths are needed"
        raise ValueError(f"layers: expected comma-separated positive widths such as 784,256,10, got {text!r} ({what})")
    return [int(s) for s in parts]


def initial_sigma_for(initial_sigma, n_in, n_out):
    """The std of a layer's initial weights: a number, ``"he"``
    (sqrt(2 / n_in)), ``"lecun"`` (1 / sqrt(n_in), Homework 1's
    initialisation) or ``"glorot"`` (sqrt(2 / (n_in + n_out)))."""
    if initial_sigma == "he":
        return np.sqrt(2.0 / n_in)
    if initial_sigma == "lecun":
        return 1.0 / np.sqrt(n_in)
    if initial_sigma == "glorot":
        return np.sqrt(2.0 / (n_in + n_out))
    if isinstance(initial_sigma, str):
        raise ValueError(f"initial_sigma: expected a number or one of {', '.join(INITS)}, got {initial_sigma!r}")
    return initial_sigma


def mlp(sizes, activation="sigmoid", output="sigmoid", initial_sigma=0.1, seed=0, backend="numba",
        dtype=np.float64):
    """Linear layers of the given widths with ``activation`` between them.

    activation: a name from ``ACTIVATION_NAMES`` (sigmoid, relu, tanh,
    leaky-relu). output: ``"softmax"`` (for cross-entropy), ``"identity"``
    (or ``"linear"``: raw outputs) or an activation name (``"sigmoid"``: the
    seeds' MSE networks). initial_sigma: a number, or ``"he"``, ``"lecun"``,
    ``"glorot"``. Weights are drawn from ``numpy.random.default_rng(seed)``,
    layer by layer, each (n_out, n_in) with one ``normal`` call.
    """
    sizes = [check_positive_int("layers", s) for s in sizes]
    if len(sizes) < 2:
        raise ValueError(f"layers: expected at least an input and an output width, got {sizes}")
    if activation not in ACTIVATION_NAMES:
        raise ValueError(f"activation: expected one of {', '.join(ACTIVATION_NAMES)}, got {activation!r}")
    if output not in OUTPUTS:
        raise ValueError(f"output: expected one of {', '.join(OUTPUTS)}, got {output!r}")
    initial_sigma_for(initial_sigma, 1, 1)
    rng = np.random.default_rng(seed)
    layers = []
    for l, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        sigma = initial_sigma_for(initial_sigma, n_in, n_out)
        layers.append(Linear(n_in, n_out, sigma, backend=backend, dtype=dtype, rng=rng))
        last = l == len(sizes) - 2
        if not last:
            layers.append(Activation.by_name[activation](backend=backend, dtype=dtype))
        elif output == "softmax":
            layers.append(SoftMax(backend=backend, dtype=dtype))
        elif output not in ("identity", "linear"):
            layers.append(Activation.by_name[output](backend=backend, dtype=dtype))
    return Network(layers, backend=backend, dtype=dtype)
