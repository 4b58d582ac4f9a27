"""`jitprop predict` and `jitprop inspect`: use a saved checkpoint."""
import sys

import numpy as np

from jitprop.cli.common import need_matplotlib


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


def add_inspect(sub):
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
    need_matplotlib("inspect")
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
