"""Where jitprop keeps data."""
import os
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
