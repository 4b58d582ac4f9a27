"""The seed assignments' small experiments: two circles with the hinge loss,
scikit-learn's 8x8 digits, and Homework 1's universal-approximation boxes."""
import numpy as np

import jitprop
from jitprop import functional as F


def circles(layers=(2, 16, 16, 1), activation="relu", steps=100, learning_rate=0.1, weight_decay=0.01,
            n=200, seed=0, on_step=None):
    """Assignment 1's two-circles task: full-batch SGD on the hinge loss.

    As in that assignment, the gradient is the one of the batch-mean hinge
    loss and weight decay is decoupled from the learning rate:
    ``w -= lr * dw + weight_decay * w`` (jitprop's SGD with decay
    ``weight_decay / lr``). Returns ``(net, x, y, losses, accuracy)``; each
    loss is the hinge loss plus Assignment 1's L2 term of the weights.
    """
    from jitprop.data import two_circles
    layers = list(layers)
    if layers[0] != 2 or layers[-1] != 1:
        raise ValueError(f"layers: the circles task needs 2 inputs and 1 output, got {layers}")
    x, y = two_circles(n, seed=seed)
    net = jitprop.mlp(layers, activation, "linear", "he", seed=seed)
    losses = []
    for step in range(1, steps + 1):
        net.zero_gradients()
        pred = net.forward(x)
        loss = F.hinge_forward(pred, y) + F.l2_regularizer(weight_decay, [l.w for l in net.linears])
        net.backward(F.hinge_grad_input(pred, y))
        net.update_parameters(learning_rate, weight_decay / learning_rate)
        losses.append(loss)
        if on_step is not None:
            on_step(step, loss)
    accuracy = float((np.sign(net.predict(x)) == y).mean())
    return net, x, y, losses, accuracy


def digits(layers=(64, 64, 10), activation="relu", epochs=30, batch_size=16, learning_rate=0.01,
           seed=0, progress=False):
    """Assignment 1's 8x8 digits: a 70/30 split (seeded), pixels scaled to
    [0, 1], softmax + cross-entropy. Returns ``(net, history, test_accuracy)``."""
    from jitprop.data import load_digits
    layers = list(layers)
    if layers[0] != 64 or layers[-1] != 10:
        raise ValueError(f"layers: the digits task needs 64 inputs and 10 outputs, got {layers}")
    x, y = load_digits()
    order = np.random.default_rng(seed).permutation(len(x))
    cut = int(round(0.7 * len(x)))
    train_idx, test_idx = order[:cut], order[cut:]
    x = x / 16.0
    net = jitprop.mlp(layers, activation, "softmax", "he", seed=seed)
    history = jitprop.train(net, jitprop.CrossEntropy(), x[train_idx], y[train_idx], epochs=epochs,
                            batch_size=batch_size, learning_rate=learning_rate, seed=seed, impl="fused",
                            progress=progress)
    return net, history, jitprop.accuracy(net, x[test_idx], y[test_idx])


FUNCTIONS = {
    "sin": lambda x: np.sin(x),
    "bump": lambda x: np.exp(-x ** 2),
    "wave": lambda x: np.sin(2 * x) * np.exp(-x ** 2 / 8) + 0.3 * x,
}


def step(z):
    """The step activation: 1 where z >= 0, else 0."""
    return (z >= 0).astype(np.float64)


def box(x, left, width, height):
    """Two step neurons realise a box: ``height * (step(x - left) - step(x - left - width))``."""
    return height * (step(x - left) - step(x - (left + width)))


def box_sum(f, bound, n_boxes):
    """A one-hidden-layer step network approximating f on [-bound, bound]:
    ``n_boxes`` boxes of width ``delta = 2 * bound / n_boxes``, each as high as
    f at its centre (2 * n_boxes hidden neurons). Returns a callable."""
    delta = 2.0 * bound / n_boxes
    lefts = -bound + delta * np.arange(n_boxes)
    heights = f(lefts + delta / 2)

    def approx(x):
        x = np.asarray(x, np.float64)[..., None]
        return (heights * (step(x - lefts) - step(x - (lefts + delta)))).sum(axis=-1)
    return approx


def universal(function="sin", bound=3.0, box_counts=(4, 8, 16, 32, 64, 128, 256), grid=4001):
    """Max and mean absolute error of the box sums on a grid of [-bound, bound]
    (the right end excluded: boxes are half-open). Returns rows of
    ``(n_boxes, delta, max_error, mean_error)``."""
    if function not in FUNCTIONS:
        raise ValueError(f"function: expected one of {sorted(FUNCTIONS)}, got {function!r}")
    f = FUNCTIONS[function]
    xs = np.linspace(-bound, bound, grid, endpoint=False)
    rows = []
    for n in box_counts:
        err = np.abs(f(xs) - box_sum(f, bound, n)(xs))
        rows.append((n, 2 * bound / n, float(err.max()), float(err.mean())))
    return rows
