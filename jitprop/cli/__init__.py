"""The ``jitprop`` command: one module per subcommand."""
import argparse
import sys

from jitprop.cli import bench, data, experiment, predict, train, verify


def build_parser():
    parser = argparse.ArgumentParser(
        prog="jitprop",
        description="Backpropagation for multilayer perceptrons with Numba-compiled CPU kernels, "
                    "each checked against a pure-NumPy twin.",
        epilog="Run `jitprop COMMAND --help` for the options of each command.")
    parser.add_argument("--version", action="version", version="jitprop 0.1.0")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    train.add_train(sub)
    verify.add_verify(sub)
    data.add_data(sub)
    bench.add_bench(sub)
    predict.add_predict(sub)
    predict.add_inspect(sub)
    experiment.add_experiment(sub)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("jitprop: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
