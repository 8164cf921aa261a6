"""Special functions as elementwise primitives: erf, erfc, erf_inv, lgamma, digamma, polygamma.

Each impl uses ``scipy.special`` (or ``cupyx.scipy.special``) when it can be imported, and
otherwise a pure NumPy/CuPy implementation of its own (float64 inside, about 1e-15 relative).
"""

from __future__ import annotations

import math

import numpy as np

from funcgrad.core.primitive import Primitive
from funcgrad.lax.elementwise import _elementwise_abstract_eval, exp
from funcgrad.transforms.grad import defjvp, defvjp
from funcgrad.transforms.vmap import defbroadcasting

# Optional: scipy.special is faster and exact to the last bit; the pure path below is used
# without it. Imported on first use (it takes ~0.25 s), so ``import funcgrad`` stays fast.
_UNSET = object()
_scipy_special = _UNSET
_cupy_special: dict = {}  # per CuPy module (by id): cupyx.scipy.special or None


def _special_module(xp):
    """scipy.special for NumPy values, cupyx.scipy.special for CuPy ones (None: pure path)."""
    global _scipy_special
    if xp is np:
        if _scipy_special is _UNSET:
            try:
                import scipy.special as module
            except ImportError:  # pragma: no cover - scipy is installed in the test environment
                module = None
            _scipy_special = module
        return _scipy_special
    if id(xp) not in _cupy_special:
        try:
            import cupyx.scipy.special as cupy_special
        except ImportError:  # no cupyx (or the tests' CuPy double): the pure paths
            cupy_special = None
        _cupy_special[id(xp)] = cupy_special
    return _cupy_special[id(xp)]


def _special_impl(name, pure):
    """An impl calling ``name`` from scipy.special when available, else ``pure(xp, x64)``."""

    def impl(xp, x, **params):
        arr = xp.asarray(x)
        dtype = arr.dtype if arr.dtype.kind == "f" else np.dtype(np.float64)
        fn = getattr(_special_module(xp), name, None)  # cupyx.scipy.special lacks a few
        if fn is not None:
            out = xp.asarray(fn(params["n"], arr) if "n" in params else fn(arr))
        else:
            with np.errstate(all="ignore"):
                out = pure(xp, arr.astype(np.float64), **params)
        out = out.astype(dtype, copy=False)
        return out[()] if out.ndim == 0 else out

    impl.__name__ = f"_{name}_impl"
    return impl


def _horner(coeffs, x):
    """``coeffs[0] * x**(n-1) + ... + coeffs[-1]``."""
    acc = coeffs[0] + 0.0 * x
    for c in coeffs[1:]:
        acc = acc * x + c
    return acc


def _reduce_half(xp, x):
    """``x - round(x)`` in [-0.5, 0.5]: exact, so sin(pi r) and cot(pi r) keep full accuracy."""
    return x - xp.round(x)


# --------------------------------------------------------------------------------------------
# erf and erfc: W. J. Cody, "Rational Chebyshev approximations for the error function",
# Math. Comp. 23 (1969) 631-637, as in Netlib's CALERF (three intervals, ~1e-16 relative).

_ERF_A = (1.85777706184603153e-1, 3.16112374387056560e0, 1.13864154151050156e2,
          3.77485237685302021e2, 3.20937758913846947e3)  # fmt: skip
_ERF_B = (1.0, 2.36012909523441209e1, 2.44024637934444173e2, 1.28261652607737228e3,
          2.84423683343917062e3)  # fmt: skip
_ERF_C = (2.15311535474403846e-8, 5.64188496988670089e-1, 8.88314979438837594e0,
          6.61191906371416295e1, 2.98635138197400131e2, 8.81952221241769090e2,
          1.71204761263407058e3, 2.05107837782607147e3, 1.23033935479799725e3)  # fmt: skip
_ERF_D = (1.0, 1.57449261107098347e1, 1.17693950891312499e2, 5.37181101862009858e2,
          1.62138957456669019e3, 3.29079923573345963e3, 4.36261909014324716e3,
          3.43936767414372164e3, 1.23033935480374942e3)  # fmt: skip
_ERF_P = (1.63153871373020978e-2, 3.05326634961232344e-1, 3.60344899949804439e-1,
          1.25781726111229246e-1, 1.60837851487422766e-2, 6.58749161529837803e-4)  # fmt: skip
_ERF_Q = (1.0, 2.56852019228982242e0, 1.87295284992346047e0, 5.27905102951428412e-1,
          6.05183413124413191e-2, 2.33520497626869185e-3)  # fmt: skip
_SQRT_1_PI = 5.6418958354775628695e-1  # 1 / sqrt(pi)
_TWO_OVER_SQRT_PI = 2.0 * _SQRT_1_PI


