"""Indexing primitives: gather/scatter with NumPy-style indices, dynamic_slice, dynamic_update_slice.

An index is normalised in Python (``normalize_index``) into a hashable static ``spec`` plus the
integer index arrays it refers to; the impls rebuild the NumPy index from both and index with it.
"""

from __future__ import annotations

import builtins
import functools
import operator

import numpy as np

from funcgrad.core.array import Array, ArrayBase
from funcgrad.core.primitive import Primitive, ShapedArray
from funcgrad.core.trace import Tracer
from funcgrad.transforms.grad import defjvp_all, defvjp_all, defvjp_eager
from funcgrad.transforms.vmap import batch_rules, batch_size, move_batch_axis, moveaxis

# A spec is a tuple of entries, one per index item:
#   ("slice", start, stop, step)  normalised with the concrete shape (stop None: run to the front)
#   ("int", i)                    a static non-negative integer
#   ("none",), ("ellipsis",)      np.newaxis and ...
#   ("array", k)                  the k-th dynamic integer index array (bool masks become these)
SCATTER_MODES = ("set", "add", "mul", "min", "max")


def _shape(x):
    return tuple(x.shape) if hasattr(x, "shape") else ()


def _inexact(x) -> bool:
    return getattr(x, "dtype", np.dtype(float)).kind in "fc"


def _zeros(shape, dtype) -> Array:
    return Array(np.zeros(shape, dtype))


@functools.lru_cache(maxsize=512)
def _has_arrays(spec) -> bool:
    return any(e[0] == "array" for e in spec)


@functools.lru_cache(maxsize=512)
def _static_index(spec):
    return _build_index(spec, ())


def _build_index(spec, arrays) -> tuple:
    out = []
    for e in spec:
        k = e[0]
        if k == "slice":
            out.append(builtins.slice(e[1], e[2], e[3]))
        elif k == "int":
            out.append(e[1])
        elif k == "array":
            out.append(arrays[e[1]])
        elif k == "none":
            out.append(None)
        else:
            out.append(Ellipsis)
    return tuple(out)


def _index(spec, arrays) -> tuple:
    return _build_index(spec, arrays) if arrays else _static_index(spec)


def indexed_shape(shape, spec, array_shapes, who="gather") -> tuple[int, ...]:
    """The shape of ``x[index]`` (NumPy's rules) for an ``x`` of ``shape`` and a normalised index.

    Advanced indices (arrays, and ints when arrays are present) broadcast together; the result
    goes where they stand when they are adjacent, else in front (NumPy's rule).
    """
    n_used = sum(1 for e in spec if e[0] in ("slice", "int", "array"))
    has_arrays = _has_arrays(spec)
    out, adv_pos, adv_at, dim = [], [], None, 0
    for pos, e in enumerate(spec):
        k = e[0]
        if k == "none":
            out.append(1)
        elif k == "ellipsis":
            n = len(shape) - n_used
            out.extend(shape[dim : dim + n])
            dim += n
        elif k == "slice":
            out.append(len(range(e[1], -1 if e[2] is None else e[2], e[3])))
            dim += 1
        elif k == "int" and not has_arrays:
            dim += 1
        else:
            adv_pos.append(pos)
            adv_at = len(out) if adv_at is None else adv_at
            dim += 1
    out.extend(shape[dim:])
    if adv_pos:
        shapes = [tuple(array_shapes[e[1]]) for e in spec if e[0] == "array"]
        try:
            b = np.broadcast_shapes(*shapes)
        except ValueError:
            raise IndexError(
                f"{who}: index arrays of shapes {shapes} cannot be broadcast together"
            ) from None
        at = adv_at if adv_pos[-1] - adv_pos[0] == len(adv_pos) - 1 else 0
        out[at:at] = b
    return tuple(out)


# --------------------------------------------------------------------------------------------
# Normalising a NumPy-style index


