"""How many threads BLAS and the whole-epoch kernels (``kernels/team.py``) use.

With small minibatches each matrix product is tiny and handing it to a
second thread can cost more than it saves, while larger ones gain. So the
choice goes by the size of the largest product of a step, batch x n_in x
n_out: below a threshold one thread, from there all cores. Where it sits
depends on who computes:

* BLAS (the ``batched`` and ``jit`` implementations): 2M multiply-adds. A
  batch-12 float64 NumPy epoch of 784-128-32-10 ran 3.3x slower on 2
  OpenBLAS threads than on 1.
* the compiled epoch kernels (``fused``), whose threads share fixed tasks
  and wait on each other by spinning a moment, not by sleeping: 300k.
  Two threads against one, float32 epochs of 20,000 MNIST rows, best of 3
  alternating: 784-128-10 batch 2 (200k multiply-adds) 1.11x, batch 12
  1.49x; 784-32-10 batch 8 (200k) 0.95x, batch 12 (300k) 1.01x, batch 16
  1.14x; 784-128-32-10 batch 2 1.52x.

``threadpoolctl`` limits every BLAS pool loaded (NumPy's and SciPy's
OpenBLAS are separate libraries).
"""
import contextlib
import os
import time

MULTI_THREAD_MACS = 2_000_000          # BLAS
FUSED_MULTI_THREAD_MACS = 300_000      # the compiled epoch kernels


def default_threads(batch_size, sizes, impl="fused"):
    """Threads for minibatches of ``batch_size`` through layers of widths
    ``sizes``, trained by implementation ``impl`` (see the module docstring)."""
    largest = max(a * b for a, b in zip(sizes, sizes[1:]))
    threshold = FUSED_MULTI_THREAD_MACS if impl == "fused" else MULTI_THREAD_MACS
    return 1 if batch_size * largest < threshold else (os.cpu_count() or 1)


def uses_blas(impl):
    """Whether implementation ``impl`` calls BLAS: the model layer's
    products (``jit``) and every NumPy twin; the compiled epoch kernels do not."""
    from jitprop.model.impls import IMPLS
    return impl == "jit" or IMPLS[impl].backend == "numpy"


@contextlib.contextmanager
def limit_threads(n, blas=True):
    """Run the block with ``n`` threads for the whole-epoch kernels
    (``jitprop.kernels.team``), at most Numba's configured count
    (``NUMBA_NUM_THREADS``: by default the CPUs the process may use), and,
    with ``blas``, ``n`` BLAS threads (loading
    SciPy's BLAS, which Numba's ``np.dot`` calls, first so it is limited
    too: 0.1 s of start-up a run without BLAS does without)."""
    import numba

    from jitprop.kernels import team
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"threads: expected an integer >= 1, got {n!r}")
    # at most Numba's count (the CPUs the process may use, or NUMBA_NUM_THREADS): the team's
    # threads spin while they wait, and more of them than cores only take turns
    with team.using(min(n, numba.config.NUMBA_NUM_THREADS)):
        if blas:
            import scipy.linalg.cython_blas  # noqa: F401
            from threadpoolctl import threadpool_limits
            with threadpool_limits(limits=n):
                yield n
        else:
            yield n


class Neighbour:
    """When a neighbour was last seen taking a core: one thread until
    ``until`` (a time of the clock of the ``ThreadChoice`` objects sharing
    this: give them one clock), and how many spells on one thread in a row
    it has caused. The process keeps one (``NEIGHBOUR``): a neighbour a
    train() call saw is there for the next call too (loops of one-epoch
    calls). Python threads training at once share it too (the same machine);
    under the GIL a race only loses or repeats one update of these two
    numbers."""

    def __init__(self):
        self.until = None
        self.spells = 0  # spells on one thread in a row (each retry found the neighbour still there)


NEIGHBOUR = Neighbour()