def _erf_parts(xp, x):
    """(erf(x) for |x| <= 0.46875, erfc(|x|) for |x| > 0.46875, the mask of the first)."""
    y = xp.abs(x)
    small = y <= 0.46875
    ysq = y * y
    erf_small = x * _horner(_ERF_A, ysq) / _horner(_ERF_B, ysq)
    mid = _horner(_ERF_C, y) / _horner(_ERF_D, y)
    yl = xp.where(y > 4.0, y, 4.0)
    z = 1.0 / (yl * yl)
    tail = (_SQRT_1_PI - z * _horner(_ERF_P, z) / _horner(_ERF_Q, z)) / yl
    r = xp.where(y <= 4.0, mid, tail)
    # exp(-y^2) as exp(-ysq^2) exp(-del) with ysq = y rounded down to 1/16: no cancellation.
    y16 = xp.floor(16.0 * y) / 16.0
    erfc_abs = xp.exp(-y16 * y16) * xp.exp(-(y - y16) * (y + y16)) * r
    erfc_abs = xp.where(y < 27.5, erfc_abs, 0.0)
    return erf_small, erfc_abs, small


def _erf_pure(xp, x):
    erf_small, erfc_abs, small = _erf_parts(xp, x)
    out = xp.where(small, erf_small, xp.sign(x) * (1.0 - erfc_abs))
    return xp.where(xp.isnan(x), xp.nan, out)


def _erfc_pure(xp, x):
    erf_small, erfc_abs, small = _erf_parts(xp, x)
    out = xp.where(small, 1.0 - erf_small, xp.where(x < 0, 2.0 - erfc_abs, erfc_abs))
    return xp.where(xp.isnan(x), xp.nan, out)


# --------------------------------------------------------------------------------------------
# erf_inv: M. Giles, "Approximating the erfinv function" (GPU Computing Gems, 2011), single
# precision, refined by two Halley steps on erf (or on erfc in the tails, where 1 - |x| is exact).

_GILES_CENTRAL = (2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06,
                  0.00021858087, -0.00125372503, -0.00417768164, 0.246640727, 1.50140941)  # fmt: skip
_GILES_TAIL = (-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844,
               0.00573950773, -0.0076224613, 0.00943887047, 1.00167406, 2.83297682)  # fmt: skip


def _erf_inv_pure(xp, x):
    ax = xp.abs(x)
    w = -(xp.log1p(-ax) + xp.log1p(ax))
    p = xp.where(
        w < 5.0,
        _horner(_GILES_CENTRAL, w - 2.5),
        _horner(_GILES_TAIL, xp.sqrt(xp.where(w < 5.0, 5.0, w)) - 3.0),
    )
    y = p * ax  # solve for |x|, then restore the sign
    tail = ax > 0.5
    q = xp.where(tail, 1.0 - ax, 0.5)  # exact (Sterbenz)
    for _ in range(4):
        # Centre: Halley on f(y) = erf(y) - |x|, f' = 2/sqrt(pi) exp(-y^2), f'' = -2y f'.
        # Tails: Newton on log(erfc(y)) - log(1 - |x|), nearly quadratic in y, so it converges
        # from the single-precision guess even where 1 - |x| is 1e-16.
        deriv = _TWO_OVER_SQRT_PI * xp.exp(-y * y)
        u = (_erf_pure(xp, y) - ax) / deriv
        halley = y - u / (1.0 + y * u)
        ec = _erfc_pure(xp, xp.where(tail, y, 1.0))
        newton = y + (xp.log(ec) - xp.log(q)) * ec / xp.where(tail, deriv, 1.0)
        y = xp.where(tail, newton, halley)
    out = xp.sign(x) * y
    out = xp.where(ax == 1.0, xp.sign(x) * xp.inf, out)
    return xp.where((ax > 1.0) | xp.isnan(x), xp.nan, out)


# --------------------------------------------------------------------------------------------
# lgamma, digamma, polygamma: recurrences up to an asymptotic series, reflection below 0.

# Bernoulli numbers B_2, B_4, ..., B_24.
_BERNOULLI = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510,
              43867 / 798, -174611 / 330, 854513 / 138, -236364091 / 2730)  # fmt: skip
_EULER_GAMMA = 0.57721566490153286061
_HALF_LOG_2PI = 0.91893853320467274178


def _shift_up(xp, x, threshold, term):
    """Moves every x below ``threshold`` up by one until none is; sums ``term(x)`` on the way."""
    acc = xp.zeros_like(x)
    lowest = float(xp.min(xp.where(x < threshold, x, threshold))) if x.size else threshold
    steps = 0 if math.isnan(lowest) else int(math.ceil(threshold - lowest))
    for _ in range(max(steps, 0)):
        low = x < threshold
        if not bool(low.any()):
            break
        acc = acc + xp.where(low, term(xp.where(low, x, threshold)), 0.0)
        x = xp.where(low, x + 1.0, x)
    return x, acc