def normalize_index(shape, index, who="gather"):
    """``(spec, arrays)`` for a NumPy index of an array of ``shape`` (see the module docstring).

    Ints (negative ones normalised) and slices become static; lists, NumPy arrays and integer
    Arrays/tracers become index arrays; boolean masks become ``nonzero`` of their (concrete)
    value. Raises IndexError for out-of-bounds static indices and TypeError for bad index types.
    """
    if not isinstance(index, tuple):
        index = (index,)
    items, used, n_ellipsis = [], 0, 0
    for e in index:
        item = _classify(e, who)
        items.append(item)
        kind = item[0]
        if kind == "ellipsis":
            n_ellipsis += 1
        elif kind == "mask":
            used += item[1].ndim
        elif kind != "none":
            used += 1
    ndim = len(shape)
    if n_ellipsis > 1:
        raise IndexError(f"{who}: an index can only have a single ellipsis ('...')")
    if used > ndim:
        raise IndexError(
            f"{who}: too many indices for an array of shape {tuple(shape)}: it is {ndim}-dimensional, "
            f"but {used} were indexed"
        )
    spec, arrays, dim = [], [], 0
    for kind, v in items:
        if kind == "none":
            spec.append(("none",))
        elif kind == "ellipsis":
            spec.append(("ellipsis",))
            dim += ndim - used
        elif kind == "int":
            n = shape[dim]
            if not -n <= v < n:
                raise IndexError(
                    f"{who}: index {v} is out of bounds for axis {dim} with size {n} "
                    f"(array shape {tuple(shape)})"
                )
            spec.append(("int", v % n))
            dim += 1
        elif kind == "slice":
            start, stop, step = v.indices(shape[dim])
            if not len(range(start, stop, step)):
                start, stop, step = 0, 0, 1  # indices() may give -1 for "before the front"
            elif step < 0 and stop < 0:
                stop = None  # runs through element 0; slice(start, -1, step) would be empty
            spec.append(("slice", start, stop, step))
            dim += 1
        elif kind == "mask":
            want = tuple(shape[dim : dim + v.ndim])
            if v.shape != want:
                raise IndexError(
                    f"{who}: boolean index of shape {v.shape} does not match the indexed axes "
                    f"{dim}..{dim + v.ndim - 1} of shape {tuple(shape)} (sizes {want})"
                )
            for nz in np.nonzero(v):
                spec.append(("array", len(arrays)))
                arrays.append(Array(nz))
            dim += v.ndim
        else:  # "array": concrete NumPy values are bounds-checked here, traced ones at run time
            if isinstance(v, np.ndarray):
                n = shape[dim]
                if v.size and (v.min() < -n or v.max() >= n):
                    bad = v.min() if v.min() < -n else v.max()
                    raise IndexError(
                        f"{who}: index {int(bad)} is out of bounds for axis {dim} with size {n} "
                        f"(array shape {tuple(shape)})"
                    )
                v = Array(v)
            spec.append(("array", len(arrays)))
            arrays.append(v)
            dim += 1
    spec = tuple(spec)
    if len(arrays) > 1:  # the index arrays must broadcast together
        indexed_shape(shape, spec, [a.shape for a in arrays], who)
    return spec, tuple(arrays)


def _classify(e, who):
    """One index item as (kind, value): kind in none/ellipsis/int/slice/mask/array."""
    if e is None:
        return ("none", None)
    if e is Ellipsis:
        return ("ellipsis", None)
    if isinstance(e, builtins.slice):
        return ("slice", builtins.slice(*(_slice_part(p, who) for p in (e.start, e.stop, e.step))))
    if isinstance(e, (bool, np.bool_)):
        raise TypeError(
            f"{who}: a scalar boolean index is not supported; use None (np.newaxis) to add an axis "
            "or a boolean array mask"
        )
    if isinstance(e, (int, np.integer)):
        return ("int", int(e))
    if isinstance(e, (list, tuple)):
        e = _sequence_index(e, who)
    if isinstance(e, Tracer):
        if e.dtype == np.bool_:
            return ("mask", _concrete_mask(e, who))
        _check_int_dtype(e.dtype, who)
        return ("array", e)
    if isinstance(e, (Array, np.ndarray, np.generic)) or hasattr(e, "__array__"):
        v = np.asarray(e)
        if v.dtype == np.bool_:
            if v.ndim == 0:
                return _classify(bool(v), who)
            return ("mask", v)
        _check_int_dtype(v.dtype, who)
        return ("int", int(v)) if v.ndim == 0 else ("array", v)
    raise TypeError(
        f"{who}: only integers, slices (:), ellipsis (...), None (np.newaxis) and integer or "
        f"boolean arrays are valid indices, got {type(e).__name__} {e!r}"
    )


def _slice_part(p, who):
    if p is None or isinstance(p, int):
        return p
    try:
        return operator.index(p)
    except TypeError:
        raise TypeError(
            f"{who}: slice indices must be integers or None, got {type(p).__name__} {p!r}"
        ) from None


def _check_int_dtype(dtype, who):
    if np.dtype(dtype).kind not in "iu":
        raise TypeError(
            f"{who}: index arrays must have an integer or boolean dtype, got {np.dtype(dtype)}"
        )


def _concrete_mask(e, who):
    try:
        return np.asarray(e.concrete_value())
    except TypeError as err:
        raise TypeError(
            f"{who}: a boolean mask index needs a concrete value (the result's shape depends "
            "on it), but it is traced here; use fnp.where(mask, x, 0) instead"
        ) from err


def _sequence_index(seq, who):
    """A list/tuple used as one index item: an index array (possibly of traced integers)."""
    if len(seq) == 0:
        return np.zeros(0, np.intp)

    def traced(v):
        return isinstance(v, ArrayBase) or (
            isinstance(v, (list, tuple)) and builtins.any(traced(w) for w in v)
        )

    if not traced(seq):
        return np.asarray(seq)
    from funcgrad.lax.shape import concatenate, expand_dims

    parts = [_sequence_index(v, who) if isinstance(v, (list, tuple)) else v for v in seq]
    parts = [Array(np.asarray(v)) if not isinstance(v, ArrayBase) else v for v in parts]
    return concatenate([expand_dims(v, (0,)) for v in parts], 0)


# --------------------------------------------------------------------------------------------
# Batching an index (vmap): the batch becomes one more index item


def _logical_shape(x, d):
    s = _shape(x)
    return s if d is None else s[:d] + s[d + 1 :]


