"""The seed interface: ``Layer`` and its layers. Batch is the first dimension.

``forward(x_in)`` returns the output and keeps what ``backward`` needs;
``backward(d_out)`` takes dL/d(output) and returns dL/d(input), accumulating
parameter gradients until ``zero_gradients()``; ``update_parameters(lr)``
takes one SGD step. Every layer takes ``backend="numba" | "numpy"`` and
``dtype``; the arithmetic is done by ``backend.ops(backend)``, so both
backends run the same code here.

Users may subclass ``Layer`` with their own ``forward``/``backward`` (as
HaMLeT's Task 0 asks); a ``Network`` runs such layers as they are, between
its own fused steps. jitprop's layers implement three private methods
instead: ``_forward(x, ops)`` (keeps state), ``_backward(d_out, ops,
need_d_in)`` and ``_infer(x, ops)`` (keeps nothing: prediction).
"""
import numpy as np

from jitprop.checks import allocate, check_array, check_backend, check_dtype, check_positive_int, check_scalar
from jitprop.kernels.activations import ACTIVATIONS, IDENTITY
from jitprop.kernels.optimizers import SGD, hyper_vector
from jitprop.model.backend import DEFAULT_BACKEND, ops

_NO_STATE = np.empty((0, 0))


class Layer:
    """Base class: the identity, with no parameters."""

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
        return self._forward(self._check_input("x_in", x_in), self.ops)

    def backward(self, d_out):
        """d_out (B, n_out) = dL/d(output) -> dL/d(input) (B, n_in)."""
        if getattr(self, "_out_shape", None) is None:
            raise RuntimeError(f"{type(self).__name__}.backward: call forward first")
        d_out = check_array("d_out", d_out, self.dtype, shape=self._out_shape)
        return self._backward(d_out, self.ops)

    def zero_gradients(self):
        pass

    def update_parameters(self, learning_rate, weight_decay=0.0):
        pass

    def _check_input(self, name, x):
        return check_array(name, x, self.dtype, shape=(None, self.n_in))

    def _forward(self, x, k):
        self._out_shape = x.shape
        return x

    def _backward(self, d_out, k, need_d_in=True):
        return d_out

    def _infer(self, x, k):
        return x

    def __repr__(self):
        return f"{type(self).__name__}()"


