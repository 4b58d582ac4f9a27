"""A neighbour for the shared-machine cases: another process keeping one
core busy while a case is timed (issue 14, target 3).

The neighbour is one Python process spinning ``while True: pass``, not
pinned: like a neighbour on a shared machine, the kernel's scheduler places
it, so on 2 cores a two-thread epoch shares them with it (three runnable
threads on two cores). It is started before the rounds are estimated and
the case timed, and always stopped (killed by its own process id) when the
block ends.
"""
import contextlib
import subprocess
import sys
import time

LOAD = "1 core busy"
# (network, implementation, dtype, batch, threads) timed with the neighbour
# running: the two-thread epoch of the seed network at batch 64, jitprop and
# JAX, and jitprop's one-thread epoch, which the two-thread one must not
# fall behind.
LOADED = [("seed", "fused", "float32", 64, 2), ("seed", "jax-scan", "float32", 64, 2),
          ("seed", "fused", "float32", 64, 1)]
# (network, implementation, dtype, batch): the same epoch on two threads and
# on one timed by turns with the neighbour running (the two-thread one must
# not fall behind; the separate rows above meet the machine minutes apart)
LOADED_BY_TURNS = [("seed", "fused", "float32", 64)]


def load_label(threads, row_threads):
    """The report's load column: LOAD, and the thread count when it is not
    the row's (``workloads.threads_for``)."""
    return LOAD if threads == row_threads else f"{LOAD}, {threads} thread{'s' if threads > 1 else ''}"
SETTLE_SECONDS = 0.5


@contextlib.contextmanager
def busy_core():
    """Run the block while another process spins on one core; yields its pid."""
    proc = subprocess.Popen([sys.executable, "-c", "print('spinning', flush=True)\nwhile True: pass"],
                            stdout=subprocess.PIPE, text=True)
    try:
        if proc.stdout.readline().strip() != "spinning":
            raise RuntimeError(f"the busy-loop process did not start (exit {proc.poll()})")
        time.sleep(SETTLE_SECONDS)  # let the scheduler settle with it running
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
