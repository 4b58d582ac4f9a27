"""The seed documents' printed examples and runs, reproduced with jitprop.

Each item names the seed, what it printed, the jitprop command or import
that does the same, and computes jitprop's figure. Short items run in the
tests (tests/test_seeds_table.py); long ones (whole training runs) run with
``--long``. ``python -m jitprop.seeds --long --markdown docs/seeds.md`` writes
the reproduction table.
"""
import argparse
import sys
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Item:
    seed: str          # the document and the place in it
    what: str          # what is reproduced
    how: str           # the jitprop command or import
    printed: str       # what the seed printed
    compute: object    # () -> jitprop's figure as a string
    long: bool = False
    note: str = ""     # why ours differs, where it does


def _dense():
    from jitprop.sequential import dense_forward
    return str(dense_forward(np.array([[1, -1], [-1, 0], [1, 1]]), np.array([[4], [2]]), np.array([3]))
               .astype(int).ravel().tolist())


def _relu():
    from jitprop.sequential import relu_forward
    return str(relu_forward(np.array([[1, -0.5], [0.3, 0.1]])).tolist())


def _hinge():
    from jitprop.sequential import hinge_forward
    return f"{hinge_forward(np.array([2, -5, 3, 0.5]), np.array([-1, -1, 1, 1])):g}"


def _l2():
    from jitprop.sequential import l2_regularizer
    return f"{l2_regularizer(2, np.array([5, 3, 7, 5, 0.5])):g}"


def _vectorize():
    from jitprop.data import vectorize
    return str(vectorize(3).astype(int).tolist())


def _untrained():
    import jitprop
    from jitprop.data import load_mnist
    _, _, x, y = load_mnist()
    net = jitprop.mlp([784, 32, 32, 10], "sigmoid", "softmax", "lecun", seed=80085)
    p = net.predict(x.astype(np.float64))
    loss = float(np.mean(-np.log(p[np.arange(len(y)), y])))
    return f"{100 * (p.argmax(1) == y).mean():.2f}%, average loss {loss:.2f}"


def _run(preset, **overrides):
    def compute():
        from jitprop.config import RunConfig
        from jitprop.session import Run
        result = Run(RunConfig.from_preset(preset, **overrides), progress=False).train()
        last = result.history[-1]
        if last.get("test_accuracy") is not None:
            return f"{100 * last['test_accuracy']:.2f}% test (epoch {last['epoch']})"
        acc = result.val_accuracy if result.val_accuracy is not None else result.test_accuracy
        label = "validation" if result.val_accuracy is not None else "test"
        return f"{100 * acc:.2f}% {label}, cost {last['cost_sum']:.4f} (epoch {last['epoch']})"
    return compute


def _circles():
    from jitprop import experiments
    _, _, _, losses, acc = experiments.circles()
    return f"loss {losses[0]:.2f} -> {losses[-1]:.3f}, {100 * acc:.1f}% training accuracy"


def _digits():
    from jitprop import experiments
    return f"{100 * experiments.digits()[2]:.2f}% test accuracy"


def _universal():
    from jitprop import experiments
    rows = experiments.universal("sin", 3.0, (4, 16, 64, 256))
    return ", ".join(f"{n}: {e:.3f}" for n, _, e, _ in rows)


def _fashion():
    try:
        from jitprop.data import load_fashion_mnist
        load_fashion_mnist()
    except Exception as exc:  # the files cannot be had here (no network): say so
        return f"not run: Fashion-MNIST unavailable on this machine ({type(exc).__name__})"
    return _run("homework-q4")()


