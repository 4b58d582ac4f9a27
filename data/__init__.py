"""Data sets: full MNIST (verified, cached), IDX files, the small sets."""
from jitprop.data.cache import data_dir
from jitprop.data.idx import load_idx_folder, read_idx, write_idx
from jitprop.data.mnist import MNIST, MNISTUnavailable, load_mnist, mnist_arrays
from jitprop.data.small import load_digits, two_circles
from jitprop.data.transforms import shuffle, standardize, validation_split, vectorize
