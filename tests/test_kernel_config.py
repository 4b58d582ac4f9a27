"""Every jitted function uses the shared Numba options, lives in kernels/,
and every public kernel has a twin of the same name and signature, listed in
the same order, and a checked wrapper."""
import ast
import gc
import inspect
import pathlib

import numba
import numpy as np
import pytest

import jitprop
import jitprop.kernels as K
import jitprop.kernels.reference as R
from jitprop.kernels import (
    activations, config, epoch, fastexp, gemm, linear, losses, optimizers, registry, sample, sync, worker,
)

MODULES = [activations, linear, losses, optimizers, epoch, fastexp, gemm, sync, worker, sample]
# fastexp's range reduction must not be reassociated (see kernels/config.py)
EXACT_MODULES = {fastexp.__name__}


def _dispatchers():
    for mod in MODULES:
        for name, obj in vars(mod).items():
            if isinstance(obj, numba.core.registry.CPUDispatcher) and obj.__module__ == mod.__name__:
                yield name, obj


def test_every_jitted_function_uses_the_config_options():
    found = list(_dispatchers())
    assert len(found) >= 25
    for name, disp in found:
        opts = disp.targetoptions
        wanted = config.EXACT_FASTMATH if disp.__module__ in EXACT_MODULES else config.FASTMATH
        if opts.get("no_cpython_wrapper"):  # a helper: linked into and cached with its callers
            assert opts.get("no_cfunc_wrapper") and not isinstance(disp._cache, config.RobustCache), name
        else:
            assert isinstance(disp._cache, config.RobustCache), name  # cached, damage-proof
        assert opts.get("nogil") is True and opts.get("error_model") == "numpy", name
        assert set(opts.get("fastmath")) == set(wanted), name
        assert "nnan" not in opts.get("fastmath") and "ninf" not in opts.get("fastmath"), name
        assert disp in config.JITTED, name


def test_only_python_callable_functions_get_entry_wrappers_and_cache_entries():
    public = {name for name, d in _dispatchers() if not d.targetoptions.get("no_cpython_wrapper")}
    # the whole-network kernels are Python drivers of compiled workers (run on several threads)
    drivers = {r.name for r in registry.KERNELS if r.compiled.py_func is r.compiled}
    assert drivers == {"train_epoch", "train_epoch_per_sample", "network_forward"}
    assert public == (set(K.KERNEL_NAMES) - drivers) | {"_epoch_worker", "_per_sample_worker", "exp_nonpositive_array"}
    with pytest.raises(TypeError, match="jitprop.kernels.gemm.rows_tile is a helper of the compiled kernels, callable "
                                        "from compiled code only"):
        gemm.rows_tile(*range(18))  # without the guard: a segmentation fault


def test_a_helper_is_linked_into_its_callers_without_machine_code_of_its_own():
    from numba.core import types
    from numba.core.registry import cpu_target

    @config.jit_leaf
    def twice(x):
        return x + x

    @numba.njit(cache=False)
    def caller(x):
        return twice(x) + 1.0

    twice.compile((types.float64,))
    (helper,) = twice.overloads.values()
    engine = cpu_target.target_context.codegen()._engine
    # Numba made machine code (and a module optimisation) for every helper
    # as well as for each caller that links it: a quarter of a first run's
    # compile time
    assert not engine.is_symbol_defined(helper.fndesc.mangled_name)
    assert caller(2.0) == 5.0 and caller(-0.25) == 0.5  # linked into the caller's module and run there
    (outer,) = caller.overloads.values()
    assert engine.is_symbol_defined(outer.fndesc.mangled_name)
    with pytest.raises(TypeError, match="callable from compiled code only"):
        twice(2.0)
    with pytest.raises(TypeError, match="callable from compiled code only"):
        helper.entry_point(2.0)


def test_a_helper_that_needs_numba_s_environment_is_refused_when_compiled():
    # A helper's code runs linked into its callers, which set up only their
    # own environment (a cached caller sets up all): print in a helper would
    # fail on a first run and work on later ones (or hang with the GIL held)
    from numba.core import types
    from numba.core.errors import UnsupportedError

    @config.jit_inner
    def shows(x):
        print(x)
        return x

    with pytest.raises(UnsupportedError, match="shows: a helper cannot use Numba's environment"):
        shows.compile((types.float64,))


