"""The seed interface: ``Layer`` and its layers. Batch is the first dimension.

``forward(x_in)`` returns the output; ``backward(d_out)`` takes dL/d(output)
and returns dL/d(input), accumulating parameter gradients until
``zero_gradients()``; ``update_parameters(learning_rate)`` takes one SGD step.
Every layer takes ``backend="numba" | "numpy"`` and ``dtype``; the arithmetic
is done by ``backend.ops(backend)``, so both backends run the same code here.
"""
import numpy as np

from jitprop.model.backend import DEFAULT_BACKEND, ops
from jitprop.checks import (
    check_array, check_backend, check_dtype, check_positive_int, check_scalar,
)


class Layer:
    """Base class: identity with no parameters."""

    has_parameters = False

    def __init__(self, backend=DEFAULT_BACKEND, dtype=np.float64):
        self.backend = check_backend(backend)
        self.dtype = check_dtype(dtype)
        self.training = True
        self.n_in = None
        self.n_out = None

    @property
    def ops(self):
        return ops(self.backend)

    def forward(self, x_in):
        """x_in (B, n_in) -> output (B, n_out)."""
        return self._forward(self._check_input("x_in", x_in))

    def backward(self, d_out):
        """d_out (B, n_out) = dL/d(output) -> dL/d(input) (B, n_in)."""
        if getattr(self, "_out_shape", None) is None:
            raise RuntimeError(f"{type(self).__name__}.backward: call forward first")
        d_out = check_array("d_out", d_out, self.dtype, shape=self._out_shape)
        return self._backward(d_out)

    def zero_gradients(self):
        pass

    def update_parameters(self, learning_rate, weight_decay=0.0):
        pass

    def _check_input(self, name, x):
        return check_array(name, x, self.dtype, shape=(None, self.n_in))

    def _forward(self, x):
        self._out_shape = x.shape
        return x

    def _backward(self, d_out):
        return d_out

    def __repr__(self):
        return f"{type(self).__name__}()"


class Linear(Layer):
    """``x @ w.T + b`` with w (n_out, n_in), b (1, n_out).

    ``w`` is drawn from N(0, initial_sigma^2) with ``rng`` (a
    ``numpy.random.Generator``; by default NumPy's global generator, so
    ``np.random.seed`` makes it repeatable as in the seed notebooks); ``b``
    starts at zero. ``dw``/``db`` accumulate over ``backward`` calls.
    Parameters live in one flat buffer; a ``Network`` re-homes them into its
    own buffer, and assigning ``layer.w = array`` copies into it.
    """

    has_parameters = True

    def __init__(self, n_in, n_out, initial_sigma=0.1, backend=DEFAULT_BACKEND,
                 dtype=np.float64, rng=None):
        super().__init__(backend, dtype)
        self.n_in = check_positive_int("n_in", n_in)
        self.n_out = check_positive_int("n_out", n_out)
        self.initial_sigma = check_scalar("initial_sigma", initial_sigma)
        size = self.n_out * self.n_in + self.n_out
        self._bind(np.zeros(size, self.dtype), np.zeros(size, self.dtype))
        normal = rng.normal if rng is not None else np.random.normal
        self.w = normal(0.0, self.initial_sigma, (self.n_out, self.n_in))
        self.x_in = None

    @property
    def n_parameters(self):
        return self.n_out * self.n_in + self.n_out

    def _bind(self, params, grads):
        """Make w, b, dw, db views of the 1-D blocks ``params`` and ``grads``."""
        k = self.n_out * self.n_in
        self.params, self.grads = params, grads
        self._w = params[:k].reshape(self.n_out, self.n_in)
        self._b = params[k:].reshape(1, self.n_out)
        self._dw = grads[:k].reshape(self.n_out, self.n_in)
        self._db = grads[k:].reshape(1, self.n_out)

    def _set(self, name, view, value):
        value = np.asarray(value)
        if value.shape != view.shape:
            raise ValueError(f"{name}: expected shape {view.shape}, got {value.shape}")
        view[...] = value

    w = property(lambda self: self._w, lambda self, v: self._set("w", self._w, v))
    b = property(lambda self: self._b, lambda self, v: self._set("b", self._b, v))
    dw = property(lambda self: self._dw, lambda self, v: self._set("dw", self._dw, v))
    db = property(lambda self: self._db, lambda self, v: self._set("db", self._db, v))

    def _forward(self, x):
        self.x_in = x
        self._out_shape = (x.shape[0], self.n_out)
        out = np.empty(self._out_shape, self.dtype)
        self.ops.linear_forward(out, x, self._w, self._b)
        return out

    def _backward(self, d_out, need_d_in=True):
        d_in = np.empty((d_out.shape[0], self.n_in) if need_d_in else (0, self.n_in), self.dtype)
        self.ops.linear_backward(d_in, self._dw, self._db, d_out, self.x_in, self._w, need_d_in)
        return d_in if need_d_in else None

    def zero_gradients(self):
        self.grads.fill(0)

    def update_parameters(self, learning_rate, weight_decay=0.0):
        lr = check_scalar("learning_rate", learning_rate)
        wd = check_scalar("weight_decay", weight_decay)
        self.ops.sgd_update(self.params, self.grads, self.dtype(lr), self.dtype(wd))

    def __repr__(self):
        return f"Linear({self.n_in}, {self.n_out})"


class _Elementwise(Layer):
    """An activation: output shape = input shape; stores its output."""

    _fwd = _bwd = None

    def _check_input(self, name, x):
        return check_array(name, x, self.dtype)

    def _forward(self, x):
        self.out = np.empty_like(x)
        self._out_shape = x.shape
        getattr(self.ops, self._fwd)(self.out, x)
        return self.out

    def _backward(self, d_out):
        d_in = np.empty_like(d_out)
        getattr(self.ops, self._bwd)(d_in, d_out, self.out)
        return d_in


class Sigmoid(_Elementwise):
    """1 / (1 + exp(-x)), stable for any |x|."""
    _fwd, _bwd = "sigmoid_forward", "sigmoid_backward"


class ReLU(_Elementwise):
    """max(x, 0)."""
    _fwd, _bwd = "relu_forward", "relu_backward"


class SoftMax(_Elementwise):
    """Row-wise softmax; backward applies the full softmax Jacobian."""
    _fwd, _bwd = "softmax_forward", "softmax_backward"


class Dropout(Layer):
    """Assignment 1's dropout: while training, multiply by a binary mask that
    keeps each element with probability ``1 - drop_rate``; at test time
    (``training = False``) multiply by ``1 - drop_rate``."""

    def __init__(self, drop_rate, backend=DEFAULT_BACKEND, dtype=np.float64, rng=None):
        super().__init__(backend, dtype)
        self.drop_rate = check_scalar("drop_rate", drop_rate)
        if self.drop_rate >= 1:
            raise ValueError(f"drop_rate: expected a number in [0, 1), got {drop_rate!r}")
        self.rng = rng if rng is not None else np.random.default_rng()
        self.mask = None

    def _check_input(self, name, x):
        return check_array(name, x, self.dtype)

    def _forward(self, x):
        self._out_shape = x.shape
        if self.training:
            self.mask = (self.rng.random(x.shape) >= self.drop_rate).astype(self.dtype)
            return x * self.mask
        self.mask = None
        return x * self.dtype(1 - self.drop_rate)

    def _backward(self, d_out):
        if self.mask is None:
            return d_out * self.dtype(1 - self.drop_rate)
        return d_out * self.mask

    def __repr__(self):
        return f"Dropout({self.drop_rate})"
