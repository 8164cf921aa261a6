"""Reductions over static axes (sum, max, min, prod, and/or, argmax/argmin) and cumulative ops."""

from __future__ import annotations

import numpy as np

from funcgrad.core.primitive import Primitive, ShapedArray
from funcgrad.lax.shape import _broadcast_to_impl, broadcast_to, reshape
from funcgrad.transforms.grad import defjvp, defvjp, defvjp_eager, nondiff_primitives
from funcgrad.transforms.vmap import batch_rules, shift_axes

# Reductions call the array's own methods: NumPy's module-level functions add ~1 µs of Python
# argument handling per call. Python scalars (no methods) go through asarray first.
_PY = (int, float, bool, complex)


def _reduce_abstract_eval(x, *, axes):
    for a in axes:
        if not 0 <= a < len(x.shape):
            raise ValueError(f"reduce: axis {a} is out of range for shape {x.shape}")
    return ShapedArray(tuple(d for i, d in enumerate(x.shape) if i not in axes), x.dtype)


def _keep_shape(shape, axes):
    return tuple(1 if i in axes else d for i, d in enumerate(shape))


def _expand(g, x, axes):
    """Broadcasts a reduced cotangent back over the reduced ``axes`` of ``x``."""
    if axes != tuple(range(len(axes))):
        g = reshape(g, _keep_shape(x.shape, axes))  # reduced axes inside: re-insert them as 1s
    return broadcast_to(g, x.shape)  # leading reduced axes are added by broadcasting


def _reduce_batch_rule(prim):
    # The batch axis stays where it is; the reduced axes shift past it.
    def rule(args, dims, *, axes):
        d = dims[0]
        out = prim.bind(args[0], axes=shift_axes(axes, d))
        return out, d - sum(1 for a in axes if a < d)

    return rule


def _reduction(name, impl, dtype_rule=None) -> Primitive:
    prim = Primitive(name)
    prim.def_impl(impl)
    batch_rules[prim] = _reduce_batch_rule(prim)

    def abstract_eval(x, *, axes):
        out = _reduce_abstract_eval(x, axes=axes)
        return ShapedArray(out.shape, dtype_rule(x.dtype)) if dtype_rule else out

    prim.def_abstract_eval(abstract_eval)
    return prim


# ----------------------------------------------------------------------------- sum


def _reduce_sum_impl(xp, x, *, axes):
    return xp.asarray(x).sum(axis=axes) if type(x) in _PY else x.sum(axis=axes)


reduce_sum_p = _reduction("reduce_sum", _reduce_sum_impl)
defjvp(reduce_sum_p, lambda t, ans, x, *, axes: reduce_sum(t, axes))
defvjp(reduce_sum_p, lambda g, ans, x, *, axes: _expand(g, x, axes))
defvjp_eager(
    reduce_sum_p,
    lambda g, ans, x, *, axes: _broadcast_to_impl(
        np, g.reshape(_keep_shape(x.shape, axes)), shape=x.shape
    ),
)


def reduce_sum(x, axes):
    """Sum of ``x`` over ``axes`` (a tuple of non-negative ints)."""
    axes = tuple(sorted(map(int, axes)))
    if not axes:
        return x
    return reduce_sum_p.bind(x, axes=axes)


# ----------------------------------------------------------------------------- max / min


def _reduce_max_impl(xp, x, *, axes):
    return xp.asarray(x).max(axis=axes) if type(x) in _PY else x.max(axis=axes)


def _reduce_min_impl(xp, x, *, axes):
    return xp.asarray(x).min(axis=axes) if type(x) in _PY else x.min(axis=axes)


def _extremum_weights(ans, x, axes):
    # Ties share the derivative evenly (PyTorch's amax/amin convention).
    from funcgrad.lax.elementwise import convert_element_type, eq

    mask = convert_element_type(eq(x, _expand(ans, x, axes)), x.dtype)
    return mask / _expand(reduce_sum(mask, axes), x, axes)


reduce_max_p = _reduction("reduce_max", _reduce_max_impl)
defjvp(
    reduce_max_p, lambda t, ans, x, *, axes: reduce_sum(t * _extremum_weights(ans, x, axes), axes)
)
defvjp(
    reduce_max_p, lambda g, ans, x, *, axes: _expand(g, x, axes) * _extremum_weights(ans, x, axes)
)

reduce_min_p = _reduction("reduce_min", _reduce_min_impl)
defjvp(
    reduce_min_p, lambda t, ans, x, *, axes: reduce_sum(t * _extremum_weights(ans, x, axes), axes)
)
defvjp(
    reduce_min_p, lambda g, ans, x, *, axes: _expand(g, x, axes) * _extremum_weights(ans, x, axes)
)


def reduce_max(x, axes):
    """Maximum of ``x`` over ``axes``."""
    return reduce_max_p.bind(x, axes=tuple(sorted(map(int, axes))))


def reduce_min(x, axes):
    """Minimum of ``x`` over ``axes``."""
    return reduce_min_p.bind(x, axes=tuple(sorted(map(int, axes))))


