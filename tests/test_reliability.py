"""Reproducibility, concurrent cache builds, a fuzz test of the public
functions and a soak of many short training runs."""
import os
import shutil
import subprocess
import sys

import numba
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import jitprop
from jitprop import CrossEntropy, Linear, MeanSquareError, functional as F
from jitprop.data import mnist as mnist_mod
from jitprop.threads import FUSED_MULTI_THREAD_MACS, MULTI_THREAD_MACS, default_threads, limit_threads


def test_default_threads_goes_by_the_largest_product_and_who_computes_it(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    seed = [784, 128, 32, 10]  # largest product 784 x 128
    assert default_threads(12, seed, "jit") == 1 and default_threads(12, seed, "batched") == 1  # BLAS
    assert default_threads(32, seed, "jit") == 8
    assert default_threads(2, seed) == 1 and default_threads(3, seed) == 8  # the fused kernel: from 300k
    assert default_threads(1, [10, 2 * MULTI_THREAD_MACS, 1], "jit") == 8
    assert default_threads(MULTI_THREAD_MACS // 100 - 1, [10, 10], "jit") == 1
    assert default_threads(FUSED_MULTI_THREAD_MACS // 100 - 1, [10, 10]) == 1
    assert default_threads(FUSED_MULTI_THREAD_MACS // 100, [10, 10]) == 8
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert default_threads(600, seed) == 1


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("impl", ["fused", "jit", "batched"])
def test_bit_identical_at_a_fixed_thread_count(impl, threads):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((600, 64))
    y = x[:, :10].argmax(axis=1)
    runs = []
    for _ in range(2):
        net = jitprop.mlp([64, 256, 10], "relu", "softmax", "he", seed=1)
        with limit_threads(threads):
            jitprop.train(net, CrossEntropy(), x, y, epochs=2, batch_size=300, learning_rate=1e-3,
                          impl=impl, progress=False)
        runs.append(net.params.tobytes())
    assert runs[0] == runs[1]


def test_two_processes_building_the_cache_at_once(mnist, tmp_path):
    from jitprop.data.cache import data_dir
    shutil.copy(data_dir() / mnist_mod.WHEEL_NAME, tmp_path / mnist_mod.WHEEL_NAME)
    code = ("import sys, hashlib; from jitprop.data import load_mnist; a = load_mnist(sys.argv[1]); "
            "print(hashlib.sha256(a[0].tobytes()).hexdigest())")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]
    assert {o[0].strip() for o in outs} == {mnist_mod.SHA256["x_train"]}
    assert sum("cached at" in o[1] for o in outs) == 1  # one built it, the other waited and read it
    mnist_mod.load_mnist(tmp_path)  # and the file it left verifies


dtypes = st.sampled_from([np.float64, np.float32, np.int64, np.bool_, object])
shapes = st.lists(st.integers(0, 5), min_size=0, max_size=3).map(tuple)
values = st.sampled_from([0.0, 1.5, -2.0, np.nan, np.inf])


def _array(dtype, shape, fill, rng):
    a = rng.standard_normal(shape) if shape else np.float64(rng.standard_normal())
    a = np.asarray(a)
    if a.size:
        a.flat[0] = fill
    return a.astype(dtype) if dtype is not object else a.astype(object)


@pytest.mark.filterwarnings("ignore:invalid value encountered in cast")  # NaN/inf cast to int on purpose
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dtype=dtypes, shape=shapes, fill=values, backend=st.sampled_from(["numba", "numpy"]),
       seed=st.integers(0, 1000))
def test_fuzz_public_functions(dtype, shape, fill, backend, seed):
    """Either the reference answer or a ValueError/TypeError naming the argument."""
    rng = np.random.default_rng(seed)
    x = _array(dtype, shape, fill, rng)
    lin = Linear(3, 2, backend=backend, rng=rng)
    try:
        out = lin.forward(x)
    except (ValueError, TypeError) as exc:
        assert str(exc).startswith("x_in:")
    else:
        assert np.isfinite(x).all() and x.ndim == 2 and x.shape[1] == 3 and x.shape[0] > 0
        np.testing.assert_allclose(out, x @ lin.w.T + lin.b, rtol=1e-12)

    target = _array(np.float64, shape, 0.5, rng)
    try:
        value = MeanSquareError(backend=backend).estimate(target, x)
    except (ValueError, TypeError) as exc:
        assert str(exc).split(":")[0] in ("prediction", "target", "target and prediction")
    else:
        # computed in the prediction's dtype (float32: ~1e-7 relative)
        rel = 1e-12 if x.dtype == np.float64 else 1e-5
        assert value == pytest.approx(0.5 * np.mean((target - x.astype(np.float64)) ** 2), rel=rel)

    try:
        got = F.mse_forward(x, target)
    except (ValueError, TypeError) as exc:
        assert str(exc).split(":")[0] in ("target_pred", "target_true", "target_pred and target_true")
    else:
        want = ((target - x.astype(np.float64)) ** 2).sum() / (2 * x.shape[0])
        assert got == pytest.approx(want, rel=1e-12)


def _memory_mb(field="VmRSS"):
    """Resident (VmRSS) or peak resident (VmHWM) memory of this process, MB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _random_run(rng):
    dt = rng.choice([np.float64, np.float32])
    n_in, hidden, n_out = int(rng.integers(1, 20)), int(rng.integers(1, 16)), int(rng.integers(2, 6))
    cost_name = rng.choice(["mse", "ce"])
    net = jitprop.mlp([n_in, hidden, n_out], str(rng.choice(["sigmoid", "relu"])),
                      "softmax" if cost_name == "ce" else "sigmoid", 0.3, seed=int(rng.integers(1000)), dtype=dt)
    impl = str(rng.choice(list(jitprop.IMPLS)))
    n = int(rng.integers(8, 40))
    x = rng.standard_normal((n, n_in)).astype(dt)
    y = rng.integers(0, n_out, n)
    bs = 1 if impl.startswith("per-sample") else int(rng.integers(1, n + 1))
    jitprop.train(net, CrossEntropy() if cost_name == "ce" else MeanSquareError(), x, y, x, y,
                  epochs=int(rng.integers(1, 3)), batch_size=bs, learning_rate=float(rng.uniform(1e-3, 0.1)),
                  weight_decay=float(rng.choice([0.0, 1e-3])), impl=impl, progress=False)
    assert np.isfinite(net.params).all()


def test_soak_200_runs_memory_flat():
    rng = np.random.default_rng(2024)
    for _ in range(40):  # warm up: compile/load every kernel specialisation
        _random_run(rng)
    start, peak_start = _memory_mb(), _memory_mb("VmHWM")
    for _ in range(200):
        _random_run(rng)
    end, peak_end = _memory_mb(), _memory_mb("VmHWM")
    print(f"soak: 200 runs, RSS {start:.1f} -> {end:.1f} MB, peak {peak_start:.1f} -> {peak_end:.1f} MB")
    assert end - start < 20, (start, end)
    assert peak_end - peak_start < 20, (peak_start, peak_end)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("batch_size, sizes", [(12, [64, 40, 10]), (64, [784, 128, 32, 10]), (150, [100, 70, 7])])
def test_the_fused_epoch_gives_the_same_bits_at_any_thread_count(batch_size, sizes, optimizer):
    # The products are split into fixed tiles, each computed by one thread in
    # a fixed order: 1 and 2 threads (and the tile or row splits) agree bit for bit.
    rng = np.random.default_rng(3)
    x = rng.standard_normal((450, sizes[0])).astype(np.float32)
    y = rng.integers(0, sizes[-1], 450)
    runs = []
    for threads in (1, 2, 1):
        net = jitprop.mlp(sizes, "sigmoid", "softmax", "he", seed=1, dtype=np.float32)
        opt = jitprop.Adam(1e-3) if optimizer == "adam" else jitprop.SGD(1e-3, momentum=0.9)
        with limit_threads(threads):
            h = jitprop.train(net, CrossEntropy(), x, y, epochs=2, batch_size=batch_size, optimizer=opt,
                              impl="fused", progress=False)
        assert {t for t, _ in h.threads} == {min(threads, numba.config.NUMBA_NUM_THREADS)}  # every slice at the count asked for
        runs.append(net.params.tobytes())
    assert runs[0] == runs[1] == runs[2]


def _choice(now, threads=2, neighbour=None):
    from jitprop.threads import Neighbour, ThreadChoice
    return ThreadChoice(threads, clock=lambda: now[0], neighbour=neighbour or Neighbour())


def test_the_thread_choice_drops_to_one_thread_while_the_threads_wait_on_each_other():
    from jitprop.threads import ThreadChoice
    now = [0.0]
    choice = _choice(now)
    for _ in range(5):  # quiet: the threads wait a few percent of the time
        assert choice.threads() == 2
        choice.record(2, 0.06, 0.25)
    choice.record(2, 0.45, 0.25)  # a neighbour took a core
    assert choice.threads() == 2  # one slice alone does not decide
    choice.record(2, 0.40, 0.08)
    assert choice.threads() == 1
    now[0] += ThreadChoice.RETRY_SECONDS / 2
    choice.record(1, 0.0, 0.25)
    assert choice.threads() == 1
    now[0] += ThreadChoice.RETRY_SECONDS
    assert choice.threads() == 2  # tries all threads again
    choice.record(2, 0.05, 0.25)  # the neighbour has left
    assert choice.threads() == 2
    assert ThreadChoice(1).threads() == 1


def test_a_slice_too_short_to_judge_keeps_all_threads():
    # An 8 ms first slice whose threads waited 47% while the helpers started
    # had sent a quiet run's whole epoch to one thread.
    from jitprop.threads import ThreadChoice
    now = [0.0]
    choice = _choice(now)
    choice.record(2, 0.47, 0.008)
    choice.record(2, 0.47, 0.008)
    assert choice.threads() == 2
    choice.record(2, 0.47, ThreadChoice.MIN_SECONDS)
    choice.record(2, 0.47, ThreadChoice.MIN_SECONDS)
    assert choice.threads() == 1


def test_one_waiting_slice_after_idling_keeps_all_threads():
    # After one-thread work the next all-thread slice of a quiet machine
    # waited 22% (the other core waking), the one after 5%.
    now = [0.0]
    choice = _choice(now)
    choice.record(2, 0.46, 0.008)
    choice.record(2, 0.22, 0.08)
    choice.record(2, 0.05, 0.08)
    choice.record(2, 0.22, 0.25)
    assert choice.threads() == 2


def test_slices_are_short_until_the_thread_choice_settles():
    from jitprop.threads import ThreadChoice
    now = [0.0]
    choice = _choice(now)
    assert choice.slice_seconds(0.25) == 0.25  # nothing recorded: the caller sizes the first slice
    choice.record(2, 0.3, 0.008)
    assert choice.slice_seconds(0.25) == ThreadChoice.PROBE_SECONDS
    choice.record(2, 0.3, 0.08)
    assert choice.slice_seconds(0.25) == ThreadChoice.PROBE_SECONDS  # one strike: probe again
    choice.record(2, 0.04, 0.08)
    assert choice.slice_seconds(0.25) == 0.25  # settled
    choice.record(2, 0.3, 0.25)
    choice.record(2, 0.3, 0.25)
    assert choice.threads() == 1 and choice.slice_seconds(0.25) == 0.25  # one thread: long slices
    now[0] += ThreadChoice.RETRY_SECONDS
    assert choice.threads() == 2 and choice.slice_seconds(0.25) == ThreadChoice.PROBE_SECONDS  # the retry probes
    one = _choice(now, threads=1)
    one.record(1, 0.0, 0.25)
    assert one.threads() == 1 and one.slice_seconds(0.25) == 0.25  # nothing to probe


def test_a_neighbour_that_stays_is_retried_less_and_less_often():
    from jitprop.threads import ThreadChoice
    now = [0.0]
    choice = _choice(now)
    spells = []
    for _ in range(6):
        assert choice.threads() == 2
        choice.record(2, 0.4, 0.08)
        choice.record(2, 0.4, 0.08)
        start = now[0]
        while choice.threads() == 1:
            now[0] += 0.125
        spells.append(now[0] - start)
    assert spells == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    choice.record(2, 0.05, 0.25)  # gone: the next neighbour starts at a second again
    choice.record(2, 0.4, 0.08)
    choice.record(2, 0.4, 0.08)
    assert choice.neighbour.until == now[0] + ThreadChoice.RETRY_SECONDS


def test_the_spell_stays_bounded_however_long_the_neighbour_stays():
    # The doubling is capped before it is computed: a process under load for
    # hours (thousands of spells) must not overflow 2 ** spells.
    from jitprop.threads import Neighbour, ThreadChoice
    now, neighbour = [0.0], Neighbour()
    neighbour.spells = 5000
    choice = _choice(now, neighbour=neighbour)
    choice.record(2, 0.4, 0.08)
    choice.record(2, 0.4, 0.08)
    assert neighbour.until == now[0] + ThreadChoice.MAX_RETRY_SECONDS and neighbour.spells < 100


def test_a_neighbour_long_gone_starts_the_back_off_again():
    from jitprop.threads import Neighbour, ThreadChoice
    now, neighbour = [0.0], Neighbour()
    for _ in range(4):  # spells of 1, 2, 4, 8 s
        choice = _choice(now, neighbour=neighbour)
        choice.record(2, 0.4, 0.08)
        choice.record(2, 0.4, 0.08)
        now[0] = neighbour.until
    now[0] += ThreadChoice.MAX_RETRY_SECONDS + 1  # hours of nothing, say
    choice = _choice(now, neighbour=neighbour)
    choice.record(2, 0.4, 0.08)
    choice.record(2, 0.4, 0.08)
    assert neighbour.until == now[0] + ThreadChoice.RETRY_SECONDS


def test_train_starts_on_one_thread_during_a_spell_an_earlier_call_started():
    import jitprop.threads
    rng = np.random.default_rng(0)
    x = rng.standard_normal((400, 20)).astype(np.float32)
    y = rng.integers(0, 3, 400)
    jitprop.threads.NEIGHBOUR.until = float("inf")  # a spell that lasts for the whole test
    for _ in range(2):
        net = jitprop.mlp([20, 16, 3], "sigmoid", "softmax", "he", seed=0, dtype=np.float32)
        with limit_threads(2):
            h = jitprop.train(net, CrossEntropy(), x, y, epochs=2, batch_size=4, impl="fused", progress=False)
        assert {t for t, _ in h.threads} == {1}


def test_a_neighbour_seen_by_one_call_is_remembered_by_the_next():
    """Loops of short train() calls: the next call starts on one thread
    while the last call's spell lasts, then tries all threads again."""
    from jitprop.threads import Neighbour, ThreadChoice
    now, neighbour = [0.0], Neighbour()
    first = _choice(now, neighbour=neighbour)
    first.record(2, 0.35, 0.08)
    first.record(2, 0.35, 0.08)
    second = _choice(now, neighbour=neighbour)
    assert second.threads() == 1
    now[0] += ThreadChoice.RETRY_SECONDS
    assert second.threads() == 2
    second.record(2, 0.05, 0.08)  # gone: a third call starts on all threads
    assert _choice(now, neighbour=neighbour).threads() == 2


def test_train_sizes_its_slices_by_the_thread_choice(monkeypatch):
    """train() cuts the epoch as ThreadChoice.slice_seconds says: the first
    slice 1/20 of the epoch, then (here) one step per slice, each recorded."""
    import jitprop
    from jitprop.threads import ThreadChoice
    rng = np.random.default_rng(0)
    x = rng.standard_normal((400, 20)).astype(np.float32)
    y = rng.integers(0, 3, 400)
    net = jitprop.mlp([20, 16, 3], "sigmoid", "softmax", "he", seed=0, dtype=np.float32)
    asked = []
    monkeypatch.setattr(ThreadChoice, "slice_seconds", lambda self, settled: asked.append(settled) or 1e-9)
    h = jitprop.train(net, jitprop.CrossEntropy(), x, y, epochs=1, batch_size=4, impl="fused", progress=False)
    assert len(h.threads) == 1 + (100 - 5) and len(asked) == len(h.threads)  # 100 steps: 5, then 1 each


def test_the_fused_kernel_reports_how_long_its_threads_waited():
    from jitprop.kernels import team
    rng = np.random.default_rng(6)
    x = rng.standard_normal((600, 100)).astype(np.float32)
    y = rng.integers(0, 10, 600)
    net = jitprop.mlp([100, 64, 10], "relu", "softmax", "he", seed=2, dtype=np.float32)
    with limit_threads(2):
        h = jitprop.train(net, CrossEntropy(), x, y, epochs=2, batch_size=32, learning_rate=1e-3, impl="fused",
                          progress=False)
    assert h.threads and all(t in (1, 2) and 0.0 <= w <= 1.0 for t, w in h.threads)
    threads, waited = team.last_run()
    assert threads == h.threads[-1][0] and 0.0 <= waited <= 1.0


@pytest.mark.parametrize("impl", ["fused", "per-sample-jit", "jit"])
def test_how_an_epoch_is_sliced_does_not_change_the_result(impl, monkeypatch):
    # train() calls the epoch kernels on slices of each epoch, sized by time
    # (for the progress bar): one slice per step or one per epoch, same bits.
    import importlib
    T = importlib.import_module("jitprop.model.train")
    rng = np.random.default_rng(5)
    x = rng.standard_normal((300, 40)).astype(np.float32)
    y = rng.integers(0, 10, 300)
    runs = []
    for first, seconds in ((300, 0.0), (1, 1e9)):
        monkeypatch.setattr(T, "_FIRST_SLICES", first)
        monkeypatch.setattr(T, "_SLICE_SECONDS", seconds)
        net = jitprop.mlp([40, 24, 10], "relu", "softmax", "he", seed=2, dtype=np.float32)
        batch = 1 if impl == "per-sample-jit" else 16
        h = jitprop.train(net, CrossEntropy(), x, y, epochs=2, batch_size=batch, optimizer=jitprop.Adam(1e-3),
                          impl=impl, progress=False)
        runs.append((net.params.tobytes(), h.cost))
    assert runs[0] == runs[1]
