"""Statistics with NumPy's names: average, median, quantile/percentile (and their NaN-ignoring
versions), cov, corrcoef; composed from sorting, gathers and reductions."""

from __future__ import annotations

import builtins

import numpy as np

from funcgrad import lax
from funcgrad.core.array import Array, ArrayBase
from funcgrad.numpy import _reductions as _r
from funcgrad.numpy._core import no_out, unary_operand
from funcgrad.numpy._indexing import take, take_along_axis
from funcgrad.numpy._shape import atleast_2d, concatenate

_METHODS = ("linear", "lower", "higher", "midpoint", "nearest")


def _float(x):
    """Integer and boolean inputs promote to float64, as NumPy's statistics do."""
    return lax.convert_element_type(x, np.float64) if x.dtype.kind in "biu" else x


def _lerp(a, b, t):
    # NumPy's form: exact at both ends (t = 0 gives a, t = 1 gives b).
    d = b - a
    return lax.select(t >= 0.5, b - d * (1.0 - t), a + d * t)


def _quantile(who, a, q, axis, method, keepdims, ignore_nan, scale):
    if method not in _METHODS:
        raise ValueError(f"fnp.{who}: method must be one of {_METHODS}, got {method!r}")
    x = _float(unary_operand(a))
    if x.dtype.kind == "c":
        raise TypeError(f"fnp.{who}: complex input (dtype {x.dtype}) has no order; use .real")
    axes = _r._axes(x, axis, who)
    keep = [i for i in range(len(x.shape)) if i not in axes]
    batch = tuple(x.shape[i] for i in keep)
    n = int(np.prod([x.shape[i] for i in axes], dtype=np.int64))
    xt = lax.reshape(lax.transpose(x, keep + list(axes)), batch + (n,))
    if isinstance(q, ArrayBase):  # traced q: positions and weights are traced too
        qv = _float(q) / scale
        qshape = tuple(q.shape)
    else:
        qv = np.asarray(q, np.float64) / scale
        qshape = qv.shape
        if qv.size and (qv.min() < 0 or qv.max() > 1):
            lim = "[0, 100]" if scale == 100 else "[0, 1]"
            raise ValueError(f"fnp.{who}: q must lie in {lim}, got {np.asarray(q).tolist()}")
    k = int(np.prod(qshape, dtype=np.int64))
    if n == 0:
        out = lax.broadcast_to(Array(np.array(np.nan, x.dtype)), batch + (k,))
    else:
        s = lax.sort(xt, len(batch), is_stable=False)  # NaNs go last
        if ignore_nan or isinstance(qv, ArrayBase):
            out = _dynamic(s, xt, qv, n, k, batch, method, ignore_nan)
        else:
            out = _static(s, qv.reshape(k), n, method)
        if not ignore_nan and x.dtype.kind == "f":  # NumPy: NaN anywhere gives NaN
            has_nan = lax.reduce_or(lax.ne(xt, xt), (len(batch),))
            out = lax.select(lax.expand_dims(has_nan, (len(batch),)), np.nan, out)
    # (batch..., k) -> q's axes first, then the kept (or size-1) axes.
    out = lax.reshape(out, batch + qshape)
    nb = len(batch)
    out = lax.transpose(out, list(range(nb, nb + len(qshape))) + list(range(nb)))
    if keepdims:
        kshape = tuple(1 if i in axes else d for i, d in enumerate(x.shape))
        out = lax.reshape(out, qshape + kshape)
    return out


def _static(s, qv, n, method):
    """Quantiles at concrete ``qv`` (shape (k,)) of the sorted last axis of ``s``."""
    pos = qv * (n - 1)
    if method == "nearest":
        pos = np.around(pos)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, n - 1)
    if method in ("lower", "nearest"):
        return take(s, lo, axis=-1)
    if method == "higher":
        return take(s, np.ceil(pos).astype(np.int64), axis=-1)
    a, b = take(s, lo, axis=-1), take(s, hi, axis=-1)
    if method == "midpoint":
        return lax.select(Array(pos == lo), a, (a + b) * 0.5)
    return _lerp(a, b, Array((pos - lo).astype(s.dtype)))


