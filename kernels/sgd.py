"""Compiled in-place SGD update. Twin in ``reference.py``."""
from jitprop.kernels.config import jit


@jit
def sgd_update(param, grad, lr, weight_decay):
    """In place, no temporaries: param -= lr * (grad + weight_decay * param).

    param, grad: same shape (any rank, C-contiguous), same float dtype;
    lr, weight_decay: scalars of that dtype.
    """
    p = param.reshape(param.size)
    g = grad.reshape(grad.size)
    for i in range(p.shape[0]):
        p[i] -= lr * (g[i] + weight_decay * p[i])


@jit
def _sgd_update_and_zero(param, grad, lr, weight_decay):
    """``sgd_update``, then grad = 0 in the same pass, for the fused epoch
    whose next step accumulates into grad (saves a separate pass over it)."""
    p = param.reshape(param.size)
    g = grad.reshape(grad.size)
    zero = g.dtype.type(0)
    for i in range(p.shape[0]):
        p[i] -= lr * (g[i] + weight_decay * p[i])
        g[i] = zero
