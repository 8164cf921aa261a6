"""NumPy indexing: ``x[idx]``, functional updates ``x.at[idx].set/add/...``, take, nonzero,
diagonal; composed from ``lax.gather``/``lax.scatter``."""

from __future__ import annotations

from typing import Any

import numpy as np

from funcgrad import lax
from funcgrad.core.array import Array, ArrayBase
from funcgrad.core.trace import Tracer
from funcgrad.lax import indexing as _lx
from funcgrad.numpy._core import no_out, operand, unary_operand


def getitem(x, idx):
    """``x[idx]`` with NumPy's basic and advanced indexing (``Array.__getitem__``).

    Ints, slices (any step), None, Ellipsis, integer arrays or lists (``x[[0, 0, 2]]``, whose
    gradient accumulates) and boolean masks (whose value must be concrete: the result's shape
    depends on it). Out-of-bounds indices raise IndexError, as in NumPy (JAX clamps).
    """
    spec, arrays = _lx.normalize_index(x.shape, idx, "getitem")
    return _lx.gather_p.bind(x, *arrays, spec=spec, unique_indices=False)


_MODES = (None, "promise_in_bounds")


class _IndexUpdateHelper:
    """``x.at``: indexing it gives a reference whose methods return updated copies of ``x``.

    Example:
      >>> x = fnp.zeros(3)
      >>> x.at[[0, 0, 2]].add(1.0)   # repeated indices accumulate
      Array([2., 0., 1.], dtype=float32)
      >>> x                          # x itself never changes
      Array([0., 0., 0.], dtype=float32)
    """

    __slots__ = ("array",)

    def __init__(self, array):
        self.array = array

    def __getitem__(self, index) -> _IndexUpdateRef:
        return _IndexUpdateRef(self.array, index)

    def __repr__(self):
        return f"_IndexUpdateHelper({self.array!r})"