class Linear(Layer):
    """``x @ w.T + b`` with w (n_out, n_in), b (1, n_out).

    ``w`` is drawn from N(0, initial_sigma^2) with ``rng`` (a
    ``numpy.random.Generator`` or an int seed; by default NumPy's global
    generator, so ``np.random.seed`` makes it repeatable as in the seed
    notebooks); ``b`` starts at zero. ``dw``/``db`` accumulate over
    ``backward`` calls. Parameters live in one flat buffer; a ``Network``
    re-homes them into its own buffer, and assigning ``layer.w = array``
    copies into it.
    """

    has_parameters = True

    def __init__(self, n_in, n_out, initial_sigma=0.1, backend=DEFAULT_BACKEND, dtype=np.float64, rng=None):
        super().__init__(backend, dtype)
        self.n_in = check_positive_int("n_in", n_in)
        self.n_out = check_positive_int("n_out", n_out)
        self.initial_sigma = check_scalar("initial_sigma", initial_sigma)
        if rng is not None and not isinstance(rng, np.random.Generator):
            if isinstance(rng, (bool, np.bool_)) or not isinstance(rng, (int, np.integer)) or rng < 0:
                raise TypeError(f"rng: expected a numpy.random.Generator or a non-negative int seed, got {rng!r}")
            rng = np.random.default_rng(int(rng))
        size = self.n_out * self.n_in + self.n_out
        what = f"Linear({self.n_in}, {self.n_out})"
        self._bind(allocate(f"{what} parameters", (size,), self.dtype), allocate(f"{what} gradients", (size,), self.dtype))
        normal = rng.normal if rng is not None else np.random.normal
        try:
            self.w = normal(0.0, self.initial_sigma, (self.n_out, self.n_in))
        except MemoryError:
            raise MemoryError(f"{what}: drawing its initial weights needs {8 * self.n_out * self.n_in:,} more "
                              "bytes than this machine can give") from None
        self.x_in = None
        self.owner = None  # the Network whose buffer holds the parameters

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
        if not np.isfinite(value).all():
            raise ValueError(f"{name}: expected finite values")
        view[...] = value

    w = property(lambda self: self._w, lambda self, v: self._set("w", self._w, v))
    b = property(lambda self: self._b, lambda self, v: self._set("b", self._b, v))
    dw = property(lambda self: self._dw, lambda self, v: self._set("dw", self._dw, v))
    db = property(lambda self: self._db, lambda self, v: self._set("db", self._db, v))

    def _forward(self, x, k, act=None):
        """act: the Activation layer fused with this one (it keeps the output)."""
        self.x_in = x
        self._out_shape = (x.shape[0], self.n_out)
        out = np.empty(self._out_shape, self.dtype)
        k.linear_forward(out, x, self._w, self._b, IDENTITY if act is None else act.code)
        if act is not None:
            act._out_shape = out.shape
            act.out = out
        return out

    def _backward(self, d_out, k, need_d_in=True, act=None):
        d_in = np.empty((d_out.shape[0], self.n_in), self.dtype) if need_d_in else _NO_STATE.astype(self.dtype)
        if act is None:
            k.linear_backward(d_in, self._dw, self._db, d_out, d_out, d_out, self.x_in, self._w, IDENTITY, need_d_in)
        else:
            k.linear_backward(d_in, self._dw, self._db, np.empty_like(d_out), d_out, act.out, self.x_in, self._w,
                              act.code, need_d_in)
        return d_in if need_d_in else None

    def _infer(self, x, k, act=None):
        out = np.empty((x.shape[0], self.n_out), self.dtype)
        k.linear_forward(out, x, self._w, self._b, IDENTITY if act is None else act.code)
        return out

    def __getstate__(self):
        state = dict(self.__dict__)
        state["owner"] = None  # a weak reference; the owning Network sets it again
        for view in ("_w", "_b", "_dw", "_db"):
            state.pop(view, None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._bind(self.params, self.grads)

    def zero_gradients(self):
        self.grads.fill(0)

    def update_parameters(self, learning_rate, weight_decay=0.0):
        """One SGD step: p -= learning_rate * (grad + weight_decay * p)."""
        sgd_step(self.ops, self.params, self.grads, learning_rate, weight_decay)

    def __repr__(self):
        return f"Linear({self.n_in}, {self.n_out})"


def sgd_step(k, params, grads, learning_rate, weight_decay=0.0):
    """The seeds' ``update_parameters``: plain SGD over a flat buffer."""
    lr = check_scalar("learning_rate", learning_rate)
    wd = check_scalar("weight_decay", weight_decay)
    dt = params.dtype.type
    k.optimizer_step(params, grads, np.empty((0, params.shape[0]), params.dtype), SGD,
                     hyper_vector(weight_decay=wd), dt(lr), 1)


class Activation(Layer):
    """An element-wise activation from ``kernels.activations.ACTIVATIONS``:
    output shape = input shape; keeps its output for ``backward``. A
    subclass names its activation and is found by that name."""

    name = None
    by_name = {}

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        if cls.name is not None:
            if cls.name not in ACTIVATIONS:
                raise ValueError(f"{cls.__name__}: {cls.name!r} is not in kernels.activations.ACTIVATIONS")
            Activation.by_name[cls.name] = cls

    @property
    def code(self):
        return ACTIVATIONS[self.name]

    def _check_input(self, name, x):
        return check_array(name, x, self.dtype)

    def _forward(self, x, k):
        self.out = self._infer(x, k)
        self._out_shape = x.shape
        return self.out

    def _backward(self, d_out, k, need_d_in=True):
        d_in = np.empty_like(d_out)
        k.activation_backward(d_in, d_out, self.out, self.code)
        return d_in

    def _infer(self, x, k):
        out = np.empty_like(x)
        k.activation_forward(out, x, self.code)
        return out


class Identity(Activation):
    """x itself (a Linear without a non-linearity)."""
    name = "identity"


class Sigmoid(Activation):
    """1 / (1 + exp(-x)), stable for any |x|."""
    name = "sigmoid"


class ReLU(Activation):
    """max(x, 0)."""
    name = "relu"


class Tanh(Activation):
    """tanh(x)."""
    name = "tanh"


class LeakyReLU(Activation):
    """x for x > 0, 0.01 x otherwise."""
    name = "leaky-relu"


class SoftMax(Layer):
    """Row-wise softmax; backward applies the full softmax Jacobian."""

    def _check_input(self, name, x):
        return check_array(name, x, self.dtype)

    def _forward(self, x, k):
        self.out = self._infer(x, k)
        self._out_shape = x.shape
        return self.out

    def _backward(self, d_out, k, need_d_in=True):
        d_in = np.empty_like(d_out)
        k.softmax_backward(d_in, d_out, self.out)
        return d_in

    def _infer(self, x, k):
        out = np.empty_like(x)
        k.softmax_forward(out, x)
        return out


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

    def _forward(self, x, k):
        self._out_shape = x.shape
        if self.training:
            self.mask = (self.rng.random(x.shape) >= self.drop_rate).astype(self.dtype)
            return x * self.mask
        self.mask = None
        return self._infer(x, k)

    def _backward(self, d_out, k, need_d_in=True):
        if self.mask is None:
            return d_out * self.dtype(1 - self.drop_rate)
        return d_out * self.mask

    def _infer(self, x, k):
        return x * self.dtype(1 - self.drop_rate)

    def __repr__(self):
        return f"Dropout({self.drop_rate})"


def is_custom(layer):
    """A user's layer: it overrides ``forward`` or ``backward`` (or is not a
    jitprop ``Layer`` at all but has both), so a ``Network`` calls those
    instead of jitprop's kernels."""
    t = type(layer)
    return not isinstance(layer, Layer) or t.forward is not Layer.forward or t.backward is not Layer.backward
