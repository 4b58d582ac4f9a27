"""The ``jitprop`` command: one module per subcommand."""
import argparse
import contextlib
import os
import sys

from jitprop.cli import bench, data, experiment, predict, sweep, train, verify
from jitprop.cli.common import UsageError


def _version():
    import jitprop
    return jitprop.__version__


def build_parser():
    parser = argparse.ArgumentParser(
        prog="jitprop",
        description="Backpropagation for multilayer perceptrons with Numba-compiled CPU kernels, "
                    "each checked against a pure-NumPy twin.",
        epilog="Run `jitprop COMMAND --help` for the options of each command.")
    parser.add_argument("--version", action="version", version=f"jitprop {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    train.add_train(sub)
    verify.add_verify(sub)
    data.add_data(sub)
    bench.add_bench(sub)
    predict.add_predict(sub)
    predict.add_inspect(sub)
    experiment.add_experiment(sub)
    sweep.add_sweep(sub)
    return parser


def main(argv=None):
    try:
        args = build_parser().parse_args(argv)
        return args.func(args)
    except UsageError as exc:
        _say(f"{exc.message}\n(run with --help for the options)")
        return 2
    except KeyboardInterrupt:
        _say("jitprop: interrupted")
        return 130
    except BrokenPipeError:
        # the reader went away (`jitprop train | head -1`): stop quietly
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")
        return 141


def _say(message):
    with contextlib.suppress(OSError, ValueError, AttributeError):
        print(message, file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
