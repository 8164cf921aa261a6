"""Differences, integrals and 1-d signal products with NumPy's names: diff, ediff1d, gradient,
trapezoid, convolve, correlate; and real_if_close."""

from __future__ import annotations

import numpy as np

from funcgrad import lax
from funcgrad.core.trace import Tracer
from funcgrad.numpy._core import unary_operand
from funcgrad.numpy._shape import _axis, concatenate, ravel


def _slice(x, axis, start, stop):
    return lax.slice_in_dim(x, min(start, stop), stop, axis=axis)  # empty when stop < start


def diff(a, n=1, axis=-1, prepend=None, append=None):
    """The ``n``-th discrete difference along ``axis`` (NumPy's ``diff``; booleans give
    ``!=``). ``prepend``/``append`` values are joined first, broadcast along the other axes.

    Example:
      >>> fnp.diff(fnp.asarray([1.0, 4.0, 9.0]))
      Array([3., 5.], dtype=float32)
    """
    n = int(n)
    if n < 0:
        raise ValueError(f"fnp.diff: order n must be non-negative, got {n}")
    x = unary_operand(a)
    if len(x.shape) == 0:
        raise ValueError("fnp.diff: needs an array of at least one dimension, got a 0-d array")
    ax = _axis(x, axis, "diff")
    if prepend is not None or append is not None:
        parts = [x]
        if prepend is not None:
            parts.insert(0, _edge(prepend, x, ax))
        if append is not None:
            parts.append(_edge(append, x, ax))
        x = concatenate(parts, axis=ax)
    for _ in range(n):
        m = x.shape[ax]
        hi, lo = _slice(x, ax, 1, m), _slice(x, ax, 0, max(m - 1, 0))
        x = lax.ne(hi, lo) if x.dtype == np.bool_ else hi - lo
    return x


def _edge(values, x, ax):
    e = unary_operand(values)
    if len(e.shape) == 0:  # a scalar is broadcast along the other axes, as in NumPy
        e = lax.broadcast_to(e, tuple(1 if i == ax else d for i, d in enumerate(x.shape)))
    return e


def ediff1d(ary, to_end=None, to_begin=None):
    """Differences between consecutive elements of the flattened ``ary``, with optional values
    before (``to_begin``) and after (``to_end``).

    Example:
      >>> fnp.ediff1d(fnp.asarray([1.0, 2.0, 4.0]), to_begin=0.0)
      Array([0., 1., 2.], dtype=float32)
    """
    x = ravel(unary_operand(ary))
    d = diff(x) if x.shape[0] else x
    parts = []
    if to_begin is not None:
        parts.append(lax.convert_element_type(ravel(unary_operand(to_begin)), d.dtype))
    parts.append(d)
    if to_end is not None:
        parts.append(lax.convert_element_type(ravel(unary_operand(to_end)), d.dtype))
    return parts[0] if len(parts) == 1 else lax.concatenate(parts, 0)


def trapezoid(y, x=None, dx=1.0, axis=-1):
    """Integral of ``y`` along ``axis`` by the trapezoidal rule (NumPy 2's ``trapezoid``), with
    sample points ``x`` (1-d, or ``y``'s shape) or spacing ``dx``.

    Example:
      >>> fnp.trapezoid(fnp.asarray([1.0, 2.0, 3.0]))
      Array(4., dtype=float32)
    """
    yv = unary_operand(y)
    if yv.dtype.kind in "biu":
        yv = lax.convert_element_type(yv, np.float64)
    ax = _axis(yv, axis, "trapezoid")
    m = yv.shape[ax]
    if x is None:
        d = dx
    else:
        xv = unary_operand(x)
        if len(xv.shape) == 1:
            if xv.shape[0] != m:
                raise ValueError(
                    f"fnp.trapezoid: x of length {xv.shape[0]} does not match axis {axis} of y's "
                    f"shape {yv.shape}"
                )
            d = diff(xv)
            d = lax.reshape(d, tuple(max(m - 1, 0) if i == ax else 1 for i in range(len(yv.shape))))
        else:
            d = diff(xv, axis=ax)
    avg = (_slice(yv, ax, 1, m) + _slice(yv, ax, 0, max(m - 1, 0))) * 0.5
    return lax.reduce_sum(d * avg, (ax,) if len((d * avg).shape) else ())


