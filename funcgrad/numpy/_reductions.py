"""Reductions with NumPy's ``axis``/``keepdims``/``ddof`` semantics, composed from lax."""

from __future__ import annotations

import builtins

import numpy as np

from funcgrad import lax
from funcgrad.numpy._core import no_out, unary_operand


def _axes(x, axis, who):
    nd = len(x.shape)
    if axis is None:
        return tuple(range(nd))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        a = int(a)
        if not -nd <= a < nd:
            raise ValueError(
                f"fnp.{who}: axis {a} is out of bounds for an array of shape {x.shape}"
            )
        out.append(a % nd)
    if len(set(out)) != len(out):
        raise ValueError(f"fnp.{who}: repeated axis in {axis}")
    return tuple(sorted(out))


def _keep(x, out, axes, keepdims):
    if not keepdims:
        return out
    return lax.reshape(out, tuple(1 if i in axes else d for i, d in enumerate(x.shape)))


_no_out = no_out


def _sum_dtype(x, dtype):
    if dtype is not None:
        return np.dtype(dtype)
    if x.dtype.kind == "b" or (x.dtype.kind in "iu" and x.dtype.itemsize < 8):
        return np.dtype(np.int64 if x.dtype.kind in "bi" else np.uint64)
    return None


def sum(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):  # noqa: A001
    """Sum over ``axis`` (all axes by default). Example: ``fnp.sum(x, axis=0)``."""
    _no_out("sum", out)
    x = unary_operand(a)
    axes = _axes(x, axis, "sum")
    dt = _sum_dtype(x, dtype)
    if dt is not None:
        x = lax.convert_element_type(x, dt)
    if where is not None:
        x = lax.select(where, x, 0)
    r = _keep(x, lax.reduce_sum(x, axes), axes, keepdims)
    return r if initial is None else r + initial


def _count(x, axes):
    n = 1
    for a in axes:
        n *= x.shape[a]
    return n


def mean(a, axis=None, dtype=None, out=None, keepdims=False, where=None):
    """Arithmetic mean over ``axis``; integer inputs give float (NumPy: float64)."""
    _no_out("mean", out)
    x = unary_operand(a)
    axes = _axes(x, axis, "mean")
    if dtype is not None:
        x = lax.convert_element_type(x, dtype)
    elif x.dtype.kind in "biu":
        x = lax.convert_element_type(x, np.float64)
    if where is not None:
        w = lax.broadcast_to(lax.convert_element_type(unary_operand(where), x.dtype), x.shape)
        return sum(x * w, axis, keepdims=keepdims) / sum(w, axis, keepdims=keepdims)
    n = _count(x, axes)
    s = lax.reduce_sum(x, axes)
    return _keep(x, s / n if n else s * np.nan, axes, keepdims)


def _extremum(name, reduce, a, axis, out, keepdims, initial, where):
    _no_out(name, out)
    x = unary_operand(a)
    axes = _axes(x, axis, name)
    if where is not None or initial is not None:
        if initial is None:
            raise ValueError(f"fnp.{name}: where= needs initial=")
        fill = initial
        if where is not None:
            x = lax.select(where, x, fill)
        r = reduce(x, axes)
        r = lax.max(r, initial) if name in ("max", "amax") else lax.min(r, initial)
        return _keep(x, r, axes, keepdims)
    if builtins.any(x.shape[i] == 0 for i in axes):
        raise ValueError(
            f"fnp.{name}: zero-size array (shape {x.shape}) has no identity; pass initial="
        )
    return _keep(x, reduce(x, axes), axes, keepdims)


def max(a, axis=None, out=None, keepdims=False, initial=None, where=None):  # noqa: A001
    """Maximum over ``axis``; ties share the gradient evenly."""
    return _extremum("max", lax.reduce_max, a, axis, out, keepdims, initial, where)


def min(a, axis=None, out=None, keepdims=False, initial=None, where=None):  # noqa: A001
    """Minimum over ``axis``; ties share the gradient evenly."""
    return _extremum("min", lax.reduce_min, a, axis, out, keepdims, initial, where)


amax, amin = max, min


