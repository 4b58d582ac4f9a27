"""One training epoch, per implementation, batch size, dtype and network.

Each case is checked against the NumPy reference, warmed up and then timed
on the full workload from the same initial weights and sample order
(``cases.py`` says how). JAX cases run in a worker process per thread count
(``jax_worker.py`` says why).
"""
from jitprop.bench import workloads as W
from jitprop.bench.cases import Case
from jitprop.bench.jax_workloads import JAX_IMPLS
from jitprop.threads import limit_threads


def test_training_epoch(benchmark, workload, mnist_by_dtype, jax_workers):
    arch, impl, dtype, batch_size = workload
    x, y = mnist_by_dtype[dtype]
    threads = W.threads_for(arch, batch_size)
    worker = jax_workers(threads) if impl in JAX_IMPLS else None
    with limit_threads(threads):
        if impl == "torch":
            import torch
            torch.set_num_threads(threads)
        case = Case(arch, impl, dtype, batch_size, x, y, worker)
        rounds = case.rounds()
        benchmark.group = f"{arch} {dtype} batch {batch_size}"
        benchmark.pedantic(case.fn, setup=case.setup, rounds=rounds, iterations=1, warmup_rounds=0)
        benchmark.extra_info.update(case.finish())
