"""The scikit-learn side by side: ``sklearn.neural_network.MLPClassifier``
and ``jitprop.MLPClassifier`` with the same settings on MNIST.

784-256-10 ReLU, softmax + log-loss (batch mean), plain SGD (no momentum),
constant learning rate, batch 64, 3 epochs, no L2, no early stopping (tol 0
and n_iter_no_change above the epochs, so every fit runs all 3), the same
random_state (jitprop's estimator draws scikit-learn's initial weights and
sample order from it, so both take the same steps, up to float32
rounding). Inputs are float32, which both keep (scikit-learn trains in
float32 when given float32); the case records the dtype each trained in.
The thread count is pinned for both: threadpoolctl for scikit-learn's BLAS,
``threads=`` (BLAS and Numba) for jitprop.

Importing this module does not import scikit-learn.
"""
import importlib.util
import time
import warnings

PEERS = ("sklearn", "jitprop")
THREADS = (1, 2)
EPOCHS = 3
SETTINGS = dict(hidden_layer_sizes=(256,), activation="relu", solver="sgd", batch_size=64,
                learning_rate="constant", learning_rate_init=0.05, momentum=0.0, nesterovs_momentum=False,
                alpha=0.0, max_iter=EPOCHS, tol=0.0, n_iter_no_change=EPOCHS + 1, early_stopping=False,
                shuffle=True, random_state=0)
ACCURACY_POINTS = 0.5  # jitprop's test accuracy within this many points of scikit-learn's
WARMUP_ROWS = 640      # jitprop's warm-up fit (loads or compiles the kernels; not timed)


def sklearn_available():
    """Whether scikit-learn is installed (looked up, not imported)."""
    try:
        return importlib.util.find_spec("sklearn") is not None
    except (ImportError, ValueError):
        return False


def estimator(peer, threads):
    """A fresh, unfitted MLPClassifier of ``peer`` with the shared settings."""
    if peer == "sklearn":
        from sklearn.neural_network import MLPClassifier
        return MLPClassifier(**SETTINGS)
    if peer == "jitprop":
        import jitprop
        return jitprop.MLPClassifier(**SETTINGS, threads=threads)
    raise ValueError(f"peer: expected one of {', '.join(PEERS)}, got {peer!r}")


def fit(peer, est, x, y, threads):
    """Fit ``est`` on x (N, 784) float32 and labels y (N,) with ``threads``
    threads; returns it. The max_iter ConvergenceWarning is expected (fixed
    epochs) and silenced."""
    from threadpoolctl import threadpool_limits
    from sklearn.exceptions import ConvergenceWarning
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if peer == "sklearn":
            with threadpool_limits(limits=threads):
                return est.fit(x, y)
        return est.fit(x, y)  # jitprop pins its own threads (threads=)


def warm_up(peer, x, y, threads):
    """jitprop: one fit on the first rows, so loading or compiling the
    kernels is not timed; returns its seconds (0 for scikit-learn)."""
    if peer != "jitprop":
        return 0.0
    t0 = time.perf_counter()
    fit(peer, estimator(peer, threads), x[:WARMUP_ROWS], y[:WARMUP_ROWS], threads)
    return time.perf_counter() - t0


def trained_dtype(est):
    """The dtype the fitted estimator's weights (and so its training) are in."""
    return str(est.coefs_[0].dtype)
