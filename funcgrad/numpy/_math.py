"""Elementwise math with NumPy's names, broadcasting and dtype rules, composed from lax."""

from __future__ import annotations

import math as _pymath

import numpy as np

from funcgrad import lax
from funcgrad.core.array import ArrayBase
from funcgrad.lax import elementwise as ew
from funcgrad.numpy._core import asarray, operand, unary_operand


def _no_out(name, out):
    if out is not None:
        raise TypeError(
            f"fnp.{name}: out= is not supported because funcgrad arrays are immutable; "
            f"use the returned value (y = fnp.{name}(...))"
        )


def _float_operand(x):
    """Integer inputs of float functions (sin, exp, ...) promote like NumPy."""
    x = unary_operand(x)
    if x.dtype.kind in "biu":
        x = lax.convert_element_type(x, np.float64 if x.dtype.itemsize > 2 else np.float32)
    return x


def _ufunc_float_operands(ufunc, *xs):
    """Integer operands of a float ufunc converted to the dtype NumPy's loops give (int8 and
    bool -> float16, int16 -> float32, int32 and int64 -> float64, mixed pairs alike)."""
    if not any(getattr(x, "dtype", np.dtype("f")).kind in "biu" for x in xs):
        return xs
    dtype = ufunc(*[np.zeros((), x.dtype) if hasattr(x, "dtype") else x for x in xs]).dtype
    return tuple(
        lax.convert_element_type(x, dtype)
        if getattr(x, "dtype", None) is not None and x.dtype.kind in "biu"
        else x
        for x in xs
    )


def _unary(name, prim, doc=None):
    # Integer inputs need no conversion: NumPy's ufuncs (and the abstract eval) promote them.
    bind = prim.bind

    def f(x, /, out=None):
        if out is not None:
            _no_out(name, out)
        if not isinstance(x, ArrayBase):
            x = asarray(x)
        return bind(x)

    f.__name__ = name
    f.__qualname__ = name
    f.__doc__ = doc or f"Elementwise ``{name}`` (NumPy's ``np.{name}``), differentiable."
    return f


def _binary(name, prim, doc=None):
    bind = prim.bind

    def f(x1, x2, /, out=None):
        if out is not None:
            _no_out(name, out)
        x1, x2 = _promote_float(operand(x1), operand(x2))
        return bind(x1, x2)

    f.__name__ = name
    f.__qualname__ = name
    f.__doc__ = doc or f"Elementwise ``{name}`` with broadcasting (NumPy's ``np.{name}``)."
    return f


def _promote_float(x1, x2):
    # Two Python scalars: the first becomes an array of the default float dtype, so the result
    # is an array (NumPy would give a float64 scalar).
    if not hasattr(x1, "dtype") and not hasattr(x2, "dtype"):
        return unary_operand(x1), x2
    return x1, x2


sin = _unary("sin", ew.sin_p)
cos = _unary("cos", ew.cos_p)
tan = _unary("tan", ew.tan_p)
arcsin = _unary("arcsin", ew.asin_p)
arccos = _unary("arccos", ew.acos_p)
arctan = _unary("arctan", ew.atan_p)
sinh = _unary("sinh", ew.sinh_p)
cosh = _unary("cosh", ew.cosh_p)
tanh = _unary("tanh", ew.tanh_p)
arcsinh = _unary("arcsinh", ew.asinh_p)
arccosh = _unary("arccosh", ew.acosh_p)
arctanh = _unary("arctanh", ew.atanh_p)
exp = _unary("exp", ew.exp_p)
exp2 = _unary("exp2", ew.exp2_p)
expm1 = _unary("expm1", ew.expm1_p)
log = _unary("log", ew.log_p)
log1p = _unary("log1p", ew.log1p_p)
sqrt = _unary("sqrt", ew.sqrt_p)
cbrt = _unary("cbrt", ew.cbrt_p)
negative = _unary("negative", ew.neg_p)
absolute = _unary("absolute", ew.abs_p)
abs = absolute  # noqa: A001 - NumPy's alias
fabs = _unary("fabs", ew.abs_p)
sign = _unary("sign", ew.sign_p)
floor = _unary("floor", ew.floor_p)
ceil = _unary("ceil", ew.ceil_p)
trunc = _unary("trunc", ew.trunc_p)
rint = _unary("rint", ew.round_p)
isfinite = _unary("isfinite", ew.is_finite_p)
invert = _unary("invert", ew.not_p)
bitwise_not = invert
arcsin.__doc__ = "Inverse sine, elementwise. Example: ``fnp.arcsin(1.0)``."