def _advanced_layout(spec, ndim):
    """``(pos, axis, at)`` for the advanced items of an index (arrays, and ints when arrays are
    present) of an ``x`` of rank ``ndim``: the spec position and the axis of ``x`` of the first
    one, and where their broadcast dims go in ``x[index]``: where they stand when they are
    adjacent, else in front (NumPy's rule; then ``pos``, ``axis`` and ``at`` are all 0). None
    when there are no index arrays."""
    if not _has_arrays(spec):
        return None
    n_used = sum(1 for e in spec if e[0] in ("slice", "int", "array"))
    adv = [pos for pos, e in enumerate(spec) if e[0] in ("int", "array")]
    if adv[-1] - adv[0] != len(adv) - 1:
        return 0, 0, 0
    axis = at = 0
    for e in spec[: adv[0]]:
        if e[0] == "ellipsis":
            axis += ndim - n_used
            at += ndim - n_used
        else:  # a slice or a None (ints before the first advanced item are not possible)
            axis += e[0] == "slice"
            at += 1
    return adv[0], axis, at


def _batch_index(spec, arrays, dims, size, ndim, x_batched):
    """The index of a batched gather/scatter: ``(spec, arrays, x_axis, out_dim)``.

    ``arrays`` are the index arrays with batch axes ``dims``; ``ndim`` is the rank of one
    member's operand. With ``x_batched`` the new index is for the operand with its batch axis
    moved to ``x_axis``. ``out_dim`` is where the batch axis lands in the indexed result.

    One index does the whole batch. With unbatched index arrays it gets a full slice over the
    operand's batch axis, in front. Batched index arrays get the batch as their leading axis
    (and an ``arange`` indexes the operand's batch axis, when it has one), so the batch axis
    comes first among the broadcast advanced dims. The ``arange`` goes right before the first
    advanced item, and the operand's batch axis where that item indexes, so that adjacent
    advanced items stay adjacent and the advanced dims stay where NumPy puts them.
    """
    from funcgrad.lax.shape import reshape

    if all(d is None for d in dims):
        # Only the operand is batched. Separated advanced items still put their broadcast
        # dims in front, before the batch axis.
        new_spec = (("slice", 0, size, 1),) + spec
        layout = _advanced_layout(new_spec, ndim + 1)
        out_dim = 0
        if layout is not None and layout[2] == 0:
            out_dim = len(np.broadcast_shapes(*[_shape(a) for a in arrays]))
        return new_spec, tuple(arrays), 0, out_dim
    logical = [_logical_shape(a, d) for a, d in zip(arrays, dims)]
    rank = len(np.broadcast_shapes(*logical))
    new_arrays = []
    for a, d, s in zip(arrays, dims, logical):
        if d is not None:  # batch axis first, then right-aligned like the unbatched arrays
            a = reshape(moveaxis(a, d, 0), (size,) + (1,) * (rank - len(s)) + s)
        new_arrays.append(a)
    pos, axis, at = _advanced_layout(spec, ndim)
    if not x_batched:
        return spec, tuple(new_arrays), None, at
    iota = Array(np.arange(size, dtype=np.int64).reshape((size,) + (1,) * rank))
    new_spec = spec[:pos] + (("array", len(arrays)),) + spec[pos:]
    return new_spec, tuple(new_arrays) + (iota,), axis, at


def _updates_for(y, dy, size, idx_rank, out_dim):
    """Scatter updates laid out to broadcast against the batched indexed shape (rank
    ``idx_rank + 1``, batch axis at ``out_dim``)."""
    from funcgrad.lax.shape import reshape

    if dy is not None:
        y = moveaxis(y, dy, 0)
        s = _shape(y)[1:]
        y = reshape(y, (size,) + (1,) * (idx_rank - len(s)) + s)
        return moveaxis(y, 0, out_dim)
    s = _shape(y)
    if out_dim <= idx_rank - len(s):  # right-aligned, it never meets the batch axis
        return y
    full = (1,) * (idx_rank - len(s)) + s
    return reshape(y, full[:out_dim] + (1,) + full[out_dim:])


# --------------------------------------------------------------------------------------------
# gather: x[index]


def _gather_impl(xp, x, *arrays, spec, unique_indices=False):
    return x[_index(spec, arrays)]


def _gather_abstract_eval(x, *arrays, spec, unique_indices=False):
    for a in arrays:
        _check_int_dtype(a.dtype, "gather")
    return ShapedArray(indexed_shape(x.shape, spec, [a.shape for a in arrays]), x.dtype)


def _gather_jvp(primals, tangents, *, spec, unique_indices=False):
    x, *arrays = primals
    out = gather_p.bind(*primals, spec=spec, unique_indices=unique_indices)
    t = tangents[0]
    if t is None:
        return out, None
    return out, gather_p.bind(t, *arrays, spec=spec, unique_indices=unique_indices)


def _gather_vjp(g, ans, x, *arrays, spec, unique_indices=False):
    ct = gather_transpose_p.bind(
        g, *arrays, spec=spec, shape=_shape(x), unique_indices=unique_indices
    )
    return (ct,) + (None,) * len(arrays)


