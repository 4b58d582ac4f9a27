"""Every jitted function uses the shared Numba options, lives in kernels/,
and every public kernel has a twin of the same name and signature, listed in
the same order, and a checked wrapper."""
import ast
import inspect
import pathlib

import numba
import numpy as np
import pytest

import jitprop
import jitprop.kernels as K
import jitprop.kernels.reference as R
from jitprop.kernels import activations, config, epoch, fastexp, linear, losses, optimizers, registry

MODULES = [activations, linear, losses, optimizers, epoch, fastexp]
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
        assert type(disp._cache).__name__ == "FunctionCache", name  # cache=True
        assert opts.get("nogil") is True and opts.get("error_model") == "numpy", name
        assert set(opts.get("fastmath")) == set(wanted), name
        assert "nnan" not in opts.get("fastmath") and "ninf" not in opts.get("fastmath"), name
        assert disp in config.JITTED, name


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