def prod(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    """Product over ``axis`` (exact gradient even with zeros)."""
    _no_out("prod", out)
    x = unary_operand(a)
    axes = _axes(x, axis, "prod")
    dt = _sum_dtype(x, dtype)
    if dt is not None:
        x = lax.convert_element_type(x, dt)
    if where is not None:
        x = lax.select(where, x, 1)
    r = _keep(x, lax.reduce_prod(x, axes), axes, keepdims)
    return r if initial is None else r * initial


def var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None, correction=None):
    """Variance over ``axis`` with ``ddof`` delta degrees of freedom (NumPy's default 0)."""
    _no_out("var", out)
    if correction is not None:
        ddof = correction
    x = unary_operand(a)
    if x.dtype.kind in "biu":
        x = lax.convert_element_type(x, np.float64)
    if dtype is not None:
        x = lax.convert_element_type(x, dtype)
    axes = _axes(x, axis, "var")
    m = mean(x, axis, keepdims=True, where=where)
    d = x - m
    if x.dtype.kind == "c":
        from funcgrad.numpy._complex import conj

        sq = (d * conj(d)).real
    else:
        sq = d * d
    if where is not None:
        w = lax.broadcast_to(lax.convert_element_type(unary_operand(where), sq.dtype), sq.shape)
        n = sum(w, axis, keepdims=keepdims)
        return sum(sq * w, axis, keepdims=keepdims) / (n - ddof)
    n = _count(x, axes)
    return _keep(x, lax.reduce_sum(sq, axes), axes, keepdims) / builtins.max(n - ddof, 0)


def std(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None, correction=None):
    """Standard deviation over ``axis``.

    The derivative where the deviation is 0 (e.g. one element) is taken as 0, not NaN.
    """
    v = var(a, axis, dtype, out, ddof, keepdims, where=where, correction=correction)
    safe = lax.select(v > 0, v, 1.0)
    return lax.select(v > 0, lax.sqrt(safe), 0.0 * v)


def argmax(a, axis=None, out=None, keepdims=False):
    """Index of the first maximum (over the flattened array when ``axis`` is None)."""
    _no_out("argmax", out)
    x = unary_operand(a)
    if axis is None:
        r = lax.argmax(lax.reshape(x, (x.size,)), 0)
        return lax.reshape(r, (1,) * len(x.shape)) if keepdims else r
    ax = _axes(x, axis, "argmax")[0]
    return _keep(x, lax.argmax(x, ax), (ax,), keepdims)


def argmin(a, axis=None, out=None, keepdims=False):
    """Index of the first minimum (over the flattened array when ``axis`` is None)."""
    _no_out("argmin", out)
    x = unary_operand(a)
    if axis is None:
        r = lax.argmin(lax.reshape(x, (x.size,)), 0)
        return lax.reshape(r, (1,) * len(x.shape)) if keepdims else r
    ax = _axes(x, axis, "argmin")[0]
    return _keep(x, lax.argmin(x, ax), (ax,), keepdims)


def all(a, axis=None, out=None, keepdims=False, *, where=None):  # noqa: A001
    """True where every element (over ``axis``) is non-zero."""
    _no_out("all", out)
    x = unary_operand(a)
    if x.dtype != np.bool_:
        x = lax.ne(x, 0)
    if where is not None:
        x = lax.select(where, x, True)
    axes = _axes(x, axis, "all")
    return _keep(x, lax.reduce_and(x, axes), axes, keepdims)


def any(a, axis=None, out=None, keepdims=False, *, where=None):  # noqa: A001
    """True where some element (over ``axis``) is non-zero."""
    _no_out("any", out)
    x = unary_operand(a)
    if x.dtype != np.bool_:
        x = lax.ne(x, 0)
    if where is not None:
        x = lax.select(where, x, False)
    axes = _axes(x, axis, "any")
    return _keep(x, lax.reduce_or(x, axes), axes, keepdims)


def _cumulative(name, fn, a, axis, dtype):
    x = unary_operand(a)
    if axis is None:
        x = lax.reshape(x, (x.size,))
        axis = 0
    ax = _axes(x, axis, name)[0]
    dt = _sum_dtype(x, dtype)
    if dt is not None:
        x = lax.convert_element_type(x, dt)
    return fn(x, ax)


def cumsum(a, axis=None, dtype=None, out=None):
    """Cumulative sum along ``axis`` (flattened when None)."""
    _no_out("cumsum", out)
    return _cumulative("cumsum", lax.cumsum, a, axis, dtype)


def cumprod(a, axis=None, dtype=None, out=None):
    """Cumulative product along ``axis`` (flattened when None)."""
    _no_out("cumprod", out)
    return _cumulative("cumprod", lax.cumprod, a, axis, dtype)


def count_nonzero(a, axis=None, keepdims=False):
    """Number of non-zero elements over ``axis``."""
    x = unary_operand(a)
    return sum(lax.ne(x, 0), axis, keepdims=keepdims)


def ptp(a, axis=None, out=None, keepdims=False):
    """``max - min`` over ``axis``."""
    _no_out("ptp", out)
    return max(a, axis, keepdims=keepdims) - min(a, axis, keepdims=keepdims)