gather_p = Primitive("gather")
gather_p.def_impl(_gather_impl)
gather_p.def_abstract_eval(_gather_abstract_eval)
defjvp_all(gather_p, _gather_jvp)
defvjp_all(gather_p, _gather_vjp)
defvjp_eager(  # the operand's cotangent only: the index arrays are integers
    gather_p,
    lambda g, ans, x, *arrays, spec, unique_indices=False: _gather_transpose_impl(
        np, g, *arrays, spec=spec, shape=x.shape, unique_indices=unique_indices
    ),
)


def _gather_batch(args, dims, *, spec, unique_indices=False):
    x, *arrays = args
    dx, *da = dims
    size = batch_size(args, dims)
    ndim = len(_shape(x)) - (dx is not None)
    spec, arrays, x_axis, out_dim = _batch_index(spec, arrays, da, size, ndim, dx is not None)
    if dx is not None:
        x = moveaxis(x, dx, x_axis)
    return gather_p.bind(x, *arrays, spec=spec, unique_indices=unique_indices), out_dim


batch_rules[gather_p] = _gather_batch


# gather_transpose: zeros of ``shape`` with ``g`` added at the index (the vjp of gather). A
# basic index (or one promised unique) writes in place into the zero buffer; only advanced
# indices that may repeat need the (much slower) unbuffered ``add.at``.
def _gather_transpose_impl(xp, g, *arrays, spec, shape, unique_indices=False):
    z = xp.zeros(shape, dtype=g.dtype)
    idx = _index(spec, arrays)
    if unique_indices or not arrays:
        z[idx] = g
    else:
        xp.add.at(z, idx, g)
    return z if z.ndim else z[()]


def _gather_transpose_abstract_eval(g, *arrays, spec, shape, unique_indices=False):
    return ShapedArray(tuple(shape), g.dtype)


def _gather_transpose_jvp(primals, tangents, *, spec, shape, unique_indices=False):
    g, *arrays = primals
    p = dict(spec=spec, shape=shape, unique_indices=unique_indices)
    out = gather_transpose_p.bind(*primals, **p)
    t = tangents[0]
    return out, None if t is None else gather_transpose_p.bind(t, *arrays, **p)


def _gather_transpose_vjp(ct, ans, g, *arrays, spec, shape, unique_indices=False):
    return (gather_p.bind(ct, *arrays, spec=spec, unique_indices=unique_indices),) + (None,) * len(
        arrays
    )


gather_transpose_p = Primitive("gather_transpose")
gather_transpose_p.def_impl(_gather_transpose_impl)
gather_transpose_p.def_abstract_eval(_gather_transpose_abstract_eval)
defjvp_all(gather_transpose_p, _gather_transpose_jvp)
defvjp_all(gather_transpose_p, _gather_transpose_vjp)


def _gather_transpose_batch(args, dims, *, spec, shape, unique_indices=False):
    g, *arrays = args
    dg, *da = dims
    size = batch_size(args, dims)
    spec, arrays, x_axis, out_dim = _batch_index(spec, arrays, da, size, len(shape), True)
    g = move_batch_axis(g, dg, size, out_dim)
    shape = tuple(shape[:x_axis]) + (size,) + tuple(shape[x_axis:])
    out = gather_transpose_p.bind(g, *arrays, spec=spec, shape=shape, unique_indices=unique_indices)
    return out, x_axis


batch_rules[gather_transpose_p] = _gather_transpose_batch


def _as_operand(x, who):
    if isinstance(x, ArrayBase):
        return x
    if isinstance(x, (np.ndarray, np.generic, int, float, complex, bool)):
        return Array(np.asarray(x))
    raise TypeError(f"{who}: expected an array, got {type(x).__name__}")


def gather(x, index, unique_indices: bool = False):
    """``x[index]`` for any NumPy index: ints, slices (negative steps too), None, Ellipsis,
    integer arrays (lists, NumPy arrays, funcgrad arrays) and boolean masks (concrete only).

    Differentiable in ``x``; its vjp adds the cotangent back at the index, so repeated indices
    accumulate. ``unique_indices=True`` promises no repeats, which makes the vjp a plain write.
    Unlike ``jax.lax.gather`` (XLA dimension numbers), this takes NumPy indices; out-of-bounds
    indices raise IndexError as in NumPy (JAX clamps).

    Example:
      >>> lax.gather(fnp.arange(5.0), ([0, 0, 3],))
      Array([0., 0., 3.], dtype=float32)
    """
    x = _as_operand(x, "gather")
    spec, arrays = normalize_index(_shape(x), index, "gather")
    return gather_p.bind(x, *arrays, spec=spec, unique_indices=bool(unique_indices))


# --------------------------------------------------------------------------------------------
# scatter: x with x[index] set / added / multiplied / min-ed / max-ed with y