def test_every_kernel_has_a_twin_with_the_same_signature():
    assert len(K.KERNEL_NAMES) == len(registry.KERNELS) >= 14
    for name in K.KERNEL_NAMES:
        kernel = getattr(K, name)
        twin = getattr(R, name)
        assert inspect.signature(kernel.compiled.py_func) == inspect.signature(twin), name
        assert inspect.signature(kernel) == inspect.signature(twin), name


def test_twins_are_listed_in_kernel_order():
    tree = ast.parse(pathlib.Path(R.__file__).read_text())
    defined = [n.name for n in tree.body if isinstance(n, ast.FunctionDef) and not n.name.startswith("_")]
    assert defined == list(K.KERNEL_NAMES)


def test_every_kernel_has_a_recipe_that_makes_valid_inputs():
    rng = np.random.default_rng(0)
    for r in registry.KERNELS:
        for variant in r.variants:
            args = r.inputs(rng, 3, 5, 4, np.float32, variant)
            getattr(K, r.name)(*args)  # the checked wrapper accepts what the recipe makes


def test_njit_appears_only_in_kernels():
    root = pathlib.Path(jitprop.__file__).resolve().parent.parent
    offenders = []
    for folder in ("jitprop", "model", "data", "bench"):
        for path in (root / folder).rglob("*.py"):
            text = path.read_text()
            if "@njit" in text or "numba.njit" in text or "@jit" in text:
                offenders.append(str(path))
    assert offenders == []


@pytest.mark.parametrize("call, match", [
    (lambda: K.linear_forward(np.empty((3, 4), np.float32), np.ones((3, 5), np.float32),
                              np.ones((4, 6), np.float32), np.ones((1, 4), np.float32), 0), r"w: axis 1 \(I\) should be 5"),
    (lambda: K.linear_forward(np.empty((3, 4)), np.ones((3, 5), np.float32), np.ones((4, 5)), np.ones((1, 4)), 0),
     r"x: expected float64 like the arrays before it, got float32"),
    (lambda: K.linear_forward(np.empty((3, 4)), np.ones((3, 5)), np.ones((4, 5)), np.ones((1, 4)), 9), r"act: expected one of"),
    (lambda: K.linear_forward(np.empty((4, 3)).T, np.ones((3, 5)), np.ones((4, 5)), np.ones((1, 4)), 0), r"C-contiguous"),
    (lambda: K.activation_forward(np.empty((2, 2)), [[1.0, 2.0]], 1), r"z: expected a numpy array"),
    (lambda: K.network_forward(np.empty((2, 3)), np.zeros(5), np.array([2, 3], np.int64), np.zeros(1, np.int64),
                               np.ones((2, 2)), 1), r"params: widths \[2, 3\] need 9 parameters, got 5"),
    (lambda: K.train_epoch(np.zeros(9), np.zeros((0, 9)), np.array([2, 3], np.int64), np.zeros(1, np.int64), 0, 0,
                           np.zeros(7), 0, False, np.ones((4, 2)), np.ones((4, 3)), np.array([0, 1, 2, 7], np.int64),
                           2, np.zeros(2)), r"order: expected row indices in 0..3"),
])
def test_checked_wrappers_name_the_argument_instead_of_crashing(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def _run(code, env_extra, tmp_path):
    import os
    import subprocess
    import sys
    env = dict(os.environ, **env_extra)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path,
                          timeout=600)


SMALL_KERNEL = ("import numpy as np, jitprop.kernels as K; o = np.empty((2, 3)); "
                "K.activation_forward(o, np.ones((2, 3)), 1); print(round(float(o[0, 0]), 6))")


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_damaged_cache_entry_is_moved_aside_and_recompiled(tmp_path, damage):
    cache = tmp_path / "cache"
    env = {"NUMBA_CACHE_DIR": str(cache)}
    first = _run(SMALL_KERNEL, env, tmp_path)
    assert first.returncode == 0 and first.stdout.strip() == "0.731059", first.stderr
    files = [p for p in cache.rglob("*") if p.suffix in (".nbi", ".nbc")]
    assert files
    for p in files:
        p.write_bytes(b"garbage\n" if damage == "garbage" else p.read_bytes()[:20])
    second = _run(SMALL_KERNEL, env, tmp_path)
    assert second.returncode == 0 and second.stdout.strip() == "0.731059", second.stderr
    assert "was damaged" in second.stderr and "compiling again" in second.stderr
    assert list(cache.rglob("*.corrupt"))
    third = _run(SMALL_KERNEL, env, tmp_path)
    assert third.returncode == 0 and "damaged" not in third.stderr  # the fresh entries load