ITEMS = [
    Item("Assignment 1, 2", "dense_forward example", "from jitprop.sequential import dense_forward",
         "[5, -1, 9]", _dense),
    Item("Assignment 1, 3", "ReLU example", "relu_forward(np.array([[1, -0.5], [0.3, 0.1]]))",
         "[[1, 0], [0.3, 0.1]]", _relu),
    Item("Assignment 1, 5", "hinge_forward example", "hinge_forward(np.array([2,-5,3,0.5]), np.array([-1,-1,1,1]))",
         "0.875", _hinge),
    Item("Assignment 1, 6", "L2 regulariser example", "l2_regularizer(2, np.array([5, 3, 7, 5, 0.5]))",
         "108.25", _l2),
    Item("HaMLeT S6, given code", "vectorize(j)", "from jitprop.data import vectorize; vectorize(3)",
         "a (1, 10) one-hot row", _vectorize),
    Item("Homework 1, Q5 (Q1-Q2)", "untrained forward pass, seeded init, raw test images",
         "jitprop.mlp([784,32,32,10], 'sigmoid', 'softmax', 'lecun', seed=80085).predict(x_test)",
         "9.94%, average loss 2.36", _untrained),
    Item("Assignment 1, 9", "two circles, hinge + L2, 100 SGD steps", "jitprop experiment circles",
         "(no printed figure; the decision boundary is plotted)", _circles, long=True),
    Item("Assignment 1, 10", "8x8 digits, hinge, 100 steps", "jitprop experiment digits",
         "(left to the student)", _digits, long=True),
    Item("Homework 1, Q2", "sums of step-neuron boxes (max error by boxes)", "jitprop experiment universal",
         "(a figure: more boxes, closer fit)", _universal, long=True),
    Item("HaMLeT S6, task 4", "784-10 sigmoid, MSE, batch 600, lr 1e-4, 100 epochs",
         "jitprop train --preset hamlet-task4", "90.82% validation, cost 0.705894 (epoch 100)",
         _run("hamlet-task4"), long=True,
         note="HaMLeT's split shuffles all 70000 images with an unseeded permutation; ours is seeded, so the "
              "validation rows differ (a different 20000 of the same pool)."),
    Item("HaMLeT S6, task 5", "784-128-32-10 sigmoid, MSE, batch 12, lr 0.01, 40 epochs",
         "jitprop train --preset hamlet-task5", "97.54% validation, cost 2.137583 (epoch 40)",
         _run("hamlet-task5"), long=True, note="as task 4: another (seeded) shuffle of the same 70000 images."),
    Item("Homework 1, Q5 (Q3-Q4)", "784-32-32-10 sigmoid/softmax, per-sample SGD in file order, raw inputs, 3 epochs",
         "jitprop train --preset homework-q5", "80.23%, 84.81%, 85.63% test after epochs 1-3",
         _run("homework-q5"), long=True,
         note="the seed's backward pass differs from backpropagation in two places: it applies dsigmoid to the "
              "activation a (sigmoid(a)(1 - sigmoid(a)) instead of a(1 - a)), which keeps gradients alive where "
              "raw 0..255 inputs saturate the first layer, and it updates each layer before propagating through "
              "it. jitprop computes the true gradient, which the saturated sigmoids starve."),
    Item("Homework 1, Q4", "Fashion-MNIST 784-256-128-64-10 ReLU, batch-mean CE, SGD lr 0.01, batch 64, 60 epochs",
         "jitprop train --preset homework-q4", "85.01% test", _fashion, long=True,
         note="needs the Fashion-MNIST files (jitprop data import fashion-mnist DIR); this machine has no network."),
]


def rows(long=False, progress=print):
    out = []
    for item in ITEMS:
        if item.long and not long:
            continue
        progress(f"{item.seed}: {item.what} ...")
        out.append((item, item.compute()))
    return out


def markdown(results):
    lines = ["# The seeds, reproduced", "",
             "Made by `python -m jitprop.seeds --long --markdown docs/seeds.md`; the short items also run in "
             "`tests/test_seeds_table.py`.", "",
             "| seed | what | jitprop | the seed printed | jitprop gives |", "|---|---|---|---|---|"]
    notes = []
    for item, ours in results:
        mark = ""
        if item.note:
            notes.append(item.note)
            mark = f" [{len(notes)}]"
        lines.append(f"| {item.seed} | {item.what} | `{item.how}` | {item.printed} | {ours}{mark} |")
    if notes:
        lines += ["", "Where the figures differ:", ""] + [f"{i}. {n}" for i, n in enumerate(notes, 1)]
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m jitprop.seeds", description=__doc__.splitlines()[0])
    p.add_argument("--long", action="store_true", help="also the whole training runs (minutes)")
    p.add_argument("--markdown", metavar="PATH", help="write the table as Markdown here")
    args = p.parse_args(argv)
    results = rows(args.long, progress=lambda s: print(s, file=sys.stderr, flush=True))
    text = markdown(results)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