def _scatter_impl(xp, x, y, *arrays, spec, mode, unique_indices=False):
    out = xp.array(x, copy=True)
    y = xp.asarray(y, dtype=out.dtype)
    idx = _index(spec, arrays)
    if mode == "set":
        out[idx] = y
    elif unique_indices or not arrays:  # no repeats: read-modify-write is exact (and fast)
        if mode == "add":
            out[idx] += y
        elif mode == "mul":
            out[idx] *= y
        elif mode == "min":
            out[idx] = xp.minimum(out[idx], y)
        else:
            out[idx] = xp.maximum(out[idx], y)
    else:  # repeated indices accumulate, as in JAX
        ufunc = {"add": xp.add, "mul": xp.multiply, "min": xp.minimum, "max": xp.maximum}[mode]
        # NumPy 2.4's ufunc.at gives wrong results when the values must be broadcast against a
        # multi-dimensional index; broadcasting them first (a view) avoids it.
        shape = indexed_shape(out.shape, spec, [a.shape for a in arrays], "scatter")
        ufunc.at(out, idx, xp.broadcast_to(y, shape) if y.shape != shape else y)
    return out if out.ndim else out[()]


def _scatter_abstract_eval(x, y, *arrays, spec, mode, unique_indices=False):
    shape = indexed_shape(x.shape, spec, [a.shape for a in arrays], "scatter")
    _check_update_shape(x.shape, shape, _shape(y), "scatter")
    return ShapedArray(x.shape, x.dtype)


def _check_update_shape(x_shape, idx_shape, y_shape, who):
    try:
        ok = np.broadcast_shapes(idx_shape, tuple(y_shape)) == tuple(idx_shape)
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(
            f"{who}: updates of shape {tuple(y_shape)} cannot be broadcast to the indexed shape "
            f"{tuple(idx_shape)} (array shape {tuple(x_shape)})"
        )


def _scatter(x, y, arrays, spec, mode, unique):
    return scatter_p.bind(x, y, *arrays, spec=spec, mode=mode, unique_indices=unique)


def _gather(x, arrays, spec, unique):
    return gather_p.bind(x, *arrays, spec=spec, unique_indices=unique)


def _cast(t, dtype):
    from funcgrad.lax.elementwise import convert_element_type

    return convert_element_type(t, dtype)


def _extremum_weights(out, x, y, arrays, spec, unique):
    """Where each output of a min/max scatter came from: weights 1/count for every winner.

    ``wx`` marks outputs equal to ``x``, ``wy`` updates equal to their output; ties share the
    derivative evenly (as elementwise ``max`` does), so jvp and vjp are exact transposes.
    """
    from funcgrad.lax.elementwise import eq

    dtype = out.dtype
    wx = _cast(eq(x, out), dtype)
    wy = _cast(eq(_cast(y, dtype), _gather(out, arrays, spec, unique)), dtype)
    count = wx + _scatter(_zeros(_shape(out), dtype), wy, arrays, spec, "add", unique)
    return wx, wy, count


def _set_winners(x, arrays, spec, dtype):
    """1.0 where an update survived a set-scatter with repeated indices (the last write wins)."""
    from funcgrad.lax.elementwise import eq

    shape = indexed_shape(_shape(x), spec, [a.shape for a in arrays])
    iota = Array(np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape))
    marks = _scatter(Array(np.full(_shape(x), -1, np.int64)), iota, arrays, spec, "set", False)
    return _cast(eq(_gather(marks, arrays, spec, False), iota), dtype)


def _scatter_jvp(primals, tangents, *, spec, mode, unique_indices=False):
    x, y, *arrays = primals
    tx, ty = tangents[0], tangents[1]
    u = unique_indices
    out = _scatter(x, y, arrays, spec, mode, u)
    if not _inexact(out) or (tx is None and ty is None):
        return out, None
    if ty is not None:
        ty = _cast(ty, out.dtype)
    zeros = _zeros(_shape(out), out.dtype)
    if mode == "set":
        t = _scatter(zeros if tx is None else tx, 0.0 if ty is None else ty, arrays, spec, "set", u)
    elif mode == "add":
        t = tx if ty is None else _scatter(zeros if tx is None else tx, ty, arrays, spec, "add", u)
    elif mode == "mul":
        t = None if tx is None else _scatter(tx, y, arrays, spec, "mul", u)
        if ty is not None:
            if arrays and not u:
                # Repeats multiply: d out = out * sum(ty / y) over the updates landing there.
                # Division-based, so it is NaN where an update is 0 (a documented limitation).
                ty_part = out * _scatter(zeros, ty / _cast(y, out.dtype), arrays, spec, "add", u)
            else:
                ty_part = _scatter(zeros, _gather(x, arrays, spec, u) * ty, arrays, spec, "set", u)
            t = ty_part if t is None else t + ty_part
    else:  # min / max: the derivative of whichever side won
        wx, wy, count = _extremum_weights(out, x, y, arrays, spec, u)
        t = None if tx is None else wx * tx
        if ty is not None:
            ty_part = _scatter(zeros, wy * ty, arrays, spec, "add", u)
            t = ty_part if t is None else t + ty_part
        t = t / count
    return out, t


