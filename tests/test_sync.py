"""The threads of the whole-epoch kernel: atomic counters, waiting, the team
runner, and results that do not depend on how many threads share the work
or which of them does what."""
import threading

import numpy as np
import pytest

import jitprop.kernels.reference as R
from jitprop.kernels import team, worker
from jitprop.kernels.config import jit
from jitprop.kernels.epoch import _forward_inputs, _train_epoch_inputs
from jitprop.kernels.registry import compiled
from jitprop.kernels.sync import atomic_add, wait_until

from conftest import DTYPES


@jit
def _count(counters, n, tid):
    """Add 1 to counters[0] n times; counters[8 + tid] gets how many of the
    returned old values were seen by this thread (all distinct overall)."""
    for _ in range(n):
        atomic_add(counters, 0, 1)
        counters[8 + tid] += 1


def test_atomic_adds_from_several_threads_are_all_counted():
    counters = np.zeros(16, np.int64)
    team.run(_count, 4, (counters, 200_000), counters, 15)
    assert counters[0] == 800_000  # a plain += from four threads loses increments
    assert counters[8:12].tolist() == [200_000] * 4


@jit
def _ping(counters, tid):
    """Thread 0 waits for thread 1's add, then answers; thread 1 waits for the answer."""
    if tid == 0:
        ok = wait_until(counters, 0, 1, 16)
        atomic_add(counters, 8, 2 if ok else -1)
    else:
        atomic_add(counters, 0, 1)
        wait_until(counters, 8, 2, 16)


def test_waiting_sees_another_threads_atomic_add():
    counters = np.zeros(24, np.int64)
    team.run(_ping, 2, (counters,), counters, 16)
    assert counters[0] == 1 and counters[8] == 2


@jit
def _wait_forever(counters):
    return wait_until(counters, 0, 1, 8)


def test_waiting_gives_up_when_a_thread_has_failed():
    counters = np.zeros(16, np.int64)
    result = []
    waiter = threading.Thread(target=lambda: result.append(_wait_forever(counters)))
    waiter.start()
    counters[8] = 1  # the stop flag
    waiter.join(timeout=30)
    assert not waiter.is_alive() and result == [False]


