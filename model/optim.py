"""Optimizers: objects over a network's flat parameter buffer, with their
state in the same layout (tinygrad's ``Optimizer``/``_step`` shape; llm.c
keeps AdamW's m and v as flat buffers too).

An optimizer names a rule of ``kernels.optimizers`` and holds its
hyperparameters, its state buffers (S, P), allocated on first use, and ``t``,
the number of updates taken. The same rule runs in the model layer
(``step``), inside the whole-epoch kernels and in their NumPy twins.
``state_dict``/``load_state_dict`` carry it through checkpoints, so a resumed
run continues with the same momentum and Adam moments, bit for bit.
"""
import numpy as np

from jitprop.checks import check_scalar
from jitprop.kernels.optimizers import OPTIMIZERS, STATE_BUFFERS, hyper_vector


def l2_term(weight_decay, weights):
    """``weight_decay / 2 * sum(w**2)`` over ``weights``: a list of arrays of
    any shapes, or one array (an array of numbers is a list of scalar
    weights, as Assignment 1's example passes it): the L2 regulariser whose
    gradient ``weight_decay * w`` weight decay adds."""
    wd = check_scalar("weight_decay", weight_decay)
    if isinstance(weights, np.ndarray) and weights.dtype != object:
        weights = [weights]
    total = 0.0
    for i, w in enumerate(weights):
        w = np.asarray(w)
        if w.dtype.kind not in "fiu" or w.dtype.kind == "b":
            raise TypeError(f"weights[{i}]: expected numbers, got dtype {w.dtype}")
        if not np.isfinite(w).all():
            raise ValueError(f"weights[{i}]: expected finite values")
        w = w.astype(np.float64, copy=False)
        total += float(np.vdot(w, w))
    return 0.5 * wd * total


class Optimizer:
    """Base class: ``step(net)`` updates ``net.params`` from ``net.grads``."""

    name = None  # the key of kernels.optimizers.OPTIMIZERS

    def __init__(self, lr, weight_decay=0.0):
        self.lr = check_scalar("lr", lr, strict=True)
        self.weight_decay = check_scalar("weight_decay", weight_decay)
        self.state = None
        self.t = 0

    @property
    def kind(self):
        return OPTIMIZERS[self.name]

    @property
    def hyper(self):
        return hyper_vector(**self._hyper())

    def _hyper(self):
        return dict(weight_decay=self.weight_decay)

    def bind(self, params):
        """The state buffers (S, P) for the flat buffer ``params``, allocated
        (zeros) on first use."""
        shape = (STATE_BUFFERS[self.kind], params.shape[0])
        if self.state is None:
            self.state = np.zeros(shape, params.dtype)
        elif self.state.shape != shape or self.state.dtype != params.dtype:
            raise ValueError(f"optimizer: its state {self.state.shape} {self.state.dtype} belongs to another "
                             f"network (this one needs {shape} {params.dtype}); use a new optimizer or reset()")
        return self.state

    def reset(self):
        self.state, self.t = None, 0

    def step(self, net, lr=None, k=None):
        """One update of every parameter of ``net`` from its gradients (users'
        layers update themselves with their ``update_parameters(lr)``)."""
        from jitprop.model.backend import ops
        lr = self.lr if lr is None else lr
        k = ops(net.backend) if k is None else k
        state = self.bind(net.params)
        self.t += 1
        k.optimizer_step(net.params, net.grads, state, self.kind, self.hyper, net.dtype(lr), self.t)
        net.update_custom(lr)

    def config(self):
        """The constructor arguments (JSON-serialisable)."""
        return {"optimizer": type(self).__name__.lower(), "lr": self.lr, **self._hyper()}

    def state_dict(self):
        return {"config": self.config(), "t": self.t, "state": self.state}

    def load_state_dict(self, d):
        self.t = int(d["t"])
        self.state = None if d.get("state") is None else np.array(d["state"])

    def l2_term(self, net):
        """The L2 term of ``net``'s weights (not biases) for this weight decay."""
        return l2_term(self.weight_decay, [l.w for l in net.linears])

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items() if k != "optimizer")
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """SGD with weight decay, optionally with momentum (heavy ball, or
    Nesterov): ``g = grad + weight_decay * p; v = momentum * v + g;
    p -= lr * (g + momentum * v if nesterov else v)`` (plain SGD for
    momentum 0: ``p -= lr * g``), as ``torch.optim.SGD``."""

    def __init__(self, lr=0.01, momentum=0.0, nesterov=False, weight_decay=0.0):
        super().__init__(lr, weight_decay)
        self.momentum = check_scalar("momentum", momentum)
        if self.momentum >= 1:
            raise ValueError(f"momentum: expected a number in [0, 1), got {momentum!r}")
        if not isinstance(nesterov, (bool, np.bool_)):
            raise TypeError(f"nesterov: expected True or False, got {nesterov!r}")
        if nesterov and self.momentum == 0:
            raise ValueError("nesterov: Nesterov momentum needs momentum > 0")
        self.nesterov = bool(nesterov)

    @property
    def name(self):
        return "momentum" if self.momentum > 0 else "sgd"

    def _hyper(self):
        return dict(weight_decay=self.weight_decay, momentum=self.momentum, nesterov=self.nesterov)


class Adam(Optimizer):
    """Adam (``torch.optim.Adam``); with ``decoupled=True`` the weight decay
    is AdamW's (``p *= 1 - lr * weight_decay`` before the step) instead of
    an L2 term added to the gradient."""

    name = "adam"

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, decoupled=False):
        super().__init__(lr, weight_decay)
        for key, v in (("beta1", beta1), ("beta2", beta2)):
            if check_scalar(key, v) >= 1:
                raise ValueError(f"{key}: expected a number in [0, 1), got {v!r}")
        self.beta1, self.beta2 = float(beta1), float(beta2)
        self.eps = check_scalar("eps", eps, strict=True)
        if not isinstance(decoupled, (bool, np.bool_)):
            raise TypeError(f"decoupled: expected True or False, got {decoupled!r}")
        self.decoupled = bool(decoupled)

    def _hyper(self):
        return dict(weight_decay=self.weight_decay, beta1=self.beta1, beta2=self.beta2, eps=self.eps,
                    decoupled=self.decoupled)


OPTIMIZER_CLASSES = {"sgd": SGD, "adam": Adam}


def make_optimizer(config):
    """An optimizer from ``Optimizer.config()`` output."""
    config = dict(config)
    name = config.pop("optimizer", None)
    if name not in OPTIMIZER_CLASSES:
        raise ValueError(f"optimizer: expected one of {sorted(OPTIMIZER_CLASSES)}, got {name!r}")
    return OPTIMIZER_CLASSES[name](**config)


def check_optimizer(optimizer):
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer: expected a jitprop optimizer (SGD, Adam), got {type(optimizer).__name__}")
    return optimizer

