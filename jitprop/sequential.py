"""Assignment 1's classes, on jitprop's compiled kernels.

``from jitprop.sequential import *`` brings exactly Assignment 1's names:
its classes ``Layer``, ``Dense``, ``ReLU``, ``Dropout``, ``SequentialNN``,
``Loss``, ``Hinge``, ``MSE``, ``Optimizer``, ``SGD`` and its functions
(``dense_forward`` ... ``mse_grad_input``, from ``jitprop.functional``), so
the notebook's experiment cells run as written::

    model = SequentialNN()
    model.add(Dense(2, 16)); model.add(ReLU()); model.add(Dense(16, 1))
    loss, sgd = Hinge(), SGD(model, lr=0.1, weight_decay=0.01)
    y_pred = model.forward(X)                          # X (n_objects, 2)
    loss_value = loss.forward(y_pred, Y) + l2_regularizer(0.01, model.get_params())
    model.backward(X, loss.backward(y_pred, Y))
    sgd.update_params()                                # w -= lr * dw + weight_decay * w

Same semantics as the notebook's classes: ``Dense.W`` is (n_in, n_out),
drawn from ``np.random.normal`` (``np.random.seed`` repeats the notebook's
numbers), ``b`` (n_out,) zeros; ``backward(x_input, grad_output)`` uses the
input it is given, overwrites ``grad_W``/``grad_b`` and returns dL/dx_input;
losses are means over objects (rows) and their gradients those of the mean.

The arithmetic runs on the compiled kernels (``backend="numba"``, the
default) or their NumPy twins (``backend="numpy"``), through the model
layer's ``ops(backend)``. ``Dense`` keeps w (n_out, n_in) C-contiguous as
the kernels want it and exposes ``W`` as its transpose (a view), so the
in-place updates of ``SGD`` reach the kernels' buffer. Arrays are float64
(the notebook's) or float32: ``Dense(..., dtype=np.float32)``; the other
layers and the losses compute in their input's dtype (a loss's targets are
converted to its predictions' dtype). Integer inputs become float64 (a
Dense's dtype). Two deliberate differences: ``Dropout.backward`` in the test phase
is the gradient of the test-phase forward (``grad * (1 - drop_rate)``; the
notebook multiplies by its last training mask, never used there), and
``SequentialNN.backward`` returns dL/dx_input (the notebook returns None).
"""
import numpy as np

from jitprop.checks import check_array, check_backend, check_dtype, check_positive_int, check_scalar
# Assignment 1's functions are re-exported (``__all__``); the classes call some of them.
from jitprop.functional import (check_drop_rate, dense_forward, dense_grad_b, dense_grad_input,  # noqa: F401
                                dense_grad_W, dropout_forward, dropout_generate_mask, dropout_grad_input,
                                hinge_forward, hinge_grad_input, l2_regularizer, mse_forward, mse_grad_input,
                                relu_forward, relu_grad_input)
from jitprop.kernels.activations import IDENTITY, RELU, SIGMOID
from jitprop.model.backend import DEFAULT_BACKEND, ops

__all__ = ["Layer", "Dense", "ReLU", "Dropout", "SequentialNN", "Loss", "Hinge", "MSE", "Optimizer", "SGD",
           "dense_forward", "dense_grad_input", "dense_grad_W", "dense_grad_b", "relu_forward", "relu_grad_input",
           "hinge_forward", "hinge_grad_input", "l2_regularizer", "dropout_generate_mask", "dropout_forward",
           "dropout_grad_input", "mse_forward", "mse_grad_input"]

_FLOATS = (np.dtype(np.float64), np.dtype(np.float32))


def as_float_array(name, x, dtype=None, shape=None, ndim=None):
    """``x`` (an array or nested list of numbers) as a finite C-contiguous
    float array. With ``dtype``: integers are converted to it, a float of
    another width is a TypeError (convert it, or build the layer in that
    dtype). Without: float64 and float32 stay, anything else becomes
    float64. ``shape`` may hold None for a free axis."""
    x = np.asarray(x)
    if x.dtype.kind not in "fiu":
        raise TypeError(f"{name}: expected an array of numbers, got dtype {x.dtype}")
    if dtype is not None:
        dtype = np.dtype(dtype)
        if x.dtype in _FLOATS and x.dtype != dtype:
            raise TypeError(f"{name}: expected dtype {dtype}, got {x.dtype}; convert it with "
                            f".astype(np.{dtype.name}) or build the layers with dtype=np.{x.dtype.name}")
    else:
        dtype = x.dtype if x.dtype in _FLOATS else np.dtype(np.float64)
    x = x.astype(dtype, copy=False)
    if x.ndim == 0:
        raise ValueError(f"{name}: expected an array of objects (at least 1-D), got a scalar")
    ndim = x.ndim if ndim is None and shape is None else (len(shape) if ndim is None else ndim)
    return check_array(name, x, dtype, ndim=ndim, shape=shape)


