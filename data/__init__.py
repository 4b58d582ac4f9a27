"""Data sets: MNIST and Fashion-MNIST (verified, cached), your own arrays
(.npz, .csv), IDX files, the small sets, and the helpers."""
from jitprop.data.arrays import ArrayData, load_arrays
from jitprop.data.cache import data_dir
from jitprop.data.errors import (
    CacheUnavailable, DataFileError, DatasetUnavailable, FashionMNISTUnavailable, IDXError, MNISTUnavailable,
)
from jitprop.data.fashion import load_fashion_mnist
from jitprop.data.idx import load_idx_folder, read_idx, write_idx
from jitprop.data.mnist import MNIST, load_mnist
from jitprop.data.prepare import dataset_arrays, hamlet_split, load_dataset, mnist_arrays
from jitprop.data.small import load_digits, two_circles
from jitprop.data.transforms import shuffle, standardize, validation_split, vectorize
