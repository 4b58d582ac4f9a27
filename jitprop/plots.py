"""Pictures: learning curves, weight histograms, prediction galleries, and the
experiments' plots. matplotlib is optional (``pip install "jitprop[plot]"``)."""
import numpy as np

INSTALL_HINT = 'this needs matplotlib: pip install "jitprop[plot]"  (or pip install matplotlib)'


class PlotUnavailable(ImportError):
    pass


def pyplot():
    """matplotlib.pyplot on the file-only Agg backend, or a clear error."""
    try:
        import matplotlib
    except ImportError as exc:
        raise PlotUnavailable(INSTALL_HINT) from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save(fig, path):
    fig.savefig(path, dpi=100)
    pyplot().close(fig)
    return path


def learning_curves(epochs, path, test_accuracy=None, title="training"):
    """Loss per epoch (training cost, and the validation and test loss where
    recorded: Homework 1 Q4's train/test loss figure) and accuracy per epoch
    (validation and test where recorded, and the final test accuracy), from
    ``History.epochs`` records."""
    plt = pyplot()
    x = [e["epoch"] for e in epochs]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    ax1.plot(x, [e["cost"] for e in epochs], marker="o", label="training cost (mean minibatch cost)")
    for key, label in (("val_loss", "validation loss"), ("test_loss", "test loss")):
        values = [e.get(key) for e in epochs]
        if any(v is not None for v in values):
            ax1.plot(x, values, marker="o", label=label)
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("loss")
    ax1.set_title(f"{title}: loss")
    ax1.grid(alpha=0.3)
    ax1.legend()
    for key, label in (("val_accuracy", "validation accuracy"), ("test_accuracy", "test accuracy per epoch")):
        values = [e.get(key) for e in epochs]
        if any(v is not None for v in values):
            ax2.plot(x, [100 * v for v in values], marker="o", label=label)
    if test_accuracy is not None:
        ax2.axhline(100 * test_accuracy, color="C3", linestyle="--", label=f"test accuracy {100 * test_accuracy:.2f}%")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("accuracy (%)")
    ax2.set_title(f"{title}: accuracy")
    ax2.grid(alpha=0.3)
    ax2.legend(loc="lower right")
    for ax in (ax1, ax2):
        ax.xaxis.get_major_locator().set_params(integer=True)
    fig.tight_layout()
    return _save(fig, path)


def weight_histograms(net, path):
    """One histogram per Linear layer, titled with its shape and count."""
    plt = pyplot()
    n = len(net.linears)
    fig, axes = plt.subplots(1, n, figsize=(4.5 * n, 3.8), squeeze=False)
    for i, (ax, lin) in enumerate(zip(axes[0], net.linears)):
        ax.hist(lin.w.ravel(), bins=60, color=f"C{i}")
        ax.set_title(f"layer {i + 1}: w {lin.w.shape[0]}x{lin.w.shape[1]} ({lin.w.size:,} weights)")
        ax.set_xlabel("weight value")
        ax.set_ylabel("count")
    fig.tight_layout()
    return _save(fig, path)


def prediction_gallery(images, labels, probabilities, path, columns=6):
    """Images (N, 784) uint8 with the predicted class and a bar chart of the
    class probabilities under each (the predicted class in orange);
    misclassified ones framed and titled in red."""
    plt = pyplot()
    n = len(images)
    rows = -(-n // columns)
    fig = plt.figure(figsize=(2.1 * columns, 3.0 * rows))
    grid = fig.add_gridspec(2 * rows, columns, height_ratios=[2.2, 1] * rows, hspace=0.4, wspace=0.35)
    for k in range(n):
        r, c = divmod(k, columns)
        pred = int(np.argmax(probabilities[k]))
        wrong = pred != int(labels[k])
        ax = fig.add_subplot(grid[2 * r, c])
        ax.imshow(images[k].reshape(28, 28), cmap="gray_r")
        ax.set_xticks([])
        ax.set_yticks([])
        colour = "red" if wrong else "black"
        ax.set_title(f"pred {pred} (true {int(labels[k])})" + (" WRONG" if wrong else ""), fontsize=8, color=colour)
        if wrong:
            for side in ax.spines.values():
                side.set_edgecolor("red")
                side.set_linewidth(2.5)
        bars = fig.add_subplot(grid[2 * r + 1, c])
        bars.bar(range(10), probabilities[k], color=["C1" if j == pred else "C0" for j in range(10)])
        bars.set_ylim(0, 1)
        bars.set_xticks(range(10))
        bars.tick_params(labelsize=6)
        bars.set_ylabel("p", fontsize=7)
    fig.subplots_adjust(left=0.05, right=0.98, top=0.95, bottom=0.04)
    return _save(fig, path)


def decision_boundary(predict, x, y, path, title="two circles"):
    """Points coloured by the predicted class, with the boundary f(x) = 0."""
    plt = pyplot()
    lo, hi = x.min(axis=0) - 0.3, x.max(axis=0) + 0.3
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 200), np.linspace(lo[1], hi[1], 200))
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1)
    f = predict(grid).reshape(gx.shape)
    pred = np.sign(predict(x)).ravel()
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.contourf(gx, gy, f, levels=[-1e9, 0, 1e9], colors=["#f3d0d0", "#d0d8f3"], alpha=0.8)
    ax.contour(gx, gy, f, levels=[0], colors="k", linewidths=1.5)
    for cls, colour, name in ((-1, "C3", "predicted -1"), (1, "C0", "predicted +1")):
        m = pred == cls
        ax.scatter(x[m, 0], x[m, 1], c=colour, s=14, label=name, edgecolors="none")
    wrong = pred != y.ravel()
    if wrong.any():
        ax.scatter(x[wrong, 0], x[wrong, 1], facecolors="none", edgecolors="k", s=40, label="misclassified")
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.set_title(f"{title}: decision boundary (black line)")
    ax.legend(loc="upper right", fontsize=8)
    ax.set_aspect("equal")
    fig.tight_layout()
    return _save(fig, path)


def box_approximations(xs, f_values, approximations, path, title):
    """f and its sums of boxes for several box counts."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(xs, f_values, color="k", linewidth=2, label="f(x)")
    for n, approx in approximations:
        ax.step(xs, approx, where="mid", linewidth=1, label=f"{n} boxes")
    ax.set_xlabel("x")
    ax.set_ylabel("value")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, path)