add = _binary("add", ew.add_p)
subtract = _binary("subtract", ew.sub_p)
multiply = _binary("multiply", ew.mul_p)
true_divide = _binary("true_divide", ew.div_p)
divide = true_divide
floor_divide = _binary("floor_divide", ew.floor_divide_p)
power = _binary("power", ew.pow_p)
maximum = _binary("maximum", ew.max_p)
minimum = _binary("minimum", ew.min_p)
arctan2 = _binary("arctan2", ew.atan2_p)
fmod = _binary("fmod", ew.rem_p)
equal = _binary("equal", ew.eq_p)
not_equal = _binary("not_equal", ew.ne_p)
less = _binary("less", ew.lt_p)
less_equal = _binary("less_equal", ew.le_p)
greater = _binary("greater", ew.gt_p)
greater_equal = _binary("greater_equal", ew.ge_p)
bitwise_and = _binary("bitwise_and", ew.and_p)
bitwise_or = _binary("bitwise_or", ew.or_p)
bitwise_xor = _binary("bitwise_xor", ew.xor_p)
left_shift = _binary("left_shift", ew.shift_left_p)
right_shift = _binary("right_shift", ew.shift_right_p)


def _bool(x):
    x = operand(x)
    if getattr(x, "dtype", None) != np.bool_:
        x = lax.ne(x, 0)
    return x


def logical_and(x1, x2, /, out=None):
    """Elementwise logical and (inputs are tested for being non-zero)."""
    _no_out("logical_and", out)
    return lax.bitwise_and(_bool(x1), _bool(x2))


def logical_or(x1, x2, /, out=None):
    """Elementwise logical or."""
    _no_out("logical_or", out)
    return lax.bitwise_or(_bool(x1), _bool(x2))


def logical_xor(x1, x2, /, out=None):
    """Elementwise logical exclusive or."""
    _no_out("logical_xor", out)
    return lax.bitwise_xor(_bool(x1), _bool(x2))


def logical_not(x, /, out=None):
    """Elementwise logical not."""
    _no_out("logical_not", out)
    return lax.bitwise_not(_bool(x))


def isnan(x, /, out=None):
    """True where ``x`` is NaN."""
    _no_out("isnan", out)
    x = unary_operand(x)
    return lax.ne(x, x)


def isinf(x, /, out=None):
    """True where ``x`` is +inf or -inf."""
    _no_out("isinf", out)
    x = unary_operand(x)
    return lax.eq(lax.abs(x), np.inf) if x.dtype.kind in "fc" else lax.ne(x, x)


def mod(x1, x2, /, out=None):
    """Remainder with the sign of the divisor (NumPy's ``mod``/``remainder``)."""
    _no_out("mod", out)
    x1, x2 = operand(x1), operand(x2)
    r = lax.rem(x1, x2)
    fix = lax.bitwise_and(lax.ne(r, 0), lax.ne(lax.lt(r, 0), lax.lt(x2, 0)))
    return lax.select(fix, r + x2, r)


remainder = mod


def square(x, /, out=None):
    """``x * x`` elementwise."""
    _no_out("square", out)
    return lax.integer_pow(unary_operand(x), 2)


def reciprocal(x, /, out=None):
    """``1 / x`` elementwise (integer inputs keep NumPy's integer semantics)."""
    _no_out("reciprocal", out)
    x = unary_operand(x)
    if x.dtype.kind in "biu":  # C's integer 1 / x: x for x = +-1, else 0 (NumPy's loop)
        x = lax.convert_element_type(x, np.reciprocal(np.ones((), x.dtype)).dtype)
        return lax.select(lax.eq(lax.abs(x), 1), x, lax.sub(x, x))
    return lax.div(np.ones((), x.dtype)[()], x)


def positive(x, /, out=None):
    """``+x``."""
    _no_out("positive", out)
    return unary_operand(x)


def log2(x, /, out=None):
    """Base-2 logarithm."""
    _no_out("log2", out)
    return log(x) * (1.0 / _pymath.log(2.0))


def log10(x, /, out=None):
    """Base-10 logarithm."""
    _no_out("log10", out)
    return log(x) * (1.0 / _pymath.log(10.0))


def logaddexp(x1, x2, /, out=None):
    """``log(exp(x1) + exp(x2))`` without overflow."""
    _no_out("logaddexp", out)
    x1, x2 = _promote_float(operand(x1), operand(x2))
    m = lax.max(x1, x2)
    m = lax.stop_gradient(lax.select(lax.is_finite(m), m, 0.0))
    return m + log(exp(x1 - m) + exp(x2 - m))


def logaddexp2(x1, x2, /, out=None):
    """``log2(2**x1 + 2**x2)`` without overflow."""
    _no_out("logaddexp2", out)
    ln2 = _pymath.log(2.0)
    return logaddexp(operand(x1) * ln2, operand(x2) * ln2) * (1.0 / ln2)


