"""Elementwise primitives: one stanza each (wrapper, primitive, impl, shapes, jvp, vjp).

Binary primitives broadcast like NumPy; their cotangents are summed back to each operand's
shape by ``unbroadcast`` (as in HIPS autograd). Python scalars stay weakly typed (NEP 50).
"""

from __future__ import annotations

import functools
import math
import operator

import numpy as np

from funcgrad.core.array import Array, raw_value
from funcgrad.core.ir import Literal
from funcgrad.core.passes import forwarding_rules
from funcgrad.core.primitive import Primitive, ShapedArray, eval_primitive
from funcgrad.transforms.grad import defjvp, defvjp, defvjp_eager, nondiff_primitives
from funcgrad.transforms.vmap import defbroadcasting

# --------------------------------------------------------------------------------------------
# Registration helpers


def _aval_dtype(a):
    return a.dtype if isinstance(a, ShapedArray) else a  # Python scalars stay weak


def _elementwise_abstract_eval(*avals, **params):
    shapes = [a.shape for a in avals if isinstance(a, ShapedArray)]
    dtype = np.result_type(*[_aval_dtype(a) for a in avals])
    return ShapedArray(np.broadcast_shapes(*shapes), dtype)


def _predicate_abstract_eval(*avals, **params):
    shapes = [a.shape for a in avals if isinstance(a, ShapedArray)]
    return ShapedArray(np.broadcast_shapes(*shapes), np.dtype(bool))


def _ufunc_impl(name):
    np_fn = getattr(np, name, None)  # None: the primitive installs its own impl

    def impl(xp, *args):
        return (np_fn if xp is np else getattr(xp, name))(*args)

    impl.__name__ = f"_{name}_impl"
    # jit's replay calls these directly on NumPy values (ufunc with out= to reuse a buffer).
    impl.direct = impl.ufunc = np_fn
    return impl


def unary(name: str, ufunc: str | None = None, deriv=None) -> Primitive:
    """A unary elementwise primitive whose derivative is ``deriv(ans, x)`` (None: no derivative).

    Both rules are one product: jvp ``t * deriv``, vjp ``g * deriv``.
    """
    prim = Primitive(name)
    prim.def_impl(_ufunc_impl(ufunc or name))
    prim.def_abstract_eval(_elementwise_abstract_eval)
    defbroadcasting(prim)
    if deriv is None:
        nondiff_primitives.add(prim)
    else:
        defjvp(prim, lambda t, ans, x: t * deriv(ans, x))
        defvjp(prim, lambda g, ans, x: g * deriv(ans, x))
        # Eagerly on NumPy values: the derivative through funcgrad (its primitives run on the
        # NumPy values directly), the product in NumPy.
        defvjp_eager(prim, lambda g, ans, x: g * raw_value(deriv(ans, x)))
    return prim


def _operator_impl(op):
    # Python's operators on NumPy values call the same ufuncs, but skip the ufunc call's
    # argument parsing for NumPy scalars (about 50 ns instead of 700 ns for float32 * 1.01).
    def impl(xp, x, y):
        out = op(x, y)
        # 1j * np.float64(x) runs Python's complex.__mul__ (np.float64 subclasses float)
        return np.complex128(out) if type(out) is complex else out

    impl.__name__ = f"_{op.__name__}_impl"
    impl.direct, impl.ufunc = op, _OPERATOR_UFUNCS[op]
    return impl


_OPERATOR_UFUNCS = {
    operator.add: np.add,
    operator.sub: np.subtract,
    operator.mul: np.multiply,
    operator.truediv: np.true_divide,
}


def binary(name: str, ufunc: str | None = None, predicate: bool = False, op=None) -> Primitive:
    prim = Primitive(name)
    prim.def_impl(_operator_impl(op) if op is not None else _ufunc_impl(ufunc or name))
    prim.def_abstract_eval(_predicate_abstract_eval if predicate else _elementwise_abstract_eval)
    defbroadcasting(prim)
    if predicate:
        nondiff_primitives.add(prim)
    return prim


