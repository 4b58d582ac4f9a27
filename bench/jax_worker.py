"""The JAX cases run in worker processes, one per thread count.

Why a process per thread count: XLA's CPU client sizes its thread pool (the
``tf_XLAEigen`` threads) once, when JAX starts its backend, from the CPUs
the process may run on (``sched_getaffinity``), and no flag of JAX 0.10.2
changes that: ``XLA_FLAGS=--xla_cpu_multi_thread_eigen=false`` is accepted
but a 2048 x 2048 product still used 1.98 CPU seconds per wall second here,
and ``intra_op_parallelism_threads`` is a TensorFlow session option, not an
XLA flag (``XLA_FLAGS`` rejects it). So a one-thread and a two-thread JAX
case cannot share a process, and pinning the pytest process itself would
take a core from jitprop's two-thread cases. Each worker is started pinned
to its thread count of CPUs (the first ones the parent may use), before
Python imports anything, as ``taskset -c 0`` would: the pool then has one
thread, and the whole process (its Python thread, which dispatches steps
while XLA computes, included) runs on one core. The worker reports the CPU
seconds and wall seconds of every epoch; one-thread cases stay at or below
1.0 CPU second per wall second (``cpu_per_wall`` in the JSON). With as many
threads as CPUs nothing is pinned.

Protocol: the parent writes pickled ``(op, args)`` requests to the worker's
stdin; the worker answers each with a pickled ``(ok, result)`` on its
original stdout (its own prints go to stderr). Arrays are sent once under a
name and kept on the device. Timing through the pipe adds a round trip of
well under a millisecond per epoch.
"""
import os
import pickle
import subprocess
import sys
import time


class JaxWorker:
    """A JAX process with ``threads`` threads; ``call(op, *args)`` runs
    ``op`` of ``_Server`` there and returns its result."""

    def __init__(self, threads):
        allowed = sorted(os.sched_getaffinity(0))
        self.threads = threads
        self.cpus = allowed[:threads] if threads < len(allowed) else None
        pin = f"import os; os.sched_setaffinity(0, {self.cpus!r}); " if self.cpus else ""
        code = pin + "import runpy; runpy.run_module('jitprop.bench.jax_worker', run_name='__main__')"
        self.proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self._sent = {}
        self.info = self.call("info")  # waits until JAX is imported and its backend started

    def call(self, op, *args):
        pickle.dump((op, args), self.proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        self.proc.stdin.flush()
        try:
            ok, result = pickle.load(self.proc.stdout)
        except EOFError:
            raise RuntimeError(f"the JAX worker ({self.threads} thread(s)) exited with {self.proc.wait()}; "
                               "its error is above") from None
        if not ok:
            raise RuntimeError(f"JAX worker, {op}: {result}")
        return result

    def put(self, name, array, on_device=True):
        """Keep ``array`` in the worker as ``name``, on its device or (an
        epoch's order, which the steps slice on the host) as NumPy; sent
        once per array object."""
        if self._sent.get(name) is not array:
            self.call("put", name, array, on_device)
            self._sent[name] = array

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class _Server:
    """The worker's state: named device arrays and the current parameters."""

    def __init__(self):
        import jax
        jax.config.update("jax_enable_x64", True)  # before any array; float32 stays float32 (see jax_workloads)
        import jax.monitoring
        from jitprop.bench import jax_workloads as JW
        self.jax, self.JW = jax, JW
        self.arrays, self.params, self.compiles = {}, None, 0
        jax.monitoring.register_event_duration_secs_listener(self._on_event)
        jax.devices()  # start the backend now, with this process's CPUs

    def _on_event(self, event, duration, **kwargs):
        if event == self.JW.COMPILE_EVENT:
            self.compiles += 1

    def info(self):
        """Versions, allowed CPUs and the size of XLA's thread pool."""
        names = []
        for t in os.listdir("/proc/self/task"):
            try:
                with open(f"/proc/self/task/{t}/comm") as f:
                    names.append(f.read().strip())
            except OSError:
                pass
        return {"jax": self.jax.__version__, "cpus": sorted(os.sched_getaffinity(0)),
                "xla_pool_threads": names.count("tf_XLAEigen"), "backend": self.jax.default_backend()}

    def forget(self):
        """Drop every compiled function, so the next case's warm-up
        compiles all it needs whatever ran before it in this worker."""
        self.jax.clear_caches()
        for fn in (self.JW.train_step, self.JW.scan_epoch, self.JW._predict_fn):
            fn.cache_clear()

    def put(self, name, array, on_device):
        import numpy as np
        dtype = np.int32 if np.issubdtype(array.dtype, np.integer) else array.dtype
        array = np.ascontiguousarray(array, dtype)
        self.arrays[name] = self.jax.device_put(array) if on_device else array

    def set_params(self, flat, sizes):
        self.params = self.JW.params_from_flat(flat, sizes)
        self.jax.block_until_ready(self.params)

    def get_params(self):
        return self.JW.flat_params(self.params)

    def _args(self, x, labels, order, batch_size, lr, activation, cost):
        a = self.arrays
        return a[x], a[labels], a[order], batch_size, lr, activation, cost

    def epoch(self, impl, x, labels, order, batch_size, lr, activation, cost):
        """One epoch from the current parameters; x, labels and order name
        arrays put before. Returns wall seconds, CPU seconds (all threads)
        and the number of compilations it caused."""
        args = self._args(x, labels, order, batch_size, lr, activation, cost)
        compiles0, cpu0, t0 = self.compiles, time.process_time(), time.perf_counter()
        self.params = self.JW.run_epoch(impl, self.params, *args)
        return {"wall": time.perf_counter() - t0, "cpu": time.process_time() - cpu0,
                "compiles": self.compiles - compiles0}

    def compile(self, impl, x, labels, order, batch_size, lr, activation, cost):
        return self.JW.compile_epoch(impl, self.params, *self._args(x, labels, order, batch_size, lr, activation, cost))

    def lowered_text(self, impl, x, labels, order, batch_size, lr, activation, cost):
        return self.JW.lowered_text(impl, self.params, *self._args(x, labels, order, batch_size, lr, activation, cost))


def serve():
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # stray prints (and C++ logging on fd 1) go to stderr, not into the replies
    inp = sys.stdin.buffer
    server = _Server()
    while True:
        try:
            op, args = pickle.load(inp)
        except EOFError:
            return
        try:
            reply = (True, getattr(server, op)(*args))
        except Exception as exc:  # the parent raises it with the op's name
            reply = (False, f"{type(exc).__name__}: {exc}")
        pickle.dump(reply, out, protocol=pickle.HIGHEST_PROTOCOL)
        out.flush()


if __name__ == "__main__":
    serve()
