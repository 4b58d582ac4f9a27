"""How many threads BLAS and Numba use.

With small minibatches each matrix product is tiny and handing it to a
second thread costs more than it saves (measured here: a batch-12 float64
NumPy epoch of 784-128-32-10 ran 3.3x slower on 2 OpenBLAS threads than on
1), while larger ones gain. So the choice goes by the size of the largest
product of a step, batch x n_in x n_out: below ``MULTI_THREAD_MACS`` one
thread, from there all cores. Where it sits (fused epochs of 12,000 MNIST
rows, 2 threads against 1, one run): 784-128-32-10 at batch 12 (1.2M
multiply-adds) 0.99x float32, 1.07x float64; at batch 32 (3.2M) 1.16x and
1.40x; 784-512-10 at batch 12 (4.8M) 1.29x and 1.31x.
``threadpoolctl`` limits every BLAS pool loaded (NumPy's and SciPy's
OpenBLAS are separate libraries).
"""
import contextlib
import os

MULTI_THREAD_MACS = 2_000_000


def default_threads(batch_size, sizes):
    """Threads for minibatches of ``batch_size`` through layers of widths ``sizes``."""
    largest = max(a * b for a, b in zip(sizes, sizes[1:]))
    return 1 if batch_size * largest < MULTI_THREAD_MACS else (os.cpu_count() or 1)


@contextlib.contextmanager
def limit_threads(n):
    """Run the block with ``n`` BLAS threads and ``n`` Numba threads."""
    import numba
    import scipy.linalg.cython_blas  # noqa: F401  load SciPy's BLAS (Numba's) so it is limited too
    from threadpoolctl import threadpool_limits
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"threads: expected an integer >= 1, got {n!r}")
    n_numba = min(n, numba.config.NUMBA_NUM_THREADS)
    before = numba.get_num_threads()
    numba.set_num_threads(n_numba)
    try:
        with threadpool_limits(limits=n):
            yield n
    finally:
        numba.set_num_threads(before)


class ThreadTuner:
    """Chooses, slice by slice of an epoch, between all the threads allowed
    and one, by the speed each has shown lately.

    On a shared machine a neighbour may take a core for minutes; then two
    threads that split each product evenly run at the pace of the slower
    one, slower than one thread alone. The whole-epoch kernel gives the same
    bits at any thread count, so switching costs nothing but the switch:
    this keeps an exponentially weighted estimate of the seconds per sample
    for each setting, runs the faster, and every ``probe_every`` slices
    tries the other once, so it notices when the machine changes back.
    """

    def __init__(self, max_threads, probe_every=12, weight=0.5):
        self.choices = (max_threads, 1) if max_threads > 1 else (1,)
        self.probe_every = probe_every
        self.weight = weight
        self.cost = {}  # threads -> estimated seconds per sample
        self.seen = {}  # threads -> slices run
        self.slices = 0
        self.history = []  # (threads, samples per second), for reports and tests

    def next(self):
        """The thread count for the next slice."""
        if len(self.choices) == 1:
            return self.choices[0]
        untried = [t for t in self.choices if t not in self.cost]
        if untried:  # each setting runs twice first: its first slice warms up (threads, caches), not counted
            return untried[0]
        best = min(self.choices, key=lambda t: self.cost[t])
        if self.slices % self.probe_every == self.probe_every - 1:
            return next(t for t in self.choices if t != best)
        return best

    def record(self, threads, samples, seconds):
        """What a slice with ``threads`` did: ``samples`` in ``seconds``."""
        self.slices += 1
        self.seen[threads] = self.seen.get(threads, 0) + 1
        if samples <= 0 or seconds <= 0 or self.seen[threads] == 1:
            return
        per = seconds / samples
        old = self.cost.get(threads)
        self.cost[threads] = per if old is None else self.weight * per + (1 - self.weight) * old
        self.history.append((threads, samples / seconds))
