"""Sorting primitives: multi-operand ``sort``, ``top_k`` and (non-differentiable) ``searchsorted``.

Derivatives go through the permutation: the rules sort an extra iota operand along with the
keys, then gather tangents (jvp) or scatter cotangents back (vjp) with it.
"""

from __future__ import annotations

import numpy as np

from funcgrad.core.array import Array
from funcgrad.core.primitive import Primitive, ShapedArray
from funcgrad.lax.indexing import take_along_axis, untake_along_axis
from funcgrad.transforms.grad import defjvp_all, defvjp_all, nondiff_primitives
from funcgrad.transforms.vmap import batch_rules, batch_size, move_batch_axis, moveaxis


def _shape(x):
    return tuple(x.shape) if hasattr(x, "shape") else ()


def _inexact(x) -> bool:
    return x.dtype.kind in "fc"


def _iota(shape, dimension) -> Array:
    n = shape[dimension]
    ar = np.arange(n, dtype=np.int64).reshape(
        [n if i == dimension else 1 for i in range(len(shape))]
    )
    return Array(np.broadcast_to(ar, shape))


# ----------------------------------------------------------------------------- sort


def _sort_impl(xp, *operands, dimension, is_stable, num_keys):
    # CuPy's sorts are always stable and take no ``kind`` (nor lexsort an axis).
    kind = "stable" if is_stable and xp is np else None
    if len(operands) == 1:
        return [xp.sort(operands[0], axis=dimension, kind=kind)]
    if num_keys == 1:
        perm = xp.argsort(operands[0], axis=dimension, kind=kind)
    elif xp is np:  # lexsort's last key is the primary one; it is always stable
        perm = np.lexsort(operands[num_keys - 1 :: -1], axis=dimension)
    else:  # stable sorts by each key, the primary one last
        perm = None
        for key in operands[:num_keys][::-1]:
            k = key if perm is None else xp.take_along_axis(key, perm, axis=dimension)
            p = xp.argsort(k, axis=dimension)
            perm = p if perm is None else xp.take_along_axis(perm, p, axis=dimension)
    return [xp.take_along_axis(o, perm, axis=dimension) for o in operands]


def _sort_abstract_eval(*operands, dimension, is_stable, num_keys):
    _check_sort(operands, dimension, num_keys)
    return [ShapedArray(o.shape, o.dtype) for o in operands]


def _check_sort(operands, dimension, num_keys):
    shapes = [_shape(o) for o in operands]
    if not operands or any(s != shapes[0] for s in shapes):
        raise ValueError(f"sort: operands must all have the same shape, got {shapes}")
    if not shapes[0]:
        raise ValueError("sort: operands must have at least one dimension, got shape ()")
    if not 0 <= dimension < len(shapes[0]):
        raise ValueError(f"sort: dimension {dimension} is out of range for shape {shapes[0]}")
    if not 1 <= num_keys <= len(operands):
        raise ValueError(f"sort: num_keys={num_keys} must be in [1, {len(operands)}] (operands)")


def _sort_perm(keys, dimension, is_stable):
    """The permutation that sorts ``keys`` (an iota sorted along with them)."""
    iota = _iota(_shape(keys[0]), dimension)
    outs = sort_p.bind(*keys, iota, dimension=dimension, is_stable=is_stable, num_keys=len(keys))
    return outs[:-1], outs[-1]


def _sort_jvp(primals, tangents, *, dimension, is_stable, num_keys):
    iota = _iota(_shape(primals[0]), dimension)
    outs = sort_p.bind(*primals, iota, dimension=dimension, is_stable=is_stable, num_keys=num_keys)
    outs, perm = outs[:-1], outs[-1]
    t_outs = [
        None if t is None else take_along_axis(t, perm, dimension, unique_indices=True)
        for t in tangents
    ]
    return outs, t_outs


def _sort_vjp(gs, ans, *operands, dimension, is_stable, num_keys):
    _, perm = _sort_perm(operands[:num_keys], dimension, is_stable)
    return tuple(
        untake_along_axis(g, perm, dimension, _shape(o), unique_indices=True)
        if _inexact(o)
        else None
        for g, o in zip(gs, operands)
    )


sort_p = Primitive("sort", multiple_results=True)
sort_p.def_impl(_sort_impl)
sort_p.def_abstract_eval(_sort_abstract_eval)
defjvp_all(sort_p, _sort_jvp)
defvjp_all(sort_p, _sort_vjp)


def _sort_batch(args, dims, *, dimension, is_stable, num_keys):
    p = dict(is_stable=is_stable, num_keys=num_keys)
    d = dims[0]
    if d is not None and all(e == d for e in dims):  # one batch axis everywhere: keep it
        outs = sort_p.bind(*args, dimension=dimension + (d <= dimension), **p)
        return outs, [d] * len(outs)
    # Unbatched operands are broadcast: each member permutes its own copy.
    size = batch_size(args, dims)
    ops = [move_batch_axis(a, e, size, 0) for a, e in zip(args, dims)]
    outs = sort_p.bind(*ops, dimension=dimension + 1, **p)
    return outs, [0] * len(outs)


batch_rules[sort_p] = _sort_batch


