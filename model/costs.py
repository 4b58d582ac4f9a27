"""The seed ``Cost`` interface: ``estimate(target, prediction)`` returns the
cost of the batch, ``gradient(cost)`` returns dL/d(prediction) for that last
estimate. Gradients are per-sample gradients summed over the batch (the seed
convention), costs are batch means."""
import numpy as np

from jitprop.checks import check_array, check_backend, check_dtype, check_same_shape
from jitprop.kernels.losses import LOSSES
from jitprop.model.backend import DEFAULT_BACKEND, ops


class Cost:
    _kernel = None
    loss_kind = None  # the whole-epoch kernels' code, where they support this cost

    def __init__(self, backend=DEFAULT_BACKEND, dtype=None):
        self.backend = check_backend(backend)
        self.dtype = None if dtype is None else check_dtype(dtype)
        self._grad = None

    def estimate(self, target, prediction, k=None):
        """target, prediction (B, K) -> the cost (a Python float). ``k``: the
        kernels to use (default: this cost's backend). The cost is computed in
        the cost's ``dtype`` if one was given (both arrays must have it), else
        in the prediction's float dtype (an integer or other-width float
        target is converted to it)."""
        dtype = self.dtype
        if dtype is None:
            dtype = prediction.dtype if isinstance(prediction, np.ndarray) and prediction.dtype in (
                np.float32, np.float64) else np.float64
            if isinstance(target, np.ndarray) and target.dtype.kind in "fiu" and target.dtype != dtype:
                target = target.astype(dtype)
        prediction = check_array("prediction", prediction, dtype)
        target = check_array("target", target, dtype)
        check_same_shape("target", target, "prediction", prediction)
        self._check_target(target)
        self._check_prediction(prediction)
        self._grad = np.empty_like(prediction)
        k = ops(self.backend) if k is None else k
        self.value = getattr(k, self._kernel)(self._grad, prediction, target)
        return self.value

    def gradient(self, cost=None):
        """dL/d(prediction) (B, K) of the last ``estimate``.

        ``cost`` is the value that ``estimate`` returned; it is accepted so
        that seed code ``loss.gradient(cost)`` runs unchanged.
        """
        if self._grad is None:
            raise RuntimeError(f"{type(self).__name__}.gradient: call estimate(target, prediction) first")
        return self._grad

    def evaluate(self, target, prediction, k=None):
        """The cost of a batch without touching the state ``gradient`` reads."""
        saved = self._grad, getattr(self, "value", None)
        try:
            return self.estimate(target, prediction, k)
        finally:
            self._grad, self.value = saved

    def _check_target(self, target):
        pass

    def _check_prediction(self, prediction):
        pass

    def __repr__(self):
        return f"{type(self).__name__}()"


class MeanSquareError(Cost):
    """0.5 * mean((target - prediction)**2); gradient prediction - target."""
    _kernel = "mse"
    loss_kind = LOSSES["mse"]


class CrossEntropy(Cost):
    """Batch mean of -sum(target * log(prediction + 1e-12)); gradient
    -target / (prediction + 1e-12). Prediction is a probability (after
    ``SoftMax``); inside a network ending in ``SoftMax`` the training loop
    fuses the two into ``softmax_cross_entropy``."""
    _kernel = "cross_entropy"
    loss_kind = LOSSES["softmax-ce"]

    def _check_target(self, target):
        if (target < 0).any():
            raise ValueError("target: expected non-negative class probabilities, got a negative entry")

    def _check_prediction(self, prediction):
        if (prediction < 0).any():
            raise ValueError(f"prediction: expected probabilities (the output of SoftMax), got {prediction.min()}; "
                             "CrossEntropy takes log(prediction)")


class Hinge(Cost):
    """Batch mean of sum(max(0, 1 - target * prediction)) for targets in
    {-1, +1}; gradient -target * (margin > 0)."""
    _kernel = "hinge"

    def _check_target(self, target):
        if not np.isin(target, (-1, 1)).all():
            raise ValueError("target: expected hinge targets in {-1, +1}, got other values")


COSTS = {"mse": MeanSquareError, "cross-entropy": CrossEntropy, "hinge": Hinge}
