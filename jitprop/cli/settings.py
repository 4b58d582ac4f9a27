"""The run-setting flags (``--layers``, ``--lr``, ...), made once from
``jitprop.config.SETTINGS`` for every command that describes a run:
``jitprop train``, ``jitprop sweep`` and the peer scripts in ``jitprop.bench``."""
import argparse

from jitprop.config import PRESETS, SETTINGS, RunConfig


def _shown(v, s):
    if v is None:
        return "none" if s.metavar == "PATH" else "auto"
    return "on" if v is True else "off" if v is False else v


def default_text(s):
    """' (default: X; preset: Y, ...)' for setting ``s``: the default run's
    value and every preset's that differs."""
    base = getattr(RunConfig(), s.name)
    shown = _shown(base, s)
    others = [f"{p}: {_shown(v.get(s.name, base), s)}" for p, v in PRESETS.items() if v.get(s.name, base) != base]
    return f" (default: {shown}" + (f"; {', '.join(others)}" if others else "") + ")"


def _typed(s):
    def convert(text):
        if s.type is int:
            try:
                return int(text)
            except ValueError:
                raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if s.type is float:
            try:
                return float(text)
            except ValueError:
                raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        return text
    convert.__name__ = s.type.__name__
    return convert


def add_preset_flag(parser, also=""):
    parser.add_argument("--preset", metavar="NAME", help=f"starting configuration: {', '.join(PRESETS)} "
                                                         f"(default: default); {also or 'other flags override it'}")


def add_setting_flags(group_of, extra_help=None):
    """One flag per setting. ``group_of(setting)``: the parser or argument
    group it goes in; ``extra_help(setting)``: text appended to its help."""
    for s in SETTINGS:
        text = s.help + default_text(s) + (extra_help(s) if extra_help else "")
        group = group_of(s)
        if s.type is bool:
            group.add_argument(s.flag, dest=s.name, action=argparse.BooleanOptionalAction, default=None, help=text)
        else:
            group.add_argument(s.flag, dest=s.name, type=_typed(s), choices=s.choices, metavar=s.metavar,
                               default=None, help=text)


def given_settings(args):
    """{setting name: value} of the setting flags given on the command line."""
    return {s.name: getattr(args, s.name) for s in SETTINGS if getattr(args, s.name) is not None}