def sort(operand, dimension: int = -1, is_stable: bool = True, num_keys: int = 1):
    """Sorts along ``dimension`` (JAX's ``lax.sort``).

    ``operand`` is one array or a sequence of arrays of one shape; a sequence is sorted by its
    first ``num_keys`` operands (lexicographically, first key primary) and the others are
    permuted alongside. Returns an array, or a tuple for a sequence. NaNs sort to the end.
    Differentiable in every float operand.

    Example:
      >>> keys, vals = lax.sort((fnp.asarray([3, 1, 2]), fnp.asarray([0.0, 1.0, 2.0])))
      >>> vals
      Array([1., 2., 0.], dtype=float32)
    """
    single = not isinstance(operand, (tuple, list))
    operands = [operand] if single else list(operand)
    nd = len(_shape(operands[0])) if operands else 0
    if nd and -nd <= dimension < nd:
        dimension %= nd
    _check_sort(operands, int(dimension), int(num_keys))
    outs = sort_p.bind(
        *operands, dimension=int(dimension), is_stable=bool(is_stable), num_keys=int(num_keys)
    )
    return outs[0] if single else tuple(outs)


def sort_key_val(keys, values, dimension: int = -1, is_stable: bool = True):
    """``(sorted keys, values permuted alongside)`` along ``dimension``."""
    return sort((keys, values), dimension, is_stable, 1)


# ----------------------------------------------------------------------------- top_k


def _top_k_impl(xp, x, *, k):
    # A stable ascending argsort of the reversed row, reversed, is descending with ties broken
    # by the lower index (as in JAX); it needs no negation, so it works for unsigned ints too.
    n = x.shape[-1]
    kind = "stable" if xp is np else None  # CuPy's argsort is always stable, takes no kind
    p = xp.argsort(x[..., ::-1], axis=-1, kind=kind)[..., ::-1][..., :k]
    idx = (n - 1) - p
    return [xp.take_along_axis(x, idx, axis=-1), idx.astype(np.int64)]


def _top_k_abstract_eval(x, *, k):
    _check_top_k(x.shape, k)
    shape = tuple(x.shape[:-1]) + (k,)
    return [ShapedArray(shape, x.dtype), ShapedArray(shape, np.dtype(np.int64))]


def _check_top_k(shape, k):
    if not shape:
        raise ValueError("top_k: the operand must have at least one dimension, got shape ()")
    if not 0 <= k <= shape[-1]:
        raise ValueError(f"top_k: k={k} must be in [0, {shape[-1]}] for operand shape {shape}")


def _top_k_jvp(primals, tangents, *, k):
    (x,), (t,) = primals, tangents
    vals, idx = top_k_p.bind(x, k=k)
    nd = len(_shape(x))
    return [vals, idx], [take_along_axis(t, idx, nd - 1, unique_indices=True), None]


def _top_k_vjp(gs, ans, x, *, k):
    nd = len(_shape(x))
    return (untake_along_axis(gs[0], ans[1], nd - 1, _shape(x), unique_indices=True),)


top_k_p = Primitive("top_k", multiple_results=True)
top_k_p.def_impl(_top_k_impl)
top_k_p.def_abstract_eval(_top_k_abstract_eval)
defjvp_all(top_k_p, _top_k_jvp)
defvjp_all(top_k_p, _top_k_vjp)


def _top_k_batch(args, dims, *, k):
    (x,), (d,) = args, dims
    if d == len(_shape(x)) - 1:  # top_k works on the last axis: the batch axis moves away
        x, d = moveaxis(x, d, 0), 0
    return top_k_p.bind(x, k=k), [d, d]


batch_rules[top_k_p] = _top_k_batch


def top_k(operand, k: int):
    """The ``k`` largest entries along the last axis, in descending order, and their indices.

    Ties go to the lower index, as in JAX; indices are int64 (JAX: int32). Differentiable in
    the values: the derivative flows to the selected entries.

    Example:
      >>> vals, idx = lax.top_k(fnp.asarray([1.0, 3.0, 2.0]), 2)
      >>> idx
      Array([1, 2], dtype=int64)
    """
    k = int(k)
    _check_top_k(_shape(operand), k)
    return tuple(top_k_p.bind(operand, k=k))


# ----------------------------------------------------------------------------- searchsorted


def _searchsorted_impl(xp, a, v, *, side):
    return xp.searchsorted(a, v, side=side).astype(np.int64)


def _searchsorted_abstract_eval(a, v, *, side):
    if len(a.shape) != 1:
        raise ValueError(f"searchsorted: the sorted array must be 1-d, got shape {a.shape}")
    return ShapedArray(_shape(v), np.dtype(np.int64))


# Insertion points are integers: no derivative.
searchsorted_p = Primitive("searchsorted")
searchsorted_p.def_impl(_searchsorted_impl)
searchsorted_p.def_abstract_eval(_searchsorted_abstract_eval)
nondiff_primitives.add(searchsorted_p)


def _searchsorted_batch(args, dims, *, side):
    from funcgrad.lax.elementwise import (
        bitwise_and,
        bitwise_or,
        convert_element_type,
        eq,
        le,
        lt,
        ne,
    )
    from funcgrad.lax.reduce import reduce_sum
    from funcgrad.lax.shape import reshape

    (a, v), (da, dv) = args, dims
    if da is None:  # one sorted array: the primitive maps over any shape of ``v``
        return searchsorted_p.bind(a, v, side=side), dv
    # A sorted row per member: its insertion point is the count of entries that sort before
    # ``v`` (left) or not after it (right), in NumPy's order with NaNs last. O(n) per value.
    size = batch_size(args, dims)
    a = moveaxis(a, da, 0)
    v = move_batch_axis(v, dv, size, 0)
    k = len(_shape(v)) - 1
    a = reshape(a, (size,) + (1,) * k + (_shape(a)[1],))
    v = reshape(v, _shape(v) + (1,))
    v_nan = ne(v, v)
    if side == "left":
        before = bitwise_or(lt(a, v), bitwise_and(v_nan, eq(a, a)))
    else:
        before = bitwise_or(le(a, v), v_nan)
    return reduce_sum(convert_element_type(before, np.int64), (k + 1,)), 0


batch_rules[searchsorted_p] = _searchsorted_batch
