"""Side by side with scikit-learn: ``sklearn.neural_network.MLPClassifier``
and ``jitprop.MLPClassifier`` fitting MNIST with the same settings
(``sklearn_workloads.py``), at 1 and 2 threads.

Each round is one whole fit (3 epochs) of a fresh estimator; the report
takes the fastest round. jitprop's case first fits 640 rows so loading or
compiling its kernels is not timed (recorded as the warm-up), then checks
its test accuracy against scikit-learn's at the same thread count (within
``ACCURACY_POINTS``). Runs when scikit-learn is installed and ``sklearn`` is
in --impls (or there is no --impls filter).
"""
from jitprop.bench import sklearn_workloads as SW

ROUNDS = 3


def test_sklearn_side_by_side(benchmark, sklearn_case, sklearn_mnist, sklearn_accuracy):
    threads, peer = sklearn_case
    x, y, x_test, y_test = sklearn_mnist
    warmup = SW.warm_up(peer, x, y, threads)
    fitted = []

    def setup():
        return (SW.estimator(peer, threads),), {}

    def fit(est):
        fitted.append(SW.fit(peer, est, x, y, threads))

    benchmark.group = f"scikit-learn side by side, {threads} thread(s)"
    benchmark.pedantic(fit, setup=setup, rounds=ROUNDS, iterations=1, warmup_rounds=0)
    est = fitted[-1]
    accuracy = float(est.score(x_test, y_test))
    benchmark.extra_info.update(kind="sklearn", peer=peer, threads=threads, dtype=SW.trained_dtype(est),
                                rows=len(x), epochs=est.n_iter_, samples=len(x) * est.n_iter_,
                                batch_size=SW.SETTINGS["batch_size"], accuracy=accuracy, warmup_seconds=warmup)
    assert est.n_iter_ == SW.EPOCHS, f"{peer} stopped after {est.n_iter_} epochs, not {SW.EPOCHS}"
    if peer == "sklearn":
        sklearn_accuracy[threads] = accuracy
    else:
        reference = sklearn_accuracy.get(threads)
        if reference is None:  # scikit-learn's case was filtered out: fit it once, untimed
            ref = SW.fit("sklearn", SW.estimator("sklearn", threads), x, y, threads)
            reference = sklearn_accuracy[threads] = float(ref.score(x_test, y_test))
        assert abs(accuracy - reference) <= SW.ACCURACY_POINTS / 100, (
            f"jitprop's test accuracy {100 * accuracy:.2f}% is more than {SW.ACCURACY_POINTS} points from "
            f"scikit-learn's {100 * reference:.2f}%")
