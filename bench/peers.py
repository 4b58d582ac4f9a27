"""The optional peers (PyTorch, JAX) of the end-to-end scripts: one clear
line and exit status 1 when the one a script needs is not installed."""
import importlib

EXTRA = 'pip install "jitprop[peers]"'


def require(module, script):
    """Import ``module`` (``"torch"``, ``"jax"``) or exit 1 naming the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise SystemExit(f"{script} needs {module}, which is not installed: {EXTRA}") from None