@functools.lru_cache(maxsize=1024)
def _broadcast_axes(gshape, shape):
    # The axes of a cotangent of shape ``gshape`` that an operand of ``shape`` was broadcast along.
    lead = len(gshape) - len(shape)
    return tuple(range(lead)) + tuple(
        lead + i for i, d in enumerate(shape) if d == 1 and gshape[lead + i] != 1
    )


def unbroadcast(g, x):
    """Sums cotangent ``g`` over the axes along which ``x`` was broadcast; casts to x's dtype."""
    shape = x.shape
    gshape = g.shape
    if gshape != shape:
        axes = _broadcast_axes(tuple(gshape), tuple(shape))
        if axes:
            g = reduce_sum_p.bind(g, axes=axes)
        if g.shape != shape:
            g = reshape_p.bind(g, new_sizes=tuple(shape))
    if g.dtype != x.dtype:
        g = convert_element_type_p.bind(g, new_dtype=x.dtype)
    return g


def broadcast_like(t, ans):
    """A tangent of one operand, brought to the output's shape and dtype."""
    if t.dtype != ans.dtype:
        t = convert_element_type_p.bind(t, new_dtype=ans.dtype)
    if t.shape != ans.shape:
        t = broadcast_to_p.bind(t, shape=ans.shape)
    return t


def unbroadcast_eager(g, x):
    """``unbroadcast`` on NumPy values, for the eager vjp rules (see grad.eager_vjp_rules)."""
    shape = x.shape
    gshape = g.shape
    if gshape != shape:
        axes = _broadcast_axes(gshape, shape)
        if axes:
            g = np.add.reduce(g, axis=axes)
        if g.shape != shape:
            g = g.reshape(shape)
    if g.dtype != x.dtype:
        g = _convert_element_type_impl(np, g, new_dtype=x.dtype)
    return g


# Late imports: shape and reduce primitives are used by the helpers above.
from funcgrad.lax.reduce import reduce_sum_p  # noqa: E402
from funcgrad.lax.shape import broadcast_to_p, reshape_p  # noqa: E402

# --------------------------------------------------------------------------------------------
# Arithmetic

add_p = binary("add", op=operator.add)
defjvp(
    add_p, lambda t, ans, x, y: broadcast_like(t, ans), lambda t, ans, x, y: broadcast_like(t, ans)
)
defvjp(add_p, lambda g, ans, x, y: unbroadcast(g, x), lambda g, ans, x, y: unbroadcast(g, y))
defvjp_eager(
    add_p,
    lambda g, ans, x, y: unbroadcast_eager(g, x),
    lambda g, ans, x, y: unbroadcast_eager(g, y),
)

sub_p = binary("sub", op=operator.sub)
defjvp(
    sub_p, lambda t, ans, x, y: broadcast_like(t, ans), lambda t, ans, x, y: -broadcast_like(t, ans)
)
defvjp(sub_p, lambda g, ans, x, y: unbroadcast(g, x), lambda g, ans, x, y: unbroadcast(-g, y))
defvjp_eager(
    sub_p,
    lambda g, ans, x, y: unbroadcast_eager(g, x),
    lambda g, ans, x, y: unbroadcast_eager(-g, y),
)

mul_p = binary("mul", op=operator.mul)
defjvp(
    mul_p,
    lambda t, ans, x, y: broadcast_like(t * y, ans),
    lambda t, ans, x, y: broadcast_like(x * t, ans),
)
defvjp(
    mul_p, lambda g, ans, x, y: unbroadcast(g * y, x), lambda g, ans, x, y: unbroadcast(x * g, y)
)
defvjp_eager(
    mul_p,
    lambda g, ans, x, y: unbroadcast_eager(g * y, x),
    lambda g, ans, x, y: unbroadcast_eager(x * g, y),
)