def _rows(x):
    """A 2-D view (rows, last axis) of a C-contiguous array of any rank >= 1,
    for the element-wise kernels, which take (B, N)."""
    return x.reshape(1, -1) if x.ndim == 1 else x.reshape(-1, x.shape[-1])


class _Kernels:
    """The ``backend`` of a jitprop class: ``"numba"`` (compiled kernels) or
    ``"numpy"`` (their twins); ``self._ops`` are its kernels."""

    @property
    def backend(self):
        return self._backend

    @backend.setter
    def backend(self, value):
        self._backend = check_backend(value)

    @property
    def _ops(self):
        return ops(self._backend)


# ------------------------------------------------------------------ layers

class Layer:
    """Assignment 1's base layer: the identity, no parameters.

    ``training_phase`` (True while training), ``output`` (the last forward's
    result), ``forward(x_input)``, ``backward(x_input, grad_output)`` ->
    dL/dx_input, ``get_params()`` and ``get_params_gradients()`` (lists of
    arrays, updated in place by ``SGD``).
    """

    def __init__(self):
        self.training_phase = True
        self.output = 0.0

    def forward(self, x_input):
        self.output = x_input
        return self.output

    def backward(self, x_input, grad_output):
        return grad_output

    def get_params(self):
        return []

    def get_params_gradients(self):
        return []

    def __repr__(self):
        return f"{type(self).__name__}()"


class Dense(_Kernels, Layer):
    """Dense(n_input, n_output): ``x_input @ W + b``.

    W (n_input, n_output) from ``np.random.normal(size=(n_input, n_output))``
    (``rng``, a ``numpy.random.Generator`` or ``RandomState``, replaces the
    global generator), b (n_output,) zeros; ``grad_W``, ``grad_b`` alike,
    overwritten by each ``backward``. All in ``dtype`` (float64 or float32).
    ``W``/``grad_W`` are transposed views of the kernels' (n_output,
    n_input) buffers and ``b``/``grad_b`` views of their (1, n_output) rows:
    updating them in place updates the layer; assigning ``layer.W = a``
    copies ``a`` in (same shape).
    """

    def __init__(self, n_input, n_output, backend=DEFAULT_BACKEND, dtype=np.float64, rng=None):
        super().__init__()
        self.n_input = check_positive_int("n_input", n_input)
        self.n_output = check_positive_int("n_output", n_output)
        self.backend = backend
        self.dtype = check_dtype(dtype)
        if rng is not None and not isinstance(rng, (np.random.Generator, np.random.RandomState)):
            raise TypeError(f"rng: expected a numpy.random.Generator or RandomState, got {type(rng).__name__}")
        W = (np.random if rng is None else rng).normal(size=(self.n_input, self.n_output))
        self._w = np.ascontiguousarray(W.T, self.dtype)                  # (n_out, n_in)
        self._b = np.zeros((1, self.n_output), self.dtype)
        self._dw = np.zeros_like(self._w)
        self._db = np.zeros_like(self._b)

    def _set(self, name, view, value):
        value = np.asarray(value)
        if value.dtype.kind not in "fiu":
            raise TypeError(f"{name}: expected an array of numbers, got dtype {value.dtype}")
        if value.shape != view.shape:
            raise ValueError(f"{name}: expected shape {view.shape}, got {value.shape}")
        if not np.isfinite(value).all():
            raise ValueError(f"{name}: expected finite values")
        view[...] = value

    W = property(lambda self: self._w.T, lambda self, v: self._set("W", self._w.T, v),
                 doc="(n_input, n_output) view of the kernels' w")
    b = property(lambda self: self._b[0], lambda self, v: self._set("b", self._b[0], v), doc="(n_output,) view")
    grad_W = property(lambda self: self._dw.T, lambda self, v: self._set("grad_W", self._dw.T, v))
    grad_b = property(lambda self: self._db[0], lambda self, v: self._set("grad_b", self._db[0], v))

    def _input(self, method, x_input):
        try:
            return as_float_array("x_input", x_input, self.dtype, shape=(None, self.n_input))
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{self!r}.{method}: {exc}") from None

    def forward(self, x_input):
        """x_input (n_objects, n_input) -> output (n_objects, n_output)."""
        x = self._input("forward", x_input)
        out = np.empty((x.shape[0], self.n_output), self.dtype)
        self._ops.linear_forward(out, x, self._w, self._b, IDENTITY)
        self.output = out
        return out

    def backward(self, x_input, grad_output):
        """grad_output (n_objects, n_output) = dL/d(output) at ``x_input``:
        sets grad_W = x_input.T @ grad_output and grad_b = its column sums,
        returns dL/dx_input = grad_output @ W.T (n_objects, n_input)."""
        x = self._input("backward", x_input)
        try:
            g = as_float_array("grad_output", grad_output, self.dtype, shape=(x.shape[0], self.n_output))
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{self!r}.backward: {exc}") from None
        self._dw.fill(0)  # the kernel accumulates; the notebook's Dense overwrites
        self._db.fill(0)
        d_in = np.empty_like(x)
        self._ops.linear_backward(d_in, self._dw, self._db, np.empty_like(g), g, g, x, self._w, IDENTITY, True)
        return d_in

    def get_params(self):
        return [self.W, self.b]

    def get_params_gradients(self):
        return [self.grad_W, self.grad_b]

    def __repr__(self):
        return f"Dense({self.n_input}, {self.n_output})"


