"""`jitprop train`: train an MLP and print the test accuracy.

The flags are made from ``jitprop.config.SETTINGS``; this module only parses
and prints. The run itself is ``jitprop.session.Run``.
"""
import argparse
import sys

from jitprop.cli.common import UsageError, need_matplotlib
from jitprop.cli.settings import add_preset_flag, add_setting_flags, given_settings
from jitprop.config import SETTINGS, ConfigError, RunConfig

EPILOG = """\
examples:
  jitprop train                                  the default: 784-128-10 ReLU, softmax + cross-entropy, Adam, 6 epochs
  jitprop train --preset hamlet-task5            a seed notebook's run (see --preset)
  jitprop train --layers 784,128,32,10 --activation sigmoid --cost mse --batch-size 12 --lr 0.01
  jitprop train --optimizer adam --lr 0.001 --schedule cosine --warmup 0.5
  jitprop train --data my.csv --layers 64        your own data; the input and output widths come from it
  jitprop train --save run.npz --log run.jsonl   a checkpoint and a JSON line after every epoch
  jitprop train --resume run.npz                 continue after Ctrl-C (same bits as an uninterrupted run)
  jitprop train --resume run.npz --epochs 12     train on to 12 epochs

--lr applies to the gradient of the batch-mean loss (as in PyTorch and
scikit-learn); with --no-mean-loss it applies to per-sample gradients summed
over the minibatch, the seeds' convention their presets keep, so SGD lr
0.004 summed at batch 64 is lr 0.26 on the mean. Ctrl-C stops after saving
the last completed epoch to --save, or, without --save, to
./jitprop-checkpoint.npz (never over an existing file); `jitprop train
--resume FILE` continues. MNIST is fetched once, verified by SHA-256 and
cached in $JITPROP_DATA_DIR (default ~/.cache/jitprop). The last line
printed is the test accuracy (the validation accuracy with --split hamlet,
which has no test set). Progress bars appear on a terminal (TQDM_DISABLE=1
turns them off); the per-epoch lines always.
"""

RESUME_MAY_CHANGE = ("epochs", "threads")


def add_train(sub):
    p = sub.add_parser("train", help="train an MLP on MNIST (or your data) and print the test accuracy",
                       description="Train a multilayer perceptron with minibatch SGD or Adam. Every option "
                                   "below shows its default and the presets' values.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_preset_flag(p)
    groups = {name: p.add_argument_group(name) for name in ("data", "network", "optimisation", "execution")}
    # SETTINGS is in group order: a group runs from its first setting to the next group's
    starts = {"dataset": "data", "layers": "network", "optimizer": "optimisation", "impl": "execution"}
    group_of, name = {}, "data"
    for s in SETTINGS:
        name = starts.get(s.name, name)
        group_of[s.name] = groups[name]
    add_setting_flags(lambda s: group_of[s.name])
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
    given = given_settings(args)
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
    saved_total = run.resumed_from_total
    if saved_total is not None and saved_total != cfg.epochs and run.schedule.spans_the_run:
        print(f"  note: the {run.schedule.name} schedule now spreads over {cfg.epochs} epochs; epochs "
              f"1..{run.start_epoch - 1} ran under its {saved_total}-epoch form, so from here the rates (and the "
              f"result) differ from an uninterrupted {cfg.epochs}-epoch run's", file=sys.stderr)
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
