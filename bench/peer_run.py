"""What the end-to-end peer scripts (``torch_train``, ``jax_train``) share:
the ``jitprop train`` run they redo, described by the same flags, and that
run's data, initial weights, per-epoch sample orders and per-step learning
rates, taken from jitprop so that only the arithmetic is the peer's.

    cfg, args = parse("python -m jitprop.bench.torch_train", argv, __doc__)
    run = prepare(cfg)                     # a built jitprop Run: net, data, optimizer, schedule
    for epoch, order, lrs in epochs(run):  # order (N,) int64, lrs (steps,) float64
        ...
"""
import argparse
import sys

import numpy as np

# What the peer scripts implement: the optimizer and loss settings they read.
ACTIVATIONS = ("relu", "sigmoid")


def parse(prog, argv, description):
    """(RunConfig that ``jitprop train`` would run with these flags, args)."""
    from jitprop.cli.settings import add_preset_flag, add_setting_flags, given_settings
    from jitprop.config import ConfigError, RunConfig
    p = argparse.ArgumentParser(prog=prog, description=description,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_preset_flag(p)
    add_setting_flags(lambda s: p)
    p.add_argument("--save-params", metavar="PATH.npy", help="write the trained parameters (jitprop's flat "
                                                             "layout: w then b per layer) to this file")
    args = p.parse_args(argv)
    try:
        cfg = RunConfig.from_preset(args.preset or "default", **given_settings(args))
        check_supported(cfg)
    except ConfigError as exc:
        p.error(str(exc))
    return cfg, args


def check_supported(cfg):
    """ConfigError for settings the peer scripts do not implement."""
    from jitprop.config import ConfigError
    if cfg.activation not in ACTIVATIONS:
        raise ConfigError("--activation", f"the peer scripts implement {', '.join(ACTIVATIONS)}, got "
                                          f"{cfg.activation}")
    for name, flag in (("momentum", "--momentum"), ("weight_decay", "--weight-decay")):
        if getattr(cfg, name):
            raise ConfigError(flag, "the peer scripts implement plain SGD and Adam without weight decay; "
                                    f"expected 0, got {getattr(cfg, name)}")
    if cfg.batch_size == 1:
        raise ConfigError("--batch-size", "the peer scripts train minibatches; expected >= 2, got 1")


def prepare(cfg):
    """The jitprop Run of ``cfg``, built (data loaded, network initialised)."""
    from jitprop.session import Run
    return Run(cfg, progress=False).build()


def epochs(run):
    """(epoch, order, lrs) for every epoch of the run, as ``jitprop.train``
    draws them: the e-th permutation of ``numpy.random.default_rng(seed)``
    (the file order with --no-shuffle) and the schedule's rate per step."""
    cfg = run.config
    n = run.data["x_train"].shape[0]
    steps = -(-n // cfg.batch_size)
    rng = np.random.default_rng(cfg.seed)
    for epoch in range(1, cfg.epochs + 1):
        order = rng.permutation(n).astype(np.int64) if cfg.shuffle else np.arange(n, dtype=np.int64)
        yield epoch, order, run.schedule.rates(run.optimizer.lr, epoch, steps, cfg.epochs)


def describe(run):
    """One line: the network, optimizer and schedule (stderr)."""
    cfg = run.config
    print(f"{run.net!r}, cost {cfg.cost}, optimizer {run.optimizer!r}, schedule {run.schedule!r}, "
          f"{'mean' if cfg.mean_loss else 'summed'} minibatch loss, batch {cfg.batch_size}, {cfg.epochs} epochs",
          file=sys.stderr)

