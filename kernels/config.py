"""Numba options shared by every kernel in jitprop, and a cache that a damaged
file cannot break.

Every ``@njit`` in the package is made with :func:`jit`, so the options live in
one place and ``tests/test_kernel_config.py`` can check that none was missed.

``fastmath`` is a flag set rather than ``True``: ``True`` adds ``nnan`` and
``ninf``, which let LLVM delete the ``isfinite`` checks the trainers rely on to
stop on a diverging run.

Compiled code is cached on disk (Numba's ``cache=True`` locations: beside the
source, or ``$NUMBA_CACHE_DIR``). :class:`RobustCache` makes that safe: a
damaged cache entry (garbage, truncated) is moved aside to ``*.corrupt`` and
the kernel compiled again, with one line saying so, instead of breaking every
later run; a cache that cannot be written is skipped; and when no location is
writable at all the kernels compile without a cache.
"""
import contextlib
import gc
import glob
import os
import sys

import numba.cpython.hashing  # noqa: F401  registers the symbols hashing code links to (see load_overload)
from numba.core import compiler, typed_passes, types
from numba.core.caching import FunctionCache
from numba.core.codegen import JITCodeLibrary
from numba.core.compiler_machinery import PassManager, register_pass
from numba.core.errors import UnsupportedError
from numba.core.registry import CPUDispatcher
from numba.core.runtime import rtsys

# No "contract": with it LLVM's backend fuses a * b + c into one FMA in some
# code generations and not others (the code Numba runs after compiling and the
# object code it caches differed: one epoch gave different bits on the first
# run and on later ones). The FMAs the kernels want are explicit (simd.vfma,
# simd.sfma), so every run rounds the same way.
FASTMATH = frozenset({"nsz", "arcp", "afn", "reassoc"})
# For code whose rounding is part of the algorithm (the split-constant range
# reduction in fastexp.py): without ``reassoc`` LLVM may not fold
# ``x - k*hi - k*lo`` into ``x - k*(hi + lo)``, which would cost ~100 ulps.
EXACT_FASTMATH = FASTMATH - {"reassoc"}

OPTIONS = {
    "cache": True,
    "fastmath": set(FASTMATH),
    "nogil": True,
    "error_model": "numpy",
    "boundscheck": False,
}

JITTED = []
_said = set()


def _say_once(key, message):
    if key not in _said:
        _said.add(key)
        try:
            print(f"jitprop: {message}", file=sys.stderr, flush=True)
        except (OSError, ValueError, AttributeError):  # no stderr
            pass


def _kernels_stamp():
    """The modification times and sizes of every source file of kernels/:
    the stamp every cache entry is checked against. Numba checks only the
    function's own file, but kernels inline helpers from the other files, so
    an edit (or an upgrade) of one file would leave its callers' cached code
    stale, silently."""
    folder = os.path.dirname(os.path.abspath(__file__))
    stamp = []
    for name in sorted(os.listdir(folder)):
        if name.endswith(".py"):
            st = os.stat(os.path.join(folder, name))
            stamp.append((name, st.st_mtime, st.st_size))
    return tuple(stamp)


KERNELS_STAMP = _kernels_stamp()


class RobustCache(FunctionCache):
    """Numba's per-function disk cache, made safe against damaged entries and
    unwritable folders, and checked against every kernel source file."""

    def __init__(self, py_func):
        super().__init__(py_func)
        self._cache_file._source_stamp = KERNELS_STAMP

    def load_overload(self, sig, target_context):
        # Numba's load first refreshes the target context: imports and installs
        # every lowering registry (0.3 s of a warm run) that only compiling
        # needs (a compile refreshes it itself). Loaded code needs the runtime
        # and the symbols registered by imports (hashing's, imported above).
        rtsys.initialize(target_context)
        try:
            with self._guard_against_spurious_io_errors():
                return self._load_overload(sig, target_context)
        except Exception as exc:  # any damage: unpickling, truncation, bad values
            self._move_aside(exc)
            return None

    def save_overload(self, sig, data):
        try:
            super().save_overload(sig, data)
        except OSError as exc:
            _say_once("save:" + str(self.cache_path), f"cannot write the compiled-kernel cache in {self.cache_path} "
                                                       f"({exc.strerror or exc}); kernels will compile on every run")

    def _move_aside(self, exc):
        index = self._cache_file._index_path
        moved = []
        for path in [index, *glob.glob(index[:-len(".nbi")] + ".*.nbc")]:
            try:
                os.replace(path, path + ".corrupt")
                moved.append(os.path.basename(path))
            except OSError:
                pass
        _say_once("bad:" + index, f"the compiled-kernel cache entry {os.path.basename(index)} in "
                                   f"{self.cache_path} was damaged ({type(exc).__name__}); moved "
                                   f"{len(moved)} file(s) aside to *.corrupt and compiling again")


