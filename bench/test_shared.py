"""The shared machine: the two-thread seed-network epoch at batch 64 while
another process keeps one core busy (``busy.py``), for jitprop ``fused`` and
JAX ``jax-scan``, and jitprop's one-thread epoch under the same load.
Checked and warmed up on the quiet machine like every case (``cases.py``);
the rounds are estimated and timed with the neighbour running. The rows are
labelled with ``load`` in the report, next to the quiet rows of the same
case from ``test_training.py``. And jitprop's two-thread and one-thread
epochs by turns under the same load (``cases.Alternating``), the
comparison the separate rows, timed minutes apart, cannot make fairly.
"""
from jitprop.bench import workloads as W
from jitprop.bench.busy import LOAD, busy_core, load_label
from jitprop.bench.cases import Alternating, Case
from jitprop.bench.jax_workloads import JAX_IMPLS
from jitprop.threads import limit_threads


def test_training_epoch_one_core_busy(benchmark, loaded_workload, mnist_by_dtype, jax_workers):
    arch, impl, dtype, batch_size, threads = loaded_workload
    x, y = mnist_by_dtype[dtype]
    load = load_label(threads, W.threads_for(arch, batch_size))
    worker = jax_workers(threads) if impl in JAX_IMPLS else None
    with limit_threads(threads):
        case = Case(arch, impl, dtype, batch_size, x, y, worker, threads)
        with busy_core():
            rounds = case.rounds()
            benchmark.group = f"{arch} {dtype} batch {batch_size} ({load})"
            benchmark.pedantic(case.fn, setup=case.setup, rounds=rounds, iterations=1, warmup_rounds=0)
        benchmark.extra_info.update(case.finish(), load=load)


def test_two_threads_and_one_by_turns_one_core_busy(benchmark, loaded_pair_workload, mnist_by_dtype):
    arch, impl, dtype, batch_size = loaded_pair_workload
    x, y = mnist_by_dtype[dtype]
    with limit_threads(2):
        pair = Alternating(Case(arch, impl, dtype, batch_size, x, y, None, 2),
                           Case(arch, impl, dtype, batch_size, x, y, None, 1), load=LOAD)
        with busy_core():
            rounds = pair.rounds()
            benchmark.group = f"{arch} {dtype} batch {batch_size} ({LOAD}, 2 threads and 1 by turns)"
            benchmark.pedantic(pair.fn, setup=pair.setup, rounds=rounds, iterations=1, warmup_rounds=0)
    benchmark.extra_info.update(pair.finish())