div_p = binary("div", op=operator.truediv)
defjvp(
    div_p,
    lambda t, ans, x, y: broadcast_like(t / y, ans),
    lambda t, ans, x, y: broadcast_like(-t * ans / y, ans),
)
defvjp(
    div_p,
    lambda g, ans, x, y: unbroadcast(g / y, x),
    lambda g, ans, x, y: unbroadcast(-g * ans / y, y),
)
defvjp_eager(
    div_p,
    lambda g, ans, x, y: unbroadcast_eager(g / y, x),
    lambda g, ans, x, y: unbroadcast_eager(-g * ans / y, y),
)

rem_p = binary("rem", "fmod")  # C's fmod: the sign of x (fnp.mod builds NumPy's from it)
defjvp(
    rem_p,
    lambda t, ans, x, y: broadcast_like(t, ans),
    lambda t, ans, x, y: broadcast_like(-t * trunc(x / y), ans),
)
defvjp(
    rem_p,
    lambda g, ans, x, y: unbroadcast(g, x),
    lambda g, ans, x, y: unbroadcast(-g * trunc(x / y), y),
)


def _pow_dx(ans, x, y):
    # d/dx x**y = y * x**(y-1), and 0 where y == 0 (x**0 is flat everywhere, even at x = 0).
    # Writing it y * x**(y'-1) with y' = 1 where y == 0 gives 0 * x**0 = 0 there with no
    # inf * 0 anywhere, so every higher derivative of x**0 is 0 too (not nan).
    return y * pow(x, select(y == 0, 1.0, y) - 1)


def _pow_dy(ans, x, y):
    return select(x == 0, 0.0, log(select(x == 0, 1.0, x))) * ans


pow_p = binary("pow", "power")
defjvp(
    pow_p,
    lambda t, ans, x, y: broadcast_like(t * _pow_dx(ans, x, y), ans),
    lambda t, ans, x, y: broadcast_like(t * _pow_dy(ans, x, y), ans),
)
defvjp(
    pow_p,
    lambda g, ans, x, y: unbroadcast(g * _pow_dx(ans, x, y), x),
    lambda g, ans, x, y: unbroadcast(g * _pow_dy(ans, x, y), y),
)


# route_max(g, x, y): the cotangent (or tangent) g routed to x of max(x, y): g where x wins,
# g / 2 on ties (the derivative is split evenly, as torch.maximum), 0 where y wins. One
# primitive, so that the tie term costs nothing when there are no ties, also under jit (where
# the masks are not known while tracing). Linear in g; piecewise constant in x and y.


def _route_max_impl(xp, g, x, y):
    # Masks multiply (a bool mask keeps g's dtype): several times faster than a select.
    out = g * xp.greater(x, y)
    tie = xp.equal(x, y)
    if tie.any():
        out = out + (g * 0.5) * tie
    return out


def _route_max_abstract_eval(g, x, y):
    shapes = [a.shape for a in (g, x, y) if isinstance(a, ShapedArray)]
    return ShapedArray(np.broadcast_shapes(*shapes), g.dtype)


route_max_p = Primitive("route_max")
route_max_p.def_impl(_route_max_impl)
route_max_p.def_abstract_eval(_route_max_abstract_eval)
defjvp(route_max_p, lambda t, ans, g, x, y: route_max_p.bind(t, x, y), None, None)
defvjp(route_max_p, lambda ct, ans, g, x, y: unbroadcast(route_max_p.bind(ct, x, y), g), None, None)
defbroadcasting(route_max_p)


def _route_max(g, x, y):
    return route_max_p.bind(g, x, y)


max_p = binary("max", "maximum")
defjvp(
    max_p,
    lambda t, ans, x, y: broadcast_like(_route_max(broadcast_like(t, ans), x, y), ans),
    lambda t, ans, x, y: broadcast_like(_route_max(broadcast_like(t, ans), y, x), ans),
)
defvjp(
    max_p,
    lambda g, ans, x, y: unbroadcast(_route_max(g, x, y), x),
    lambda g, ans, x, y: unbroadcast(_route_max(g, y, x), y),
)
defvjp_eager(
    max_p,
    lambda g, ans, x, y: unbroadcast_eager(_route_max_impl(np, g, x, y), x),
    lambda g, ans, x, y: unbroadcast_eager(_route_max_impl(np, g, y, x), y),
)