def _dynamic(s, xt, qv, n, k, batch, method, ignore_nan):
    """Quantiles where the positions are traced: a traced q, or per-slice NaN counts."""
    last = len(batch)
    if ignore_nan:
        count = _r.sum(lax.convert_element_type(lax.eq(xt, xt), s.dtype), last, keepdims=True)
    else:
        count = float(n)
    if isinstance(qv, ArrayBase):
        qv = lax.reshape(qv, (k,))
    else:
        qv = Array(qv.reshape(k).astype(s.dtype))
    pos = lax.broadcast_to(qv * (count - 1.0), batch + (k,))
    pos = lax.clamp(0.0, pos, float(n - 1))  # all-NaN slices: count 0 (masked below)
    if method == "nearest":
        pos = lax.round(pos)
    lo = lax.floor(pos)
    hi = lax.min(lo + 1.0, lax.max(count - 1.0, 0.0))

    def at(p):
        return take_along_axis(s, lax.convert_element_type(p, np.int64), -1)

    if method in ("lower", "nearest"):
        out = at(lo)
    elif method == "higher":
        out = at(lax.ceil(pos))
    elif method == "midpoint":
        a, b = at(lo), at(hi)
        out = lax.select(lax.eq(pos, lo), a, (a + b) * 0.5)
    else:
        out = _lerp(at(lo), at(hi), pos - lax.stop_gradient(lo))
    if ignore_nan:
        out = lax.select(lax.broadcast_to(lax.eq(count, 0.0), out.shape), np.nan, out)
    return out


def _no_weights(who, weights):
    if weights is not None:
        raise NotImplementedError(f"fnp.{who}: weights= is not supported; use method='linear'")


def quantile(
    a,
    q,
    axis=None,
    out=None,
    overwrite_input=False,
    method="linear",
    keepdims=False,
    *,
    weights=None,
):
    """The ``q``-th quantiles (``q`` in [0, 1]) over ``axis`` (NumPy's ``quantile``).

    ``method``: "linear" (default), "lower", "higher", "midpoint" or "nearest". The result has
    ``q``'s shape in front. Differentiable in ``a`` (through the sort; ties go to one element)
    and in a traced ``q``. Integer inputs give float64, as NumPy.

    Example:
      >>> fnp.quantile(fnp.asarray([1.0, 2.0, 3.0, 4.0]), 0.5)
      Array(2.5, dtype=float32)
    """
    no_out("quantile", out)
    _no_weights("quantile", weights)
    return _quantile("quantile", a, q, axis, method, keepdims, False, 1)


def percentile(
    a,
    q,
    axis=None,
    out=None,
    overwrite_input=False,
    method="linear",
    keepdims=False,
    *,
    weights=None,
):
    """The ``q``-th percentiles (``q`` in [0, 100]) over ``axis``; see ``quantile``.

    Example:
      >>> fnp.percentile(fnp.asarray([1.0, 2.0, 3.0, 4.0]), [25, 75])
      Array([1.75, 3.25], dtype=float32)
    """
    no_out("percentile", out)
    _no_weights("percentile", weights)
    return _quantile("percentile", a, q, axis, method, keepdims, False, 100)