# Helpers called only from other compiled functions: no Python or C entry
# wrappers and no cache entry of their own (their code is linked into, and
# cached with, each caller). Each wrapper and entry costs compile time on
# every first run: for the default run's epoch kernel, 25.5 s -> 21.6 s.
# Nor machine code or module optimisation of their own (_InnerCompiler): the
# caller optimises and compiles the linked module once; Numba did both for
# every helper too (default run's first compile 8.4-8.8 s -> 6.0-6.5 s).
INNER = {"no_cpython_wrapper": True, "no_cfunc_wrapper": True}
# Leaf helpers (the micro-kernels and the rules they apply) also go without
# reference counting of the arrays they are given or slice: they allocate
# nothing and their caller holds every array for the call. Numba counted
# arrays in and out around each call, and the counting was not always pruned
# after inlining (one sample's update spent most of its time in it).
LEAF = {**INNER, "_nrt": False}


class _LinkOnlyLibrary(JITCodeLibrary):
    """The code of a helper, only ever linked into its callers' modules: no
    module-level optimisation (the caller's, after linking, does it once) and
    no machine code of its own (nothing calls it from outside compiled code).
    Only Numba's function-level passes run on it, as they do on any module."""

    def _optimize_final_module(self):
        pass

    def _finalize_final_module(self):
        self._finalize_dynamic_globals()
        self._verify_declare_only_symbols()
        self._finalized = True


def _helper_entry(qualname):
    """What a helper's compile result holds in place of an entry point: the
    key its callers' lowering finds it by (a new one per overload); calling
    it raises."""
    def entry(*args, **kwargs):
        raise TypeError(f"{qualname} is a helper of the compiled kernels, callable from compiled code only")
    return entry


@register_pass(mutates_CFG=True, analysis_only=False)
class _LinkOnlyLowering(typed_passes.NativeLowering):
    """Numba's lowering without what a call from Python needs (as with
    ``no_compile``: no machine code, entry point or environment): the helper
    is registered for its callers, which link its IR."""
    _name = "jitprop_link_only_lowering"

    def run_pass(self, state):
        if state.library is None:
            state.library = _LinkOnlyLibrary(state.targetctx.codegen(), state.func_id.func_qualname)
        no_compile, state.flags.no_compile = state.flags.no_compile, True
        try:
            super().run_pass(state)
        finally:
            state.flags.no_compile = no_compile
        lowered = state["cr"]
        if str(state.library._final_module).count(lowered.fndesc.env_name) > 1:  # used, not only declared
            raise UnsupportedError(f"{state.func_id.func_qualname}: a helper cannot use Numba's environment (print, "
                                   "objmode, an exception with runtime values): its code runs linked into callers, "
                                   "which do not set it up; make it a kernel (config.jit) or leave that out")
        entry = _helper_entry(state.func_id.func_qualname)
        state.targetctx.insert_user_function(entry, lowered.fndesc, [state.library])
        state["cr"] = lowered._replace(cfunc=entry)
        return True


class _InnerCompiler(compiler.Compiler):
    """Numba's nopython pipeline with :class:`_LinkOnlyLowering`."""

    def define_pipelines(self):
        build = compiler.DefaultPassBuilder
        pm = PassManager("jitprop_inner")
        pm.passes.extend(build.define_untyped_pipeline(self.state).passes)
        pm.passes.extend(build.define_typed_pipeline(self.state).passes)
        pm.passes.extend((_LinkOnlyLowering if p is typed_passes.NativeLowering else p, d)
                         for p, d in build.define_nopython_lowering_pipeline(self.state).passes)
        pm.finalize()
        return [pm]