# heaviside(x1, x2): 0 where x1 < 0, x2 where x1 == 0, 1 where x1 > 0 (NumPy's ufunc).
heaviside_p = binary("heaviside")
defjvp(
    heaviside_p,
    None,
    lambda t, ans, x1, x2: broadcast_like(t * eq(x1, 0), ans),
)
defvjp(
    heaviside_p,
    None,
    lambda g, ans, x1, x2: unbroadcast(g * eq(x1, 0), x2),
)

min_p = binary("min", "minimum")
defjvp(
    min_p,
    lambda t, ans, x, y: broadcast_like(_route_max(broadcast_like(t, ans), y, x), ans),
    lambda t, ans, x, y: broadcast_like(_route_max(broadcast_like(t, ans), x, y), ans),
)
defvjp(
    min_p,
    lambda g, ans, x, y: unbroadcast(_route_max(g, y, x), x),
    lambda g, ans, x, y: unbroadcast(_route_max(g, x, y), y),
)
defvjp_eager(
    min_p,
    lambda g, ans, x, y: unbroadcast_eager(_route_max_impl(np, g, y, x), x),
    lambda g, ans, x, y: unbroadcast_eager(_route_max_impl(np, g, x, y), y),
)

atan2_p = binary("atan2", "arctan2")
defjvp(
    atan2_p,
    lambda t, ans, y, x: broadcast_like(t * x / (x * x + y * y), ans),
    lambda t, ans, y, x: broadcast_like(-t * y / (x * x + y * y), ans),
)
defvjp(
    atan2_p,
    lambda g, ans, y, x: unbroadcast(g * x / (x * x + y * y), y),
    lambda g, ans, y, x: unbroadcast(-g * y / (x * x + y * y), x),
)

floor_divide_p = binary("floor_divide")
nondiff_primitives.add(floor_divide_p)

neg_p = unary("neg", "negative", lambda ans, x: -1.0)
defjvp(neg_p, lambda t, ans, x: -t)  # linear: one negation instead of a product with -1
defvjp(neg_p, lambda g, ans, x: -g)
defvjp_eager(neg_p, lambda g, ans, x: -g)

# --------------------------------------------------------------------------------------------
# Transcendental and other unary functions: (name, NumPy ufunc, derivative from (ans, x))

exp_p = unary("exp", None, lambda ans, x: ans)
exp2_p = unary("exp2", None, lambda ans, x: ans * math.log(2.0))
expm1_p = unary("expm1", None, lambda ans, x: ans + 1.0)
log_p = unary("log", None, lambda ans, x: 1.0 / x)
log1p_p = unary("log1p", None, lambda ans, x: 1.0 / (x + 1.0))
sin_p = unary("sin", None, lambda ans, x: cos(x))
cos_p = unary("cos", None, lambda ans, x: -sin(x))
tan_p = unary("tan", None, lambda ans, x: ans * ans + 1.0)
asin_p = unary("asin", "arcsin", lambda ans, x: rsqrt(1.0 - x * x))
acos_p = unary("acos", "arccos", lambda ans, x: -rsqrt(1.0 - x * x))
atan_p = unary("atan", "arctan", lambda ans, x: 1.0 / (x * x + 1.0))
sinh_p = unary("sinh", None, lambda ans, x: cosh(x))
cosh_p = unary("cosh", None, lambda ans, x: sinh(x))
tanh_p = unary("tanh", None, lambda ans, x: 1.0 - ans * ans)
asinh_p = unary("asinh", "arcsinh", lambda ans, x: rsqrt(x * x + 1.0))
acosh_p = unary("acosh", "arccosh", lambda ans, x: _acosh_deriv(x))
atanh_p = unary("atanh", "arctanh", lambda ans, x: 1.0 / (1.0 - x * x))
sqrt_p = unary("sqrt", None, lambda ans, x: 0.5 / ans)
cbrt_p = unary("cbrt", None, lambda ans, x: 1.0 / (3.0 * ans * ans))


