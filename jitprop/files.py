"""Writing files safely: atomically (temporary file + rename) and under an
advisory lock. Shared by checkpoints, caches and command outputs."""
import contextlib
import os
import tempfile
from pathlib import Path


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


def temp_pattern(path):
    """The names ``atomic_write`` gives its temporary files for ``path``."""
    path = Path(path)
    return f".{path.name}.*.tmp"


def clean_stale_temps(path):
    """Delete temporary files that a killed writer of ``path`` left behind.
    Call it holding ``path_lock(path)``: then no other writer is using them."""
    path = Path(path)
    removed = []
    for stale in path.parent.glob(temp_pattern(path)):
        with contextlib.suppress(FileNotFoundError, IsADirectoryError, PermissionError):
            stale.unlink()
            removed.append(stale)
    return removed


class PathBusy(RuntimeError):
    """Another process holds the lock on a path."""


@contextlib.contextmanager
def path_lock(path):
    """Own ``path`` for the length of the block: an exclusive, non-blocking
    advisory lock on a hidden ``.<name>.lock`` beside it, removed at the end.
    Raises ``PathBusy`` if another process owns it. (The lock file is checked
    to still be the one at that name after locking, so removing it on exit
    cannot let two owners in.)"""
    import fcntl
    path = Path(path)
    lock = path.with_name(f".{path.name}.lock")
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise PathBusy(f"{path} is in use by another jitprop run (lock {lock})") from None
        try:
            same = os.fstat(fd).st_ino == os.stat(lock).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