@contextlib.contextmanager
def _gc_paused():
    """Python's cyclic garbage collector off for the block (back on after,
    if it was on)."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


class KernelDispatcher(CPUDispatcher):
    """The dispatcher of every jitprop kernel and helper: Numba's, with the
    garbage collector paused while it compiles (and while a compile loads
    from the cache)."""

    def compile(self, sig):
        # Numba's compiler makes millions of short-lived objects while it keeps
        # hundreds of thousands alive, so Python's collections came often and
        # full ones grew with the heap (five in the default run's first
        # compile). Paused: that compile 6.3-7.8 s -> 4.8-5.7 s (alternating
        # runs), for ~40 MB more peak memory.
        with _gc_paused():
            return super().compile(sig)


class InnerDispatcher(KernelDispatcher):
    """The dispatcher of a :func:`jit_inner` helper: compiled code calls it
    as any other; a call from Python raises (without an entry wrapper the
    call would crash the interpreter)."""

    def get_call_template(self, args, kws):
        # Typed as their plain types: a constant argument (a code, an offset
        # of 0) would otherwise compile another copy of the helper per value.
        return super().get_call_template(tuple(types.unliteral(a) for a in args),
                                         {k: types.unliteral(v) for k, v in kws.items()})

    def add_overload(self, cres):
        # Only compiled callers use a helper's code: nothing for the C
        # dispatcher (whose table holds callables; a helper has none).
        self.overloads[tuple(cres.signature.args)] = cres

    def __call__(self, *args, **kwargs):
        raise TypeError(f"{self.py_func.__module__}.{self.py_func.__qualname__} is a helper of the compiled "
                        "kernels, callable from compiled code only; use the kernels in jitprop.kernels")


def _compile(fn, fastmath, inner=None):
    options = {**OPTIONS, "fastmath": set(fastmath), "nopython": True}
    options.pop("cache")  # RobustCache below, for kernels
    if inner:
        disp = InnerDispatcher(py_func=fn, locals={}, targetoptions={**options, **inner},
                               pipeline_class=_InnerCompiler)
    else:
        disp = KernelDispatcher(py_func=fn, locals={}, targetoptions=options)
        try:
            disp._cache = RobustCache(disp.py_func)
        except RuntimeError as exc:  # "no locator available": nowhere writable to keep compiled code
            _say_once("nocache", f"no writable place for the compiled-kernel cache ({exc}); compiling without "
                                 "one (set NUMBA_CACHE_DIR to a writable folder to keep compiled kernels)")
    JITTED.append(disp)
    return disp


def jit(fn, *, exact=False):
    """Compile ``fn``, callable from Python, with :data:`OPTIONS` (cached) and
    register it for the config check; ``exact``: :data:`EXACT_FASTMATH`.
    (No ``parallel``: the kernels run their threads themselves, ``team.py``.)"""
    return _compile(fn, EXACT_FASTMATH if exact else FASTMATH)


def jit_inner(fn):
    """As :func:`jit`, for a helper that only compiled code calls (it cannot
    be called from Python): see :data:`INNER`."""
    return _compile(fn, FASTMATH, inner=INNER)


def jit_leaf(fn):
    """As :func:`jit_inner`, for a helper that allocates nothing and calls
    nothing that does (a micro-kernel, a rule): see :data:`LEAF`."""
    return _compile(fn, FASTMATH, inner=LEAF)


def jit_inline(fn):
    """As :func:`jit_inner`, for a small helper: inlined into each caller's
    Numba IR (typed there; no compiled function of its own)."""
    return _compile(fn, FASTMATH, inner={**INNER, "inline": "always"})


def jit_inner_exact(fn):
    """As :func:`jit_inner`, with :data:`EXACT_FASTMATH` (no reassociation)."""
    return _compile(fn, EXACT_FASTMATH, inner=INNER)