def _hurwitz_zeta_pure(xp, s, a):
    """zeta(s, a) = sum_k (a + k)^-s for s > 1 and a > 0, by Euler-Maclaurin summation."""
    threshold = 12.0 + s
    a, acc = _shift_up(xp, a, threshold, lambda v: v**-s)
    series = a ** (1.0 - s) / (s - 1.0) + 0.5 * a**-s
    fac = s * a ** (-s - 1.0)  # s (s+1) ... (s+2j-2) a^(-s-2j+1), j = 1
    inv_a2 = 1.0 / (a * a)
    for j, b in enumerate(_BERNOULLI, start=1):
        series = series + b / math.factorial(2 * j) * fac
        fac = fac * (s + 2 * j - 1) * (s + 2 * j) * inv_a2
    return acc + series


def _cot_poly(n):
    """Coefficients (highest first) of P_n with d^n/dz^n cot(z) = P_n(cot z)."""
    p = np.polynomial.Polynomial([0.0, 1.0])
    for _ in range(n):
        p = -p.deriv() * np.polynomial.Polynomial([1.0, 0.0, 1.0])
    return tuple(p.coef[::-1])


def _digamma_pos(xp, x):
    x, acc = _shift_up(xp, x, 10.0, lambda v: 1.0 / v)
    inv2 = 1.0 / (x * x)
    series = _horner([b / (2 * j) for j, b in reversed(list(enumerate(_BERNOULLI[:8], 1)))], inv2)
    return xp.log(x) - 0.5 / x - inv2 * series - acc


def _digamma_pure(xp, x):
    neg = x <= 0
    r = _reduce_half(xp, x)
    # psi(x) = psi(1 - x) - pi cot(pi x), for x <= 0
    out = _digamma_pos(xp, xp.where(neg, 1.0 - x, x))
    refl = out - np.pi * xp.cos(np.pi * r) / xp.sin(np.pi * r)
    out = xp.where(neg, refl, out)
    out = xp.where(neg & (r == 0), xp.nan, out)
    return xp.where(x == 0, -xp.copysign(xp.inf, x), out)  # scipy: psi(+-0) = -+inf


def _polygamma_pure(xp, x, *, n):
    if n == 0:
        return _digamma_pure(xp, x)
    sign = -1.0 if n % 2 == 0 else 1.0
    neg = x <= 0
    pos = sign * math.factorial(n) * _hurwitz_zeta_pure(xp, n + 1.0, xp.where(neg, 1.0 - x, x))
    # psi_n(x) = (-1)^n psi_n(1 - x) - pi^(n+1) P_n(cot(pi x)), for x <= 0
    r = _reduce_half(xp, x)
    cot = xp.cos(np.pi * r) / xp.sin(np.pi * r)
    refl = (-1.0) ** n * pos - np.pi ** (n + 1) * _horner(_cot_poly(n), cot)
    out = xp.where(neg, refl, pos)
    return xp.where(neg & (r == 0), xp.inf if n % 2 else -xp.inf, out)  # poles, as scipy


def _lgamma_series(u):
    """lgamma(1 + u) = -gamma u + sum_{k>=2} (-1)^k zeta(k) / k u^k, for |u| <= 0.25."""
    coeffs = [(-1.0) ** k * z / k for k, z in zip(range(_SERIES_TERMS + 1, 1, -1), _ZETA[::-1])]
    return u * (_horner(coeffs, u) * u - _EULER_GAMMA)


def _lgamma_pos(xp, x):
    # Near the zeros at 1 and 2 a Taylor series keeps full relative accuracy.
    u1 = x - 1.0
    u2 = x - 2.0
    near1 = xp.abs(u1) <= 0.25
    near2 = xp.abs(u2) <= 0.25
    u = xp.where(near1, u1, xp.where(near2, u2, 0.0))
    series = _lgamma_series(u) + xp.where(near2, xp.log1p(u), 0.0)
    # Elsewhere: lgamma(x) = lgamma(x + k) - log(x (x+1) ... (x+k-1)), then Stirling at >= 10.
    w, log_prod = _shift_up(xp, x, 10.0, xp.log)
    inv2 = 1.0 / (w * w)
    coeffs = [b / (2 * j * (2 * j - 1)) for j, b in reversed(list(enumerate(_BERNOULLI[:8], 1)))]
    stirling = (w - 0.5) * xp.log(w) - w + _HALF_LOG_2PI + _horner(coeffs, inv2) / w
    stirling = xp.where(w == xp.inf, xp.inf, stirling)
    return xp.where(near1 | near2, series, stirling - log_prod)


