"""Atomic counters and waiting, for the threads of the whole-epoch kernel.

The threads share work through int64 counters (``worker.py``): tasks are
claimed with ``atomic_add`` on a counter per thread's share and reported
done on a shared one, and a thread waits with :func:`wait_until` until enough tasks are done. No lock,
no condition variable: the threads spin a short while (``cpu_relax``, the
x86 ``pause``), then give the core away (``sched_yield``) while they wait, so
a thread that waits for one that a neighbouring process has pushed off its
core does not keep that core from it.

Everything here is compiled inline into its callers (LLVM atomics and
intrinsics; ``sched_yield`` is linked by name, so cached code stays valid);
these are not kernels and have no twins. ``tests/test_sync.py`` checks them.
"""
from llvmlite import binding as llvm
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from jitprop.kernels.config import jit_inner

_ARCH = llvm.get_process_triple().split("-")[0]
# The spin-wait hint as an LLVM intrinsic (Numba's JIT has no assembler for inline asm).
_RELAX = {"x86_64": "llvm.x86.sse2.pause", "i686": "llvm.x86.sse2.pause", "i386": "llvm.x86.sse2.pause",
          "aarch64": "llvm.aarch64.hint"}.get(_ARCH)

# Waiting: this many pause loops (about 20 us on the machines measured),
# then sched_yield between checks.
SPINS = 1000


def _slot(context, builder, arrty, arr, index):
    data = context.make_array(arrty)(context, builder, value=arr).data
    return builder.gep(data, [index])


@intrinsic
def atomic_add(typingctx, arr, index, value):
    """arr[index] += value atomically (int64 arr); returns the value before."""
    if not (isinstance(arr, types.Array) and arr.dtype == types.int64 and isinstance(value, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        ptr = _slot(context, builder, sig.args[0], args[0], args[1])
        v = context.cast(builder, args[2], sig.args[2], types.int64)
        return builder.atomic_rmw("add", ptr, v, "seq_cst")
    return types.int64(arr, index, value), codegen


@intrinsic
def atomic_load(typingctx, arr, index):
    """arr[index] (int64 arr), read atomically with acquire ordering: what
    another thread wrote before its ``atomic_add`` is visible after it."""
    if not (isinstance(arr, types.Array) and arr.dtype == types.int64):
        return None

    def codegen(context, builder, sig, args):
        ptr = _slot(context, builder, sig.args[0], args[0], args[1])
        return builder.load_atomic(ptr, "acquire", 8)
    return types.int64(arr, index), codegen


@intrinsic
def cpu_relax(typingctx):
    """The spin-wait hint (x86 ``pause``, ARM ``yield``; nothing elsewhere)."""
    def codegen(context, builder, sig, args):
        if _RELAX == "llvm.aarch64.hint":  # hint #1: yield
            fnty = ir.FunctionType(ir.VoidType(), [ir.IntType(32)])
            fn = builder.module.globals.get(_RELAX) or ir.Function(builder.module, fnty, _RELAX)
            builder.call(fn, [ir.Constant(ir.IntType(32), 1)])
        elif _RELAX:
            fnty = ir.FunctionType(ir.VoidType(), [])
            fn = builder.module.globals.get(_RELAX) or ir.Function(builder.module, fnty, _RELAX)
            builder.call(fn, [])
        return context.get_dummy_value()
    return types.void(), codegen


@intrinsic
def yield_thread(typingctx):
    """sched_yield(): let another runnable thread have this core."""
    def codegen(context, builder, sig, args):
        fnty = ir.FunctionType(ir.IntType(32), [])
        fn = builder.module.globals.get("sched_yield") or ir.Function(builder.module, fnty, "sched_yield")
        builder.call(fn, [])
        return context.get_dummy_value()
    return types.void(), codegen


@intrinsic
def cycles(typingctx):
    """The CPU's time-stamp counter (cycles at a fixed rate; for the share of
    time spent waiting)."""
    def codegen(context, builder, sig, args):
        fnty = ir.FunctionType(ir.IntType(64), [])
        fn = builder.module.globals.get("llvm.readcyclecounter") or ir.Function(builder.module, fnty,
                                                                                 "llvm.readcyclecounter")
        return builder.call(fn, [])
    return types.int64(), codegen


@jit_inner
def wait_until(counters, index, target, stop):
    """Wait until counters[index] >= target; returns False instead if
    counters[stop] is non-zero (a thread failed, or the run was interrupted),
    checked first, so a late thread does not carry on alone."""
    n = 0
    while True:
        if atomic_load(counters, stop) != 0:
            return False
        if atomic_load(counters, index) >= target:
            return True
        if n < SPINS:
            cpu_relax()
            n += 1
        else:
            yield_thread()

