"""Every jitted function uses the shared Numba options, lives in kernels/,
and has a twin of the same name and signature listed in the same order."""
import ast
import inspect
import pathlib

import numba
import pytest

import jitprop
import jitprop.kernels as K
import jitprop.kernels.reference as R
from jitprop.kernels import activations, config, costs, fastexp, linear, network, sgd

MODULES = [linear, activations, costs, sgd, network, fastexp]
# fastexp's range reduction must not be reassociated (see kernels/config.py)
EXACT_MODULES = {fastexp.__name__}


def _dispatchers():
    for mod in MODULES:
        for name, obj in vars(mod).items():
            if isinstance(obj, numba.core.registry.CPUDispatcher) and obj.__module__ == mod.__name__:
                yield name, obj


def test_every_jitted_function_uses_the_config_options():
    found = list(_dispatchers())
    assert len(found) >= 20
    for name, disp in found:
        opts = disp.targetoptions
        wanted = config.EXACT_FASTMATH if disp.__module__ in EXACT_MODULES else config.FASTMATH
        assert type(disp._cache).__name__ == "FunctionCache", name  # cache=True
        assert opts.get("nogil") is True and opts.get("error_model") == "numpy", name
        assert set(opts.get("fastmath")) == set(wanted), name
        assert "nnan" not in opts.get("fastmath") and "ninf" not in opts.get("fastmath"), name
        assert disp in config.JITTED, name


def test_every_kernel_has_a_twin_with_the_same_signature():
    for name in K.KERNEL_NAMES:
        kernel = getattr(K, name)
        twin = getattr(R, name)
        assert inspect.signature(kernel.py_func) == inspect.signature(twin), name


def test_twins_are_listed_in_kernel_order():
    tree = ast.parse(pathlib.Path(R.__file__).read_text())
    defined = [n.name for n in tree.body if isinstance(n, ast.FunctionDef) and not n.name.startswith("_")]
    assert defined == list(K.KERNEL_NAMES)


def test_njit_appears_only_in_kernels():
    root = pathlib.Path(jitprop.__file__).resolve().parent.parent
    offenders = []
    for folder in ("jitprop", "model", "data", "bench"):
        for path in (root / folder).rglob("*.py"):
            text = path.read_text()
            if "@njit" in text or "numba.njit" in text or "@jit" in text:
                offenders.append(str(path))
    assert offenders == []