class ThreadChoice:
    """Picks, slice by slice of an epoch, all the threads allowed or one, by
    how much the threads of the last slices waited for each other.

    On a quiet machine the whole-epoch kernel's threads wait for each other
    a few percent of the time (measured 0 to 9%). When a neighbour takes a
    core, a thread that is pushed off it holding a task keeps the others
    waiting until it runs again: 15 to 48% (measured), and two threads no
    faster than one. So after STRIKES slices in a row that waited more than
    WAIT_SHARE, one thread runs for RETRY_SECONDS (in this call and the
    next ones: ``Neighbour``), then all again; twice as long after each
    retry that finds the neighbour still there, up to MAX_RETRY_SECONDS (a
    neighbour that stays costs two probe slices per spell, not per
    second; a spell that ended more than MAX_RETRY_SECONDS ago counts as
    the first again). A quiet machine is never run on one thread to compare
    (only its first slices are shorter, below), and the kernel gives the
    same bits at any thread count, so the choice changes nothing but the
    speed.

    Until all threads have run a slice without waiting much (at the start,
    and after each spell on one thread), slices are short (``slice_seconds``:
    PROBE_SECONDS), so that a neighbour is noticed in a fraction of a second
    instead of after the quarter-second slices of a settled run.

    A slice shorter than MIN_SECONDS decides nothing: there the wait is
    mostly the helpers starting (the first slice of an epoch, 1/20 of it, is
    ~8 ms for the seed network at batch 64; right after one-thread work its
    threads had waited 47% on a quiet machine, and the rest of the epoch
    then ran on one thread: 196k samples/s instead of 330-340k). Nor does one
    slice alone: the next one at all threads after idling waited 22% on a
    quiet machine (the other core waking), the one after 5%. So a call
    whose epochs are shorter than about 0.15 s under load (the first slice
    and two probes) never moves to one thread by itself; a spell an earlier
    call started still applies to it.
    """
    WAIT_SHARE = 0.2
    RETRY_SECONDS = 1.0
    MAX_RETRY_SECONDS = 8.0
    MIN_SECONDS = 0.05
    PROBE_SECONDS = 0.08
    STRIKES = 2
    _MAX_DOUBLINGS = 16  # 2 ** 16 s is far past MAX_RETRY_SECONDS; keeps the power a small float

    def __init__(self, max_threads, clock=time.monotonic, neighbour=None):
        self.max_threads = max_threads
        self.clock = clock
        self.neighbour = NEIGHBOUR if neighbour is None else neighbour
        self.strikes = 0  # decisive slices in a row whose threads waited too long
        self.settled = False  # all threads have run a decisive slice without waiting much, since the last spell on one
        self.history = []  # (threads, share of time waited), for reports and tests

    def threads(self):
        """The thread count for the next slice."""
        until = self.neighbour.until
        return 1 if until is not None and self.clock() < until else self.max_threads

    def slice_seconds(self, settled_seconds):
        """How long the next slice should take: PROBE_SECONDS while all threads
        run unsettled, once a slice has been recorded (the first slice of an
        epoch is sized by its caller), else ``settled_seconds``."""
        if self.history and not self.settled and self.threads() > 1:
            return self.PROBE_SECONDS
        return settled_seconds

    def record(self, threads, waited_share, seconds):
        """What a slice with ``threads`` threads did in ``seconds``: the share
        of their time spent waiting for each other."""
        self.history.append((threads, waited_share))
        if threads <= 1 or seconds < self.MIN_SECONDS:
            return
        if waited_share <= self.WAIT_SHARE:
            self.strikes, self.settled = 0, True
            self.neighbour.until, self.neighbour.spells = None, 0
            return
        self.strikes += 1
        if self.strikes >= self.STRIKES:
            self.strikes, self.settled = 0, False
            now, last = self.clock(), self.neighbour.until
            if last is not None and now - last > self.MAX_RETRY_SECONDS:
                self.neighbour.spells = 0  # the last spell is long over: this neighbour is new
            doublings = min(self.neighbour.spells, self._MAX_DOUBLINGS)
            self.neighbour.until = now + min(self.MAX_RETRY_SECONDS, self.RETRY_SECONDS * 2 ** doublings)
            self.neighbour.spells = doublings + 1