def _scatter_vjp(g, ans, x, y, *arrays, spec, mode, unique_indices=False):
    from funcgrad.lax.elementwise import unbroadcast

    u = unique_indices
    nones = (None,) * len(arrays)
    if not _inexact(ans):
        return (None, None) + nones
    want_y = hasattr(y, "shape") and _inexact(y)
    ct_y = None
    if mode == "add":
        ct_x = g
        if want_y:
            ct_y = _gather(g, arrays, spec, u)
    elif mode == "set":
        ct_x = _scatter(g, 0.0, arrays, spec, "set", u)
        if want_y:
            ct_y = _gather(g, arrays, spec, u)
            if arrays and not u:
                ct_y = ct_y * _set_winners(x, arrays, spec, g.dtype)
    elif mode == "mul":
        ct_x = _scatter(g, y, arrays, spec, "mul", u)
        if want_y:
            if arrays and not u:  # division-based, see the jvp
                ct_y = _gather(g * ans, arrays, spec, u) / _cast(y, ans.dtype)
            else:
                ct_y = _gather(g, arrays, spec, u) * _gather(x, arrays, spec, u)
    else:
        wx, wy, count = _extremum_weights(ans, x, y, arrays, spec, u)
        g = g / count
        ct_x = g * wx
        if want_y:
            ct_y = wy * _gather(g, arrays, spec, u)
    if ct_y is not None:
        ct_y = unbroadcast(ct_y, y)
    return (ct_x, ct_y) + nones


scatter_p = Primitive("scatter")
scatter_p.def_impl(_scatter_impl)
scatter_p.def_abstract_eval(_scatter_abstract_eval)
defjvp_all(scatter_p, _scatter_jvp)
defvjp_all(scatter_p, _scatter_vjp)


def _scatter_batch(args, dims, *, spec, mode, unique_indices=False):
    x, y, *arrays = args
    dx, dy, *da = dims
    size = batch_size(args, dims)
    x_shape = _logical_shape(x, dx)
    idx_shape = indexed_shape(
        x_shape, spec, [_logical_shape(a, d) for a, d in zip(arrays, da)], "scatter"
    )
    spec, arrays, x_axis, out_dim = _batch_index(spec, arrays, da, size, len(x_shape), True)
    x = move_batch_axis(x, dx, size, x_axis)
    y = _updates_for(y, dy, size, len(idx_shape), out_dim)
    out = scatter_p.bind(x, y, *arrays, spec=spec, mode=mode, unique_indices=unique_indices)
    return out, x_axis


batch_rules[scatter_p] = _scatter_batch


def scatter(x, index, y, mode: str = "set", unique_indices: bool = False):
    """A copy of ``x`` with ``x[index]`` combined with ``y``: ``mode`` is one of set, add, mul,
    min, max (NumPy index, like ``gather``; ``y`` broadcasts to the indexed shape).

    Repeated indices accumulate for add/mul/min/max (as in JAX); for ``set`` the last write
    wins. ``fnp``'s ``x.at[index].set/add/multiply/min/max(y)`` is built on this. Differentiable
    in ``x`` and ``y``; for ``mul`` with repeated indices the derivative in ``y`` divides by ``y``
    (NaN where an update is 0). ``unique_indices=True`` promises no repeats (faster).

    Example:
      >>> lax.scatter(fnp.zeros(3), ([0, 0, 2],), 1.0, mode="add")
      Array([2., 0., 1.], dtype=float32)
    """
    if mode not in SCATTER_MODES:
        raise ValueError(f"scatter: mode must be one of {SCATTER_MODES}, got {mode!r}")
    x = _as_operand(x, "scatter")
    spec, arrays = normalize_index(_shape(x), index, "scatter")
    if not isinstance(y, (ArrayBase, int, float, complex, bool)):
        y = _as_operand(y, "scatter")
    idx_shape = indexed_shape(_shape(x), spec, [a.shape for a in arrays], "scatter")
    _check_update_shape(_shape(x), idx_shape, _shape(y), "scatter")
    return scatter_p.bind(x, y, *arrays, spec=spec, mode=mode, unique_indices=bool(unique_indices))


def take_along_axis(x, indices, axis: int, unique_indices: bool = False):
    """``x`` indexed by ``indices`` along ``axis`` (NumPy's ``take_along_axis``; non-negative
    ``axis``; the other axes of ``indices`` broadcast against ``x``'s)."""
    shape = _shape(x)
    idx_nd = len(_shape(indices))
    index = []
    for d, n in enumerate(shape):
        if d == axis:
            index.append(indices)
        else:
            ar = np.arange(n).reshape([n if i == d else 1 for i in range(idx_nd)])
            index.append(Array(ar))
    spec = tuple(("array", k) for k in range(len(index)))
    return gather_p.bind(x, *index, spec=spec, unique_indices=bool(unique_indices))


def untake_along_axis(g, indices, axis: int, shape, unique_indices: bool = False):
    """The transpose of ``take_along_axis``: zeros of ``shape`` with ``g`` added at ``indices``."""
    index = [
        indices
        if d == axis
        else Array(np.arange(n).reshape([n if i == d else 1 for i in range(len(shape))]))
        for d, n in enumerate(shape)
    ]
    spec = tuple(("array", k) for k in range(len(index)))
    return gather_transpose_p.bind(
        g, *index, spec=spec, shape=tuple(shape), unique_indices=bool(unique_indices)
    )


# --------------------------------------------------------------------------------------------
# dynamic_slice / dynamic_update_slice (JAX semantics: starts clamped so the slice fits)


