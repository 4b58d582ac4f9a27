"""jitprop against JAX's whole-epoch ``lax.scan`` with the two epochs taking
turns (``cases.Alternating``): the ratio issue 14's targets ask for,
measured so that both meet the same states of the shared machine. jitprop's
side: ``workloads.jitprop_side``; threads as in the table
(``workloads.threads_for``)."""
from jitprop.bench import workloads as W
from jitprop.bench.cases import Alternating, Case
from jitprop.bench.report import JAX_PEER
from jitprop.threads import limit_threads


def test_jitprop_and_jax_scan_by_turns(benchmark, alternating_workload, mnist_by_dtype, jax_workers):
    arch, dtype, batch_size = alternating_workload
    x, y = mnist_by_dtype[dtype]
    threads = W.threads_for(arch, batch_size)
    with limit_threads(threads):
        pair = Alternating(Case(arch, W.jitprop_side(batch_size), dtype, batch_size, x, y, None, threads),
                           Case(arch, JAX_PEER, dtype, batch_size, x, y, jax_workers(threads), threads))
        rounds = pair.rounds()
        benchmark.group = f"{arch} {dtype} batch {batch_size} (by turns)"
        benchmark.pedantic(pair.fn, setup=pair.setup, rounds=rounds, iterations=1, warmup_rounds=0)
    benchmark.extra_info.update(pair.finish())
