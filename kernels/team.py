"""Run one compiled worker on several threads at once.

The whole-epoch kernel is a compiled function (``nogil``) that every thread
runs with its own thread number; the threads share the work through atomic
counters (``sync.py``), so nothing here knows what they compute. The extra
threads come from one long-lived pool; the calling thread is worker 0.

If a worker raises (it should not: the compiled code does not allocate or
check bounds), the others are told through the ``stop`` counter, so none
waits forever for work that will not come.
"""
import threading
from concurrent.futures import ThreadPoolExecutor

_pool = None
_pool_lock = threading.Lock()
_last = threading.local()


def _executor(n):
    global _pool
    with _pool_lock:
        if _pool is None or _pool._max_workers < n:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="jitprop-worker")
        return _pool


def run(worker, threads, args, sync, stop):
    """``worker(*args, tid)`` for tid in 0..threads-1, at once; tid 0 on the
    calling thread. ``sync[stop]`` is set when a worker raises (the others
    return early), and the first exception is raised here."""
    if threads <= 1:
        worker(*args, 0)
        return

    def helper(tid):
        try:
            worker(*args, tid)
        except BaseException:
            sync[stop] = 1
            raise

    futures = [_executor(threads - 1).submit(helper, tid) for tid in range(1, threads)]
    error = None
    try:
        worker(*args, 0)
    except BaseException as exc:
        sync[stop] = 1
        error = exc
    for f in futures:
        exc = f.exception()
        if exc is not None and error is None:
            error = exc
    if error is not None:
        raise error


def record(threads, waited, total):
    """Note how the last run went on this thread: ``threads`` workers,
    their time-stamp cycles spent waiting for each other and in all."""
    _last.run = (threads, float(sum(waited)) / max(1.0, float(sum(total))))


def last_run():
    """(threads, share of the workers' time spent waiting for each other)
    of the last ``record`` on this thread, or None."""
    return getattr(_last, "run", None)