def _clamped_slices(shape, starts, sizes):
    return tuple(
        builtins.slice(s, s + n)
        for s, n in (
            (builtins.min(builtins.max(int(s), 0), d - n), n)
            for s, d, n in zip(starts, shape, sizes)
        )
    )


def _dynamic_slice_impl(xp, x, *starts, slice_sizes):
    return x[_clamped_slices(x.shape, starts, slice_sizes)]


def _check_starts(shape, starts, who):
    if len(starts) != len(shape):
        raise ValueError(
            f"{who}: got {len(starts)} start indices for an array of shape {tuple(shape)}; "
            "give one per axis"
        )
    for s in starts:
        if _shape(s) != () or np.dtype(getattr(s, "dtype", np.result_type(s))).kind not in "iu":
            raise TypeError(
                f"{who}: start indices must be integer scalars, got {getattr(s, 'dtype', type(s))}"
                f"{list(_shape(s))}"
            )


def _check_sizes(shape, sizes, who):
    if len(sizes) != len(shape) or any(not 0 <= n <= d for n, d in zip(sizes, shape)):
        raise ValueError(
            f"{who}: slice sizes {tuple(sizes)} do not fit the array of shape {tuple(shape)}"
        )


def _dynamic_slice_abstract_eval(x, *starts, slice_sizes):
    _check_starts(x.shape, starts, "dynamic_slice")
    _check_sizes(x.shape, slice_sizes, "dynamic_slice")
    return ShapedArray(tuple(slice_sizes), x.dtype)


def _dynamic_slice_jvp(primals, tangents, *, slice_sizes):
    x, *starts = primals
    out = dynamic_slice_p.bind(*primals, slice_sizes=slice_sizes)
    t = tangents[0]
    return out, None if t is None else dynamic_slice_p.bind(t, *starts, slice_sizes=slice_sizes)


def _dynamic_slice_vjp(g, ans, x, *starts, slice_sizes):
    ct = dynamic_update_slice_p.bind(_zeros(_shape(x), g.dtype), g, *starts)
    return (ct,) + (None,) * len(starts)


dynamic_slice_p = Primitive("dynamic_slice")
dynamic_slice_p.def_impl(_dynamic_slice_impl)
dynamic_slice_p.def_abstract_eval(_dynamic_slice_abstract_eval)
defjvp_all(dynamic_slice_p, _dynamic_slice_jvp)
defvjp_all(dynamic_slice_p, _dynamic_slice_vjp)


def _batched_window(starts, dims, shape, sizes, size):
    """Index arrays (one per axis, broadcasting to ``(size,) + sizes``) of the windows at the
    per-member ``starts``, clamped into ``[0, dim - size]`` as the unbatched op does."""
    from funcgrad.lax.elementwise import clamp
    from funcgrad.lax.shape import reshape

    k = len(shape)
    arrays = []
    for i, (s, d, n, m) in enumerate(zip(starts, dims, shape, sizes)):
        if d is None and not isinstance(s, ArrayBase):
            s = builtins.min(builtins.max(int(s), 0), n - m)
        else:
            s = clamp(0, _cast(s, np.int64), n - m)
            s = reshape(s, (size if d is not None else 1,) + (1,) * k)
        ar = np.arange(m, dtype=np.int64).reshape([m if j == i + 1 else 1 for j in range(k + 1)])
        arrays.append(s + Array(ar))
    return arrays


def _batch_iota(size, k):
    return Array(np.arange(size, dtype=np.int64).reshape((size,) + (1,) * k))


def _dynamic_slice_batch(args, dims, *, slice_sizes):
    x, *starts = args
    dx, *ds = dims
    if all(d is None for d in ds):  # one slice for every member: a full range over the batch
        starts = starts[:dx] + [0] + starts[dx:]
        sizes = slice_sizes[:dx] + (_shape(x)[dx],) + slice_sizes[dx:]
        return dynamic_slice_p.bind(x, *starts, slice_sizes=sizes), dx
    # Per-member starts: a gather of each member's window, batch axis first.
    size = batch_size(args, dims)
    shape = _logical_shape(x, dx)
    arrays = _batched_window(starts, ds, shape, slice_sizes, size)
    if dx is not None:
        x = moveaxis(x, dx, 0)
        arrays = [_batch_iota(size, len(shape))] + arrays
    spec = tuple(("array", j) for j in range(len(arrays)))
    return gather_p.bind(x, *arrays, spec=spec, unique_indices=True), 0


batch_rules[dynamic_slice_p] = _dynamic_slice_batch


def dynamic_slice(operand, start_indices, slice_sizes):
    """The slice of ``operand`` of shape ``slice_sizes`` starting at ``start_indices``.

    Start indices may be traced integer scalars; as in JAX they are clamped into
    ``[0, dim - size]`` so that the slice always fits (no error, no wrap-around).

    Example:
      >>> lax.dynamic_slice(fnp.arange(5.0), (3,), (3,))   # start clamped to 2
      Array([2., 3., 4.], dtype=float32)
    """
    operand = _as_operand(operand, "dynamic_slice")
    shape = _shape(operand)
    starts = tuple(start_indices)
    sizes = tuple(map(int, slice_sizes))
    _check_starts(shape, starts, "dynamic_slice")
    _check_sizes(shape, sizes, "dynamic_slice")
    return dynamic_slice_p.bind(operand, *starts, slice_sizes=sizes)