def _acosh_deriv(x):
    # 1 / sqrt((x - 1)(x + 1)) for real x; for complex x the product of the two square roots
    # follows arccosh's branch cut (the real axis left of 1), the root of the product does not.
    if x.dtype.kind == "c":
        return rsqrt(x - 1.0) * rsqrt(x + 1.0)
    return rsqrt((x - 1.0) * (x + 1.0))


# abs'(0) = 0, as in PyTorch. For complex x, |x| is real and not holomorphic: its jvp is
# Re(conj(x) t) / |x| and its vjp (the transpose) g conj(x) / |x|, both 0 at x = 0 (as JAX).
def _abs_dir(ans, x):
    from funcgrad.lax.complex import conj

    return conj(x) / select(ans == 0, 1.0, ans)


def _abs_jvp(t, ans, x):
    if x.dtype.kind != "c":
        return t * sign(x)
    from funcgrad.lax.complex import real

    return real(t * _abs_dir(ans, x))


def _abs_vjp(g, ans, x):
    return g * (_abs_dir(ans, x) if x.dtype.kind == "c" else sign(x))


def _abs_abstract_eval(x):
    out = _elementwise_abstract_eval(x)
    if out.dtype.kind == "c":  # |x| of a complex x is real
        return ShapedArray(out.shape, np.empty((), out.dtype).real.dtype)
    return out


abs_p = Primitive("abs")
abs_p.def_impl(_ufunc_impl("absolute"))
abs_p.def_abstract_eval(_abs_abstract_eval)
defbroadcasting(abs_p)
defjvp(abs_p, _abs_jvp)
defvjp(abs_p, _abs_vjp)


def _rsqrt_impl(xp, x):
    return 1.0 / xp.sqrt(x)


rsqrt_p = unary("rsqrt", None, lambda ans, x: -0.5 * ans / x)
rsqrt_p.def_impl(_rsqrt_impl)


def _logistic_impl(xp, x):
    if x.dtype.kind == "c":  # no overflow-safe form: |exp(-x)| depends only on Re(x)
        return 1.0 / (1.0 + xp.exp(-x))
    # 1 / (1 + exp(-x)) overflows exp for very negative x; this form never does.
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


logistic_p = unary("logistic", None, lambda ans, x: ans * (1.0 - ans))
logistic_p.def_impl(_logistic_impl)


# sign: piecewise constant for real x (zero derivative). For complex x, sign(x) = x / |x| moves
# with x: jvp (t - s Re(conj(s) t)) / |x|, vjp (g - Re(g s) conj(s)) / |x| (0 at x = 0), as in
# PyTorch's sgn; JAX gives it a zero derivative for complex x too.
def _sign_parts(ans, x):
    from funcgrad.lax.complex import conj, real

    r = abs(x)
    return conj, real, select(r == 0, 0.0, 1.0 / select(r == 0, 1.0, r))


def _sign_jvp(t, ans, x):
    if x.dtype.kind != "c":
        return None
    conj, real, inv_r = _sign_parts(ans, x)
    return (t - ans * real(conj(ans) * t)) * inv_r


def _sign_vjp(g, ans, x):
    if x.dtype.kind != "c":
        return None
    conj, real, inv_r = _sign_parts(ans, x)
    return (g - real(g * ans) * conj(ans)) * inv_r


sign_p = Primitive("sign")
sign_p.def_impl(_ufunc_impl("sign"))
sign_p.def_abstract_eval(_elementwise_abstract_eval)
defbroadcasting(sign_p)
defjvp(sign_p, _sign_jvp)
defvjp(sign_p, _sign_vjp)
floor_p = unary("floor")
ceil_p = unary("ceil")
round_p = unary("round", "rint")  # half to even, as NumPy
trunc_p = unary("trunc")
is_finite_p = unary("is_finite", "isfinite")
is_finite_p.def_abstract_eval(_predicate_abstract_eval)