# ----------------------------------------------------------------------------- prod


def _reduce_prod_impl(xp, x, *, axes):
    return xp.asarray(x).prod(axis=axes) if type(x) in _PY else x.prod(axis=axes)


def _prod_others(x, axes):
    """For each element, the product of the other elements in its reduction group.

    Built from exclusive cumulative products (no division), so zeros are handled exactly.
    """
    from funcgrad.lax.shape import reshape, transpose

    nd = len(x.shape)
    keep = [i for i in range(nd) if i not in axes]
    perm = keep + list(axes)
    xt = transpose(x, perm)
    lead = tuple(x.shape[i] for i in keep)
    n = int(np.prod([x.shape[i] for i in axes]))
    flat = reshape(xt, lead + (n,))
    last = len(lead)
    left = cumprod(flat, last, exclusive=True)
    right = cumprod(flat, last, reverse=True, exclusive=True)
    others = reshape(left * right, tuple(xt.shape))
    return transpose(others, tuple(np.argsort(perm)))


reduce_prod_p = _reduction("reduce_prod", _reduce_prod_impl)
defjvp(reduce_prod_p, lambda t, ans, x, *, axes: reduce_sum(t * _prod_others(x, axes), axes))
defvjp(reduce_prod_p, lambda g, ans, x, *, axes: _expand(g, x, axes) * _prod_others(x, axes))


def reduce_prod(x, axes):
    """Product of ``x`` over ``axes``."""
    return reduce_prod_p.bind(x, axes=tuple(sorted(map(int, axes))))


# ----------------------------------------------------------------------------- and / or


def _reduce_and_impl(xp, x, *, axes):
    return xp.asarray(x).all(axis=axes) if type(x) in _PY else x.all(axis=axes)


def _reduce_or_impl(xp, x, *, axes):
    return xp.asarray(x).any(axis=axes) if type(x) in _PY else x.any(axis=axes)


reduce_and_p = _reduction("reduce_and", _reduce_and_impl, lambda d: np.dtype(bool))
reduce_or_p = _reduction("reduce_or", _reduce_or_impl, lambda d: np.dtype(bool))
nondiff_primitives.update({reduce_and_p, reduce_or_p})


def reduce_and(x, axes):
    """True where every element over ``axes`` is true."""
    return reduce_and_p.bind(x, axes=tuple(sorted(map(int, axes))))


def reduce_or(x, axes):
    """True where any element over ``axes`` is true."""
    return reduce_or_p.bind(x, axes=tuple(sorted(map(int, axes))))


# ----------------------------------------------------------------------------- argmax / argmin


def _argmax_impl(xp, x, *, axis, index_dtype):
    return xp.argmax(x, axis=axis).astype(index_dtype)


def _argmin_impl(xp, x, *, axis, index_dtype):
    return xp.argmin(x, axis=axis).astype(index_dtype)


def _arg_abstract_eval(x, *, axis, index_dtype):
    if x.shape[axis] == 0:
        raise ValueError(f"argmax/argmin: axis {axis} of shape {x.shape} is empty")
    return ShapedArray(tuple(d for i, d in enumerate(x.shape) if i != axis), np.dtype(index_dtype))


argmax_p = Primitive("argmax")
argmax_p.def_impl(_argmax_impl)
argmax_p.def_abstract_eval(_arg_abstract_eval)
argmin_p = Primitive("argmin")
argmin_p.def_impl(_argmin_impl)
argmin_p.def_abstract_eval(_arg_abstract_eval)


def _arg_batch_rule(prim):
    def rule(args, dims, *, axis, index_dtype):
        d = dims[0]
        out = prim.bind(args[0], axis=axis + (axis >= d), index_dtype=index_dtype)
        return out, d - (axis < d)

    return rule


batch_rules[argmax_p] = _arg_batch_rule(argmax_p)
batch_rules[argmin_p] = _arg_batch_rule(argmin_p)
nondiff_primitives.update({argmax_p, argmin_p})


def argmax(x, axis: int, index_dtype=np.int64):
    """Index of the first maximum along ``axis``."""
    return argmax_p.bind(x, axis=int(axis), index_dtype=np.dtype(index_dtype))


def argmin(x, axis: int, index_dtype=np.int64):
    """Index of the first minimum along ``axis``."""
    return argmin_p.bind(x, axis=int(axis), index_dtype=np.dtype(index_dtype))


# ----------------------------------------------------------------------------- cumulative ops


def _cumulative(xp, fn, x, axis, reverse):
    if reverse:
        x = xp.flip(x, axis)
    out = fn(x, axis=axis)
    return xp.flip(out, axis) if reverse else out


def _cumsum_impl(xp, x, *, axis, reverse):
    return _cumulative(xp, xp.cumsum, x, axis, reverse)


def _cumprod_impl(xp, x, *, axis, reverse):
    return _cumulative(xp, xp.cumprod, x, axis, reverse)


def _cummax_impl(xp, x, *, axis, reverse):
    return _cumulative(xp, xp.maximum.accumulate, x, axis, reverse)


