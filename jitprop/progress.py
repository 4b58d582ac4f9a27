"""Progress bars that honour tqdm's environment settings (``TQDM_DISABLE``,
``TQDM_MININTERVAL`` ...) and stay off when stderr is not a terminal."""
import os
import sys

from tqdm.auto import tqdm


def bar(progress=True, **kw):
    """A tqdm bar on stderr. ``progress=False`` turns it off; otherwise tqdm
    decides: off when stderr is not a terminal, and whatever ``TQDM_*``
    environment variables say."""
    kw.setdefault("file", sys.stderr)
    if not progress:
        kw["disable"] = True
    elif "TQDM_DISABLE" not in os.environ:
        kw["disable"] = None  # off unless a terminal
    try:
        return tqdm(**kw)
    except AttributeError:  # stderr closed (`jitprop train 2>&-`)
        kw["disable"] = True
        return tqdm(**kw)
