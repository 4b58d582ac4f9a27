"""jitprop: backpropagation for multilayer perceptrons, with Numba-compiled CPU
kernels each checked against a pure-NumPy twin.

    import jitprop
    net = jitprop.mlp([784, 128, 10], activation="relu", output="softmax")
    history = jitprop.train(net, jitprop.CrossEntropy(), x, labels, epochs=5)
"""
from jitprop.model import (
    IMPLS, SGD, CheckpointError, Cost, CrossEntropy, Dropout, Hinge, History, Layer, Linear,
    MeanSquareError, Network, ReLU, Sigmoid, SoftMax, TrainingDiverged, accuracy,
    l2_term, load, mlp, parse_layers, read_checkpoint, save_checkpoint, train,
)

__version__ = "0.1.0"
