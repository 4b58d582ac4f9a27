"""``Network``: a sequence of layers with the seed interface.

All ``Linear`` parameters (and gradients) of a network live in one flat
buffer in the layout of ``jitprop.kernels.layout``, so ``zero_gradients`` is
one fill, ``update_parameters`` one ``sgd_update``, and the whole-epoch
kernels can train the same buffer. A ``Linear`` followed by ``Sigmoid`` or
``ReLU`` runs as one fused kernel, and each layer still exposes its state
(``x_in``, ``out``, ``w``, ``dw`` ...) exactly as when run alone.
"""
import numpy as np

from jitprop.kernels.layout import ACT_IDENTITY, ACT_RELU, ACT_SIGMOID
from jitprop.model.backend import ops
from jitprop.checks import check_array, check_backend, check_scalar
from jitprop.model.layers import Dropout, Layer, Linear, ReLU, Sigmoid, SoftMax

_FUSED = {Sigmoid: "sigmoid", ReLU: "relu"}


class Network(Layer):
    """Network(layers, backend=None, dtype=None).

    ``backend`` (if given) is handed to every layer; ``dtype`` (if given)
    converts every layer's parameters; otherwise all layers must share one.
    """

    def __init__(self, layers, backend=None, dtype=None):
        layers = list(layers)
        if not layers or not all(isinstance(l, Layer) for l in layers):
            raise TypeError(f"layers: expected a non-empty list of Layer objects, got {layers!r}")
        dtypes = {l.dtype for l in layers}
        if dtype is None:
            if len(dtypes) > 1:
                raise ValueError(f"layers: expected one dtype for all layers, got {sorted(d.__name__ for d in dtypes)}")
            dtype = layers[0].dtype
        super().__init__(backend or layers[0].backend, dtype)
        self.layers = layers
        for layer in layers:
            layer.backend = self.backend
        self.linears = [l for l in layers if isinstance(l, Linear)]
        for a, b in zip(self.linears, self.linears[1:]):
            if a.n_out != b.n_in:
                raise ValueError(f"layers: {a!r} outputs {a.n_out} features but the next {b!r} expects {b.n_in}")
        self.n_in = self.linears[0].n_in if self.linears else None
        self._rehome()

    def _rehome(self):
        total = sum(l.n_parameters for l in self.linears)
        self.params = np.zeros(total, self.dtype)
        self.grads = np.zeros(total, self.dtype)
        start = 0
        for l in self.linears:
            k = l.n_parameters
            self.params[start:start + k] = l.params
            l.dtype = self.dtype
            l._bind(self.params[start:start + k], self.grads[start:start + k])
            start += k
        for l in self.layers:
            l.dtype = self.dtype

    def __setattr__(self, name, value):
        if name == "backend" and "layers" in self.__dict__:
            check_backend(value)
            for layer in self.layers:
                layer.backend = value
        super().__setattr__(name, value)

    # ------------------------------------------------------------ structure
    @property
    def sizes(self):
        return [self.linears[0].n_in] + [l.n_out for l in self.linears]

    def mlp_spec(self):
        """``(sizes, activations, ends_in_softmax)`` when the network is a plain
        MLP (Linear, optional Sigmoid/ReLU, repeated, optional final SoftMax)
        that the whole-epoch kernels can train; otherwise ``None``."""
        codes = {Sigmoid: ACT_SIGMOID, ReLU: ACT_RELU}
        acts, i, layers = [], 0, self.layers
        softmax = isinstance(layers[-1], SoftMax)
        if softmax:
            layers = layers[:-1]
        while i < len(layers):
            if not isinstance(layers[i], Linear):
                return None
            nxt = layers[i + 1] if i + 1 < len(layers) else None
            if type(nxt) in codes:
                acts.append(codes[type(nxt)])
                i += 2
            else:
                acts.append(ACT_IDENTITY)
                i += 1
        if softmax and acts[-1] != ACT_IDENTITY:
            return None
        return (np.asarray(self.sizes, np.int64), np.asarray(acts, np.int64), softmax)

    def set_training(self, training=True):
        """Training phase on/off (``Dropout`` honours it)."""
        self.training = training
        for layer in self.layers:
            layer.training = training

    def _steps(self, layers):
        """Group layers into (linear, activation-name) fused pairs or singles."""
        steps, i = [], 0
        while i < len(layers):
            cur = layers[i]
            nxt = layers[i + 1] if i + 1 < len(layers) else None
            if isinstance(cur, Linear) and type(nxt) in _FUSED:
                steps.append((cur, nxt))
                i += 2
            else:
                steps.append((cur, None))
                i += 1
        return steps

    # ------------------------------------------------------------- interface
    def _check_input(self, name, x):
        return check_array(name, x, self.dtype, shape=(None, self.n_in))

    def _forward(self, x, layers=None):
        k = ops(self.backend)
        for layer, act in self._steps(self.layers if layers is None else layers):
            if act is None:
                x = layer._forward(x)
                continue
            layer.x_in = x
            out = np.empty((x.shape[0], layer.n_out), self.dtype)
            getattr(k, f"linear_{_FUSED[type(act)]}_forward")(out, x, layer.w, layer.b)
            layer._out_shape = act._out_shape = out.shape
            act.out = x = out
        self._out_shape = x.shape
        return x

    def _backward(self, d_out, need_d_in=True, layers=None):
        k = ops(self.backend)
        steps = self._steps(self.layers if layers is None else layers)
        for n, (layer, act) in enumerate(reversed(steps)):
            first = n == len(steps) - 1
            if act is None:
                if isinstance(layer, Linear):
                    d_out = layer._backward(d_out, need_d_in or not first)
                else:
                    d_out = layer._backward(d_out)
                continue
            want = need_d_in or not first
            d_in = np.empty((d_out.shape[0], layer.n_in) if want else (0, layer.n_in), self.dtype)
            dz = np.empty_like(d_out)
            getattr(k, f"linear_{_FUSED[type(act)]}_backward")(
                d_in, layer.dw, layer.db, dz, d_out, act.out, layer.x_in, layer.w, want)
            d_out = d_in if want else None
        return d_out

    def zero_gradients(self):
        self.grads.fill(0)

    def update_parameters(self, learning_rate, weight_decay=0.0):
        lr = check_scalar("learning_rate", learning_rate)
        wd = check_scalar("weight_decay", weight_decay)
        ops(self.backend).sgd_update(self.params, self.grads, self.dtype(lr), self.dtype(wd))

    # ------------------------------------------------- fused loss + backward
    def loss_and_backward(self, cost, x, target):
        """Forward, cost, gradient and backward for one minibatch; returns the cost.

        With a final ``SoftMax`` and a ``CrossEntropy`` cost the softmax and
        the cost run as the fused ``softmax_cross_entropy`` kernel on the
        logits; otherwise this is the seed sequence forward, estimate,
        gradient, backward.
        """
        from jitprop.model.costs import CrossEntropy
        if isinstance(cost, CrossEntropy) and isinstance(self.layers[-1], SoftMax):
            logits = self._forward(x, self.layers[:-1])
            target = check_array("target", target, self.dtype, shape=logits.shape)
            d = np.empty_like(logits)
            value = ops(self.backend).softmax_cross_entropy(d, logits, target)
            self._backward(d, need_d_in=False, layers=self.layers[:-1])
            return value
        pred = self._forward(x)
        value = cost.estimate(target, pred)
        self._backward(cost.gradient(value), need_d_in=False)
        return value

    def predict(self, x, batch_size=1000):
        """Output for x (N, n_in) in chunks, without touching stored state."""
        x = self._check_input("x", x)
        was = self.training
        self.set_training(False)
        try:
            return np.concatenate([self._forward(x[s:s + batch_size])
                                   for s in range(0, x.shape[0], batch_size)])
        finally:
            self.set_training(was)

    def __repr__(self):
        return "Network([" + ", ".join(map(repr, self.layers)) + f"], backend={self.backend!r}, dtype={self.dtype.__name__})"
