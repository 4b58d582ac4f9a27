"""`jitprop train`: train an MLP and print the test accuracy.

The flags are made from ``jitprop.config.SETTINGS``; this module only parses
and prints. The run itself is ``jitprop.session.Run``.
"""
import argparse
import sys

from jitprop.cli.common import UsageError, need_matplotlib
from jitprop.config import PRESETS, SETTINGS, ConfigError, RunConfig

EPILOG = """\
examples:
  jitprop train                                  the default: 784-512-10 ReLU, softmax + cross-entropy, float32, 6 epochs
  jitprop train --preset hamlet-task5            a seed notebook's run (see --preset)
  jitprop train --layers 784,128,32,10 --activation sigmoid --cost mse --batch-size 12 --lr 0.01
  jitprop train --optimizer adam --lr 0.001 --schedule cosine --warmup 0.5
  jitprop train --data my.csv --layers 64        your own data; the input and output widths come from it
  jitprop train --save run.npz --log run.jsonl   a checkpoint and a JSON line after every epoch
  jitprop train --resume run.npz --epochs 12     continue (same bits as an uninterrupted run)

Learning rates apply to per-sample gradients summed over the minibatch (the
seeds' convention) unless --mean-loss, so lr 0.004 at batch 64 is like lr
0.26 on a batch mean. Ctrl-C stops after saving the last completed epoch to
--save, or, without --save, to ./jitprop-checkpoint.npz (never over an
existing file); `jitprop train --resume FILE` continues. MNIST is fetched
once, verified by SHA-256 and cached in $JITPROP_DATA_DIR (default
~/.cache/jitprop). The last line printed is the test accuracy (the
validation accuracy with --split hamlet, which has no test set). Progress
bars appear on a terminal (TQDM_DISABLE=1 turns them off); the per-epoch
lines always.
"""

RESUME_MAY_CHANGE = ("epochs", "threads")


def _shown(v, s):
    if v is None:
        return "none" if s.metavar == "PATH" else "auto"
    return "on" if v is True else "off" if v is False else v


def _default_text(s):
    shown = _shown(getattr(RunConfig(), s.name), s)
    others = [f"{p}: {_shown(v[s.name], s)}" for p, v in PRESETS.items() if p != "default" and s.name in v]
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


def add_train(sub):
    p = sub.add_parser("train", help="train an MLP on MNIST (or your data) and print the test accuracy",
                       description="Train a multilayer perceptron with minibatch SGD or Adam. Every option "
                                   "below shows its default and the presets' values.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", metavar="NAME",
                   help=f"starting configuration: {', '.join(PRESETS)} (default: default); other flags override it")
    groups = {name: p.add_argument_group(name) for name in ("data", "network", "optimisation", "execution")}
    group_of = {"dataset": "data", "layers": "network", "optimizer": "optimisation", "impl": "execution"}
    group = groups["data"]
    for s in SETTINGS:
        group = groups[group_of[s.name]] if s.name in group_of else group
        help_text = s.help + _default_text(s)
        if s.type is bool:
            group.add_argument(s.flag, dest=s.name, action=argparse.BooleanOptionalAction, default=None, help=help_text)
        else:
            group.add_argument(s.flag, dest=s.name, type=_typed(s), choices=s.choices, metavar=s.metavar,
                               default=None, help=help_text)
    p.add_argument("--init-sigma", dest="init", help=argparse.SUPPRESS)  # the former name of --init
    out = p.add_argument_group("output and checkpoints")
    out.add_argument("--save", metavar="PATH", help="write a checkpoint after every epoch (atomically); "
                                                    "with --resume the default is the resumed file")
    out.add_argument("--resume", metavar="PATH", help="continue a run from its checkpoint (same configuration; "
                                                      "only --epochs and --threads may change)")
    out.add_argument("--overwrite", action="store_true", help="let --save replace a checkpoint of another run")
    out.add_argument("--json", metavar="PATH", help="write a run summary (configuration, per-epoch records, "
                                                    "test accuracy, seconds, versions)")
    out.add_argument("--log", metavar="PATH", help="append one JSON line per epoch (epoch, cost, validation and "
                                                   "test accuracy and loss, learning rate, seconds, samples/s), "
                                                   "flushed every epoch, also on Ctrl-C and divergence")
    out.add_argument("--plot", metavar="PATH.png", help="draw the cost (train and test) and accuracy per epoch; "
                                                        "needs matplotlib")
    out.add_argument("--quiet", action="store_true", help="no progress bars and no per-epoch lines")
    p.set_defaults(func=cmd_train, _parser=p)


