"""The layer users touch: the seed ``Layer``/``Cost`` interface, networks,
optimizers, schedules, the training loop and checkpoints."""
from jitprop.model.builders import ACTIVATION_NAMES, mlp, parse_layers
from jitprop.model.checkpoint import CheckpointError, load, read_checkpoint, save_checkpoint
from jitprop.model.costs import Cost, CrossEntropy, Hinge, MeanSquareError
from jitprop.model.impls import IMPLS
from jitprop.model.layers import Activation, Dropout, Identity, Layer, LeakyReLU, Linear, ReLU, Sigmoid, SoftMax, Tanh
from jitprop.model.network import Network
from jitprop.model.optim import SGD, Adam, Optimizer, l2_term
from jitprop.model.schedules import Constant, Cosine, Exponential, Schedule, Step
from jitprop.model.train import History, TrainingDiverged, accuracy, evaluate, train

__all__ = [
    "ACTIVATION_NAMES", "mlp", "parse_layers", "CheckpointError", "load", "read_checkpoint", "save_checkpoint",
    "Cost", "CrossEntropy", "Hinge", "MeanSquareError", "IMPLS",
    "Activation", "Dropout", "Identity", "Layer", "LeakyReLU", "Linear", "ReLU", "Sigmoid", "SoftMax", "Tanh",
    "Network", "SGD", "Adam", "Optimizer", "l2_term", "Constant", "Cosine", "Exponential", "Schedule", "Step",
    "History", "TrainingDiverged", "accuracy", "evaluate", "train",
]
