import numpy as np
import pytest

BACKENDS = ("numba", "numpy")
DTYPES = (np.float64, np.float32)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(scope="session")
def mnist():
    """The real MNIST arrays (fetched into the cache on first use)."""
    from jitprop.data import load_mnist
    return load_mnist()
