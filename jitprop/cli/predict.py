"""`jitprop predict` and `jitprop inspect`: use a saved checkpoint."""
import sys

import numpy as np

from jitprop.cli.common import UsageError, need_matplotlib, positive_int
from jitprop.config import ConfigError
from jitprop.session import check_output_path

MAX_GALLERY = 200  # images in one gallery: more is unreadable and slow to draw


def add_predict(sub):
    p = sub.add_parser("predict", help="load a checkpoint and print its accuracy on the MNIST test set",
                       description="Load a network saved by `jitprop train --save` and print its accuracy "
                                   "on the official 10000-image test set.")
    p.add_argument("checkpoint")
    p.set_defaults(func=cmd_predict)


def _open_checkpoint(path, command):
    """``(header, network)`` of a checkpoint, or exit with the reason."""
    from jitprop.model.checkpoint import CheckpointError, build_network, read_checkpoint
    try:
        header, params, _ = read_checkpoint(path)
        return header, build_network(header, params)
    except CheckpointError as exc:
        raise SystemExit(f"jitprop {command}: {exc}")


def _test_set(path, header, net, command):
    """The test images (standardised as the network was trained) and labels
    of the checkpoint's data set, or exit saying what the file lacks."""
    from jitprop.model.checkpoint import check_data
    from jitprop.session import test_arrays
    data = check_data(path, header) or {}
    from jitprop.data import DatasetUnavailable
    try:
        x, y = test_arrays(data, net.dtype)
    except (ValueError, DatasetUnavailable) as exc:
        raise SystemExit(f"jitprop {command}: {path}: {exc}")
    if net.n_in is not None and x.shape[1] != net.n_in:
        raise SystemExit(f"jitprop {command}: {path}: the network takes {net.n_in} inputs but the "
                         f"{data.get('dataset', 'mnist')} test images have {x.shape[1]}")
    return x, y


def cmd_predict(args):
    import jitprop
    header, net = _open_checkpoint(args.checkpoint, "predict")
    x, y = _test_set(args.checkpoint, header, net, "predict")
    print(f"jitprop predict: {net!r}, epoch {header.get('epoch', '?')}", file=sys.stderr)
    print(f"test accuracy: {100 * jitprop.accuracy(net, x, y):.2f}%")
    return 0


def add_inspect(sub):
    p = sub.add_parser("inspect", help="draw a checkpoint's weight histograms and test-set predictions",
                       description="Pictures of a network saved by `jitprop train --save`.")
    p.add_argument("checkpoint")
    p.add_argument("--weights", metavar="PATH.png", help="a histogram of the weights of each layer")
    p.add_argument("--predictions", metavar="PATH.png", help="test images with the predicted class and the "
                                                              "softmax probabilities; misclassified ones in red")
    p.add_argument("--count", type=positive_int, default=12, help="images in the gallery (default 12: the first test "
                                                        "images, plus misclassified ones for half of them)")
    p.set_defaults(func=cmd_inspect)


def _raw_test_images(header):
    from jitprop.session import raw_test_images
    return raw_test_images((header.get("data") or {}).get("dataset", "mnist"))


def cmd_inspect(args):
    from jitprop.plots import prediction_gallery, weight_histograms
    if not (args.weights or args.predictions):
        raise SystemExit("jitprop inspect: nothing to draw; give --weights PATH.png and/or --predictions PATH.png")
    if not 1 <= args.count <= MAX_GALLERY:
        raise UsageError(f"jitprop inspect: --count: expected an integer in 1..{MAX_GALLERY}, got {args.count}")
    for flag in ("weights", "predictions"):
        try:
            check_output_path(f"--{flag}", getattr(args, flag))
        except ConfigError as exc:
            raise UsageError(f"jitprop inspect: {exc}")
    need_matplotlib("inspect")
    header, net = _open_checkpoint(args.checkpoint, "inspect")
    if args.weights:
        weight_histograms(net, args.weights)
        print(f"weights: {args.weights}", file=sys.stderr)
    if args.predictions:
        x, y_test = _test_set(args.checkpoint, header, net, "inspect")
        x_test = _raw_test_images(header)
        out = net.predict(x)
        if net.layers[-1].__class__.__name__ != "SoftMax":  # sigmoid outputs: normalise to show as probabilities
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