def gradient(f, *varargs, axis=None, edge_order=1):
    """The gradient of sampled values ``f`` by central differences inside and one-sided
    differences at the edges (NumPy's ``gradient``; uniform spacings or coordinate arrays).

    Returns one array per axis (a single array for one axis).

    Example:
      >>> fnp.gradient(fnp.asarray([1.0, 4.0, 9.0, 16.0]))
      Array([3., 4., 6., 7.], dtype=float32)
    """
    x = unary_operand(f)
    if x.dtype.kind in "biu":
        x = lax.convert_element_type(x, np.float64)
    nd = len(x.shape)
    axes = list(range(nd)) if axis is None else ([axis] if np.ndim(axis) == 0 else list(axis))
    axes = [_axis(x, int(a), "gradient") for a in axes]
    if len(set(axes)) != len(axes):
        raise ValueError(f"fnp.gradient: repeated axis in {axis} for shape {x.shape}")
    if len(varargs) == 0:
        spacing = [1.0] * len(axes)
    elif len(varargs) == 1 and np.ndim(varargs[0]) == 0:
        spacing = [varargs[0]] * len(axes)
    elif len(varargs) == len(axes):
        spacing = list(varargs)
    else:
        raise TypeError(
            f"fnp.gradient: give one spacing, or one per axis ({len(axes)}), got {len(varargs)}"
        )
    if edge_order != 1:
        raise NotImplementedError("fnp.gradient: only edge_order=1 is supported")
    out = []
    for ax, h in zip(axes, spacing):
        m = x.shape[ax]
        if m < 2:
            raise ValueError(
                f"fnp.gradient: axis {ax} of shape {x.shape} needs at least 2 samples "
                "(edge_order=1)"
            )
        if np.ndim(h) == 0:
            inner = (_slice(x, ax, 2, m) - _slice(x, ax, 0, m - 2)) / (2.0 * h)
            first = (_slice(x, ax, 1, 2) - _slice(x, ax, 0, 1)) / h
            last = (_slice(x, ax, m - 1, m) - _slice(x, ax, m - 2, m - 1)) / h
        else:
            c = lax.convert_element_type(unary_operand(h), x.dtype)
            if c.shape != (m,):
                raise ValueError(
                    f"fnp.gradient: coordinates of shape {c.shape} must be 1-d of length {m}"
                )
            shape = tuple(-1 if i == ax else 1 for i in range(nd))
            dxv = diff(c)
            h1, h2 = dxv[:-1], dxv[1:]  # left and right steps of each inner point
            a = lax.reshape(-h2 / (h1 * (h1 + h2)), _fill(shape, m - 2))
            b = lax.reshape((h2 - h1) / (h1 * h2), _fill(shape, m - 2))
            cc = lax.reshape(h1 / (h2 * (h1 + h2)), _fill(shape, m - 2))
            inner = (
                a * _slice(x, ax, 0, m - 2) + b * _slice(x, ax, 1, m - 1) + cc * _slice(x, ax, 2, m)
            )
            first = (_slice(x, ax, 1, 2) - _slice(x, ax, 0, 1)) / dxv[0]
            last = (_slice(x, ax, m - 1, m) - _slice(x, ax, m - 2, m - 1)) / dxv[-1]
        out.append(lax.concatenate([first, inner, last], ax))
    return out[0] if len(out) == 1 else tuple(out)


def _fill(shape, n):
    return tuple(n if d == -1 else d for d in shape)


# --------------------------------------------------------------------------------------------
# convolve / correlate: 1-d, through lax.conv_general_dilated (a cross-correlation)