class _Activation(_Kernels, Layer):
    """An element-wise activation (``code`` from ``kernels.activations``):
    output shape and dtype = input's; backward at ``x_input`` recomputes the
    activation there (the kernels' slope reads the output), keeping nothing."""

    code = None

    def __init__(self, backend=DEFAULT_BACKEND):
        super().__init__()
        self.backend = backend

    def _apply(self, x):
        out = np.empty_like(x)
        self._ops.activation_forward(_rows(out), _rows(x), self.code)
        return out

    def forward(self, x_input):
        """x_input (any shape) -> act(x_input), same shape and dtype."""
        self.output = self._apply(as_float_array("x_input", x_input))
        return self.output

    def backward(self, x_input, grad_output):
        """grad_output * act'(x_input), same shape and dtype as x_input."""
        x = as_float_array("x_input", x_input)
        g = as_float_array("grad_output", grad_output, x.dtype, shape=x.shape)
        d_in = np.empty_like(x)
        self._ops.activation_backward(_rows(d_in), _rows(g), _rows(self._apply(x)), self.code)
        return d_in


class ReLU(_Activation):
    """max(x_input, 0); backward passes grad_output where x_input > 0."""
    code = RELU


class Sigmoid(_Activation):
    """1 / (1 + exp(-x_input)) (not in Assignment 1, so not in ``__all__``;
    ``jitprop experiment circles --activation sigmoid`` uses it)."""
    code = SIGMOID


class Dropout(_Kernels, Layer):
    """Dropout(drop_rate): while ``training_phase``, multiply by a fresh
    binary mask from ``dropout_generate_mask`` (each entry 0 with
    probability ``drop_rate``); at test time multiply by ``1 - drop_rate``.

    Dropout is one multiply, done in NumPy on either backend (no kernel).
    ``rng`` (a Generator or RandomState) replaces NumPy's global generator
    for the masks. ``backward`` multiplies by the mask while training and by
    ``1 - drop_rate`` at test time (the gradient of the test-phase forward;
    the notebook reuses its last training mask there).
    """

    def __init__(self, drop_rate, backend=DEFAULT_BACKEND, rng=None):
        super().__init__()
        self.drop_rate = check_drop_rate(drop_rate)
        self.backend = backend
        if rng is not None and not isinstance(rng, (np.random.Generator, np.random.RandomState)):
            raise TypeError(f"rng: expected a numpy.random.Generator or RandomState, got {type(rng).__name__}")
        self.rng = rng
        self.mask = 1.0

    def forward(self, x_input):
        x = as_float_array("x_input", x_input)
        if self.training_phase:
            self.mask = dropout_generate_mask(x.shape, self.drop_rate, self.rng)
        self.output = dropout_forward(x, self.mask, self.drop_rate, bool(self.training_phase))
        return self.output

    def backward(self, x_input, grad_output):
        x = as_float_array("x_input", x_input)
        g = as_float_array("grad_output", grad_output, x.dtype, shape=x.shape)
        if not self.training_phase:
            return dropout_forward(g, None, self.drop_rate, False)
        if np.shape(self.mask) != g.shape:
            raise RuntimeError(f"{self!r}.backward: no training mask for shape {g.shape}: call forward on this "
                               f"input in the training phase first")
        return dropout_grad_input(x, g, self.mask)

    def __repr__(self):
        return f"Dropout({self.drop_rate})"


