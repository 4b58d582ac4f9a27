"""``Network``: a sequence of layers with the seed interface.

All ``Linear`` parameters (and gradients) of a network live in one flat
buffer in the layout of ``jitprop.kernels.layout``, so ``zero_gradients`` is
one fill, an update one pass, and the whole-epoch kernels train the same
buffer. A ``Linear`` followed by an activation runs as one fused kernel, and
each layer still exposes its state (``x_in``, ``out``, ``w``, ``dw`` ...)
exactly as when run alone. A user's own layer (a ``Layer`` subclass with its
own ``forward``/``backward``, as HaMLeT's Task 0 writes them) runs as it is,
between the fused steps; it is never skipped.

``predict`` keeps no state: it runs the compiled forward on its own buffers,
so it may be called between ``forward`` and ``backward`` and from any number
of threads. Training one network from two threads at once is refused.
"""
import threading
import weakref

import numpy as np

from jitprop.checks import allocate, check_array, check_backend, check_positive_int
from jitprop.model.backend import ops
from jitprop.model.layers import Activation, Layer, Linear, SoftMax, is_custom, sgd_step


class Network(Layer):
    """Network(layers, backend=None, dtype=None).

    ``backend`` (if given) is handed to every jitprop layer; ``dtype`` (if
    given) converts every jitprop layer's parameters; otherwise they must
    share one. A user's layer keeps its own attributes; its output is cast to
    the network's dtype.
    """

    def __init__(self, layers, backend=None, dtype=None):
        try:
            layers = list(layers)
        except TypeError:
            raise TypeError(f"layers: expected a list of layers, got {type(layers).__name__}") from None
        if not layers:
            raise ValueError("layers: expected a non-empty list of layers, got []")
        seen = set()
        for i, l in enumerate(layers):
            if isinstance(l, Network):
                raise ValueError(f"layers[{i}]: a Network inside a Network is not supported (its parameters "
                                 "live in its own buffer); pass its layers instead: Network(inner.layers + [...])")
            if not isinstance(l, Layer) and not (callable(getattr(l, "forward", None))
                                                 and callable(getattr(l, "backward", None))):
                raise TypeError(f"layers[{i}]: expected a Layer (or an object with forward and backward), "
                                f"got {type(l).__name__}")
            if id(l) in seen:
                raise ValueError(f"layers[{i}]: {l!r} appears twice; each position needs its own layer object")
            seen.add(id(l))
            owner = l.owner() if isinstance(l, Linear) and l.owner is not None else None
            if owner is not None and any(x is l for x in owner.linears):
                raise ValueError(f"layers[{i}]: {l!r} already belongs to another Network (its parameters live in "
                                 "that network's buffer); build each Network from its own layers "
                                 "(copy.deepcopy(layer) makes an independent one)")
        own = [l for l in layers if not is_custom(l)]
        dtypes = {l.dtype for l in own}
        if dtype is None:
            if len(dtypes) > 1:
                raise ValueError(f"layers: expected one dtype for all layers, got {sorted(d.__name__ for d in dtypes)}")
            dtype = own[0].dtype if own else np.float64
        if backend is None:
            backend = own[0].backend if own else "numba"
        super().__init__(backend, dtype)
        self.layers = layers
        for layer in own:
            layer.backend = self.backend
            layer.dtype = self.dtype
        self.custom = [l for l in layers if is_custom(l)]
        self.linears = [l for l in layers if isinstance(l, Linear) and not is_custom(l)]
        self._check_widths()
        self.n_in = layers[0].n_in if isinstance(layers[0], Linear) else None
        # the output width, when jitprop's layers fix it (a user's layer after the last Linear may change it)
        self.n_out = self.linears[-1].n_out if self.linears and not any(
            is_custom(l) for l in layers[layers.index(self.linears[-1]):]) else None
        self._steps = self._group()
        self._rehome()
        self._trainer = None
        self._train_lock = threading.Lock()

    def _check_widths(self):
        width = None
        for l in self.layers:
            if is_custom(l):
                width = None  # a user's layer may change the width
            elif isinstance(l, Linear):
                if width is not None and width[1] != l.n_in:
                    raise ValueError(f"layers: {width[0]!r} outputs {width[1]} features but the next {l!r} "
                                     f"expects {l.n_in}")
                width = (l, l.n_out)

    def _group(self):
        """Steps: (Linear, Activation) fused pairs, single jitprop layers, and
        users' layers (run through their own forward/backward)."""
        steps, i, layers = [], 0, self.layers
        while i < len(layers):
            cur = layers[i]
            nxt = layers[i + 1] if i + 1 < len(layers) else None
            if isinstance(cur, Linear) and not is_custom(cur) and isinstance(nxt, Activation) and not is_custom(nxt):
                steps.append((cur, nxt))
                i += 2
            else:
                steps.append((cur, None))
                i += 1
        return steps

    def _rehome(self):
        total = sum(l.n_parameters for l in self.linears)
        self.params = allocate("Network parameters", (total,), self.dtype)
        self.grads = allocate("Network gradients", (total,), self.dtype)
        start = 0
        for l in self.linears:
            k = l.n_parameters
            self.params[start:start + k] = l.params
            l._bind(self.params[start:start + k], self.grads[start:start + k])
            l.owner = weakref.ref(self)
            start += k

    def __setattr__(self, name, value):
        if name == "backend" and "layers" in self.__dict__:
            check_backend(value)
            for layer in self.layers:
                if not is_custom(layer):
                    layer.backend = value
        super().__setattr__(name, value)

    # ------------------------------------------------------------ structure
    @property
    def sizes(self):
        return [self.linears[0].n_in] + [l.n_out for l in self.linears] if self.linears else []

    def output_width(self, x):
        """The width of the output for inputs like x: ``n_out`` when the layers
        fix it, else found by predicting the first row."""
        return self.n_out if self.n_out is not None else self.predict(x[:1]).shape[1]

    def mlp_spec(self):
        """``(sizes, activation codes, ends_in_softmax)`` when the network is a
        plain MLP (Linear, optional activation, repeated, optional final
        SoftMax, no user layers, no Dropout) that the whole-epoch kernels can
        train; otherwise ``None``."""
        steps = self._steps
        softmax = isinstance(steps[-1][0], SoftMax) and not is_custom(steps[-1][0])
        if softmax:
            steps = steps[:-1]
        acts = []
        for layer, act in steps:
            if not isinstance(layer, Linear) or is_custom(layer):
                return None
            acts.append(act.code if act is not None else 0)
        if not acts or (softmax and acts[-1] != 0):
            return None
        return (np.asarray(self.sizes, np.int64), np.asarray(acts, np.int64), softmax)

    def set_training(self, training=True):
        """Training phase on/off (``Dropout`` honours it)."""
        self.training = training
        for layer in self.layers:
            layer.training = training

    # ------------------------------------------------------------- interface
    def _check_input(self, name, x):
        return check_array(name, x, self.dtype, shape=(None, self.n_in))

    def forward(self, x_in):
        """x_in (B, n_in) -> output (B, n_out); keeps what backward needs."""
        self._guard("forward")
        return self._forward(self._check_input("x_in", x_in), ops(self.backend))

    def backward(self, d_out):
        """d_out = dL/d(output) -> dL/d(input); accumulates gradients."""
        self._guard("backward")
        return super().backward(d_out)

    def _forward(self, x, k, steps=None):
        for layer, act in self._steps if steps is None else steps:
            if act is not None:
                x = layer._forward(x, k, act)
            elif is_custom(layer):
                x = self._custom_output(layer, "forward", layer.forward(x), x.shape[0])
            else:
                x = layer._forward(x, k)
        self._out_shape = x.shape
        return x

    def _backward(self, d_out, k, need_d_in=True, steps=None):
        steps = self._steps if steps is None else steps
        for n, (layer, act) in enumerate(reversed(steps)):
            want = need_d_in or n < len(steps) - 1
            if act is not None:
                d_out = layer._backward(d_out, k, want, act)
            elif is_custom(layer):
                d_out = self._custom_output(layer, "backward", layer.backward(d_out), d_out.shape[0])
            elif isinstance(layer, Linear):
                d_out = layer._backward(d_out, k, want)
            else:
                d_out = layer._backward(d_out, k)
        return d_out

    def _custom_output(self, layer, method, y, rows):
        y = np.asarray(y) if y is not None else None
        if y is None or y.dtype.kind not in "fiu" or y.ndim != 2 or y.shape[0] != rows:
            got = "None" if y is None else f"{y.dtype} array of shape {y.shape}"
            raise ValueError(f"{type(layer).__name__}.{method}: expected a 2-D float array with {rows} rows "
                             f"(batch first), got {got}")
        return np.ascontiguousarray(y, self.dtype)

    def zero_gradients(self):
        self.grads.fill(0)
        for layer in self.custom:
            if callable(getattr(layer, "zero_gradients", None)):
                layer.zero_gradients()

    def update_parameters(self, learning_rate, weight_decay=0.0):
        """One SGD step of every parameter: jitprop's layers in one pass over
        the flat buffer, users' layers through their own update_parameters."""
        sgd_step(ops(self.backend), self.params, self.grads, learning_rate, weight_decay)
        self.update_custom(learning_rate)

    def update_custom(self, learning_rate):
        for layer in self.custom:
            if callable(getattr(layer, "update_parameters", None)):
                layer.update_parameters(learning_rate)

    # ------------------------------------------------- fused loss + backward
    def loss_and_backward(self, cost, x, target, k=None, grad_scale=1.0):
        """Forward, cost, gradient and backward for one minibatch; returns the
        cost. ``k``: the kernels to use (default: the network's backend);
        ``grad_scale`` multiplies dL/d(output) (1/rows for a batch-mean loss).

        With a final ``SoftMax`` and a ``CrossEntropy`` cost the softmax and
        the cost run as the fused ``softmax_cross_entropy`` kernel on the
        logits; otherwise this is the seed sequence forward, estimate,
        gradient, backward.
        """
        from jitprop.model.costs import CrossEntropy
        k = ops(self.backend) if k is None else k
        last = self.layers[-1]
        if isinstance(cost, CrossEntropy) and isinstance(last, SoftMax) and not is_custom(last):
            logits = self._forward(x, k, self._steps[:-1])
            target = check_array("target", target, self.dtype, shape=logits.shape)
            d = np.empty_like(logits)
            value = k.softmax_cross_entropy(d, logits, target)
            if np.isfinite(value):
                self._backward(d * self.dtype(grad_scale) if grad_scale != 1 else d, k, False, self._steps[:-1])
            return value
        pred = self._forward(x, k)
        value = cost.estimate(target, pred, k)
        if np.isfinite(value):
            d = cost.gradient(value)
            self._backward(d * self.dtype(grad_scale) if grad_scale != 1 else d, k, False)
        return value

    def predict(self, x, batch_size=1000):
        """Output (N, n_out) for x (N, n_in), in chunks of ``batch_size`` rows,
        as in the test phase (Dropout scales). Keeps no state: it neither
        reads nor writes what ``backward`` needs, so it may run between
        ``forward`` and ``backward`` and from any number of threads."""
        x = self._check_input("x", x)
        batch_size = check_positive_int("batch_size", batch_size)
        k = ops(self.backend)
        spec = self.mlp_spec()
        if spec is not None:
            sizes, acts, softmax = spec
            out = np.empty((x.shape[0], int(sizes[-1])), self.dtype)
            k.network_forward(out, self.params, sizes, acts, x, batch_size)
            if softmax:
                k.softmax_forward(out, out.copy())
            return out
        return np.concatenate([self._infer(x[s:s + batch_size], k) for s in range(0, x.shape[0], batch_size)])

    def _infer(self, x, k):
        for layer, act in self._steps:
            if act is not None:
                x = layer._infer(x, k, act)
            elif is_custom(layer):
                # A user's forward keeps state: restore its attributes afterwards.
                saved = dict(vars(layer))
                try:
                    x = self._custom_output(layer, "forward", layer.forward(x), x.shape[0])
                finally:
                    vars(layer).clear()
                    vars(layer).update(saved)
            else:
                x = layer._infer(x, k)
        return x

    # --------------------------------------------------------------- threads
    def _guard(self, what):
        trainer = self._trainer
        if trainer is not None and trainer != threading.get_ident():
            raise RuntimeError(f"Network.{what}: this network is being trained by another thread; "
                               "use predict (it keeps no state) or wait for the training to finish")

    def training_session(self):
        """Context manager held by ``train``: refuses a second trainer."""
        net = self

        class _Session:
            def __enter__(self):
                if not net._train_lock.acquire(blocking=False):
                    raise RuntimeError("train: this network is already being trained (by another thread); "
                                       "training one network from two threads at once is not supported")
                net._trainer = threading.get_ident()
                return net

            def __exit__(self, *exc):
                net._trainer = None
                net._train_lock.release()
                return False
        return _Session()

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_train_lock", None)
        state["_trainer"] = None
        return state

    def __setstate__(self, state):
        # Copies and pickles restore each array on its own: bind the layers'
        # views into this network's buffers again.
        self.__dict__.update(state)
        self.__dict__["_train_lock"] = threading.Lock()
        start = 0
        for l in self.linears:
            k = l.n_parameters
            l._bind(self.params[start:start + k], self.grads[start:start + k])
            l.owner = weakref.ref(self)
            start += k

    def __repr__(self):
        return "Network([" + ", ".join(map(repr, self.layers)) + f"], backend={self.backend!r}, dtype={self.dtype.__name__})"


def check_network(net):
    if not isinstance(net, Network):
        raise TypeError(f"net: expected a jitprop Network, got {type(net).__name__}")
    return net

