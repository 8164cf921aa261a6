"""The backends tests run on: "cpu", "gpu" (real CuPy) and "fake-gpu" (tests/fake_cupy.py)."""

from __future__ import annotations

import contextlib
import importlib.util
import os

import pytest

from funcgrad.core import backend as _backend
from tests import fake_cupy

BACKENDS = ("cpu", "gpu", "fake-gpu")
_real = []


def real_gpu_count() -> int:
    """GPUs real CuPy sees (0 without CuPy or without a GPU); probed once."""
    if not _real:
        if _is_fake():  # probed only where the real module is reachable
            return 0
        n = 0
        if importlib.util.find_spec("cupy") is not None:
            try:
                import cupy

                n = int(cupy.cuda.runtime.getDeviceCount())
            except Exception:
                n = 0
        _real.append(n)
    return _real[0]


def _is_fake() -> bool:
    import sys

    return getattr(sys.modules.get("cupy"), "fake", False)


@contextlib.contextmanager
def platform(name: str):
    """``FUNCGRAD_PLATFORM=name`` inside the block (restored after)."""
    old = os.environ.get("FUNCGRAD_PLATFORM")
    os.environ["FUNCGRAD_PLATFORM"] = name
    try:
        yield
    finally:
        if old is None:
            del os.environ["FUNCGRAD_PLATFORM"]
        else:
            os.environ["FUNCGRAD_PLATFORM"] = old


@contextlib.contextmanager
def use_backend(name: str, n_fake_devices: int = 2):
    """Runs the block on backend ``name``: arrays made from host data land on it."""
    if name == "cpu":
        with platform("cpu"):
            yield name
    elif name == "gpu":
        if real_gpu_count() == 0:
            pytest.skip("needs CuPy and an NVIDIA GPU (pip install funcgrad[cuda]); none here")
        _backend.reset()
        with platform("gpu"):
            yield name
        _backend.reset()
    elif name == "fake-gpu":
        with fake_cupy.installed(n_fake_devices), platform("gpu"):
            yield name
    else:
        raise ValueError(f"unknown backend {name!r}; the backends are {BACKENDS}")


def gpu_count(name: str) -> int:
    """How many GPUs backend ``name`` has."""
    if name == "gpu":
        return real_gpu_count()
    return {"cpu": 0, "fake-gpu": 2}[name]
