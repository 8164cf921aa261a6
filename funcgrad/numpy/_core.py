"""Conversion of NumPy-style inputs (lists, scalars, NumPy arrays) and array creation."""

from __future__ import annotations

from typing import Any

import numpy as np

from funcgrad import lax
from funcgrad.core.array import Array, ArrayBase
from funcgrad.core.dtypes import default_float
from funcgrad.core.trace import Tracer

ndarray = ArrayBase  # isinstance(x, fnp.ndarray) holds for Arrays and tracers alike


def _np_default(value: Any, dtype=None) -> np.ndarray:
    """A NumPy array from Python data; Python floats become the default float dtype."""
    arr = np.array(value, dtype=dtype)
    if dtype is None and arr.dtype == np.float64 and not _has_float64(value):
        arr = arr.astype(default_float())
    if dtype is None and arr.dtype == np.complex128 and not _has_float64(value):
        arr = arr.astype(np.complex64 if default_float() == np.float32 else np.complex128)
    return arr


def _has_float64(value: Any) -> bool:
    if isinstance(value, (np.ndarray, np.generic)):
        return value.dtype in (np.float64, np.complex128)
    if isinstance(value, (list, tuple)):
        return any(_has_float64(v) for v in value)
    return False


def _contains_traced(value: Any) -> bool:
    if isinstance(value, ArrayBase):
        return True
    if isinstance(value, (list, tuple)):
        return any(_contains_traced(v) for v in value)
    return False


def asarray(a: Any, dtype=None, copy: bool | None = None) -> Any:
    """Converts ``a`` to a funcgrad array (NumPy's ``asarray``); Arrays and tracers pass through.

    Python floats become float32 (``fg.config.default_float_dtype``); NumPy inputs keep their
    dtype and are copied, so later writes to them do not change the Array. Lists may contain
    arrays being differentiated.

    Example:
      >>> fnp.asarray([1.0, 2.0]).dtype
      dtype('float32')
    """
    if isinstance(a, ArrayBase):
        return a if dtype is None else lax.convert_element_type(a, dtype)
    if isinstance(a, (list, tuple)) and _contains_traced(a):
        from funcgrad.numpy._shape import stack

        out = stack([asarray(v) for v in a])
        return out if dtype is None else lax.convert_element_type(out, dtype)
    if hasattr(a, "__array__") and not isinstance(a, (np.ndarray, np.generic)):
        xp_arr = a
        if type(a).__module__.startswith("cupy"):
            return Array(a.astype(dtype) if dtype is not None else a.copy())
        a = np.asarray(xp_arr)
    if isinstance(a, (np.ndarray, np.generic)):
        v = np.array(a, dtype=dtype, copy=True)
        return Array(v if v.ndim else v[()])
    try:
        v = _np_default(a, dtype)
    except (ValueError, TypeError) as e:
        raise TypeError(f"asarray: cannot convert {type(a).__name__} to an array: {e}") from e
    if v.dtype == object:
        raise TypeError(f"asarray: cannot convert {a!r} to a numeric array")
    return Array(v if v.ndim else v[()])


def array(object: Any, dtype=None, copy: bool = True) -> Any:  # noqa: A002 - NumPy's name
    """Creates an array (NumPy's ``array``); same conversions as ``asarray``."""
    return asarray(object, dtype)


def operand(x: Any) -> Any:
    """An operand for a lax call: arrays/tracers and Python scalars pass through (scalars stay
    weakly typed); everything else goes through ``asarray``."""
    if isinstance(x, ArrayBase) or type(x) in (int, float, bool, complex):
        return x
    return asarray(x)


def unary_operand(x: Any) -> Any:
    """Like ``operand``, but a lone Python scalar becomes an array of the default dtype."""
    if isinstance(x, ArrayBase):
        return x
    return asarray(x)


def _dtype_or_default(dtype):
    return default_float() if dtype is None else np.dtype(dtype)


def zeros(shape, dtype=None) -> Array:
    """An array of zeros (float32 by default). Example: ``fnp.zeros((2, 3))``."""
    return Array(np.zeros(_shape_arg(shape), _dtype_or_default(dtype)))


