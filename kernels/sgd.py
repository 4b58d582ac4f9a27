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
