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


def _number(kind, test, what):
    """An argparse type: ``kind`` (int or float), finite, passing ``test``;
    a bad value is a usage error naming the flag (argparse adds it)."""
    import argparse
    import math

    def convert(text):
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if (kind is float and not math.isfinite(v)) or not test(v):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return v
    convert.__name__ = kind.__name__
    return convert


positive_int = _number(int, lambda v: v >= 1, "an integer >= 1")
nonneg_int = _number(int, lambda v: v >= 0, "an integer >= 0")
positive_float = _number(float, lambda v: v > 0, "a finite number > 0")
nonneg_float = _number(float, lambda v: v >= 0, "a finite number >= 0")
