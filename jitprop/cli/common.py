"""Helpers shared by the subcommands."""
import platform

import numpy as np


def versions():
    import numba
    return {"python": platform.python_version(), "numpy": np.__version__, "numba": numba.__version__,
            "machine": platform.machine()}


def need_matplotlib(what):
    from jitprop.plots import PlotUnavailable, pyplot
    try:
        pyplot()
    except PlotUnavailable as exc:
        raise SystemExit(f"jitprop {what}: {exc}")


class UsageError(SystemExit):
    """A bad flag or argument: the message goes to stderr and the exit status
    is 2, as argparse's own usage errors."""

    def __init__(self, message):
        super().__init__(2)
        self.message = message
