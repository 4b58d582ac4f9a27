"""Fashion-MNIST (Zalando): 28x28 grey images of clothes in 10 classes, the
same sizes and format as MNIST; Homework 1 trains on it.

Sources, in order: the cache (``fashion-mnist.npz``, every array checked
against the SHA-256 stored when it was built); the IDX files in ``idx_dir``
or ``$JITPROP_FASHION_IDX``; the four ``.gz`` files over HTTPS. Every ``.gz``
is checked against its published MD5 before it is read.
"""
from jitprop.data.datasets import (
    FASHION_SPEC, build_from_download, build_from_idx_env, load_named, read_named_idx,
)
from jitprop.data.download import DownloadError
from jitprop.data.errors import FashionMNISTUnavailable

CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


def _build(folder, idx_dir):
    if idx_dir is not None:
        return read_named_idx(FASHION_SPEC, idx_dir), "idx"
    arrays = build_from_idx_env(FASHION_SPEC)
    if arrays is not None:
        return arrays, "idx"
    try:
        return build_from_download(FASHION_SPEC, folder), "https"
    except DownloadError as exc:
        raise FashionMNISTUnavailable(
            f"Fashion-MNIST is not cached and could not be downloaded ({exc}). "
            f"To use it offline, {FASHION_SPEC.how_to_get()}.") from None


def load_fashion_mnist(cache_dir=None, idx_dir=None):
    """Fashion-MNIST as ``(x_train, y_train, x_test, y_test)``: uint8 images
    (60000, 784) and (10000, 784), uint8 labels 0..9 (names in ``CLASSES``).

    As :func:`jitprop.data.load_mnist`: the first call builds and verifies
    ``<cache>/fashion-mnist.npz``; later calls read it without a lock or a
    write. Raises ``FashionMNISTUnavailable`` with one message saying where
    to get the four files and where to put them; ``IDXError`` for bad files.
    """
    return load_named(FASHION_SPEC, cache_dir, lambda folder: _build(folder, idx_dir))