def _cummin_impl(xp, x, *, axis, reverse):
    return _cumulative(xp, xp.minimum.accumulate, x, axis, reverse)


def _cum_abstract_eval(x, *, axis, reverse):
    if not 0 <= axis < len(x.shape):
        raise ValueError(f"cumulative op: axis {axis} is out of range for shape {x.shape}")
    return ShapedArray(x.shape, x.dtype)


def _cum_prim(name, impl):
    prim = Primitive(name)
    prim.def_impl(impl)
    prim.def_abstract_eval(_cum_abstract_eval)

    def batch(args, dims, *, axis, reverse):
        d = dims[0]
        return prim.bind(args[0], axis=axis + (axis >= d), reverse=reverse), d

    batch_rules[prim] = batch
    return prim


cumsum_p = _cum_prim("cumsum", _cumsum_impl)
defjvp(cumsum_p, lambda t, ans, x, *, axis, reverse: cumsum(t, axis, reverse))
defvjp(cumsum_p, lambda g, ans, x, *, axis, reverse: cumsum(g, axis, not reverse))


def _cumprod_vjp(g, ans, x, *, axis, reverse):
    # d out_j / d x_i = out_j / x_i for i <= j: a reversed cumulative sum of g * out, over x.
    # Exact where x has no zeros (as the closed form in PyTorch's fast path).
    return cumsum(g * ans, axis, not reverse) / x


cumprod_p = _cum_prim("cumprod", _cumprod_impl)
defjvp(cumprod_p, lambda t, ans, x, *, axis, reverse: cumsum(t / x, axis, reverse) * ans)
defvjp(cumprod_p, _cumprod_vjp)


def _cum_sources(ans, x, axis, reverse):
    """For each output position, the position (scan order) of the element that set the running
    extremum: the last "record" (x_i equal to the running value at i) at or before it."""
    from funcgrad.core.array import Array
    from funcgrad.lax.elementwise import eq, select

    n = x.shape[axis]
    shape = [1] * len(x.shape)
    shape[axis] = n
    order = np.arange(n - 1, -1, -1) if reverse else np.arange(n)
    pos = Array(order.astype(np.int64).reshape(shape))
    return cummax(select(eq(x, ans), pos, -1), axis, reverse), pos


def _route_matrix(src, pos, axis, dtype):
    """match[..., j, i, ...] = 1 where output j's extremum came from input i (dense, O(n^2))."""
    from funcgrad.lax.elementwise import convert_element_type, eq
    from funcgrad.lax.shape import expand_dims

    return convert_element_type(eq(expand_dims(src, (axis + 1,)), expand_dims(pos, (axis,))), dtype)


def _cummax_vjp(g, ans, x, *, axis, reverse):
    from funcgrad.lax.shape import expand_dims

    src, pos = _cum_sources(ans, x, axis, reverse)
    return reduce_sum(expand_dims(g, (axis + 1,)) * _route_matrix(src, pos, axis, g.dtype), (axis,))


def _cummax_jvp(t, ans, x, *, axis, reverse):
    from funcgrad.lax.shape import expand_dims

    src, pos = _cum_sources(ans, x, axis, reverse)
    return reduce_sum(expand_dims(t, (axis,)) * _route_matrix(src, pos, axis, t.dtype), (axis + 1,))


cummax_p = _cum_prim("cummax", _cummax_impl)
defjvp(cummax_p, _cummax_jvp)
defvjp(cummax_p, _cummax_vjp)
cummin_p = _cum_prim("cummin", _cummin_impl)
defjvp(cummin_p, _cummax_jvp)
defvjp(cummin_p, _cummax_vjp)


def _cum(prim, x, axis, reverse):
    return prim.bind(x, axis=int(axis), reverse=bool(reverse))


def cumsum(x, axis: int = 0, reverse: bool = False):
    """Cumulative sum along ``axis`` (from the end when ``reverse``)."""
    return _cum(cumsum_p, x, axis, reverse)


def cumprod(x, axis: int = 0, reverse: bool = False, exclusive: bool = False):
    """Cumulative product along ``axis``; ``exclusive`` shifts by one (starting at 1)."""
    if exclusive:
        from funcgrad.lax.shape import pad, slice_in_dim

        n = x.shape[axis]
        config = [(0, 0, 0)] * len(x.shape)
        if reverse:
            config[axis] = (0, 1, 0)
            return pad(slice_in_dim(_cum(cumprod_p, x, axis, True), 1, n, axis=axis), 1.0, config)
        config[axis] = (1, 0, 0)
        return pad(slice_in_dim(_cum(cumprod_p, x, axis, False), 0, n - 1, axis=axis), 1.0, config)
    return _cum(cumprod_p, x, axis, reverse)


def cummax(x, axis: int = 0, reverse: bool = False):
    """Running maximum along ``axis``."""
    return _cum(cummax_p, x, axis, reverse)


def cummin(x, axis: int = 0, reverse: bool = False):
    """Running minimum along ``axis``."""
    return _cum(cummin_p, x, axis, reverse)