class _IndexUpdateRef:
    """``x.at[index]``: ``get``, ``set``, ``add``, ``multiply``, ``divide``, ``power``, ``min``,
    ``max``, ``apply``; each returns a new array (JAX's ``.at`` API).

    The keyword hints ``indices_are_sorted`` and ``unique_indices`` are accepted as in JAX
    (``unique_indices=True`` promises no repeated indices, making updates and gradients
    faster). Only ``mode=None``/``"promise_in_bounds"`` is supported: out-of-bounds indices
    raise IndexError (JAX's default drops or clamps them).
    """

    __slots__ = ("array", "index")

    def __init__(self, array, index):
        self.array = array
        self.index = index

    def __repr__(self):
        return f"_IndexUpdateRef({self.array!r}, {self.index!r})"

    def _check(self, name, mode):
        if mode not in _MODES:
            raise NotImplementedError(
                f"x.at[...].{name}: mode={mode!r} is not supported; out-of-bounds indices raise "
                "IndexError (NumPy semantics)"
            )

    def _scatter(self, name, values, mode, unique_indices, scatter_mode):
        self._check(name, mode)
        x = self.array
        who = f"x.at[...].{name}"
        spec, arrays = _lx.normalize_index(x.shape, self.index, who)
        y = operand(values)
        idx_shape = _lx.indexed_shape(x.shape, spec, [a.shape for a in arrays], who)
        _lx._check_update_shape(x.shape, idx_shape, getattr(y, "shape", ()), who)
        return _lx.scatter_p.bind(
            x, y, *arrays, spec=spec, mode=scatter_mode, unique_indices=bool(unique_indices)
        )

    def get(self, *, indices_are_sorted=False, unique_indices=False, mode=None, fill_value=None):
        """``x[index]``."""
        self._check("get", mode)
        spec, arrays = _lx.normalize_index(self.array.shape, self.index, "x.at[...].get")
        return _lx.gather_p.bind(
            self.array, *arrays, spec=spec, unique_indices=bool(unique_indices)
        )

    def set(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        """``x`` with ``x[index] = values`` (for repeated indices the last write wins)."""
        return self._scatter("set", values, mode, unique_indices, "set")

    def add(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        """``x`` with ``x[index] += values``; repeated indices accumulate."""
        return self._scatter("add", values, mode, unique_indices, "add")

    def multiply(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        """``x`` with ``x[index] *= values``; repeated indices multiply repeatedly."""
        return self._scatter("multiply", values, mode, unique_indices, "mul")

    mul = multiply

    def divide(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        """``x`` with ``x[index] /= values`` (a multiplication by ``1 / values``)."""
        if np.dtype(self.array.dtype).kind not in "fc":
            raise TypeError(
                f"x.at[...].divide: the array has integer dtype {self.array.dtype}; convert it "
                "with .astype(float) first"
            )
        return self._scatter("divide", 1.0 / operand(values), mode, unique_indices, "mul")

    def power(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        """``x`` with ``x[index] **= values`` (computed as ``set(get() ** values)``)."""
        self._check("power", mode)
        return self.set(self.get() ** operand(values), unique_indices=unique_indices)

    def min(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        """``x`` with ``x[index] = minimum(x[index], values)``; repeats all take part."""
        return self._scatter("min", values, mode, unique_indices, "min")

    def max(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        """``x`` with ``x[index] = maximum(x[index], values)``; repeats all take part."""
        return self._scatter("max", values, mode, unique_indices, "max")

    def apply(self, func, *, indices_are_sorted=False, unique_indices=False, mode=None):
        """``x`` with ``x[index] = func(x[index])``.

        ``func`` is applied once to the gathered values; with repeated indices it is applied
        once per position, not once per occurrence (JAX applies it per occurrence).
        """
        self._check("apply", mode)
        return self.set(func(self.get()), unique_indices=unique_indices)


# --------------------------------------------------------------------------------------------
# take, take_along_axis, diagonal


def _axis(ndim, axis, who):
    axis = int(axis)
    if not -ndim <= axis < ndim:
        raise ValueError(
            f"fnp.{who}: axis {axis} is out of bounds for an array of {ndim} dimension(s)"
        )
    return axis % ndim


def take(
    a,
    indices,
    axis=None,
    out=None,
    mode=None,
    unique_indices=False,
    indices_are_sorted=False,
    fill_value=None,
):
    """Elements of ``a`` at ``indices`` along ``axis`` (the flattened array if None).

    ``mode``: None/"raise" (out-of-bounds raises IndexError, NumPy's default), "wrap" or
    "clip". JAX's default "fill" is not supported. Repeated indices accumulate in the gradient.

    Example:
      >>> fnp.take(fnp.asarray([[1, 2], [3, 4]]), [0, 0], axis=1)
      Array([[1, 1],
             [3, 3]], dtype=int64)
    """
    no_out("take", out)
    x = unary_operand(a)
    if axis is None:
        x = lax.reshape(x, (x.size,))
        axis = 0
    axis = _axis(len(x.shape), axis, "take")
    n = x.shape[axis]
    if mode in ("wrap", "clip"):
        if n == 0:
            raise IndexError(f"fnp.take: cannot take from an empty axis {axis} with mode={mode!r}")
        indices = _index_operand(indices)
        if isinstance(indices, ArrayBase):
            indices = indices % n if mode == "wrap" else lax.clamp(0, indices, n - 1)
        else:
            indices = np.mod(indices, n) if mode == "wrap" else np.clip(indices, 0, n - 1)
    elif mode not in (None, "raise"):
        raise NotImplementedError(
            f"fnp.take: mode={mode!r} is not supported (use raise, wrap, clip)"
        )
    idx = (slice(None),) * axis + (indices,)
    spec, arrays = _lx.normalize_index(x.shape, idx, "fnp.take")
    return _lx.gather_p.bind(x, *arrays, spec=spec, unique_indices=bool(unique_indices))


def _index_operand(indices):
    if isinstance(indices, ArrayBase):
        return indices
    v = np.asarray(indices)
    if v.dtype.kind not in "iu" and v.size:
        raise TypeError(f"fnp.take: indices must be integers, got dtype {v.dtype}")
    return v.astype(np.int64)


def take_along_axis(arr, indices, axis, mode=None, fill_value=None):
    """``arr`` indexed along ``axis`` by ``indices`` of the same rank (NumPy's
    ``take_along_axis``); ``axis=None`` works on the flattened array.

    Example:
      >>> x = fnp.asarray([[10.0, 30.0, 20.0]])
      >>> fnp.take_along_axis(x, fnp.argsort(x, axis=1), axis=1)
      Array([[10., 20., 30.]], dtype=float32)
    """
    x = unary_operand(arr)
    idx = indices if isinstance(indices, ArrayBase) else _index_operand(indices)
    if isinstance(idx, ArrayBase) and idx.dtype.kind not in "iu":
        raise TypeError(f"fnp.take_along_axis: indices must be integers, got dtype {idx.dtype}")
    if axis is None:
        x = lax.reshape(x, (x.size,))
        axis = 0
        if len(idx.shape) != 1:
            raise ValueError(
                "fnp.take_along_axis: with axis=None the indices must be 1-d, got shape "
                f"{tuple(idx.shape)}"
            )
    axis = _axis(len(x.shape), axis, "take_along_axis")
    if len(idx.shape) != len(x.shape):
        raise ValueError(
            f"fnp.take_along_axis: indices of shape {tuple(idx.shape)} must have the rank of the "
            f"array of shape {x.shape}"
        )
    try:
        np.broadcast_shapes(
            tuple(d for i, d in enumerate(x.shape) if i != axis),
            tuple(d for i, d in enumerate(idx.shape) if i != axis),
        )
    except ValueError:
        raise ValueError(
            f"fnp.take_along_axis: indices of shape {tuple(idx.shape)} do not broadcast against "
            f"the array of shape {x.shape} outside axis {axis}"
        ) from None
    if isinstance(idx, np.ndarray):
        n = x.shape[axis]
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise IndexError(
                f"fnp.take_along_axis: an index is out of bounds for axis {axis} with size {n}"
            )
        idx = Array(idx)
    return _lx.take_along_axis(x, idx, axis)


def diagonal(a, offset=0, axis1=0, axis2=1):
    """The ``offset``-th diagonal over axes ``axis1`` and ``axis2``, as the last axis (NumPy's
    ``diagonal``; a new array, not a view). Differentiable, with a slice-based gradient.

    Example:
      >>> fnp.diagonal(fnp.asarray([[1, 2], [3, 4]]))
      Array([1, 4], dtype=int64)
    """
    x = unary_operand(a)
    nd = len(x.shape)
    if nd < 2:
        raise ValueError(
            f"fnp.diagonal: needs an array of at least 2 dimensions, got shape {x.shape}"
        )
    ax1, ax2 = _axis(nd, axis1, "diagonal"), _axis(nd, axis2, "diagonal")
    if ax1 == ax2:
        raise ValueError(
            f"fnp.diagonal: axis1 and axis2 must differ; {axis1} and {axis2} are the same axis"
        )
    offset = int(offset)
    perm = [i for i in range(nd) if i not in (ax1, ax2)] + [ax1, ax2]
    x = lax.transpose(x, perm)
    *batch, n, m = x.shape
    # Element (i, i + offset) of an n x m matrix sits at i * (m + 1) + offset in the flattened
    # matrix (offset * -m for negative offsets), so the diagonal is one strided slice.
    count = max(0, min(n, m - offset) if offset >= 0 else min(n + offset, m))
    start = offset if offset >= 0 else -offset * m
    flat = lax.reshape(x, tuple(batch) + (n * m,))
    if count == 0:
        return lax.slice_in_dim(flat, 0, 0, 1, axis=len(batch))
    stop = start + (count - 1) * (m + 1) + 1
    return lax.slice_in_dim(flat, start, stop, m + 1, axis=len(batch))


# --------------------------------------------------------------------------------------------
# nonzero and friends: concrete only (the output shape depends on the values)


def _concrete(a, who) -> np.ndarray:
    if isinstance(a, Tracer):
        try:
            a = a.concrete_value()
        except TypeError as e:
            raise TypeError(
                f"fnp.{who}: the result's shape depends on the values, so the input must be "
                "concrete, but it is traced here (e.g. under jit); use fnp.where(cond, x, y) "
                "or pass size=..."
            ) from e
    return np.asarray(a)


def _pad_to_size(idx: np.ndarray, size, fill_value):
    if size is None:
        return idx
    size = int(size)
    if len(idx) >= size:
        return idx[:size]
    fill = 0 if fill_value is None else fill_value
    return np.concatenate([idx, np.full(size - len(idx), fill, idx.dtype)])


def nonzero(a, *, size=None, fill_value=None) -> tuple[Any, ...]:
    """Indices of the non-zero elements, one int64 array per axis (NumPy's ``nonzero``).

    Not differentiable, and the input must be concrete. JAX's ``size=`` (pad with
    ``fill_value``, default 0, or truncate) gives a fixed output length.

    Example:
      >>> fnp.nonzero(fnp.asarray([0, 3, 0, 5]))
      (Array([1, 3], dtype=int64),)
    """
    v = _concrete(a, "nonzero")
    if v.ndim == 0:
        raise ValueError(
            "fnp.nonzero: called on a 0-d array; use fnp.atleast_1d(a).nonzero() instead"
        )
    fills = fill_value if isinstance(fill_value, (tuple, list)) else [fill_value] * v.ndim
    return tuple(
        Array(_pad_to_size(i.astype(np.int64), size, f)) for i, f in zip(np.nonzero(v), fills)
    )


def argwhere(a, *, size=None, fill_value=None):
    """The indices of the non-zero elements as an ``(N, ndim)`` array (concrete input only)."""
    v = _concrete(a, "argwhere")
    out = np.argwhere(v).astype(np.int64)
    if size is not None:
        fill = 0 if fill_value is None else fill_value
        size = int(size)
        if len(out) >= size:
            out = out[:size]
        else:
            pad = np.full((size - len(out), out.shape[1]), fill, np.int64)
            out = np.concatenate([out, pad])
    return Array(out)


def flatnonzero(a, *, size=None, fill_value=None):
    """Indices of the non-zero elements of the flattened array (concrete input only)."""
    v = _concrete(a, "flatnonzero")
    return Array(_pad_to_size(np.flatnonzero(v).astype(np.int64), size, fill_value))
