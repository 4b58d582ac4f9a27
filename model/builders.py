"""Build the MLPs the command line and the benchmarks train."""
import numpy as np

from jitprop.checks import check_positive_int
from jitprop.model.layers import Linear, ReLU, Sigmoid, SoftMax
from jitprop.model.network import Network

ACTIVATIONS = {"sigmoid": Sigmoid, "relu": ReLU}
OUTPUTS = ("sigmoid", "softmax", "linear")


def parse_layers(text):
    """'784,128,10' -> [784, 128, 10] with a clear error for anything else."""
    try:
        sizes = [int(s) for s in str(text).split(",")]
    except ValueError:
        sizes = None
    if not sizes or len(sizes) < 2 or any(s < 1 for s in sizes):
        raise ValueError(f"layers: expected comma-separated positive widths such as 784,256,10, got {text!r}")
    return sizes


def mlp(sizes, activation="sigmoid", output="sigmoid", initial_sigma=0.1, seed=0,
        backend="numba", dtype=np.float64):
    """Linear layers of the given widths with ``activation`` between them.

    output: ``"sigmoid"`` (the seeds' MSE networks), ``"softmax"`` (for
    cross-entropy) or ``"linear"``. initial_sigma: a number, or ``"he"`` for
    sqrt(2 / n_in) per layer. Weights are drawn from
    ``numpy.random.default_rng(seed)``, layer by layer.
    """
    sizes = [check_positive_int("layers", s) for s in sizes]
    if len(sizes) < 2:
        raise ValueError(f"layers: expected at least an input and an output width, got {sizes}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation: expected one of {sorted(ACTIVATIONS)}, got {activation!r}")
    if output not in OUTPUTS:
        raise ValueError(f"output: expected one of {OUTPUTS}, got {output!r}")
    rng = np.random.default_rng(seed)
    layers = []
    for l, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        sigma = np.sqrt(2.0 / n_in) if initial_sigma == "he" else initial_sigma
        layers.append(Linear(n_in, n_out, sigma, backend=backend, dtype=dtype, rng=rng))
        last = l == len(sizes) - 2
        if not last:
            layers.append(ACTIVATIONS[activation](backend=backend, dtype=dtype))
        elif output == "sigmoid":
            layers.append(Sigmoid(backend=backend, dtype=dtype))
        elif output == "softmax":
            layers.append(SoftMax(backend=backend, dtype=dtype))
    return Network(layers, backend=backend, dtype=dtype)
