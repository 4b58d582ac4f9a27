"""Run one compiled worker on several threads at once.

The whole-epoch kernel is a compiled function (``nogil``) that every thread
runs with its own thread number; the threads share the work through atomic
counters (``sync.py``), so nothing here knows what they compute. The extra
threads come from a long-lived pool; the calling thread is worker 0.

Whatever happens, ``run`` returns only once every worker has stopped: if a
worker raises (it should not: the compiled code neither checks bounds nor
allocates past its start), or Ctrl-C arrives while the calling thread
waits, the others are told through the ``stop`` counter and waited for, so
none keeps writing to buffers the caller has moved on from, then the
exception is raised. A process forked after the pool was made starts a pool
of its own (the threads of the parent's are not in the child).

The thread count of a run: ``threads()``, set for a block with
``using(n)`` (``jitprop.threads.limit_threads`` does), else Numba's
configured count (``NUMBA_NUM_THREADS``, all cores by default).
"""
import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor

_pools = {}  # thread count -> ThreadPoolExecutor of that many workers, made on first use
_lock = threading.Lock()
_local = threading.local()


def _forget_pools():
    global _lock
    _pools.clear()
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_pools)


def threads():
    """The thread count of the next run on this thread."""
    n = getattr(_local, "threads", None)
    if n is None:
        import numba
        n = numba.config.NUMBA_NUM_THREADS  # read, not numba.get_num_threads(): that starts Numba's own pool
    return n


@contextlib.contextmanager
def using(n):
    """Runs in the block on this thread use ``n`` threads (any count: tests
    run more threads than cores; ``jitprop.threads.limit_threads`` caps it)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"threads: expected an integer >= 1, got {n!r}")
    before = getattr(_local, "threads", None)
    _local.threads = n
    try:
        yield n
    finally:
        _local.threads = before


def _pool(n):
    with _lock:
        if n not in _pools:
            _pools[n] = ThreadPoolExecutor(max_workers=n, thread_name_prefix="jitprop-worker")
        return _pools[n]


def run(worker, threads, args, sync, stop):
    """``worker(*args, tid)`` for tid in 0..threads-1, at once; tid 0 on the
    calling thread. Returns when every worker has returned; ``sync[stop]``
    is set as soon as one raises (or Ctrl-C interrupts the wait), and the
    first exception is raised here."""
    if threads <= 1:
        worker(*args, 0)
        return

    def helper(tid):
        try:
            worker(*args, tid)
        except BaseException:
            sync[stop] = 1
            raise

    futures, error = [], None
    try:
        pool = _pool(threads - 1)
        for tid in range(1, threads):
            futures.append(pool.submit(helper, tid))
        worker(*args, 0)
    except BaseException as exc:
        sync[stop] = 1
        error = exc
    for f in futures:
        while True:
            try:
                exc = f.exception()
                break
            except BaseException as interrupt:  # Ctrl-C while waiting: stop the workers, still wait for them
                sync[stop] = 1
                error = error or interrupt
        if exc is not None and error is None:
            error = exc
    if error is not None:
        raise error


def record(threads, waited, total):
    """Note how the last run went on this thread: ``threads`` workers,
    their time-stamp cycles spent waiting for each other and in all."""
    _local.run = (threads, float(sum(waited)) / max(1.0, float(sum(total))))


def last_run():
    """(threads, share of the workers' time spent waiting for each other)
    of the last ``record`` on this thread, or None."""
    return getattr(_local, "run", None)