def ones(shape, dtype=None) -> Array:
    """An array of ones (float32 by default). Example: ``fnp.ones(3)``."""
    return Array(np.ones(_shape_arg(shape), _dtype_or_default(dtype)))


def full(shape, fill_value, dtype=None) -> Any:
    """An array filled with ``fill_value`` (differentiable in ``fill_value``).

    Example: ``fnp.full((2,), 7.0)``.
    """
    shape = _shape_arg(shape)
    if isinstance(fill_value, ArrayBase):
        v = fill_value if dtype is None else lax.convert_element_type(fill_value, dtype)
        return lax.broadcast_to(v, shape)
    if dtype is None:
        dtype = np.asarray(fill_value).dtype
        if dtype == np.float64 and type(fill_value) is float:
            dtype = default_float()
    return Array(np.full(shape, fill_value, dtype))


def empty(shape, dtype=None) -> Array:
    """Same as ``zeros``: funcgrad arrays are immutable, so no uninitialised memory is exposed."""
    return zeros(shape, dtype)


def _like_dtype(a, dtype):
    return np.dtype(dtype) if dtype is not None else asarray(a).dtype


def zeros_like(a, dtype=None, shape=None) -> Array:
    """Zeros with the shape and dtype of ``a``."""
    return Array(np.zeros(np.shape(a) if shape is None else shape, _like_dtype(a, dtype)))


def ones_like(a, dtype=None, shape=None) -> Array:
    """Ones with the shape and dtype of ``a``."""
    return Array(np.ones(np.shape(a) if shape is None else shape, _like_dtype(a, dtype)))


def full_like(a, fill_value, dtype=None, shape=None) -> Any:
    """``fill_value`` with the shape and dtype of ``a``."""
    shape = _shape_of(a) if shape is None else shape
    return full(shape, fill_value, _like_dtype(a, dtype))


def empty_like(a, dtype=None, shape=None) -> Array:
    """Same as ``zeros_like``."""
    return zeros_like(a, dtype, shape)


def arange(start, stop=None, step=1, dtype=None) -> Array:
    """Evenly spaced values in ``[start, stop)`` (NumPy's ``arange``; floats default to float32)."""
    if stop is None:
        start, stop = 0, start
    start, stop, step = (_concrete(v, "arange") for v in (start, stop, step))
    v = np.arange(start, stop, step, dtype=dtype)
    if dtype is None and v.dtype == np.float64:
        v = v.astype(default_float())
    return Array(v)


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    """``num`` evenly spaced values from ``start`` to ``stop`` (differentiable in both)."""
    if isinstance(start, ArrayBase) or isinstance(stop, ArrayBase):
        from funcgrad.numpy._shape import moveaxis

        start, stop = asarray(start), asarray(stop)
        div = (num - 1) if endpoint else num
        steps = np.arange(num, dtype=np.result_type(start.dtype, stop.dtype)) / max(div, 1)
        shape = np.broadcast_shapes(start.shape, stop.shape)
        steps = steps.reshape((num,) + (1,) * len(shape))
        out = start + (stop - start) * Array(steps)
        out = moveaxis(out, 0, axis)
        return (out, (stop - start) / max(div, 1)) if retstep else out
    v, step = np.linspace(start, stop, num, endpoint=endpoint, retstep=True, axis=axis)
    if dtype is not None:
        v = v.astype(dtype)
    elif v.dtype == np.float64 and not _has_float64(start) and not _has_float64(stop):
        v = v.astype(default_float())
    return (Array(v), step) if retstep else Array(v)


def eye(N, M=None, k=0, dtype=None) -> Array:
    """A 2-d array with ones on the ``k``-th diagonal."""
    return Array(np.eye(N, M, k, dtype=_dtype_or_default(dtype)))


def identity(n, dtype=None) -> Array:
    """The ``n`` x ``n`` identity matrix."""
    return eye(n, dtype=dtype)


def _shape_arg(shape) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(int(_concrete(d, "shape")) for d in shape)


def _shape_of(a) -> tuple[int, ...]:
    return tuple(a.shape) if hasattr(a, "shape") else np.shape(a)


def _concrete(v, who):
    if isinstance(v, Tracer):
        v = v.concrete_value()
    if isinstance(v, Array):
        v = v._value
    return v.item() if isinstance(v, (np.ndarray, np.generic)) else v