def test_a_failing_worker_stops_the_others_and_its_error_is_raised():
    counters = np.zeros(16, np.int64)

    def worker(counters, tid):
        if tid == 1:
            raise RuntimeError("worker 1 failed")
        assert not _wait_forever(counters)  # released by the stop flag, not by the counter
    with pytest.raises(RuntimeError, match="worker 1 failed"):
        team.run(worker, 2, (counters,), counters, 8)
    assert counters[8] == 1


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("variant", ["sgd", "adam"])
def test_train_epoch_gives_the_same_bits_on_one_to_four_threads(dt, variant):
    # Four threads on two cores: threads are descheduled mid-phase, the
    # others claim what is left of their shares; the result must not move.
    rng = np.random.default_rng(3)
    args = _train_epoch_inputs(rng, 13, 37, 9, dt, variant)
    runs = []
    for threads in (1, 2, 3, 4):
        a = [x.copy() if isinstance(x, np.ndarray) else x for x in args]
        costs = np.full(-(-a[11].shape[0] // a[12]), np.nan)
        worker.run_team(*a, costs, np.empty((0, int(a[2][-1])), dt), True, threads=threads)
        runs.append((a[0].tobytes(), a[1].tobytes(), costs.tobytes()))
    assert runs.count(runs[0]) == 4
    ref = [x.copy() if isinstance(x, np.ndarray) else x for x in args]
    R.train_epoch(*ref)
    tol = 1e-4 if dt == np.float32 else 1e-10
    np.testing.assert_allclose(np.frombuffer(runs[0][0], dt), ref[0], rtol=tol, atol=tol)


@pytest.mark.parametrize("dt", DTYPES)
def test_network_forward_gives_the_same_bits_on_any_thread_count(dt):
    rng = np.random.default_rng(4)
    out, params, sizes, acts, x, batch = _forward_inputs(rng, 11, 29, 7, dt, None)
    results = []
    for threads in (1, 2, 3):
        with team.using(threads):
            o = np.empty_like(out)
            compiled.network_forward(o, params, sizes, acts, x, batch)
            results.append(o.tobytes())
    assert results[0] == results[1] == results[2]


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("widths", [[5, 3], [37, 17, 33, 9], [1, 65, 2]])
@pytest.mark.parametrize("kernel", ["train_epoch", "train_epoch_per_sample"])
def test_a_call_without_steps_gives_back_the_parameters_and_state_exactly(dt, widths, kernel):
    # Each call lays the weights and the optimizer state out by tile column
    # (padded) and back: with no steps, the round trip must be exact.
    from jitprop.kernels.layout import n_params
    rng = np.random.default_rng(5)
    sizes = np.array(widths, np.int64)
    p = n_params(sizes)
    params = rng.standard_normal(p).astype(dt)
    state = rng.standard_normal((2, p)).astype(dt)
    before = params.copy(), state.copy()
    acts = np.zeros(len(widths) - 1, np.int64)
    x, y = np.ones((3, widths[0]), dt), np.ones((3, widths[-1]), dt)
    none = np.zeros(0, np.int64)
    if kernel == "train_epoch":
        costs = compiled.train_epoch(params, state, sizes, acts, 1, 2, np.zeros(7), 0, True, x, y, none, 2,
                                     np.zeros(0))
    else:
        costs = compiled.train_epoch_per_sample(params, state, sizes, acts, 1, 2, np.zeros(7), 0, x, y, none,
                                                np.zeros(0))
    assert costs.shape == (0,)
    assert params.tobytes() == before[0].tobytes() and state.tobytes() == before[1].tobytes()


def _train_in_child(conn):
    rng = np.random.default_rng(3)
    args = _train_epoch_inputs(rng, 13, 37, 9, np.float32, "sgd")
    with team.using(2):
        compiled.train_epoch(*args)
    conn.send(args[0].tobytes())


def test_a_forked_child_runs_the_threads_of_its_own_pool():
    # The pool's threads are not in a forked child: without a pool of its
    # own its first multi-thread call waited forever for them.
    import multiprocessing
    rng = np.random.default_rng(3)
    args = _train_epoch_inputs(rng, 13, 37, 9, np.float32, "sgd")
    with team.using(2):
        compiled.train_epoch(*args)  # the parent's pool exists
    parent, child = multiprocessing.get_context("fork").Pipe()
    proc = multiprocessing.get_context("fork").Process(target=_train_in_child, args=(child,))
    proc.start()
    ready = parent.poll(120)
    proc.join(10 if ready else 1)
    if proc.is_alive():
        proc.kill()
    assert ready, "the forked child's two-thread call did not finish"
    assert parent.recv() == args[0].tobytes()


def test_an_interrupt_after_the_workers_still_lays_the_weights_back(monkeypatch):
    # Ctrl-C is delivered when the compiled workers return; the weights must
    # still come back from the kernel's layout with the biases they were
    # stepped with, or the net would be a slice of training out of step.
    rng = np.random.default_rng(4)
    args = _train_epoch_inputs(rng, 13, 37, 9, np.float32, "adam")
    clean = [x.copy() if isinstance(x, np.ndarray) else x for x in args]
    compiled.train_epoch(*clean)
    real = team.run

    def interrupted(*a, **kw):
        real(*a, **kw)
        raise KeyboardInterrupt
    monkeypatch.setattr(team, "run", interrupted)
    hit = [x.copy() if isinstance(x, np.ndarray) else x for x in args]
    with pytest.raises(KeyboardInterrupt):
        compiled.train_epoch(*hit)
    assert hit[0].tobytes() == clean[0].tobytes() and hit[1].tobytes() == clean[1].tobytes()


def test_a_batch_larger_than_the_data_is_one_step_of_all_of_it():
    rng = np.random.default_rng(8)
    args = _train_epoch_inputs(rng, 13, 37, 9, np.float32, "sgd")
    n = args[11].shape[0]
    one = [x.copy() if isinstance(x, np.ndarray) else x for x in args]
    one[12], one[13] = n, one[13][:1]
    huge = [x.copy() if isinstance(x, np.ndarray) else x for x in one]
    huge[12] = 10 ** 9  # sized by the rows there are, not by the batch size asked for
    c1, c2 = compiled.train_epoch(*one), compiled.train_epoch(*huge)
    assert one[0].tobytes() == huge[0].tobytes() and c1.tobytes() == c2.tobytes()


def test_an_interrupt_of_the_calling_thread_still_waits_for_the_helpers():
    # Ctrl-C raised on the calling thread (worker 0) must set stop and wait
    # for every helper before it propagates: a helper still running would
    # write the weights after they were laid back.
    import time
    counters = np.zeros(24, np.int64)
    finished = []

    def worker(counters, tid):
        if tid == 0:
            raise KeyboardInterrupt
        while counters[16] == 0:  # until told to stop
            time.sleep(0.001)
        time.sleep(0.05)
        finished.append(tid)

    with pytest.raises(KeyboardInterrupt):
        team.run(worker, 3, (counters,), counters, 16)
    assert sorted(finished) == [1, 2] and counters[16] == 1


def test_team_counts_are_checked_and_limit_threads_caps_them():
    import numba

    from jitprop.threads import limit_threads
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="threads: expected an integer >= 1"):
            with team.using(bad):
                pass
    with limit_threads(numba.config.NUMBA_NUM_THREADS + 7, blas=False):
        assert team.threads() == numba.config.NUMBA_NUM_THREADS  # no more spinning threads than Numba's count
    with team.using(numba.config.NUMBA_NUM_THREADS + 2):  # the team itself takes any count (the tests above)
        assert team.threads() == numba.config.NUMBA_NUM_THREADS + 2


def test_ctrl_c_while_waiting_for_the_helpers_stops_them_and_still_waits():
    # Ctrl-C arrives while the calling thread waits for a helper: the helper
    # is told to stop (it would otherwise wait for worker 0 forever) and run
    # returns only once it has.
    import signal
    import time
    main = threading.main_thread().ident
    counters = np.zeros(24, np.int64)
    finished = []

    def worker(counters, tid):
        if tid == 0:
            return
        time.sleep(0.05)  # the calling thread is waiting by now
        signal.pthread_kill(main, signal.SIGINT)
        deadline = time.monotonic() + 5
        while counters[16] == 0 and time.monotonic() < deadline:
            time.sleep(0.001)
        time.sleep(0.05)
        finished.append(counters[16])

    assert threading.current_thread() is threading.main_thread()
    with pytest.raises(KeyboardInterrupt):
        team.run(worker, 2, (counters,), counters, 16)
    assert finished == [1]  # the helper saw stop, and run waited for it
