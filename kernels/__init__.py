"""Compiled kernels (Numba). The NumPy twins are in ``jitprop.kernels.reference``
under the same names, listed in the same order."""
from jitprop.kernels.activations import (
    relu_backward, relu_forward, sigmoid_backward, sigmoid_forward,
    softmax_backward, softmax_forward,
)
from jitprop.kernels.costs import cross_entropy, hinge, mse, softmax_cross_entropy
from jitprop.kernels.linear import (
    linear_backward, linear_forward, linear_relu_backward, linear_relu_forward,
    linear_sigmoid_backward, linear_sigmoid_forward,
)
from jitprop.kernels.network import network_forward, train_epoch, train_epoch_per_sample
from jitprop.kernels.sgd import sgd_update

KERNEL_NAMES = (
    "linear_forward", "linear_sigmoid_forward", "linear_relu_forward",
    "linear_backward", "linear_sigmoid_backward", "linear_relu_backward",
    "sigmoid_forward", "sigmoid_backward", "relu_forward", "relu_backward",
    "softmax_forward", "softmax_backward",
    "softmax_cross_entropy", "mse", "cross_entropy", "hinge",
    "sgd_update",
    "train_epoch", "train_epoch_per_sample", "network_forward",
)
