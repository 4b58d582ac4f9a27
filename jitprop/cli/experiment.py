"""`jitprop experiment`: the seed assignments' small experiments."""
import sys

import numpy as np

from jitprop.cli.common import UsageError, need_matplotlib, nonneg_float, nonneg_int, positive_float, positive_int


def add_experiment(sub):
    p = sub.add_parser("experiment", help="the seed assignments' small experiments",
                       description="Assignment 1's two circles and 8x8 digits, Homework 1's universal "
                                   "approximation by boxes.")
    esub = p.add_subparsers(dest="name", required=True, metavar="EXPERIMENT")
    c = esub.add_parser("circles", help="two circles, hinge loss, full-batch SGD with weight decay",
                        description="Assignment 1's two-circles task with its own classes (jitprop.sequential): "
                                    "hinge loss, weight decay 0.01 (decoupled, w -= lr * dw + wd * w), SGD lr 0.1, "
                                    "100 full-batch steps. Prints the loss (hinge + L2 term) per step.")
    c.add_argument("--layers", default="2,16,16,1", help="widths, 2 inputs and 1 output (default 2,16,16,1)")
    c.add_argument("--activation", choices=["relu", "sigmoid"], default="relu")
    c.add_argument("--steps", type=positive_int, default=100, help="full-batch steps (default 100)")
    c.add_argument("--lr", type=positive_float, default=0.1, help="learning rate (default 0.1)")
    c.add_argument("--weight-decay", type=nonneg_float, default=0.01, help="decoupled weight decay (default 0.01)")
    c.add_argument("--seed", type=nonneg_int, default=0, help="seeds the data and the initial weights (default 0)")
    c.add_argument("--plot", metavar="PATH.png", help="the points coloured by prediction, with the decision boundary")
    c.set_defaults(func=cmd_circles)
    d = esub.add_parser("digits", help="scikit-learn's 8x8 digits, 70/30 split (needs scikit-learn)",
                        description="Assignment 1's 8x8 digits with its own classes (jitprop.sequential): a "
                                    "70/30 split, raw 0..16 pixels, hinge loss on one-hot targets in {-1, +1}, "
                                    "minibatch SGD; prints the test accuracy. Needs scikit-learn.")
    d.add_argument("--layers", default="64,64,10", help="widths, 64 inputs and 10 outputs (default 64,64,10)")
    d.add_argument("--activation", choices=["relu", "sigmoid"], default="relu")
    d.add_argument("--epochs", type=positive_int, default=30, help="epochs (default 30)")
    d.add_argument("--batch-size", type=positive_int, default=16, help="minibatch size (default 16)")
    d.add_argument("--lr", type=positive_float, default=0.01, help="learning rate (default 0.01)")
    d.add_argument("--seed", type=nonneg_int, default=0, help="seeds the split and the initial weights (default 0)")
    d.set_defaults(func=cmd_digits)
    u = esub.add_parser("universal", help="Homework 1's boxes: step neurons approximating a smooth function",
                        description="Two step-activation neurons make a box of height h and width delta; a sum "
                                    "of n boxes approximates f on [-B, B]. Prints the error as n doubles.")
    u.add_argument("--function", choices=["sin", "bump", "wave"], default="sin")
    u.add_argument("--bound", type=positive_float, default=3.0, help="B: approximate on [-B, B] (default 3)")
    u.add_argument("--max-boxes", type=positive_int, default=256, help="double the boxes from 4 up to this (default 256)")
    u.add_argument("--plot", metavar="PATH.png", help="f and its box sums for 4, 16 and 64 boxes")
    u.set_defaults(func=cmd_universal)


def cmd_circles(args):
    from jitprop import experiments
    if args.plot:
        need_matplotlib("experiment circles --plot")
    try:
        layers = [int(v) for v in args.layers.split(",")]
        net, x, y, losses, acc = experiments.circles(
            layers, args.activation, args.steps, args.lr, args.weight_decay, seed=args.seed,
            on_step=lambda k, loss: print(f"step {k:>4}  loss {loss:.5f}"))
    except ValueError as exc:
        raise SystemExit(f"jitprop experiment circles: {exc}")
    if args.plot:
        from jitprop.plots import decision_boundary
        decision_boundary(lambda points: experiments.predict(net, points), x, y, args.plot,
                          title=f"two circles, {args.layers} {args.activation}")
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
        need_matplotlib("experiment universal --plot")
    if args.max_boxes < 4:
        raise UsageError(f"jitprop experiment universal: --max-boxes: expected an integer >= 4, got {args.max_boxes}")
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
