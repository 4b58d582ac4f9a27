"""FLOP counts of a training epoch, for GFLOP/s and the share of the GEMM rate.

Per sample, for widths n_0..n_L (multiply-add = 2 FLOPs, matrix products only):
forward ``2 * sum(n_l * n_{l+1})``, weight gradients the same again, and the
input gradients of every layer but the first ``2 * sum_{l>0}(n_l * n_{l+1})``.
Per SGD step, the update ``p -= lr * (g + wd * p)`` counts 2 FLOPs per
parameter (weights and biases). Activations, biases and the loss are left out:
they are O(sum n_l), not O(sum n_l * n_{l+1}).
"""


def matmul_terms(sizes):
    return [a * b for a, b in zip(sizes, sizes[1:])]


def n_parameters(sizes):
    return sum(a * b + b for a, b in zip(sizes, sizes[1:]))


def training_flops(sizes, n_samples, batch_size):
    """FLOPs of one epoch of ``n_samples`` in minibatches of ``batch_size``."""
    terms = matmul_terms(sizes)
    per_sample = 6 * sum(terms) - 2 * terms[0]
    steps = -(-n_samples // batch_size)
    return n_samples * per_sample + steps * 2 * n_parameters(sizes)


def gemm_flops(n):
    """FLOPs of an n x n by n x n matrix product."""
    return 2 * n ** 3
