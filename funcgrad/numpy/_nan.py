"""NaN-ignoring reductions (nansum, nanmean, nanmax, nanvar, ...), composed from the reductions.

NaN entries get a zero gradient; the others get the gradient of the plain reduction over the
remaining values. Integer and boolean inputs (which hold no NaN) reduce as the plain versions.
"""

from __future__ import annotations

import numpy as np

from funcgrad import lax
from funcgrad.numpy import _reductions as _r
from funcgrad.numpy._core import no_out, unary_operand


def _replace_nan(x, value):
    """``x`` with NaNs replaced by ``value`` (no-op for exact dtypes), and the NaN mask."""
    if x.dtype.kind not in "fc":
        return x, None
    mask = lax.ne(x, x)
    return lax.select(mask, float(value), x), mask


def _nonnan_count(mask, x, axis, keepdims, dtype):
    if mask is None:
        return _r.sum(lax.convert_element_type(lax.eq(x, x), dtype), axis, keepdims=keepdims)
    return _r.sum(lax.convert_element_type(lax.bitwise_not(mask), dtype), axis, keepdims=keepdims)


def nansum(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    """Sum over ``axis`` treating NaN as zero (NumPy's ``nansum``).

    Example:
      >>> fnp.nansum(fnp.asarray([1.0, fnp.nan, 2.0]))
      Array(3., dtype=float32)
    """
    no_out("nansum", out)
    x, _ = _replace_nan(unary_operand(a), 0)
    return _r.sum(x, axis, dtype, keepdims=keepdims, initial=initial, where=where)


def nanprod(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    """Product over ``axis`` treating NaN as one (NumPy's ``nanprod``).

    Example: ``fnp.nanprod(fnp.asarray([2.0, fnp.nan, 3.0]))`` is 6.
    """
    no_out("nanprod", out)
    x, _ = _replace_nan(unary_operand(a), 1)
    return _r.prod(x, axis, dtype, keepdims=keepdims, initial=initial, where=where)


def nancumsum(a, axis=None, dtype=None, out=None):
    """Cumulative sum treating NaN as zero. Example: ``fnp.nancumsum(x, axis=0)``."""
    no_out("nancumsum", out)
    return _r.cumsum(_replace_nan(unary_operand(a), 0)[0], axis, dtype)


def nancumprod(a, axis=None, dtype=None, out=None):
    """Cumulative product treating NaN as one. Example: ``fnp.nancumprod(x, axis=0)``."""
    no_out("nancumprod", out)
    return _r.cumprod(_replace_nan(unary_operand(a), 1)[0], axis, dtype)


def nanmean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=None):
    """Mean over ``axis`` of the non-NaN values (NaN where a slice holds none, as NumPy).

    Example:
      >>> fnp.nanmean(fnp.asarray([1.0, fnp.nan, 3.0]))
      Array(2., dtype=float32)
    """
    no_out("nanmean", out)
    x = unary_operand(a)
    if x.dtype.kind not in "fc":
        return _r.mean(x, axis, dtype, keepdims=keepdims, where=where)
    if dtype is not None:
        x = lax.convert_element_type(x, dtype)
    x, mask = _replace_nan(x, 0)
    valid = lax.bitwise_not(mask)
    if where is not None:
        valid = lax.bitwise_and(valid, lax.broadcast_to(unary_operand(where), x.shape))
    w = lax.convert_element_type(valid, x.dtype)
    return _r.sum(x * w, axis, keepdims=keepdims) / _r.sum(w, axis, keepdims=keepdims)


def _nan_extremum(name, reduce, fill, a, axis, out, keepdims, initial, where):
    no_out(name, out)
    x = unary_operand(a)
    if x.dtype.kind not in "fc":
        return reduce(x, axis, keepdims=keepdims, initial=initial, where=where)
    x, mask = _replace_nan(x, fill)
    r = reduce(x, axis, keepdims=keepdims, initial=initial, where=where)
    if initial is not None:
        return r
    all_nan = _r.all(mask, axis, keepdims=keepdims)  # NumPy gives NaN (and warns) there
    return lax.select(all_nan, np.nan, r)


def nanmax(a, axis=None, out=None, keepdims=False, initial=None, where=None):
    """Maximum over ``axis`` ignoring NaN (NaN for all-NaN slices); ties share the gradient.

    Example:
      >>> fnp.nanmax(fnp.asarray([1.0, fnp.nan, 3.0]))
      Array(3., dtype=float32)
    """
    return _nan_extremum("nanmax", _r.max, -np.inf, a, axis, out, keepdims, initial, where)


def nanmin(a, axis=None, out=None, keepdims=False, initial=None, where=None):
    """Minimum over ``axis`` ignoring NaN (NaN for all-NaN slices); ties share the gradient.

    Example: ``fnp.nanmin(fnp.asarray([1.0, fnp.nan, 3.0]))`` is 1.
    """
    return _nan_extremum("nanmin", _r.min, np.inf, a, axis, out, keepdims, initial, where)


def nanargmax(a, axis=None, out=None, *, keepdims=False):
    """Index of the first maximum ignoring NaN (for an all-NaN slice: the index of the first
    element; NumPy raises ValueError there).

    Example: ``fnp.nanargmax(fnp.asarray([1.0, fnp.nan, 3.0]))`` is 2.
    """
    no_out("nanargmax", out)
    return _r.argmax(_replace_nan(unary_operand(a), -np.inf)[0], axis, keepdims=keepdims)


def nanargmin(a, axis=None, out=None, *, keepdims=False):
    """Index of the first minimum ignoring NaN (see ``nanargmax`` for all-NaN slices).

    Example: ``fnp.nanargmin(fnp.asarray([1.0, fnp.nan, 3.0]))`` is 0.
    """
    no_out("nanargmin", out)
    return _r.argmin(_replace_nan(unary_operand(a), np.inf)[0], axis, keepdims=keepdims)


def nanvar(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None):
    """Variance over ``axis`` of the non-NaN values, with ``ddof`` delta degrees of freedom.

    Example:
      >>> fnp.nanvar(fnp.asarray([1.0, fnp.nan, 3.0]))
      Array(1., dtype=float32)
    """
    no_out("nanvar", out)
    x = unary_operand(a)
    if x.dtype.kind not in "fc":
        return _r.var(x, axis, dtype, ddof=ddof, keepdims=keepdims, where=where)
    if dtype is not None:
        x = lax.convert_element_type(x, dtype)
    if where is not None:
        keep = lax.broadcast_to(unary_operand(where), x.shape)
        x = lax.select(keep, x, np.nan)
    m = nanmean(x, axis, keepdims=True)
    x0, mask = _replace_nan(x, 0)
    d = lax.select(mask, 0.0, x0 - m)
    if x.dtype.kind == "c":
        sq = lax.real(d * lax.conj(d))
    else:
        sq = d * d
    n = _nonnan_count(mask, x, axis, keepdims, sq.dtype)
    return _r.sum(sq, axis, keepdims=keepdims) / lax.max(n - ddof, 0.0)


def nanstd(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None):
    """Standard deviation over ``axis`` of the non-NaN values (zero derivative where it is 0).

    Example: ``fnp.nanstd(fnp.asarray([1.0, fnp.nan, 3.0]))`` is 1.
    """
    v = nanvar(a, axis, dtype, out, ddof, keepdims, where=where)
    safe = lax.select(v > 0, v, 1.0)
    return lax.select(v > 0, lax.sqrt(safe), 0.0 * v)