def test_loading_a_cached_kernel_leaves_the_compiler_unloaded(tmp_path):
    # Numba "refreshed" its compiler before each cache load: imported and
    # installed every lowering registry (numba.np.linalg, which imports
    # scipy.linalg, ...), 0.3 s of every warm `jitprop train`, for code that
    # is machine code already. A load sets up only the runtime (NRT) the code
    # calls; the epoch kernel, which allocates, runs loaded in the same-bits
    # test below.
    code = SMALL_KERNEL + "; import sys; print('numba.np.linalg' in sys.modules)"
    env = {"NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    compiled, loaded = (_run(code, env, tmp_path) for _ in range(2))
    assert compiled.stdout.split() == ["0.731059", "True"], compiled.stderr
    assert loaded.stdout.split() == ["0.731059", "False"], loaded.stderr


def test_with_nowhere_to_cache_the_kernels_still_run(tmp_path):
    code = ("import numba.core.caching as c; c.CacheImpl._locator_classes = []; " + SMALL_KERNEL +
            "; import jitprop; print(jitprop.__version__)")
    done = _run(code, {}, tmp_path)
    assert done.returncode == 0 and done.stdout.splitlines()[0] == "0.731059", done.stderr
    assert "compiling without one" in done.stderr and "Traceback" not in done.stderr


def test_an_edit_to_any_kernel_file_recompiles_every_kernel(tmp_path):
    # Kernels inline helpers from other files (train_epoch inlines gemm.py):
    # a cached entry must be checked against every kernel file, not only its
    # own. Simulated: the same function, cached, then loaded with the stamp of
    # all kernel files as it is (a hit) and as after an edit (a miss).
    from jitprop.kernels.config import KERNELS_STAMP
    assert {"gemm.py", "epoch.py", "activations.py", "simd.py"} <= {name for name, _, _ in KERNELS_STAMP}
    (tmp_path / "mod.py").write_text(
        "from jitprop.kernels.config import jit\n@jit\ndef f(x):\n    return x + 1\n")
    code = ("import sys; sys.path.insert(0, {root!r}); import jitprop.kernels.config as c; {patch}"
            "import mod; mod.f(1); print(sum(mod.f.stats.cache_hits.values()), sum(mod.f.stats.cache_misses.values()))")
    env = {"NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    runs = [_run(code.format(root=str(tmp_path), patch=patch), env, tmp_path) for patch in (
        "", "", "c.KERNELS_STAMP = c.KERNELS_STAMP + (('gemm.py', 0, 1),); ")]
    for done in runs:
        assert done.returncode == 0, done.stderr
    first, again, edited = (tuple(map(int, done.stdout.split())) for done in runs)
    assert first == (0, 1) and again == (1, 0)  # compiled and saved; then loaded
    assert edited == (0, 1)  # another kernel file changed: not loaded, compiled again


FRESH_OR_CACHED = """
import hashlib, numpy as np, jitprop.kernels as K
from jitprop.kernels.losses import LOSSES
from jitprop.kernels.optimizers import OPTIMIZERS, hyper_vector
rng = np.random.default_rng(0)
sizes, acts = np.array([784, 8, 10]), np.array([2, 0])
params = (rng.standard_normal(784 * 8 + 8 + 8 * 10 + 10) * 0.05).astype(np.float32)
state = np.zeros((2, params.shape[0]), np.float32)
x = rng.standard_normal((300, 784)).astype(np.float32)
y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 300)]
K.train_epoch(params, state, sizes, acts, LOSSES["softmax-ce"], OPTIMIZERS["adam"], hyper_vector(), 0, True,
              x, y, rng.permutation(300), 30, np.full(10, 0.01))
from jitprop.kernels.worker import _epoch_worker
print(hashlib.sha256(params.tobytes()).hexdigest(), sum(_epoch_worker.stats.cache_hits.values()))
"""


