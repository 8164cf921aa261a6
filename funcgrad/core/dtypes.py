"""dtype helpers: what is differentiable, Python scalars as weak types, default float dtype."""

from __future__ import annotations

from typing import Any

import numpy as np

from funcgrad.core.config import config

_python_scalars = (bool, int, float, complex)


def is_python_scalar(x: Any) -> bool:
    return type(x) in _python_scalars


def dtype_of(x: Any) -> np.dtype:
    """The dtype of an array-like; Python scalars are reported as their NumPy default."""
    d = getattr(x, "dtype", None)
    if d is not None:
        return d
    if type(x) is float:
        return np.dtype(config.default_float_dtype)
    return np.result_type(x)


def is_inexact(dtype) -> bool:
    return np.dtype(dtype).kind in "fc"


def is_float(dtype) -> bool:
    return np.dtype(dtype).kind == "f"


def default_float() -> np.dtype:
    return config.default_float_dtype


def canonical_float(dtype) -> np.dtype:
    """Integers and bools promote to the default float dtype; floats are kept."""
    dtype = np.dtype(dtype)
    return dtype if dtype.kind in "fc" else default_float()


def result_type(*args: Any) -> np.dtype:
    """NumPy 2 promotion, where Python scalars are weak (they never widen an array's dtype)."""
    return np.result_type(*args)
