"""Sorting and searching with NumPy's names: sort, argsort, searchsorted, unique."""

from __future__ import annotations

import numpy as np

from funcgrad import lax
from funcgrad.core.array import Array
from funcgrad.lax.sort import _iota, searchsorted_p
from funcgrad.numpy._core import operand, unary_operand
from funcgrad.numpy._indexing import _concrete, _pad_to_size


def _prepare(a, axis, who):
    x = unary_operand(a)
    if axis is None:
        x = lax.reshape(x, (x.size,))
        axis = 0
    nd = len(x.shape)
    axis = int(axis)
    if not -nd <= axis < nd:
        raise ValueError(f"fnp.{who}: axis {axis} is out of bounds for an array of shape {x.shape}")
    return x, axis % nd


def _is_stable(kind, stable, who):
    if kind is None:
        return True if stable is None else bool(stable)
    if kind not in ("quicksort", "mergesort", "heapsort", "stable"):
        raise ValueError(f"fnp.{who}: unknown kind {kind!r}")
    return kind in ("mergesort", "stable") or bool(stable)


def sort(a, axis=-1, *, kind=None, order=None, stable=True, descending=False):
    """``a`` sorted along ``axis`` (the flattened array if None); NaNs go last.

    Differentiable: the gradient flows back through the sorting permutation.
    ``descending=True`` sorts largest first (as JAX's ``sort``).

    Example:
      >>> fnp.sort(fnp.asarray([3.0, 1.0, 2.0]))
      Array([1., 2., 3.], dtype=float32)
    """
    if order is not None:
        raise NotImplementedError("fnp.sort: order= (structured arrays) is not supported")
    x, axis = _prepare(a, axis, "sort")
    out = lax.sort(x, axis, is_stable=_is_stable(kind, stable, "sort"))
    return lax.rev(out, (axis,)) if descending else out


def argsort(a, axis=-1, *, kind=None, order=None, stable=True, descending=False):
    """Indices that sort ``a`` along ``axis`` (int64; stable by default, as JAX).

    ``descending=True`` orders largest first and still keeps equal elements in index order.

    Example:
      >>> fnp.argsort(fnp.asarray([3.0, 1.0, 2.0]))
      Array([1, 2, 0], dtype=int64)
    """
    if order is not None:
        raise NotImplementedError("fnp.argsort: order= (structured arrays) is not supported")
    x, axis = _prepare(a, axis, "argsort")
    is_stable = _is_stable(kind, stable, "argsort")
    iota = _iota(x.shape, axis)
    if descending:
        # Stable ascending on the reversed axis, reversed back: descending, ties in index order.
        n = x.shape[axis]
        _, p = lax.sort((lax.rev(x, (axis,)), iota), axis, is_stable=is_stable)
        return (n - 1) - lax.rev(p, (axis,))
    return lax.sort((x, iota), axis, is_stable=is_stable)[1]


def searchsorted(a, v, side="left", sorter=None, *, method=None):
    """Indices where ``v`` would be inserted into the sorted 1-d ``a`` to keep it sorted.

    ``side``: "left" (first suitable position) or "right" (last). Returns int64 indices of
    ``v``'s shape; not differentiable (integer output).

    Example:
      >>> fnp.searchsorted(fnp.asarray([1.0, 2.0, 3.0]), 2.5)
      Array(2, dtype=int64)
    """
    if side not in ("left", "right"):
        raise ValueError(f"fnp.searchsorted: side must be 'left' or 'right', got {side!r}")
    a = unary_operand(a)
    if len(a.shape) != 1:
        raise ValueError(f"fnp.searchsorted: a must be 1-d, got shape {a.shape}")
    if sorter is not None:
        from funcgrad.numpy._indexing import take

        a = take(a, sorter)
    return searchsorted_p.bind(a, operand(v), side=side)


def unique(
    ar,
    return_index=False,
    return_inverse=False,
    return_counts=False,
    axis=None,
    *,
    equal_nan=True,
    size=None,
    fill_value=None,
):
    """The sorted unique elements of ``ar`` (NumPy's ``unique``, same optional outputs).

    Not differentiable; the input must be concrete, since the output shape depends on the
    values. JAX's ``size=`` pads (with ``fill_value``, default the smallest element) or
    truncates the unique values to a fixed length (flattened input only).

    Example:
      >>> fnp.unique(fnp.asarray([3, 1, 3, 2]))
      Array([1, 2, 3], dtype=int64)
    """
    v = _concrete(ar, "unique")
    res = np.unique(
        v,
        return_index=return_index,
        return_inverse=return_inverse,
        return_counts=return_counts,
        axis=axis,
        equal_nan=equal_nan,
    )
    res = list(res) if isinstance(res, tuple) else [res]
    if size is not None:
        if axis is not None:
            raise NotImplementedError("fnp.unique: size= is supported only with axis=None")
        vals = res[0]
        fill = vals[0] if fill_value is None and len(vals) else fill_value
        res[0] = _pad_to_size(vals, size, 0 if fill is None else fill)
        k = 1
        if return_index:
            res[k] = _pad_to_size(res[k], size, 0)
            k += 1
        if return_inverse:
            k += 1
        if return_counts:
            res[k] = _pad_to_size(res[k], size, 0)
    out = [Array(r) for r in res]
    return out[0] if len(out) == 1 else tuple(out)