# ------------------------------------------------------------------- model

class SequentialNN:
    """Assignment 1's sequential model: ``add`` layers, then ``forward``,
    ``backward(x_input, grad_output)``, ``get_params``,
    ``get_params_gradients``, ``set_training_phase``.

    ``backend`` (None by default) leaves each layer its own backend
    (``"numba"`` unless built otherwise); ``"numba"`` or ``"numpy"`` sets
    it on every layer added that has one, now and when assigned later.
    """

    def __init__(self, backend=None):
        self.layers = []
        self.training_phase = True
        self.backend = backend

    @property
    def backend(self):
        return self._backend

    @backend.setter
    def backend(self, value):
        self._backend = None if value is None else check_backend(value)
        if value is not None:
            for layer in self.layers:
                if isinstance(layer, _Kernels):
                    layer.backend = value

    def set_training_phase(self, is_training=True):
        self.training_phase = is_training
        for layer in self.layers:
            layer.training_phase = is_training

    def add(self, layer):
        for method in ("forward", "backward", "get_params", "get_params_gradients"):
            if not callable(getattr(layer, method, None)):
                raise TypeError(f"layer: expected a Layer (with forward, backward, get_params and "
                                f"get_params_gradients), got {type(layer).__name__} without {method}")
        if any(layer is l for l in self.layers):
            raise ValueError(f"layer: {layer!r} is already in this model; each position needs its own layer object")
        if self._backend is not None and isinstance(layer, _Kernels):
            layer.backend = self._backend
        self.layers.append(layer)

    def forward(self, x_input):
        """Each layer's forward in order; returns the last output."""
        self.output = x_input
        for layer in self.layers:
            self.output = layer.forward(self.output)
        return self.output

    def backward(self, x_input, grad_output):
        """Each layer's backward in reverse order, at the inputs of the last
        forward (x_input, then each layer's output); returns dL/dx_input."""
        if not hasattr(self, "output"):
            raise RuntimeError("SequentialNN.backward: call forward first")
        inputs = [x_input] + [l.output for l in self.layers[:-1]]
        for input_, layer_ in zip(inputs[::-1], self.layers[::-1]):
            grad_output = layer_.backward(input_, grad_output)
        return grad_output

    def get_params(self):
        params = []
        for layer in self.layers:
            params.extend(layer.get_params())
        return params

    def get_params_gradients(self):
        grads = []
        for layer in self.layers:
            grads.extend(layer.get_params_gradients())
        return grads

    def __repr__(self):
        return f"SequentialNN([{', '.join(map(repr, self.layers))}])"


# ------------------------------------------------------------------ losses

class Loss:
    """Assignment 1's base loss: ``forward(target_pred, target_true)`` ->
    a float (also kept as ``output``), ``backward(target_pred,
    target_true)`` -> dL/d(target_pred), of target_pred's shape."""

    def __init__(self):
        self.output = 0.0

    def forward(self, target_pred, target_true):
        return self.output

    def backward(self, target_pred, target_true):
        return np.zeros_like(target_pred)

    def __repr__(self):
        return f"{type(self).__name__}()"