def _integer_pow_impl(xp, x, *, y):
    return x**y


def _integer_pow_deriv(ans, x, y):
    if y == 0:
        return 0.0
    return y * (x if y == 2 else integer_pow(x, y - 1))


integer_pow_p = Primitive("integer_pow")
integer_pow_p.def_impl(_integer_pow_impl)
integer_pow_p.def_abstract_eval(_elementwise_abstract_eval)
defbroadcasting(integer_pow_p)
defjvp(integer_pow_p, lambda t, ans, x, *, y: t * _integer_pow_deriv(ans, x, y))
defvjp(integer_pow_p, lambda g, ans, x, *, y: g * _integer_pow_deriv(ans, x, y))
defvjp_eager(
    integer_pow_p,
    lambda g, ans, x, *, y: g * (0.0 if y == 0 else y * (x if y == 2 else x ** (y - 1))),
)

# --------------------------------------------------------------------------------------------
# Comparisons and logic (no derivative)

eq_p = binary("eq", "equal", predicate=True)
ne_p = binary("ne", "not_equal", predicate=True)
lt_p = binary("lt", "less", predicate=True)
le_p = binary("le", "less_equal", predicate=True)
gt_p = binary("gt", "greater", predicate=True)
ge_p = binary("ge", "greater_equal", predicate=True)
and_p = binary("and", "bitwise_and")
or_p = binary("or", "bitwise_or")
xor_p = binary("xor", "bitwise_xor")
shift_left_p = binary("shift_left", "left_shift")
shift_right_p = binary("shift_right", "right_shift")
nondiff_primitives.update({and_p, or_p, xor_p, shift_left_p, shift_right_p})
not_p = unary("not", "invert")

# --------------------------------------------------------------------------------------------
# select, clamp, dtype conversion, stop_gradient


def _select_impl(xp, pred, x, y):
    if xp is not np:
        pred = xp.asarray(pred)  # CuPy's where calls pred.astype: a Python bool has none
    return xp.where(pred, x, y)


def _select_abstract_eval(pred, x, y):
    out = _elementwise_abstract_eval(x, y)
    shapes = [a.shape for a in (pred, out) if isinstance(a, ShapedArray)]
    return ShapedArray(np.broadcast_shapes(*shapes), out.dtype)


select_p = Primitive("select")
select_p.def_impl(_select_impl)
select_p.def_abstract_eval(_select_abstract_eval)
defbroadcasting(select_p)
defjvp(
    select_p,
    None,
    lambda t, ans, p, x, y: broadcast_like(select(p, t, 0.0), ans),
    lambda t, ans, p, x, y: broadcast_like(select(p, 0.0, t), ans),
)
defvjp(
    select_p,
    None,
    lambda g, ans, p, x, y: unbroadcast(select(p, g, 0.0), x),
    lambda g, ans, p, x, y: unbroadcast(select(p, 0.0, g), y),
)
defvjp_eager(
    select_p,
    None,
    lambda g, ans, p, x, y: unbroadcast_eager(_select_impl(np, p, g, 0.0), x),
    lambda g, ans, p, x, y: unbroadcast_eager(_select_impl(np, p, 0.0, g), y),
)


def _clamp_impl(xp, lo, x, hi):
    return xp.minimum(xp.maximum(x, lo), hi)


def _clamp_abstract_eval(lo, x, hi):
    return _elementwise_abstract_eval(lo, x, hi)


# Inside [lo, hi] (boundaries included) the gradient goes to x, as in torch.clamp.
clamp_p = Primitive("clamp")
clamp_p.def_impl(_clamp_impl)
clamp_p.def_abstract_eval(_clamp_abstract_eval)
defbroadcasting(clamp_p)
defjvp(
    clamp_p,
    lambda t, ans, lo, x, hi: broadcast_like(select(x < lo, t, 0.0), ans),
    lambda t, ans, lo, x, hi: broadcast_like(select((x >= lo) & (x <= hi), t, 0.0), ans),
    lambda t, ans, lo, x, hi: broadcast_like(select(x > hi, t, 0.0), ans),
)
defvjp(
    clamp_p,
    lambda g, ans, lo, x, hi: unbroadcast(select(x < lo, g, 0.0), lo),
    lambda g, ans, lo, x, hi: unbroadcast(select((x >= lo) & (x <= hi), g, 0.0), x),
    lambda g, ans, lo, x, hi: unbroadcast(select(x > hi, g, 0.0), hi),
)


