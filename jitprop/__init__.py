"""jitprop: backpropagation for multilayer perceptrons, with Numba-compiled CPU
kernels each checked against a pure-NumPy twin.

    import jitprop
    net = jitprop.mlp([784, 128, 10], activation="relu", output="softmax")
    history = jitprop.train(net, jitprop.CrossEntropy(), x, labels, epochs=5)
"""
from jitprop.model import (
    IMPLS, SGD, Cost, CrossEntropy, Dropout, Hinge, History, Layer, Linear,
    MeanSquareError, Network, ReLU, Sigmoid, SoftMax, TrainingDiverged, accuracy,
    l2_term, mlp, parse_layers, train,
)

__version__ = "0.1.0"
