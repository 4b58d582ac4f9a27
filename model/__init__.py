"""The thin layer users touch: the seed ``Layer``/``Cost`` interface."""
from jitprop.model.builders import mlp, parse_layers
from jitprop.model.checkpoint import CheckpointError, load, read_checkpoint, save_checkpoint
from jitprop.model.costs import Cost, CrossEntropy, Hinge, MeanSquareError
from jitprop.model.layers import Dropout, Layer, Linear, ReLU, Sigmoid, SoftMax
from jitprop.model.network import Network
from jitprop.model.optim import SGD, l2_term
from jitprop.model.train import IMPLS, History, TrainingDiverged, accuracy, train