def config_from_args(args):
    """The RunConfig the flags describe (a preset plus the flags given)."""
    given = {s.name: getattr(args, s.name) for s in SETTINGS if getattr(args, s.name) is not None}
    if args.resume:
        extra = [f"--{k.replace('_', '-')}" for k in given if k not in RESUME_MAY_CHANGE]
        if args.preset:
            extra.insert(0, "--preset")
        if extra:
            raise ConfigError("--resume", f"continues the saved configuration; drop {', '.join(extra)} "
                                          "(only --epochs and --threads may change)")
        return None
    return RunConfig.from_preset(args.preset or "default", **given)


def cmd_train(args):
    import jitprop
    from jitprop.data import DatasetUnavailable
    from jitprop.files import PathBusy
    from jitprop.session import Run, RunError, check_output_path, write_summary

    try:
        cfg = config_from_args(args)
        for flag in ("json", "plot"):
            check_output_path(f"--{flag}", getattr(args, flag))
        if args.plot:
            need_matplotlib("train --plot")
        quiet = args.quiet
        echo = None if quiet else (lambda line: print(line, flush=True))
        kw = dict(log=args.log, overwrite=args.overwrite, progress=not quiet, echo=echo)
        run = (Run.resume(args.resume, epochs=args.epochs, threads=args.threads, save=args.save, **kw)
               if args.resume else Run(cfg, save=args.save, **kw))
        cfg = run.config
        run.build()
    except ConfigError as exc:
        raise UsageError(f"jitprop train: {exc}")
    except (ValueError, TypeError, RunError, DatasetUnavailable) as exc:
        raise SystemExit(f"jitprop train: {exc}")
    print(f"jitprop train: {run.net!r}", file=sys.stderr)
    first = "continuing at epoch " + str(run.start_epoch) if args.resume else "epochs 1"
    print(f"  cost {cfg.cost}, impl {cfg.resolved_impl}, optimizer {run.optimizer!r}, schedule {run.schedule!r}, "
          f"batch {cfg.batch_size}, {first}..{cfg.epochs}, {run.threads} thread(s), "
          f"{run.data['x_train'].shape[0]} training rows", file=sys.stderr)
    try:
        result = run.train()
    except BrokenPipeError:
        raise
    except PathBusy as exc:
        raise SystemExit(f"jitprop train: --save: {exc}")
    except jitprop.TrainingDiverged as exc:
        raise SystemExit(f"jitprop train: {exc}")
    except (ValueError, TypeError, OSError, RunError) as exc:
        raise SystemExit(f"jitprop train: {exc}")
    if result.interrupted:
        return _report_interrupt(result)
    if args.json:
        write_summary(args.json, cfg, result)
    if run.save_path:
        print(f"checkpoint: {run.save_path} (epoch {cfg.epochs})", file=sys.stderr)
    final = result.test_accuracy
    if args.plot:
        from jitprop.plots import learning_curves
        learning_curves(result.history, args.plot, final,
                        title=f"{'-'.join(map(str, run.sizes))} {cfg.activation}/{cfg.cost}")
        print(f"plot: {args.plot}", file=sys.stderr)
    print(f"compile {result.compile_seconds:.2f} s, training {result.train_seconds:.2f} s, "
          f"total {result.total_seconds:.2f} s", file=sys.stderr)
    if final is None:
        print(f"validation accuracy: {100 * result.val_accuracy:.2f}%")
    else:
        print(f"test accuracy: {100 * final:.2f}%")
    return 0


def _report_interrupt(result):
    if result.saved_epoch is None:
        print("jitprop train: interrupted during the first epoch; nothing to save", file=sys.stderr)
    else:
        failed = f" (saving the newest epoch failed: {result.extra['save_error']})" if "save_error" in result.extra else ""
        print(f"jitprop train: interrupted; {result.save_path} holds epoch {result.saved_epoch}{failed}. "
              f"Continue with: jitprop train --resume {result.save_path}", file=sys.stderr)
    return 130