def _lgamma_pure(xp, x):
    neg = x <= 0
    out = _lgamma_pos(xp, xp.where(neg, 1.0 - x, x))
    # lgamma(x) = log(pi / |sin(pi x)|) - lgamma(1 - x), for x <= 0
    refl = np.log(np.pi) - xp.log(xp.abs(xp.sin(np.pi * _reduce_half(xp, x)))) - out
    out = xp.where(neg, refl, out)
    return xp.where(xp.isnan(x), xp.nan, out)


_SERIES_TERMS = 40
_ZETA = tuple(
    float(_hurwitz_zeta_pure(np, float(k), np.ones(1))[0]) for k in range(2, _SERIES_TERMS + 2)
)


# --------------------------------------------------------------------------------------------
# The primitives: (name, scipy.special name, pure implementation, derivative from (ans, x))


def _check_float(name, dtype):
    if np.dtype(dtype).kind != "f":
        raise TypeError(
            f"{name}: needs a real floating-point input, got {dtype}; convert it first "
            "(x.astype('float32')) or use funcgrad.scipy.special, which promotes integers"
        )


def _special(name, scipy_name, pure, deriv):
    def abstract_eval(x, **params):
        aval = _elementwise_abstract_eval(x)
        _check_float(name, aval.dtype)
        return aval

    prim = Primitive(name)
    prim.def_impl(_special_impl(scipy_name, pure))
    prim.def_abstract_eval(abstract_eval)
    defjvp(prim, lambda t, ans, x, **p: t * deriv(ans, x, **p))
    defvjp(prim, lambda g, ans, x, **p: g * deriv(ans, x, **p))
    defbroadcasting(prim)
    return prim


_SQRT_PI_OVER_2 = math.sqrt(math.pi) / 2.0

erf_p = _special("erf", "erf", _erf_pure, lambda ans, x: _TWO_OVER_SQRT_PI * exp(-x * x))
erfc_p = _special("erfc", "erfc", _erfc_pure, lambda ans, x: -_TWO_OVER_SQRT_PI * exp(-x * x))
erf_inv_p = _special(
    "erf_inv", "erfinv", _erf_inv_pure, lambda ans, x: _SQRT_PI_OVER_2 * exp(ans * ans)
)
lgamma_p = _special("lgamma", "gammaln", _lgamma_pure, lambda ans, x: digamma(x))
digamma_p = _special("digamma", "psi", _digamma_pure, lambda ans, x: polygamma(1, x))
polygamma_p = _special(
    "polygamma", "polygamma", _polygamma_pure, lambda ans, x, *, n: polygamma(n + 1, x)
)

# --------------------------------------------------------------------------------------------
# Public wrappers (lax names)


def _bind(prim, x, **params):
    dtype = getattr(x, "dtype", None)
    if dtype is not None:
        _check_float(prim.name, dtype)
    return prim.bind(x, **params)


def erf(x):
    """The error function ``2/sqrt(pi) * integral_0^x exp(-t^2) dt``, elementwise.

    Example:
      >>> lax.erf(fnp.asarray([0.0, 1.0]))
      Array([0.       , 0.8427008], dtype=float32)
    """
    return _bind(erf_p, x)


def erfc(x):
    """The complementary error function ``1 - erf(x)``, accurate where erf(x) is near 1.

    Example: ``lax.erfc(fnp.asarray(10.0))`` is about 2.09e-45 (not 0).
    """
    return _bind(erfc_p, x)


def erf_inv(x):
    """The inverse of ``erf`` on (-1, 1); +-inf at +-1, NaN outside.

    Example: ``lax.erf_inv(lax.erf(fnp.asarray(0.5)))`` gives 0.5.
    """
    return _bind(erf_inv_p, x)


def lgamma(x):
    """``log|Gamma(x)|``, elementwise; +inf at the poles 0, -1, -2, ...

    Example: ``lax.lgamma(fnp.asarray(5.0))`` gives log(24) = 3.1780539.
    """
    return _bind(lgamma_p, x)


def digamma(x):
    """The digamma function ``psi(x) = d/dx lgamma(x)``, elementwise.

    Example: ``lax.digamma(fnp.asarray(1.0))`` gives -0.5772157 (minus Euler's gamma).
    """
    return _bind(digamma_p, x)


def polygamma(n: int, x):
    """The polygamma function ``psi^(n)(x)``, the n-th derivative of ``digamma``.

    ``n`` is a static non-negative Python int (JAX also accepts an array of orders).

    Example: ``lax.polygamma(1, fnp.asarray(1.0))`` gives pi^2 / 6 = 1.644934.
    """
    if isinstance(n, (np.ndarray, np.generic)) and n.shape == ():
        n = n.item()
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
        raise TypeError(
            f"polygamma: the order n must be a static non-negative int, got {n!r}; "
            "use one call per order"
        )
    n = int(n)
    return _bind(digamma_p, x) if n == 0 else _bind(polygamma_p, x, n=n)
