"""SGD with weight decay, and Assignment 1's L2 term."""
import numpy as np

from jitprop.checks import check_scalar


def l2_term(weight_decay, weights):
    """``weight_decay / 2 * sum(||w||^2)`` over a list of arrays of any shapes:
    the L2 regulariser whose gradient ``weight_decay * w`` SGD adds."""
    wd = check_scalar("weight_decay", weight_decay)
    return 0.5 * wd * float(sum(np.vdot(w, w) for w in weights))


class SGD:
    """``p -= learning_rate * (grad + weight_decay * p)`` for every parameter,
    one ``sgd_update`` call over the network's flat buffer."""

    def __init__(self, learning_rate=0.01, weight_decay=0.0):
        self.learning_rate = check_scalar("learning_rate", learning_rate)
        self.weight_decay = check_scalar("weight_decay", weight_decay)

    def step(self, net):
        net.update_parameters(self.learning_rate, self.weight_decay)

    def l2_term(self, net):
        """The L2 term of ``net``'s weights (not biases) for this weight decay."""
        return l2_term(self.weight_decay, [l.w for l in net.linears])
