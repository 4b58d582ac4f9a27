"""The ``jitprop`` command: one module per subcommand."""
import argparse
import contextlib
import gc
import os
import signal
import sys

from jitprop.cli.common import UsageError


def _version():
    import jitprop
    return jitprop.__version__


def build_parser():
    from jitprop.cli import bench, data, experiment, predict, sweep, train, verify
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
    argv = sys.argv[1:] if argv is None else list(argv)
    if sys.stderr is None:  # started with stderr closed (`jitprop train 2>&-`)
        sys.stderr = open(os.devnull, "w")
    if threading_main():
        signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C is a KeyboardInterrupt again (see top)
    if argv == ["--version"]:  # answered without loading the kernels
        print(f"jitprop {_version()}")
        return 0
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
        # the reader went away (`jitprop train | head -1`): stop quietly, and
        # keep Python's final flush of stdout from complaining about it
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def entry():
    """The ``jitprop`` command (pyproject's script, ``python -m jitprop``):
    :func:`main`, then the exit. Python's exit runs full garbage collections
    over every object still alive; after a first run that is everything
    Numba's compiler kept (0.3-0.4 s of a ~9 s run, 0.05-0.1 s after a warm
    one), for memory the process is about to give back anyway. Frozen, the
    collections pass them over (objects freed by reference counting are
    still finalised; cycles among them are left to the operating system).
    Not in main(): tests call it many times in one process. Also NumPy's
    transparent huge pages off (:func:`_small_pages`)."""
    _small_pages()
    try:
        code = main()
    finally:  # also when argparse exits (--help, a bad flag)
        gc.freeze()
    sys.exit(code)


def _small_pages():
    """Stop NumPy asking Linux for transparent huge pages for the command's
    large arrays (unless NUMPY_MADVISE_HUGEPAGE says otherwise). The first
    touch of the training set (188 MB of float32 MNIST) then had the kernel
    compact memory: data loading took 0.8-1.0 s instead of 0.65 s, the
    default warm run 0.05-0.27 s longer, for no gain in training speed
    (alternating runs). The switch is NumPy's (since 1.20), not public:
    skipped if it is gone."""
    if "NUMPY_MADVISE_HUGEPAGE" in os.environ:
        return
    try:
        from numpy._core.multiarray import _set_madvise_hugepage
    except ImportError:
        try:
            from numpy.core.multiarray import _set_madvise_hugepage
        except ImportError:
            return
    _set_madvise_hugepage(False)


def threading_main():
    import threading
    return threading.current_thread() is threading.main_thread()


def _say(message):
    with contextlib.suppress(OSError, ValueError, AttributeError):
        print(message, file=sys.stderr)


if __name__ == "__main__":
    entry()
