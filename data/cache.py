"""Where jitprop keeps data, and how it writes there safely."""
import contextlib
import os
import tempfile
from pathlib import Path


def data_dir(path=None):
    """The cache folder: ``path``, else ``$JITPROP_DATA_DIR``, else
    ``$XDG_CACHE_HOME/jitprop`` (``~/.cache/jitprop``). Created if missing."""
    if path is None:
        path = os.environ.get("JITPROP_DATA_DIR")
    if path is None:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        path = os.path.join(base, "jitprop")
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def atomic_write(path, mode="wb"):
    """Write to a temporary file beside ``path`` and rename it into place, so a
    reader never sees a half-written file and a crash leaves the old one."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the usual mode
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def file_lock(path):
    """An exclusive advisory lock on ``path`` (a ``.lock`` file), so two
    processes building the same cache take turns."""
    import fcntl
    with open(path, "a") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)
