"""``scipy.special``'s names over funcgrad arrays, differentiable (as ``jax.scipy.special``)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from funcgrad import lax
from funcgrad import numpy as fnp
from funcgrad.numpy._math import _float_operand
from funcgrad.transforms.custom import custom_jvp

__all__ = [
    "betaln",
    "digamma",
    "erf",
    "erfc",
    "erfinv",
    "expit",
    "gammaln",
    "log_softmax",
    "logit",
    "log_ndtr",
    "logsumexp",
    "ndtr",
    "ndtri",
    "polygamma",
    "psi",
    "softmax",
    "xlog1py",
    "xlogy",
]


def _float_pair(x, y):
    # Python scalars are weakly typed: they take the other argument's dtype (as NumPy 2).
    x_weak, y_weak = (type(v) in (int, float) for v in (x, y))
    x, y = fnp.asarray(x), fnp.asarray(y)
    if x.dtype.kind not in "f":
        x = _float_operand(x)
    if y.dtype.kind not in "f":
        y = _float_operand(y)
    if x_weak != y_weak:
        dtype = y.dtype if x_weak else x.dtype
    else:
        dtype = np.result_type(x.dtype, y.dtype)
    return lax.convert_element_type(x, dtype), lax.convert_element_type(y, dtype)


def erf(x: Any) -> Any:
    """The error function. Example: ``fsp.erf(1.0)`` gives 0.8427008."""
    return lax.erf(_float_operand(x))


def erfc(x: Any) -> Any:
    """The complementary error function ``1 - erf(x)``, accurate in the tails.

    Example: ``fsp.erfc(10.0)`` gives about 2.088e-45.
    """
    return lax.erfc(_float_operand(x))


def erfinv(x: Any) -> Any:
    """The inverse error function on [-1, 1]. Example: ``fsp.erfinv(0.5)`` gives 0.4769363."""
    return lax.erf_inv(_float_operand(x))


def ndtr(x: Any) -> Any:
    """The standard normal CDF, ``(1 + erf(x / sqrt(2))) / 2``, accurate in the lower tail.

    Example: ``fsp.ndtr(0.0)`` gives 0.5.
    """
    x = _float_operand(x)
    return 0.5 * lax.erfc(x * (-1.0 / math.sqrt(2.0)))


def gammaln(x: Any) -> Any:
    """``log|Gamma(x)|``. Example: ``fsp.gammaln(5.0)`` gives log(24) = 3.1780539."""
    return lax.lgamma(_float_operand(x))


def digamma(x: Any) -> Any:
    """The digamma function ``psi = d/dx gammaln``.

    Example: ``fsp.digamma(1.0)`` gives -0.5772157.
    """
    return lax.digamma(_float_operand(x))


psi = digamma


def polygamma(n: int, x: Any) -> Any:
    """The n-th derivative of ``digamma``; ``n`` must be a static non-negative int here.

    Example: ``fsp.polygamma(1, 1.0)`` gives pi**2 / 6 = 1.644934.
    """
    return lax.polygamma(n, _float_operand(x))


def expit(x: Any) -> Any:
    """The logistic sigmoid ``1 / (1 + exp(-x))``, without overflow.

    Example: ``fsp.expit(0.0)`` gives 0.5.
    """
    return lax.logistic(_float_operand(x))


def logit(p: Any) -> Any:
    """The inverse of ``expit``: ``log(p / (1 - p))``; -inf at 0, +inf at 1.

    Example: ``fsp.logit(0.5)`` gives 0.0.
    """
    p = _float_operand(p)
    return lax.log(p) - lax.log1p(-p)


def xlogy(x: Any, y: Any) -> Any:
    """``x * log(y)``, defined as 0 where ``x == 0`` (unless y is NaN), gradients included.

    Example: ``fsp.xlogy(0.0, 0.0)`` gives 0.0 (not NaN); its gradients there are finite.
    """
    x, y = _float_pair(x, y)
    # Only where x == 0 and log(y) is not finite is y replaced (by 1): the value there is 0,
    # and d/dx = log(y) still holds wherever it is finite.
    bad = (x == 0) & ~fnp.isnan(y) & ~((y > 0) & (y < np.inf))
    return x * lax.log(fnp.where(bad, 1.0, y))


def xlog1py(x: Any, y: Any) -> Any:
    """``x * log1p(y)``, defined as 0 where ``x == 0`` (unless y is NaN), gradients included.

    Example: ``fsp.xlog1py(0.0, -1.0)`` gives 0.0.
    """
    x, y = _float_pair(x, y)
    bad = (x == 0) & ~fnp.isnan(y) & ~((y > -1) & (y < np.inf))
    return x * lax.log1p(fnp.where(bad, 0.0, y))


def _stable_max(x, axis):
    """A max over ``axis`` (kept as size-1 axes) with no gradient, and 0 where not finite."""
    m = fnp.max(lax.stop_gradient(x), axis=axis, keepdims=True)
    return fnp.where(fnp.isfinite(m), m, 0.0)


def _squeeze(x, axis, ndim):
    axes = range(ndim) if axis is None else [axis] if isinstance(axis, int) else axis
    return fnp.squeeze(x, axis=tuple(int(a) % max(ndim, 1) for a in axes)) if ndim else x


def logsumexp(a: Any, axis=None, b: Any = None, keepdims: bool = False, return_sign: bool = False):
    """``log(sum(b * exp(a)))`` over ``axis``, computed without overflow.

    Args:
      a: the input array.
      axis: an int, a tuple of ints, or None (all axes).
      b: optional weights, broadcast against ``a``; entries with ``b == 0`` are ignored even
        where ``a`` is infinite. Negative weights need ``return_sign=True``.
      keepdims: keep the reduced axes with size 1.
      return_sign: also return the sign of the sum; the value is then ``log|sum|``.

    Returns:
      The reduction (and the sign, with ``return_sign``); -inf where the sum is 0.

    Example:
      >>> fsp.logsumexp(fnp.asarray([1000.0, 1000.0]))   # log(2) + 1000, no overflow
      Array(1000.6931, dtype=float32)
    """
    a = _float_operand(a)
    if b is not None:
        b = fnp.asarray(b)
        if b.dtype.kind != "f":
            b = lax.convert_element_type(b, a.dtype)
        a, b = fnp.broadcast_arrays(a, b)
        a = fnp.where(b != 0, a, -np.inf)
    ndim = a.ndim
    amax = _stable_max(a, axis)
    e = fnp.exp(a - amax)
    if b is not None:
        e = e * b
    s = fnp.sum(e, axis=axis, keepdims=True)
    if return_sign:
        sign = fnp.sign(lax.stop_gradient(s))
        s = fnp.abs(s)
    out = fnp.log(s) + amax
    if not keepdims:
        out = _squeeze(out, axis, ndim)
        if return_sign:
            sign = _squeeze(sign, axis, ndim)
    return (out, sign) if return_sign else out


def log_softmax(x: Any, axis=None) -> Any:
    """``x - logsumexp(x, axis, keepdims=True)``: log-probabilities, stable for large inputs.

    ``axis=None`` (scipy's default) normalises over all entries; pass ``axis=-1`` for rows.

    Example:
      >>> fnp.exp(fsp.log_softmax(fnp.asarray([1.0, 2.0]))).sum()
      Array(1., dtype=float32)
    """
    x = _float_operand(x)
    shifted = x - _stable_max(x, axis)
    return shifted - fnp.log(fnp.sum(fnp.exp(shifted), axis=axis, keepdims=True))


def softmax(x: Any, axis=None) -> Any:
    """``exp(x) / sum(exp(x), axis)``, stable for large inputs (scipy's default axis=None).

    Example:
      >>> fsp.softmax(fnp.asarray([0.0, 0.0]))
      Array([0.5, 0.5], dtype=float32)
    """
    x = _float_operand(x)
    e = fnp.exp(x - _stable_max(x, axis))
    return e / fnp.sum(e, axis=axis, keepdims=True)


def betaln(a: Any, b: Any) -> Any:
    """``log|B(a, b)| = gammaln(a) + gammaln(b) - gammaln(a + b)``.

    Example: ``fsp.betaln(2.0, 3.0)`` gives log(1/12) = -2.4849067.
    """
    a, b = _float_pair(a, b)
    return lax.lgamma(a) + lax.lgamma(b) - lax.lgamma(a + b)


# Acklam's rational approximations of the normal quantile (relative error < 1.2e-9), refined
# below by one Halley step on ndtr to full precision.
_ACKLAM_A = (-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.3577518672690,
             -30.66479806614716, 2.506628277459239)  # fmt: skip
_ACKLAM_B = (-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972,
             -13.28068155288572, 1.0)  # fmt: skip
_ACKLAM_C = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838,
             -2.549732539343734, 4.374664141464968, 2.938163982698783)  # fmt: skip
_ACKLAM_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996,
             3.754408661907416, 1.0)  # fmt: skip
_SQRT_2PI = math.sqrt(2 * math.pi)


def _horner(coeffs, x):
    out = coeffs[0] + 0 * x
    for c in coeffs[1:]:
        out = out * x + c
    return out


@custom_jvp
def _ndtri(p):
    # The lower half q = min(p, 1 - p) (1 - p is exact for p >= 1/2), negated back for p > 1/2.
    upper = p > 0.5
    q = fnp.where(upper, 1.0 - p, p)
    ok = (q > 0) & ~fnp.isnan(q)
    qs = fnp.where(ok, q, 0.5)  # safe values where the answer is set below
    tail = qs < 0.02425
    r = fnp.sqrt(-2.0 * fnp.log(fnp.where(tail, qs, 0.01)))
    c = qs - 0.5
    c2 = c * c
    x = fnp.where(
        tail,
        _horner(_ACKLAM_C, r) / _horner(_ACKLAM_D, r),
        _horner(_ACKLAM_A, c2) * c / _horner(_ACKLAM_B, c2),
    )
    # One Halley step on ndtr(x) = q, in logs so that nothing over- or underflows down to the
    # smallest subnormal q: u = (ndtr(x) - q) / pdf(x).
    log_q = fnp.log(qs)
    u = fnp.expm1(log_ndtr(x) - log_q) * fnp.exp(log_q + x * x / 2) * _SQRT_2PI
    x = x - u / (1 + x * u / 2)
    x = fnp.where(upper, -x, x)
    inf = fnp.full_like(x, np.inf)
    x = fnp.where(q == 0, fnp.where(upper, inf, -inf), x)
    return fnp.where((p < 0) | (p > 1) | fnp.isnan(p), fnp.full_like(x, np.nan), x)


@_ndtri.defjvp
def _ndtri_jvp(primals, tangents):
    (p,), (t,) = primals, tangents
    x = _ndtri(p)
    return x, t * (_SQRT_2PI * fnp.exp(x * x / 2))  # 1 / pdf(x)


def ndtri(p: Any) -> Any:
    """The inverse of ``ndtr``: the standard normal quantile; -inf at 0, inf at 1, NaN outside.

    Accurate to a few ulps across (0, 1), tails included (float32 and float16 inputs are
    computed in float64). Example: ``fsp.ndtri(0.975)`` gives 1.959964.
    """
    p = _float_operand(p)
    if np.dtype(p.dtype).itemsize >= 8:
        return _ndtri(p)
    return lax.convert_element_type(_ndtri(lax.convert_element_type(p, np.float64)), p.dtype)


def _log_ndtr_bounds(dtype) -> float:
    # Below the lower bound the asymptotic series is used (its next term is under the dtype's
    # epsilon there); erfc is still far from underflow at the bound.
    return -10.0 if np.dtype(dtype).itemsize <= 4 else -30.0


def log_ndtr(x: Any) -> Any:
    """``log(ndtr(x))``, accurate for all ``x``: no underflow far in the lower tail, no
    cancellation in the upper one.

    Example: ``fsp.log_ndtr(-40.0)`` gives -804.6084 (``log(ndtr(-40.0))`` is -inf).
    """
    x = _float_operand(x)
    lower = _log_ndtr_bounds(x.dtype)
    # Each branch sees only inputs in its own range, so no branch makes inf or NaN derivatives.
    hi = fnp.maximum(x, 0.0)
    mid = fnp.clip(x, lower, 0.0)
    lo = fnp.minimum(x, lower)
    upper_part = fnp.log1p(-ndtr(-hi))
    middle_part = fnp.log(ndtr(mid))
    # log ndtr(x) = -x^2/2 - log(-x) - log(2 pi)/2 + log(sum_k (-1)^k (2k-1)!! / x^(2k)).
    z = 1.0 / (lo * lo)
    series, term = 1.0 + 0 * z, 1.0 + 0 * z
    for k in range(1, 9):
        term = term * (-(2 * k - 1)) * z
        series = series + term
    lower_part = -0.5 * lo * lo - fnp.log(-lo) - 0.5 * math.log(2 * math.pi) + fnp.log(series)
    return fnp.where(x > 0, upper_part, fnp.where(x < lower, lower_part, middle_part))
