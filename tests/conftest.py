import numpy as np
import pytest

BACKENDS = ("numba", "numpy")
DTYPES = (np.float64, np.float32)


def numeric_grad(f, x, h=1e-6):
    """Central finite differences of the scalar f() with respect to x, in place."""
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        up = f()
        x[i] = old - h
        down = f()
        x[i] = old
        g[i] = (up - down) / (2 * h)
    return g


@pytest.fixture(autouse=True)
def _no_remembered_neighbour(monkeypatch):
    """Each test starts with no neighbour remembered by an earlier test's
    training (jitprop.threads.Neighbour): a test asking for two threads gets
    them unless its own training meets one."""
    import jitprop.threads
    monkeypatch.setattr(jitprop.threads, "NEIGHBOUR", jitprop.threads.Neighbour())


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(scope="session")
def mnist():
    """The real MNIST arrays (fetched into the cache on first use)."""
    from jitprop.data import load_mnist
    return load_mnist()