def _convert_element_type_impl(xp, x, *, new_dtype):
    if not hasattr(x, "astype"):
        x = xp.asarray(x)
    if x.dtype.kind == "c" and np.dtype(new_dtype).kind != "c":
        x = x.real  # what astype keeps, without its ComplexWarning (the wrapper warns)
    return x.astype(new_dtype)


def _convert_element_type_abstract_eval(x, *, new_dtype):
    shape = x.shape if isinstance(x, ShapedArray) else ()
    return ShapedArray(shape, np.dtype(new_dtype))


def _convert_jvp(t, ans, x, *, new_dtype):
    if np.dtype(new_dtype).kind not in "fc" or x.dtype.kind not in "fc":
        return None  # integer results carry no derivative
    return convert_element_type(t, new_dtype)


def _convert_vjp(g, ans, x, *, new_dtype):
    if np.dtype(new_dtype).kind not in "fc" or x.dtype.kind not in "fc":
        return None
    # complex -> real input: the transpose of the inclusion is the real part (no warning)
    return g if g.dtype == x.dtype else convert_element_type_p.bind(g, new_dtype=x.dtype)


convert_element_type_p = Primitive("convert_element_type")
convert_element_type_p.def_impl(_convert_element_type_impl)
convert_element_type_p.def_abstract_eval(_convert_element_type_abstract_eval)
defbroadcasting(convert_element_type_p)
defjvp(convert_element_type_p, _convert_jvp)
defvjp(convert_element_type_p, _convert_vjp)
defvjp_eager(
    convert_element_type_p,
    lambda g, ans, x, *, new_dtype: (
        None
        if np.dtype(new_dtype).kind not in "fc" or x.dtype.kind not in "fc"
        else g
        if g.dtype == x.dtype
        else _convert_element_type_impl(np, g, new_dtype=x.dtype)
    ),
)


def _identity_impl(xp, x):
    return x


stop_gradient_p = Primitive("stop_gradient")
stop_gradient_p.def_impl(_identity_impl)
stop_gradient_p.def_abstract_eval(lambda x: x)
defbroadcasting(stop_gradient_p)
nondiff_primitives.add(stop_gradient_p)

# --------------------------------------------------------------------------------------------
# Public wrappers (lax names)

_PY_SCALARS = (int, float, bool, complex)
_NO_PARAMS: dict = {}


def _w1(prim):
    bind = prim.bind

    def f(x):
        if type(x) is Array:  # concrete: no tracer to look for
            return eval_primitive(prim, (x,), _NO_PARAMS)
        return bind(x)

    f.__name__ = prim.name
    f.__doc__ = f"Elementwise ``{prim.name}`` (lax primitive ``{prim.name}_p``)."
    return f


def _w2(prim):
    bind = prim.bind

    def f(x, y):
        if type(x) in _PY_SCALARS and type(y) in _PY_SCALARS:
            x = np.asarray(x)[()]  # two Python scalars: compute on NumPy values
        return bind(x, y)

    f.__name__ = prim.name
    f.__doc__ = f"Elementwise ``{prim.name}`` with NumPy broadcasting (``{prim.name}_p``)."
    return f


