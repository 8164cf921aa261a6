"""softmax and log_softmax along one axis, each one fused primitive (as PyTorch's kernels).

JAX writes them as compositions (max, subtract, exp, sum, log, ...): about ten primitives
forward and as many backward. Eagerly each primitive costs a dispatch and a temporary, so
``nn.cross_entropy`` and attention run them as one primitive each, whose derivative rules are a
few funcgrad operations (so they differentiate again, batch and trace like any other rule):

- log_softmax: ``y = x - logsumexp(x)``; jvp ``t - sum(t * exp(y))``; vjp ``g - exp(y) * sum(g)``.
- softmax: ``y = exp(x) / sum(exp(x))``; jvp ``y * (t - sum(t * y))``; vjp ``y * (g - sum(g * y))``.

Both shift by the maximum along the axis (no overflow); a row whose maximum is not finite is not
shifted, so a row of -inf gives nan (as the composition does, and as PyTorch does).
"""

from __future__ import annotations

import numpy as np

from funcgrad.core.primitive import Primitive, ShapedArray
from funcgrad.transforms.grad import defjvp, defvjp, defvjp_eager
from funcgrad.transforms.vmap import batch_rules


def _shifted(xp, x, axis):
    # x - max(x) along axis, where the max is finite; a fresh array the caller may write into.
    if xp is np:
        m = np.maximum.reduce(x, axis=axis, keepdims=True)
    else:
        m = x.max(axis=axis, keepdims=True)
    if not bool(xp.isfinite(m).all()):
        m = xp.where(xp.isfinite(m), m, 0).astype(x.dtype)
    return x - m


def _log_softmax_impl(xp, x, *, axis):
    x = xp.asarray(x)
    if x.shape[axis] == 0:
        return x.copy()
    s = _shifted(xp, x, axis)
    e = xp.exp(s)
    lse = xp.log(e.sum(axis=axis, keepdims=True))
    s -= lse  # s is a fresh temporary
    return s


def _softmax_impl(xp, x, *, axis):
    x = xp.asarray(x)
    if x.shape[axis] == 0:
        return x.copy()
    e = xp.exp(_shifted(xp, x, axis))
    e /= e.sum(axis=axis, keepdims=True)  # e is a fresh temporary
    return e


def _softmax_abstract_eval(x, *, axis):
    if not 0 <= axis < len(x.shape):
        raise ValueError(f"softmax: axis {axis} is out of range for shape {x.shape}")
    if x.dtype.kind != "f":
        raise TypeError(
            f"softmax: expected a real floating-point input, got {x.dtype} of shape {x.shape}; "
            "convert it first (x.astype(fnp.float32))"
        )
    return ShapedArray(x.shape, x.dtype)


def _sum_keep(x, axis):
    from funcgrad.lax.reduce import reduce_sum
    from funcgrad.lax.shape import reshape

    s = reduce_sum(x, (axis,))
    return reshape(s, tuple(1 if i == axis else d for i, d in enumerate(x.shape)))


def _batch_rule(prim):
    def rule(args, dims, *, axis):
        d = dims[0]
        return prim.bind(args[0], axis=axis + (d <= axis)), d

    return rule


log_softmax_p = Primitive("log_softmax")
log_softmax_p.def_impl(_log_softmax_impl)
log_softmax_p.def_abstract_eval(_softmax_abstract_eval)
batch_rules[log_softmax_p] = _batch_rule(log_softmax_p)


def _log_softmax_jvp(t, ans, x, *, axis):
    from funcgrad.lax.elementwise import exp

    return t - _sum_keep(t * exp(ans), axis)


def _log_softmax_vjp(g, ans, x, *, axis):
    from funcgrad.lax.elementwise import exp

    return g - exp(ans) * _sum_keep(g, axis)


defjvp(log_softmax_p, _log_softmax_jvp)
defvjp(log_softmax_p, _log_softmax_vjp)
defvjp_eager(
    log_softmax_p,
    lambda g, ans, x, *, axis: g - np.exp(ans) * np.add.reduce(g, axis=axis, keepdims=True),
)


softmax_p = Primitive("softmax")
softmax_p.def_impl(_softmax_impl)
softmax_p.def_abstract_eval(_softmax_abstract_eval)
batch_rules[softmax_p] = _batch_rule(softmax_p)
defjvp(softmax_p, lambda t, ans, x, *, axis: ans * (t - _sum_keep(t * ans, axis)))
defvjp(softmax_p, lambda g, ans, x, *, axis: ans * (g - _sum_keep(g * ans, axis)))
defvjp_eager(
    softmax_p,
    lambda g, ans, x, *, axis: ans * (g - np.add.reduce(g * ans, axis=axis, keepdims=True)),
)


def _operand(op, x, axis):
    from funcgrad.core.array import ArrayBase
    from funcgrad.core.dtypes import default_float
    from funcgrad.lax.elementwise import convert_element_type

    if not isinstance(x, ArrayBase):
        host = np.asarray(x)
        if host.dtype == np.float64 and not isinstance(x, (np.ndarray, np.generic)):
            host = host.astype(default_float())  # Python floats: the default float dtype
        x = host
    nd = len(x.shape)
    if not isinstance(axis, (int, np.integer)) or not -nd <= axis < max(nd, 1) or nd == 0:
        raise ValueError(
            f"{op}: axis {axis!r} is out of range for an input of shape {tuple(x.shape)}; "
            "pass one axis of the input (-1 for the last)"
        )
    kind = x.dtype.kind
    if kind == "c":
        raise TypeError(f"{op}: complex input ({x.dtype}) is not supported; pass a real array")
    if kind != "f":  # booleans and integers: computed in the default float dtype
        x = convert_element_type(x, default_float())
    return x, int(axis) % nd


def log_softmax(x, axis: int = -1):
    """``x - logsumexp(x, axis)``: log-probabilities along one axis, as one primitive.

    Example:
      >>> lax.log_softmax(fnp.asarray([0.0, 0.0]), axis=-1)
      Array([-0.6931472, -0.6931472], dtype=float32)
    """
    x, axis = _operand("log_softmax", x, axis)
    return log_softmax_p.bind(x, axis=axis)


def softmax(x, axis: int = -1):
    """``exp(x) / sum(exp(x), axis)``: probabilities along one axis, as one primitive.

    Example:
      >>> lax.softmax(fnp.asarray([0.0, 0.0]), axis=-1)
      Array([0.5, 0.5], dtype=float32)
    """
    x, axis = _operand("softmax", x, axis)
    return softmax_p.bind(x, axis=axis)