def median(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    """Median over ``axis``; for an even count, the mean of the two middle values (whose
    gradient is split between them).

    Example:
      >>> fnp.median(fnp.asarray([3.0, 1.0, 2.0]))
      Array(2., dtype=float32)
    """
    no_out("median", out)
    return _quantile("median", a, 0.5, axis, "linear", keepdims, False, 1)


def nanquantile(
    a,
    q,
    axis=None,
    out=None,
    overwrite_input=False,
    method="linear",
    keepdims=False,
    *,
    weights=None,
):
    """``quantile`` ignoring NaN (NaN for all-NaN slices).

    Example: ``fnp.nanquantile(fnp.asarray([1.0, fnp.nan, 3.0]), 0.5)`` is 2.
    """
    no_out("nanquantile", out)
    _no_weights("nanquantile", weights)
    return _quantile("nanquantile", a, q, axis, method, keepdims, True, 1)


def nanpercentile(
    a,
    q,
    axis=None,
    out=None,
    overwrite_input=False,
    method="linear",
    keepdims=False,
    *,
    weights=None,
):
    """``percentile`` ignoring NaN (NaN for all-NaN slices).

    Example: ``fnp.nanpercentile(fnp.asarray([1.0, fnp.nan, 3.0]), 50)`` is 2.
    """
    no_out("nanpercentile", out)
    _no_weights("nanpercentile", weights)
    return _quantile("nanpercentile", a, q, axis, method, keepdims, True, 100)


def nanmedian(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    """``median`` ignoring NaN (NaN for all-NaN slices).

    Example: ``fnp.nanmedian(fnp.asarray([1.0, fnp.nan, 3.0]))`` is 2.
    """
    no_out("nanmedian", out)
    return _quantile("nanmedian", a, 0.5, axis, "linear", keepdims, True, 1)


# --------------------------------------------------------------------------------------------
# average, cov, corrcoef


def average(a, axis=None, weights=None, returned=False, *, keepdims=False):
    """Weighted mean over ``axis`` (NumPy's ``average``); differentiable in ``a`` and ``weights``.

    ``weights`` has ``a``'s shape, or is 1-d along a single ``axis``. With ``returned=True``
    also gives the sum of the weights (broadcast to the result's shape).

    Example:
      >>> fnp.average(fnp.asarray([1.0, 2.0, 4.0]), weights=fnp.asarray([1.0, 1.0, 2.0]))
      Array(2.75, dtype=float32)
    """
    x = unary_operand(a)
    if weights is None:
        avg = _r.mean(x, axis, keepdims=keepdims)
        n = x.size // builtins.max(avg.size, 1) if x.size else 0
        scl = lax.broadcast_to(Array(np.array(n, avg.dtype)), tuple(avg.shape))
        return (avg, scl) if returned else avg
    w = unary_operand(weights)
    if tuple(w.shape) != tuple(x.shape):
        if axis is None:
            raise TypeError(
                f"fnp.average: a of shape {x.shape} and weights of shape {w.shape} differ; "
                "give axis= (and 1-d weights along it) or weights of a's shape"
            )
        if len(w.shape) != 1:
            raise TypeError(
                f"fnp.average: weights of shape {w.shape} must be 1-d (along axis {axis}) or "
                f"have a's shape {x.shape}"
            )
        ax = _r._axes(x, axis, "average")
        if len(ax) != 1 or w.shape[0] != x.shape[ax[0]]:
            raise ValueError(
                f"fnp.average: weights of length {w.shape[0]} do not match axis {axis} of a's "
                f"shape {x.shape}"
            )
        w = lax.reshape(w, tuple(d if i == ax[0] else 1 for i, d in enumerate(x.shape)))
        w = lax.broadcast_to(w, tuple(x.shape))
    dtype = np.result_type(x.dtype, w.dtype, *(["f8"] if x.dtype.kind in "biu" else []))
    x, w = lax.convert_element_type(x, dtype), lax.convert_element_type(w, dtype)
    scl = _r.sum(w, axis, keepdims=keepdims)
    if isinstance(scl, Array) and np.any(np.asarray(scl) == 0):
        raise ZeroDivisionError("fnp.average: the weights sum to zero and cannot be normalized")
    avg = _r.sum(x * w, axis, keepdims=keepdims) / scl
    return (avg, lax.broadcast_to(scl, tuple(avg.shape))) if returned else avg


def _observations(who, m, rowvar, is_y=False):
    m = unary_operand(m)
    if len(m.shape) > 2:
        raise ValueError(
            f"fnp.{who}: {'y' if is_y else 'm'} has more than 2 dimensions (shape {m.shape})"
        )
    x = atleast_2d(m)
    # NumPy's rules: m is transposed unless it is 1-d; y unless it has one row.
    if not rowvar and (x.shape[0] != 1 if is_y else len(m.shape) != 1):
        x = lax.transpose(x, (1, 0))
    return x


def cov(
    m,
    y=None,
    rowvar=True,
    bias=False,
    ddof=None,
    fweights=None,
    aweights=None,
    *,
    dtype=None,
):
    """Covariance matrix of the variables in the rows of ``m`` (columns if ``rowvar=False``).

    NumPy's ``cov`` with ``bias``, ``ddof``, integer frequency weights ``fweights`` and
    observation weights ``aweights``. Differentiable in ``m``, ``y`` and ``aweights``. Unlike
    NumPy (always at least float64), a float32 input gives float32, as in JAX.

    Example:
      >>> fnp.cov(fnp.asarray([[0.0, 1.0, 2.0], [2.0, 1.0, 0.0]]))
      Array([[ 1., -1.],
             [-1.,  1.]], dtype=float32)
    """
    if ddof is not None and ddof != int(ddof):
        raise ValueError(f"fnp.cov: ddof must be an integer, got {ddof}")
    x = _float(_observations("cov", m, rowvar))
    if y is not None:
        yv = _float(_observations("cov", y, rowvar, is_y=True))
        if yv.shape[1] != x.shape[1]:
            raise ValueError(
                f"fnp.cov: m and y hold different numbers of observations ({x.shape[1]} and "
                f"{yv.shape[1]}; shapes {x.shape} and {yv.shape} as variables x observations)"
            )
        x = concatenate([x, yv], axis=0)
    if dtype is not None:
        x = lax.convert_element_type(x, dtype)
    if ddof is None:
        ddof = 0 if bias else 1
    n = x.shape[1]
    w = None
    if fweights is not None:
        fw = np.asarray(fweights)
        if fw.ndim != 1 or fw.shape[0] != n:
            raise ValueError(
                f"fnp.cov: fweights must be 1-d of length {n} (the observations), got shape "
                f"{fw.shape}"
            )
        if not np.all(fw == np.around(fw)):
            raise TypeError(f"fnp.cov: fweights must be integers, got {fw.tolist()}")
        if np.any(fw < 0):
            raise ValueError(f"fnp.cov: fweights must be non-negative, got {fw.tolist()}")
        w = Array(fw.astype(x.dtype))
    if aweights is not None:
        aw = unary_operand(aweights)
        if len(aw.shape) != 1 or aw.shape[0] != n:
            raise ValueError(
                f"fnp.cov: aweights must be 1-d of length {n} (the observations), got shape "
                f"{aw.shape}"
            )
        if isinstance(aw, Array) and np.any(np.asarray(aw) < 0):
            raise ValueError("fnp.cov: aweights must be non-negative")
        aw = lax.convert_element_type(aw, x.dtype)
        w = aw if w is None else w * aw
    if w is None:
        avg = _r.mean(x, 1)
        fact = n - ddof
    else:
        avg, w_sum = average(x, axis=1, weights=w, returned=True)
        w_sum = w_sum[0]
        if ddof == 0:
            fact = w_sum
        elif aweights is None:
            fact = w_sum - ddof
        else:
            fact = w_sum - ddof * _r.sum(w * aw) / w_sum
    if isinstance(fact, int):
        fact = builtins.max(fact, 0)
    else:
        fact = lax.max(fact, 0.0)
    xc = x - lax.expand_dims(avg, (1,))
    xw = xc if w is None else xc * w
    xt = lax.transpose(xw, (1, 0))
    if x.dtype.kind == "c":
        xt = lax.conj(xt)
    c = lax.dot_general(xc, xt, (((1,), (0,)), ((), ()))) / fact
    return lax.reshape(c, ()) if c.shape == (1, 1) else c


def corrcoef(x, y=None, rowvar=True, *, dtype=None):
    """Pearson correlation coefficients of the rows of ``x`` (NumPy's ``corrcoef``); real
    results are clipped to [-1, 1]. A float32 input gives float32 (NumPy: float64).

    Example:
      >>> fnp.corrcoef(fnp.asarray([[0.0, 1.0, 2.0], [2.0, 1.0, 0.5]]))[0, 1] < 0
      Array(True, dtype=bool)
    """
    c = cov(x, y, rowvar, dtype=dtype)
    if len(c.shape) == 0:
        return c / c
    d = _diag(c)
    if c.dtype.kind == "c":
        d = lax.real(d)
    sd = lax.sqrt(d)
    c = c / lax.expand_dims(sd, (1,))
    c = c / lax.expand_dims(sd, (0,))
    if c.dtype.kind != "c":
        c = lax.clamp(-1.0, c, 1.0)
    return c


def _diag(c):
    from funcgrad.numpy._indexing import diagonal

    return diagonal(c)