def _full_correlation(a, k):
    """``sum_j a[i + j - (len(k) - 1)] * k[j]`` for every overlap (length len(a)+len(k)-1)."""
    n, m = a.shape[0], k.shape[0]
    out = lax.conv_general_dilated(
        lax.reshape(a, (1, 1, n)), lax.reshape(k, (1, 1, m)), (1,), [(m - 1, m - 1)]
    )
    return lax.reshape(out, (n + m - 1,))


def _check_1d(who, a, v):
    a, v = unary_operand(a), unary_operand(v)
    for name, x in (("a", a), ("v", v)):
        if len(x.shape) != 1:
            raise ValueError(f"fnp.{who}: {name} must be 1-d, got shape {x.shape}")
        if x.shape[0] == 0:
            raise ValueError(f"fnp.{who}: {name} cannot be empty")
    dtype = np.result_type(a.dtype, v.dtype)
    return lax.convert_element_type(a, dtype), lax.convert_element_type(v, dtype)


def _mode_slice(who, full, n, m, mode, same_start):
    if mode == "full":
        return full
    if mode == "same":
        return lax.slice_in_dim(full, same_start, same_start + max(n, m), axis=0)
    if mode == "valid":
        lo = min(n, m) - 1
        return lax.slice_in_dim(full, lo, lo + max(n, m) - min(n, m) + 1, axis=0)
    raise ValueError(f"fnp.{who}: mode must be 'full', 'same' or 'valid', got {mode!r}")


def convolve(a, v, mode="full"):
    """Discrete linear convolution of two 1-d arrays (NumPy's ``convolve``); differentiable in
    both. ``mode``: "full" (default), "same" (length of the longer) or "valid".

    Example:
      >>> fnp.convolve(fnp.asarray([1.0, 2.0, 3.0]), fnp.asarray([0.0, 1.0, 0.5]))
      Array([0. , 1. , 2.5, 4. , 1.5], dtype=float32)
    """
    a, v = _check_1d("convolve", a, v)
    n, m = a.shape[0], v.shape[0]
    full = _full_correlation(a, lax.rev(v, (0,)))
    return _mode_slice("convolve", full, n, m, mode, (min(n, m) - 1) // 2)


def correlate(a, v, mode="valid"):
    """Cross-correlation ``c[k] = sum_n a[n + k] * conj(v[n])`` of two 1-d arrays (NumPy's
    ``correlate``, default mode "valid"); differentiable in both.

    Example:
      >>> fnp.correlate(fnp.asarray([1.0, 2.0, 3.0]), fnp.asarray([0.0, 1.0, 0.5]))
      Array([3.5], dtype=float32)
    """
    a, v = _check_1d("correlate", a, v)
    n, m = a.shape[0], v.shape[0]
    if v.dtype.kind == "c":
        v = lax.conj(v)
    full = _full_correlation(a, v)
    start = (min(n, m) - 1) // 2 if n >= m else min(n, m) // 2
    return _mode_slice("correlate", full, n, m, mode, start)


def real_if_close(a, tol=100):
    """The real part of a complex ``a`` when every imaginary part is within ``tol`` machine
    epsilons of 0 (``tol`` > 1), or below ``tol`` itself (``tol`` <= 1); else ``a`` unchanged.

    The result's dtype depends on the values, so ``a`` must be concrete (it is under ``grad``,
    not under ``jit``).

    Example:
      >>> fnp.real_if_close(fnp.asarray([2.0 + 1e-14j, 1.0]))
      Array([2., 1.], dtype=float64)
    """
    x = unary_operand(a)
    if x.dtype.kind != "c":
        return x
    if tol > 1:
        tol = np.finfo(x.dtype).eps * tol
    try:
        v = np.asarray(x.concrete_value() if isinstance(x, Tracer) else x)
    except TypeError:
        raise TypeError(
            "fnp.real_if_close: the result's dtype depends on the values, so the input must be "
            "concrete, but it is traced here (vmap or jit); use fnp.real(a) instead"
        ) from None
    if np.all(np.abs(v.imag) < tol):
        return lax.real(x)
    return x