add, sub, mul, div, rem, pow, max, min, atan2 = map(
    _w2, (add_p, sub_p, mul_p, div_p, rem_p, pow_p, max_p, min_p, atan2_p)
)
floor_divide = _w2(floor_divide_p)
heaviside = _w2(heaviside_p)
eq, ne, lt, le, gt, ge = map(_w2, (eq_p, ne_p, lt_p, le_p, gt_p, ge_p))
bitwise_and, bitwise_or, bitwise_xor = map(_w2, (and_p, or_p, xor_p))
shift_left, shift_right = map(_w2, (shift_left_p, shift_right_p))
neg, exp, exp2, expm1, log, log1p = map(_w1, (neg_p, exp_p, exp2_p, expm1_p, log_p, log1p_p))
sin, cos, tan, asin, acos, atan = map(_w1, (sin_p, cos_p, tan_p, asin_p, acos_p, atan_p))
sinh, cosh, tanh, asinh, acosh, atanh = map(
    _w1, (sinh_p, cosh_p, tanh_p, asinh_p, acosh_p, atanh_p)
)
sqrt, rsqrt, cbrt, abs, logistic = map(_w1, (sqrt_p, rsqrt_p, cbrt_p, abs_p, logistic_p))
sign, floor, ceil, round, trunc = map(_w1, (sign_p, floor_p, ceil_p, round_p, trunc_p))
is_finite, bitwise_not = _w1(is_finite_p), _w1(not_p)


def integer_pow(x, y: int):
    """``x ** y`` for a static Python int ``y`` (cheaper and exact at 0, unlike ``pow``)."""
    return integer_pow_p.bind(x, y=int(y))


def select(pred, on_true, on_false):
    """``on_true`` where ``pred`` else ``on_false``, with NumPy broadcasting (``fnp.where``)."""
    return select_p.bind(pred, on_true, on_false)


def clamp(min, x, max):  # noqa: A002 - lax's argument names
    """``x`` clipped to ``[min, max]``; gradient flows to ``x`` inside, boundaries included."""
    return clamp_p.bind(min, x, max)


def convert_element_type(x, new_dtype):
    """``x`` converted to ``new_dtype``; conversion to an integer type has no derivative.

    Complex to real keeps the real part and warns (``np.exceptions.ComplexWarning``), as NumPy's
    ``astype`` and JAX do; use ``lax.real`` to take it on purpose.
    """
    new_dtype = np.dtype(new_dtype)
    dtype = getattr(x, "dtype", None)
    if dtype == new_dtype:
        return x
    if dtype is not None and dtype.kind == "c" and new_dtype.kind != "c":
        import warnings

        warnings.warn(
            "Casting complex values to real discards the imaginary part",
            np.exceptions.ComplexWarning,
            stacklevel=2,
        )
    return convert_element_type_p.bind(x, new_dtype=new_dtype)


def stop_gradient(x):
    """The identity, with a zero derivative in every transform (applies to pytrees).

    Example:
      >>> fg.grad(lambda x: x * fg.stop_gradient(x))(3.0)
      Array(3., dtype=float32)
    """
    from funcgrad.core.tree import tree_map

    return tree_map(stop_gradient_p.bind, x)


# --------------------------------------------------------------------------------------------
# jit's forwarding rules: which input an equation's output equals (the pass checks that shape
# and dtype agree too), e.g. ``x * 1`` and ``x + 0`` (zeros from unused cotangents).


def _is_one(x) -> bool:
    return type(x) is Literal and x.val == 1


def _forward_mul(eqn, is_zero):
    a, b = eqn.inputs
    return 0 if _is_one(b) else 1 if _is_one(a) else None


def _forward_add(eqn, is_zero):
    a, b = eqn.inputs
    return 0 if is_zero(b) else 1 if is_zero(a) else None


forwarding_rules[mul_p] = _forward_mul
forwarding_rules[add_p] = _forward_add
forwarding_rules[sub_p] = lambda eqn, is_zero: 0 if is_zero(eqn.inputs[1]) else None
forwarding_rules[div_p] = lambda eqn, is_zero: 0 if _is_one(eqn.inputs[1]) else None
forwarding_rules[convert_element_type_p] = lambda eqn, is_zero: 0
forwarding_rules[stop_gradient_p] = lambda eqn, is_zero: 0  # the identity when run