def test_a_kernel_gives_the_same_bits_freshly_compiled_and_loaded_from_the_cache(tmp_path):
    # Found by CI: with the "contract" fastmath flag, LLVM fused a * b + c
    # into an FMA in the code Numba ran after compiling but not in the object
    # code it cached (or the reverse), so a run's first epoch differed from
    # every later run's in the last bits.
    env = {"NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    fresh, cached = (_run(FRESH_OR_CACHED, env, tmp_path) for _ in range(2))
    assert fresh.returncode == 0 and cached.returncode == 0, fresh.stderr + cached.stderr
    (fresh_bits, fresh_hits), (cached_bits, cached_hits) = (done.stdout.split() for done in (fresh, cached))
    assert (fresh_hits, cached_hits) == ("0", "1")  # compiled, then loaded
    assert fresh_bits == cached_bits


COMPILED_FOR_EPOCHS = """
import numba.core.base
from numba.core import event
import jitprop.kernels.config as config
compiled, foreign, subroutines = [], [], []
class Listener(event.Listener):
    def on_start(self, ev):
        d = ev.data["dispatcher"]
        compiled.append(d.py_func.__module__ + ":" + d.py_func.__qualname__)
        if d not in config.JITTED:
            foreign.append(compiled[-1])
    def on_end(self, ev):
        pass
event.register("numba:compile", Listener())
_subroutine = numba.core.base.BaseContext._compile_subroutine_no_cache
def recorded(self, builder, impl, sig, *args, **kwargs):
    subroutines.append(getattr(impl, "__qualname__", repr(impl)))
    return _subroutine(self, builder, impl, sig, *args, **kwargs)
numba.core.base.BaseContext._compile_subroutine_no_cache = recorded
""" + FRESH_OR_CACHED + """
K.train_epoch_per_sample(params, state, sizes, acts, LOSSES["softmax-ce"], OPTIMIZERS["adam"], hyper_vector(), 0,
                         x, y, rng.permutation(300), np.full(300, 0.001))
print("compiled", *compiled)
print("foreign", *foreign)
print("subroutines", *subroutines)
"""


def test_an_epoch_s_first_compile_makes_only_jitprop_s_own_functions(tmp_path):
    # Numba compiled each implementation of an @overload (its np.empty,
    # np.full, min, max, scalar view; our vector operators, fma, exp dispatch)
    # and each compile_internal subroutine (reshape, float ** int) as a
    # function of its own, with machine code, on a first run: 0.7-1.2 s of the
    # default run's ~6 s compile. Both epoch kernels (minibatch and per-sample)
    # now compile only functions made with config.py.
    done = _run(COMPILED_FOR_EPOCHS, {"NUMBA_CACHE_DIR": str(tmp_path / "cache")}, tmp_path)
    assert done.returncode == 0, done.stderr
    lines = {line.split()[0]: line.split()[1:] for line in done.stdout.splitlines()[1:]}
    assert {"jitprop.kernels.worker:_epoch_worker", "jitprop.kernels.sample:_per_sample_worker",
            "jitprop.kernels.gemm:update_tile"} <= set(lines["compiled"])
    assert lines["foreign"] == [] and lines["subroutines"] == []


def _gc_state_recorder(seen):
    """An intrinsic whose typing (which runs inside the compile) records
    whether the garbage collector is on."""
    from numba.core import cgutils, types
    from numba.extending import intrinsic

    @intrinsic
    def gc_state(typingctx, x):
        seen.append(gc.isenabled())

        def codegen(context, builder, sig, args):
            return cgutils.true_bit
        return types.boolean(x), codegen
    return gc_state


def test_the_garbage_collector_is_paused_while_a_kernel_compiles_and_restored_after():
    seen = []
    gc_state = _gc_state_recorder(seen)

    def probe(x):
        return gc_state(x)

    def broken(x):
        return gc_state(x) + "text"  # fails typing after the probe is typed

    assert gc.isenabled()
    kernel = config._compile(probe, config.FASTMATH)  # a kernel without a cache entry of its own
    kernel._cache = numba.core.caching.NullCache()
    assert kernel(1.0) is True and seen == [False] and gc.isenabled()
    failing = config._compile(broken, config.FASTMATH)
    failing._cache = numba.core.caching.NullCache()
    with pytest.raises(numba.core.errors.TypingError):
        failing(1)  # each argument type is typed (and recorded) once
    assert seen == [False, False] and gc.isenabled()  # back on after a failed compile too
    gc.disable()
    try:  # left off when the caller had it off
        kernel(np.float32(2.0))
        assert seen == [False, False, False] and not gc.isenabled()
    finally:
        gc.enable()