def _dynamic_update_slice_impl(xp, x, update, *starts):
    out = xp.array(x, copy=True)
    out[_clamped_slices(out.shape, starts, update.shape)] = update
    return out if out.ndim else out[()]


def _dynamic_update_slice_abstract_eval(x, update, *starts):
    _check_starts(x.shape, starts, "dynamic_update_slice")
    _check_update(x, update)
    return ShapedArray(x.shape, x.dtype)


def _check_update(x, update):
    if len(update.shape) != len(x.shape) or any(n > d for n, d in zip(update.shape, x.shape)):
        raise ValueError(
            f"dynamic_update_slice: update of shape {tuple(update.shape)} does not fit the "
            f"operand of shape {tuple(x.shape)}"
        )
    if update.dtype != x.dtype:
        raise TypeError(
            f"dynamic_update_slice: update dtype {update.dtype} differs from operand dtype "
            f"{x.dtype}; convert it with .astype"
        )


def _dynamic_update_slice_jvp(primals, tangents):
    x, update, *starts = primals
    out = dynamic_update_slice_p.bind(*primals)
    tx, tu = tangents[0], tangents[1]
    if tx is None and tu is None:
        return out, None
    tx = _zeros(_shape(x), x.dtype) if tx is None else tx
    tu = _zeros(_shape(update), x.dtype) if tu is None else tu
    return out, dynamic_update_slice_p.bind(tx, tu, *starts)


def _dynamic_update_slice_vjp(g, ans, x, update, *starts):
    ct_x = dynamic_update_slice_p.bind(g, _zeros(_shape(update), g.dtype), *starts)
    ct_u = dynamic_slice_p.bind(g, *starts, slice_sizes=_shape(update))
    return (ct_x, ct_u) + (None,) * len(starts)


dynamic_update_slice_p = Primitive("dynamic_update_slice")
dynamic_update_slice_p.def_impl(_dynamic_update_slice_impl)
dynamic_update_slice_p.def_abstract_eval(_dynamic_update_slice_abstract_eval)
defjvp_all(dynamic_update_slice_p, _dynamic_update_slice_jvp)
defvjp_all(dynamic_update_slice_p, _dynamic_update_slice_vjp)


def _dynamic_update_slice_batch(args, dims):
    x, update, *starts = args
    dx, du, *ds = dims
    size = batch_size(args, dims)
    x = move_batch_axis(x, dx, size, 0)
    update = move_batch_axis(update, du, size, 0)
    if all(d is None for d in ds):
        return dynamic_update_slice_p.bind(x, update, 0, *starts), 0
    # Per-member starts: a scatter of each member's block, batch axis first.
    shape, sizes = _shape(x)[1:], _shape(update)[1:]
    arrays = [_batch_iota(size, len(shape))] + _batched_window(starts, ds, shape, sizes, size)
    spec = tuple(("array", j) for j in range(len(arrays)))
    out = scatter_p.bind(x, update, *arrays, spec=spec, mode="set", unique_indices=True)
    return out, 0


batch_rules[dynamic_update_slice_p] = _dynamic_update_slice_batch


def dynamic_update_slice(operand, update, start_indices):
    """``operand`` with the block ``update`` written at ``start_indices`` (a new array).

    As in JAX, the start indices (integer scalars, possibly traced) are clamped so that the
    block fits; ``update`` must have ``operand``'s rank and dtype.

    Example:
      >>> lax.dynamic_update_slice(fnp.zeros(4), fnp.ones(2), (1,))
      Array([0., 1., 1., 0.], dtype=float32)
    """
    operand = _as_operand(operand, "dynamic_update_slice")
    update = _as_operand(update, "dynamic_update_slice")
    starts = tuple(start_indices)
    _check_starts(_shape(operand), starts, "dynamic_update_slice")
    _check_update(operand, update)
    return dynamic_update_slice_p.bind(operand, update, *starts)


def dynamic_slice_in_dim(operand, start_index, slice_size: int, axis: int = 0):
    """``dynamic_slice`` along one axis: ``slice_size`` elements from ``start_index``."""
    shape = _shape(operand)
    starts = [0] * len(shape)
    sizes = list(shape)
    starts[axis], sizes[axis] = start_index, slice_size
    return dynamic_slice(operand, starts, sizes)


def dynamic_update_slice_in_dim(operand, update, start_index, axis: int):
    """``dynamic_update_slice`` along one axis, at ``start_index``."""
    starts = [0] * len(_shape(operand))
    starts[axis] = start_index
    return dynamic_update_slice(operand, update, starts)


def dynamic_index_in_dim(operand, index, axis: int = 0, keepdims: bool = True):
    """The slice at (possibly traced) ``index`` along ``axis``, keeping that axis if asked."""
    from funcgrad.lax.shape import squeeze

    out = dynamic_slice_in_dim(operand, index, 1, axis)
    return out if keepdims else squeeze(out, (axis,))
