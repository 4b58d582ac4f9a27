"""The seed assignments' small experiments: two circles with the hinge loss,
scikit-learn's 8x8 digits, and Homework 1's universal-approximation boxes.

The circles and digits run Assignment 1's own classes (``jitprop.sequential``:
``SequentialNN``, ``Dense``, ``Hinge``, ``SGD`` ...) on the compiled kernels,
with the weights drawn as Assignment 1 draws them (N(0, 1)) from
``np.random.RandomState(seed)``, so NumPy's global generator is untouched.
"""
import time

import numpy as np

from jitprop import sequential as S
from jitprop.checks import check_positive_int

ACTIVATIONS = {"relu": S.ReLU, "sigmoid": S.Sigmoid}


def sequential_mlp(layers, activation="relu", seed=0):
    """A ``SequentialNN`` of ``Dense(layers[i], layers[i + 1])`` with
    ``activation`` between them (none after the last), its weights drawn
    from ``np.random.RandomState(seed)``."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation: expected one of {sorted(ACTIVATIONS)}, got {activation!r}")
    seed = check_positive_int("seed", seed, minimum=0)
    rng = np.random.RandomState(seed)
    model = S.SequentialNN()
    for i, (n_in, n_out) in enumerate(zip(layers, layers[1:])):
        if i:
            model.add(ACTIVATIONS[activation]())
        model.add(S.Dense(n_in, n_out, rng=rng))
    return model


def predict(model, x):
    """The test-phase output of ``model`` (Dropout scales), leaving its
    training phase as it was."""
    phase = model.training_phase
    model.set_training_phase(False)
    try:
        return model.forward(x)
    finally:
        model.set_training_phase(phase)


def circles(layers=(2, 16, 16, 1), activation="relu", steps=100, learning_rate=0.1, weight_decay=0.01,
            n=200, seed=0, on_step=None):
    """Assignment 1's two-circles task, run as its training cell runs it:
    full-batch ``SGD`` on the ``Hinge`` loss, whose gradient is the one of
    the batch mean, with weight decay decoupled from the learning rate
    (``w -= lr * dw + weight_decay * w``, biases included).

    Returns ``(model, x, y, losses, accuracy)``: a ``SequentialNN``, the
    points (n, 2) and labels (n, 1) in {-1, +1}, each step's loss (hinge plus
    Assignment 1's L2 term of every parameter) and the training accuracy of
    ``model.forward(x) > 0`` in the test phase.
    """
    from jitprop.data import two_circles
    layers = list(layers)
    if len(layers) < 2 or layers[0] != 2 or layers[-1] != 1:
        raise ValueError(f"layers: the circles task needs 2 inputs and 1 output, got {layers}")
    steps = check_positive_int("steps", steps)
    x, y = two_circles(n, seed=check_positive_int("seed", seed, minimum=0))
    model = sequential_mlp(layers, activation, seed)
    loss = S.Hinge()
    sgd = S.SGD(model, lr=learning_rate, weight_decay=weight_decay)
    model.set_training_phase(True)
    losses = []
    for step in range(1, steps + 1):
        y_pred = model.forward(x)
        loss_value = loss.forward(y_pred, y) + S.l2_regularizer(weight_decay, model.get_params())
        model.backward(x, loss.backward(y_pred, y))
        sgd.update_params()
        losses.append(loss_value)
        if on_step is not None:
            on_step(step, loss_value)
    model.set_training_phase(False)
    accuracy = float(((model.forward(x) > 0) == (y > 0)).mean())
    return model, x, y, losses, accuracy


def digits(layers=(64, 64, 10), activation="relu", epochs=30, batch_size=16, learning_rate=0.01,
           seed=0, progress=False):
    """Assignment 1's 8x8 digits with its classes: a 70/30 split (seeded),
    the raw 0..16 pixels (as Assignment 1 feeds them), targets one-hot in
    {-1, +1}, the ``Hinge`` loss, minibatch ``SGD`` (reshuffled each epoch)
    without weight decay; prediction is the arg max of the 10 outputs.
    Returns ``(model, history, test_accuracy)``; ``history.cost`` holds the
    mean minibatch hinge loss of each epoch."""
    from jitprop.data import load_digits
    from jitprop.model.train import History
    from jitprop.progress import bar
    layers = list(layers)
    if len(layers) < 2 or layers[0] != 64 or layers[-1] != 10:
        raise ValueError(f"layers: the digits task needs 64 inputs and 10 outputs, got {layers}")
    epochs = check_positive_int("epochs", epochs)
    batch_size = check_positive_int("batch_size", batch_size)
    seed = check_positive_int("seed", seed, minimum=0)
    x, labels = load_digits()
    order = np.random.default_rng(seed).permutation(len(x))
    cut = int(round(0.7 * len(x)))
    train_idx, test_idx = order[:cut], order[cut:]
    targets = np.where(labels[:, None] == np.arange(10), 1.0, -1.0)
    model = sequential_mlp(layers, activation, seed)
    loss = S.Hinge()
    sgd = S.SGD(model, lr=learning_rate)
    shuffle = np.random.RandomState(seed)
    history = History(impl="sequential")
    for epoch in range(1, epochs + 1):
        model.set_training_phase(True)
        epoch_order = train_idx[shuffle.permutation(len(train_idx))]
        costs = []
        t0 = time.perf_counter()
        with bar(progress, total=len(epoch_order), desc=f"epoch {epoch}/{epochs}", unit="sample",
                 leave=False) as shown:
            for s in range(0, len(epoch_order), batch_size):
                idx = epoch_order[s:s + batch_size]
                y_pred = model.forward(x[idx])
                costs.append(loss.forward(y_pred, targets[idx]))
                model.backward(x[idx], loss.backward(y_pred, targets[idx]))
                sgd.update_params()
                shown.update(len(idx))
        seconds = time.perf_counter() - t0
        history.train_seconds += seconds
        history.epochs.append({"epoch": epoch, "cost": float(np.mean(costs)), "cost_sum": float(np.sum(costs)),
                               "learning_rate": float(learning_rate), "seconds": seconds,
                               "samples_per_second": len(epoch_order) / seconds if seconds > 0 else float("inf"),
                               "val_accuracy": None, "val_loss": None, "test_accuracy": None, "test_loss": None})
    scores = predict(model, x[test_idx])
    return model, history, float((scores.argmax(axis=1) == labels[test_idx]).mean())


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