def hypot(x1, x2, /, out=None):
    """``sqrt(x1**2 + x2**2)`` elementwise, without overflow for large inputs."""
    _no_out("hypot", out)
    x1, x2 = _promote_float(*_ufunc_float_operands(np.hypot, operand(x1), operand(x2)))
    a, b = lax.abs(x1), lax.abs(x2)
    big = lax.max(a, b)
    small = lax.min(a, b)
    safe = lax.select(big == 0, 1.0, big)
    r = small / safe
    return lax.select(big == 0, 0.0 * big, big * sqrt(1.0 + r * r))


def clip(a, a_min=None, a_max=None, out=None, *, min=None, max=None):  # noqa: A002
    """``a`` limited to ``[a_min, a_max]`` (NumPy 2 also spells them ``min=``/``max=``).

    Either bound may be None (no limit); the gradient reaches ``a`` inside, bounds included.

    Example:
      >>> fnp.clip(fnp.asarray([-2.0, 0.5, 3.0]), a_min=0.0, a_max=1.0)
      Array([0. , 0.5, 1. ], dtype=float32)
    """
    _no_out("clip", out)
    if a_min is not None and min is not None:
        raise TypeError("fnp.clip: give the lower bound once, as a_min= or min=, not both")
    if a_max is not None and max is not None:
        raise TypeError("fnp.clip: give the upper bound once, as a_max= or max=, not both")
    lo = a_min if a_min is not None else min
    hi = a_max if a_max is not None else max
    a = unary_operand(a)
    if lo is None and hi is None:
        raise ValueError("fnp.clip: give a lower bound (a_min=/min=), an upper bound, or both")
    lo = -np.inf if lo is None else operand(lo)
    hi = np.inf if hi is None else operand(hi)
    return lax.clamp(lo, a, hi)


def round(a, decimals: int = 0, out=None):  # noqa: A001 - NumPy's name
    """Rounds half to even to ``decimals`` places (NumPy's ``round``); zero derivative."""
    _no_out("round", out)
    a = unary_operand(a)
    if decimals == 0:
        return lax.round(a)
    f = 10.0**decimals
    return lax.round(a * f) / f


around = round


def where(condition, x=None, y=None, /):
    """``x`` where ``condition`` else ``y``, broadcasting (NumPy's three-argument ``where``)."""
    if x is None and y is None:
        from funcgrad.numpy._indexing import nonzero

        return nonzero(condition)
    if x is None or y is None:
        raise ValueError("fnp.where: give both x and y, or neither")
    return lax.select(_bool(condition), operand(x), operand(y))


def heaviside(x1, x2, /, out=None):
    """0 where ``x1 < 0``, ``x2`` where ``x1 == 0``, 1 where ``x1 > 0``."""
    _no_out("heaviside", out)
    return lax.heaviside(operand(x1), operand(x2))


def sinc(x, /):
    """``sin(pi x) / (pi x)`` with ``sinc(0) = 1`` (integer inputs give float64, as NumPy)."""
    x = unary_operand(x)
    if x.dtype.kind in "biu":
        x = lax.convert_element_type(x, np.float64)
    # Near 0, the Taylor series (exact to rounding for |pi x| < 1e-2) keeps every derivative
    # right: sinc''(0) = -pi^2 / 3 where sin(y) / y guarded by a select would give 0.
    y = np.pi * x
    small = lax.abs(y) < 1e-2
    safe = lax.select(small, 1.0, y)
    y2 = y * y
    series = 1.0 - y2 / 6.0 * (1.0 - y2 / 20.0 * (1.0 - y2 / 42.0))
    return lax.select(small, series, sin(safe) / safe)


def deg2rad(x, /, out=None):
    """Degrees to radians."""
    _no_out("deg2rad", out)
    return _ufunc_float_operands(np.deg2rad, unary_operand(x))[0] * (np.pi / 180.0)


def rad2deg(x, /, out=None):
    """Radians to degrees."""
    _no_out("rad2deg", out)
    return _ufunc_float_operands(np.rad2deg, unary_operand(x))[0] * (180.0 / np.pi)


radians = deg2rad
degrees = rad2deg


def nan_to_num(x, copy=True, nan=0.0, posinf=None, neginf=None):
    """Replaces NaN and infinities by finite numbers (NumPy's defaults: the dtype's extremes)."""
    x = unary_operand(x)
    if x.dtype.kind not in "fc":
        return x
    info = np.finfo(x.dtype)
    posinf = info.max if posinf is None else posinf
    neginf = info.min if neginf is None else neginf
    x = lax.select(isnan(x), nan, x)
    x = lax.select(lax.eq(x, np.inf), posinf, x)
    return lax.select(lax.eq(x, -np.inf), neginf, x)