class _KernelLoss(_Kernels, Loss):
    """A loss on a cost kernel of ``kernels.losses``. target_pred and
    target_true: (n_objects,), (n_objects, 1) or (n_objects, k), one shape;
    the kernels see (n_objects, k) and the targets in the predictions' dtype."""

    def __init__(self, backend=DEFAULT_BACKEND):
        super().__init__()
        self.backend = backend

    def _run(self, target_pred, target_true):
        """(kernel value, d_pred (n_objects, k), 2-D pred, input shape)."""
        p = as_float_array("target_pred", target_pred)
        t = as_float_array("target_true", target_true)
        if p.shape != t.shape:
            raise ValueError(f"target_pred and target_true: expected the same shape, got {p.shape} and {t.shape}")
        if p.ndim > 2:
            raise ValueError(f"target_pred: expected (n_objects,) or (n_objects, k), got shape {p.shape}")
        p2 = p.reshape(p.shape[0], -1)
        t2 = np.ascontiguousarray(t.reshape(p2.shape), p.dtype)
        d = np.empty_like(p2)
        value = getattr(self._ops, self.kernel)(d, p2, t2)
        return float(value), d, p2, p.shape


class Hinge(_KernelLoss):
    """mean over objects of sum over columns of max(0, 1 - target_pred *
    target_true), targets in {-1, +1}; gradient ``-target_true * (margin >
    0) / n_objects`` (the ``hinge`` kernel, divided by n_objects)."""

    kernel = "hinge"

    def forward(self, target_pred, target_true):
        self.output = self._run(target_pred, target_true)[0]
        return self.output

    def backward(self, target_pred, target_true):
        _, d, p2, shape = self._run(target_pred, target_true)
        d /= p2.shape[0]
        return d.reshape(shape)


class MSE(_KernelLoss):
    """sum((target_true - target_pred)**2) / (2 n_objects); gradient
    ``(target_pred - target_true) / n_objects`` (the ``mse`` kernel, which
    means over every entry, rescaled to a mean over objects)."""

    kernel = "mse"

    def forward(self, target_pred, target_true):
        value, _, p2, _ = self._run(target_pred, target_true)
        self.output = value * p2.shape[1]  # kernel: / (2 n k); Assignment 1: / (2 n)
        return self.output

    def backward(self, target_pred, target_true):
        _, d, p2, shape = self._run(target_pred, target_true)
        d /= p2.shape[0]
        return d.reshape(shape)


# -------------------------------------------------------------- optimizers

class Optimizer:
    """Assignment 1's base optimizer over ``model.get_params()`` and
    ``model.get_params_gradients()``: ``lr`` > 0, ``weight_decay`` >= 0."""

    def __init__(self, model, lr=0.01, weight_decay=0.0):
        for method in ("get_params", "get_params_gradients"):
            if not callable(getattr(model, method, None)):
                raise TypeError(f"model: expected a model with get_params and get_params_gradients (a "
                                f"SequentialNN or a Layer), got {type(model).__name__}")
        self.model = model
        self.lr = lr
        self.weight_decay = weight_decay

    lr = property(lambda self: self._lr,
                  lambda self, v: setattr(self, "_lr", check_scalar("lr", v, strict=True)))
    weight_decay = property(lambda self: self._weight_decay,
                            lambda self, v: setattr(self, "_weight_decay", check_scalar("weight_decay", v)))

    def update_params(self):
        pass

    def __repr__(self):
        return f"{type(self).__name__}(model, lr={self.lr!r}, weight_decay={self.weight_decay!r})"


class SGD(Optimizer):
    """``w -= lr * dw + weight_decay * w`` for every parameter, in place on
    the arrays ``model.get_params()`` returns (weight decay decoupled from
    the learning rate, and applied to biases too, as in Assignment 1)."""

    def update_params(self):
        weights = self.model.get_params()
        grads = self.model.get_params_gradients()
        if len(weights) != len(grads):
            raise ValueError(f"model: get_params gave {len(weights)} arrays but get_params_gradients "
                             f"{len(grads)}")
        for i, (w, dw) in enumerate(zip(weights, grads)):
            if not isinstance(w, np.ndarray) or not isinstance(dw, np.ndarray) or np.shape(w) != np.shape(dw):
                raise ValueError(f"model: parameter {i}: expected an array and a gradient of one shape, got "
                                 f"{_describe(w)} and {_describe(dw)}")
            update = self.lr * dw + self.weight_decay * w
            # it writes the result to the previous variable instead of copying
            np.subtract(w, update, out=w)


def _describe(x):
    return f"{x.dtype} array of shape {x.shape}" if isinstance(x, np.ndarray) else type(x).__name__
