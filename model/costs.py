"""The seed ``Cost`` interface: ``estimate(target, prediction)`` returns the
cost of the batch, ``gradient(cost)`` returns dL/d(prediction) for that last
estimate. Gradients are per-sample gradients summed over the batch (the seed
convention), costs are batch means."""
import numpy as np

from jitprop.model.backend import DEFAULT_BACKEND, ops
from jitprop.checks import check_array, check_backend, check_dtype, check_same_shape


class Cost:
    _kernel = None

    def __init__(self, backend=DEFAULT_BACKEND, dtype=np.float64):
        self.backend = check_backend(backend)
        self.dtype = check_dtype(dtype)
        self._grad = None

    def estimate(self, target, prediction):
        """target, prediction (B, K) -> the cost (a Python float)."""
        prediction = check_array("prediction", prediction, self.dtype)
        target = check_array("target", target, self.dtype)
        check_same_shape("target", target, "prediction", prediction)
        self._check_target(target)
        self._grad = np.empty_like(prediction)
        self.value = getattr(ops(self.backend), self._kernel)(self._grad, prediction, target)
        return self.value

    def gradient(self, cost=None):
        """dL/d(prediction) (B, K) of the last ``estimate``.

        ``cost`` is the value that ``estimate`` returned; it is accepted so
        that seed code ``loss.gradient(cost)`` runs unchanged.
        """
        if self._grad is None:
            raise RuntimeError(f"{type(self).__name__}.gradient: call estimate(target, prediction) first")
        return self._grad

    def _check_target(self, target):
        pass

    def __repr__(self):
        return f"{type(self).__name__}()"


class MeanSquareError(Cost):
    """0.5 * mean((target - prediction)**2); gradient prediction - target."""
    _kernel = "mse"


class CrossEntropy(Cost):
    """Batch mean of -sum(target * log(prediction + 1e-12)); gradient
    -target / (prediction + 1e-12). Prediction is a probability (after
    ``SoftMax``); inside a network ending in ``SoftMax`` the training loop
    fuses the two into ``softmax_cross_entropy``."""
    _kernel = "cross_entropy"

    def _check_target(self, target):
        if (target < 0).any():
            raise ValueError("target: expected non-negative class probabilities, got a negative entry")


class Hinge(Cost):
    """Batch mean of sum(max(0, 1 - target * prediction)) for targets in
    {-1, +1}; gradient -target * (margin > 0)."""
    _kernel = "hinge"

    def _check_target(self, target):
        if not np.isin(target, (-1, 1)).all():
            raise ValueError("target: expected hinge targets in {-1, +1}, got other values")


COSTS = {"mse": MeanSquareError, "cross-entropy": CrossEntropy, "hinge": Hinge}
