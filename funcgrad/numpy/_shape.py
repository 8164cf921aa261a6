"""Shape manipulation with NumPy's names and semantics, composed from lax."""

from __future__ import annotations

import builtins

import numpy as np

from funcgrad import lax
from funcgrad.core.array import ArrayBase
from funcgrad.numpy._core import asarray, no_out, unary_operand


def _axis(x, axis, who):
    nd = len(x.shape)
    if not -nd <= axis < nd:
        raise ValueError(f"fnp.{who}: axis {axis} is out of bounds for an array of shape {x.shape}")
    return axis % nd


def reshape(a, shape=None, order="C", *, newshape=None):
    """``a`` with a new shape; one dimension may be -1 (inferred)."""
    if order != "C":
        raise NotImplementedError("fnp.reshape: only order='C' is supported")
    shape = newshape if shape is None else shape
    x = unary_operand(a)
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape),)
    shape = [int(d) for d in shape]
    if shape.count(-1) > 1:
        raise ValueError(f"fnp.reshape: only one dimension can be -1, got {tuple(shape)}")
    if -1 in shape:
        known = int(np.prod([d for d in shape if d != -1]))
        if known == 0 or x.size % known:
            raise ValueError(
                f"fnp.reshape: cannot reshape array of shape {x.shape} into {tuple(shape)}"
            )
        shape[shape.index(-1)] = x.size // known
    if int(np.prod(shape)) != x.size:
        raise ValueError(
            f"fnp.reshape: cannot reshape array of shape {x.shape} into {tuple(shape)}"
        )
    return lax.reshape(x, shape)


def ravel(a, order="C"):
    """``a`` flattened to one dimension."""
    x = unary_operand(a)
    return lax.reshape(x, (x.size,))


def transpose(a, axes=None):
    """``a`` with its axes permuted (reversed by default)."""
    x = unary_operand(a)
    nd = len(x.shape)
    if axes is None:
        axes = tuple(range(nd))[::-1]
    axes = tuple(_axis(x, int(i), "transpose") for i in axes)
    if sorted(axes) != list(range(nd)):
        raise ValueError(f"fnp.transpose: axes {axes} are not a permutation for shape {x.shape}")
    return lax.transpose(x, axes)


def permute_dims(a, axes=None):
    """Array-API name of ``transpose``."""
    return transpose(a, axes)


def matrix_transpose(x):
    """Swaps the last two axes."""
    x = unary_operand(x)
    return swapaxes(x, -1, -2)


def swapaxes(a, axis1, axis2):
    """``a`` with two axes exchanged."""
    x = unary_operand(a)
    perm = list(range(len(x.shape)))
    i, j = _axis(x, axis1, "swapaxes"), _axis(x, axis2, "swapaxes")
    perm[i], perm[j] = perm[j], perm[i]
    return lax.transpose(x, perm)


def moveaxis(a, source, destination):
    """``a`` with axes moved from ``source`` to ``destination`` positions."""
    x = unary_operand(a)
    src = [source] if isinstance(source, (int, np.integer)) else list(source)
    dst = [destination] if isinstance(destination, (int, np.integer)) else list(destination)
    if len(src) != len(dst):
        raise ValueError("fnp.moveaxis: source and destination need the same number of axes")
    src = [_axis(x, int(s), "moveaxis") for s in src]
    dst = [_axis(x, int(d), "moveaxis") for d in dst]
    order = [n for n in range(len(x.shape)) if n not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return lax.transpose(x, order)


def expand_dims(a, axis):
    """``a`` with new size-1 axes at ``axis`` (an int or a tuple)."""
    x = unary_operand(a)
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    nd = len(x.shape) + len(axes)
    norm = sorted(int(ax) % nd if -nd <= int(ax) < nd else _bad_axis(ax, nd) for ax in axes)
    return lax.expand_dims(x, norm)


def _bad_axis(ax, nd):
    raise ValueError(f"fnp.expand_dims: axis {ax} is out of bounds for the result of rank {nd}")


def squeeze(a, axis=None):
    """``a`` without its size-1 axes (or just those in ``axis``)."""
    x = unary_operand(a)
    if axis is None:
        axes = [i for i, d in enumerate(x.shape) if d == 1]
    else:
        axes = [axis] if isinstance(axis, (int, np.integer)) else list(axis)
        axes = [_axis(x, int(i), "squeeze") for i in axes]
        for i in axes:
            if x.shape[i] != 1:
                raise ValueError(
                    f"fnp.squeeze: cannot select axis {i} of shape {x.shape}: its size is not 1"
                )
    return lax.squeeze(x, axes)


def _sequence(arrays, who):
    if isinstance(arrays, (list, tuple)):
        xs = [unary_operand(a) for a in arrays]
    else:
        x = unary_operand(arrays)
        xs = [x[i] for i in range(x.shape[0])]
    if not xs:
        raise ValueError(f"fnp.{who}: need at least one array")
    return xs


def _common_dtype(xs):
    dtype = np.result_type(*[x.dtype for x in xs])
    return [lax.convert_element_type(x, dtype) for x in xs]


def concatenate(arrays, axis=0, out=None, *, dtype=None, casting="same_kind"):
    """Joins arrays along an existing axis (``axis=None`` flattens them first).

    ``arrays`` may be a list or tuple mixing arrays being differentiated, NumPy arrays and
    nested lists. Example: ``fnp.concatenate([x, fnp.zeros(2)])``.
    """
    no_out("concatenate", out)
    xs = _sequence(arrays, "concatenate")
    if axis is None:
        xs = [ravel(x) for x in xs]
        axis = 0
    nd = len(xs[0].shape)
    if nd == 0:
        raise ValueError("fnp.concatenate: zero-dimensional arrays cannot be concatenated")
    for x in xs:
        if len(x.shape) != nd:
            raise ValueError(
                "fnp.concatenate: all arrays need the same number of dimensions, got shapes "
                f"{[tuple(y.shape) for y in xs]}"
            )
    ax = _axis(xs[0], axis, "concatenate")
    for x in xs:
        if any(a != b for i, (a, b) in enumerate(zip(x.shape, xs[0].shape)) if i != ax):
            raise ValueError(
                f"fnp.concatenate: shapes {[tuple(y.shape) for y in xs]} differ outside axis {ax}"
            )
    xs = _common_dtype(xs)
    if dtype is not None:
        xs = [lax.convert_element_type(x, dtype) for x in xs]
    return lax.concatenate(xs, ax)


def stack(arrays, axis=0, out=None, *, dtype=None, casting="same_kind"):
    """Joins arrays of one shape along a new axis. Example: ``fnp.stack([x, y], axis=1)``."""
    no_out("stack", out)
    xs = _sequence(arrays, "stack")
    shapes = {tuple(x.shape) for x in xs}
    if len(shapes) != 1:
        got = [tuple(x.shape) for x in xs]
        raise ValueError(f"fnp.stack: all input arrays must have the same shape, got {got}")
    nd = len(xs[0].shape) + 1
    if not -nd <= axis < nd:
        raise ValueError(f"fnp.stack: axis {axis} is out of bounds for the result of rank {nd}")
    axis %= nd
    return concatenate([lax.expand_dims(x, (axis,)) for x in xs], axis, dtype=dtype)


def atleast_1d(*arys):
    """Views with at least one dimension."""
    out = [reshape(a, (1,)) if len(unary_operand(a).shape) == 0 else unary_operand(a) for a in arys]
    return out[0] if len(out) == 1 else out


def atleast_2d(*arys):
    """Views with at least two dimensions."""
    out = []
    for a in arys:
        x = unary_operand(a)
        out.append(
            reshape(x, (1,) * (2 - len(x.shape)) + tuple(x.shape)) if len(x.shape) < 2 else x
        )
    return out[0] if len(out) == 1 else out


def atleast_3d(*arys):
    """Views with at least three dimensions (NumPy's placement of new axes)."""
    out = []
    for a in arys:
        x = unary_operand(a)
        if len(x.shape) == 0:
            x = reshape(x, (1, 1, 1))
        elif len(x.shape) == 1:
            x = reshape(x, (1, x.shape[0], 1))
        elif len(x.shape) == 2:
            x = reshape(x, tuple(x.shape) + (1,))
        out.append(x)
    return out[0] if len(out) == 1 else out


def hstack(tup, dtype=None):
    """Stacks horizontally (along axis 1, or 0 for 1-d arrays)."""
    xs = atleast_1d(*_sequence(tup, "hstack"))
    xs = xs if isinstance(xs, list) else [xs]
    return concatenate(xs, 0 if len(xs[0].shape) == 1 else 1, dtype=dtype)


def vstack(tup, dtype=None):
    """Stacks vertically (along axis 0, 1-d arrays as rows)."""
    xs = atleast_2d(*_sequence(tup, "vstack"))
    xs = xs if isinstance(xs, list) else [xs]
    return concatenate(xs, 0, dtype=dtype)


def dstack(tup):
    """Stacks along the third axis."""
    xs = atleast_3d(*_sequence(tup, "dstack"))
    xs = xs if isinstance(xs, list) else [xs]
    return concatenate(xs, 2)


def column_stack(tup):
    """Stacks 1-d arrays as columns."""
    xs = [unary_operand(a) for a in tup]
    xs = [reshape(x, (-1, 1)) if len(x.shape) < 2 else x for x in xs]
    return concatenate(xs, 1)


def split(ary, indices_or_sections, axis=0):
    """Splits into equal sections or at the given indices (NumPy's ``split``)."""
    x = unary_operand(ary)
    ax = _axis(x, axis, "split")
    n = x.shape[ax]
    if isinstance(indices_or_sections, (int, np.integer)):
        k = int(indices_or_sections)
        if k <= 0 or n % k:
            raise ValueError(
                f"fnp.split: array split does not result in an equal division ({n} by {k})"
            )
        bounds = [i * (n // k) for i in range(k + 1)]
    else:
        bounds = [0] + [builtins.min(builtins.max(int(i), 0), n) for i in indices_or_sections] + [n]
    return [
        lax.slice_in_dim(x, lo, builtins.max(lo, hi), axis=ax) for lo, hi in zip(bounds, bounds[1:])
    ]


def array_split(ary, indices_or_sections, axis=0):
    """Like ``split``, but sections may differ in size by one."""
    x = unary_operand(ary)
    if isinstance(indices_or_sections, (int, np.integer)):
        n, k = x.shape[_axis(x, axis, "array_split")], int(indices_or_sections)
        sizes = [n // k + 1] * (n % k) + [n // k] * (k - n % k)
        indices_or_sections = np.cumsum(sizes)[:-1].tolist()
    return split(x, indices_or_sections, axis)


def hsplit(ary, indices_or_sections):
    """Splits along axis 1 (axis 0 for 1-d)."""
    x = unary_operand(ary)
    return split(x, indices_or_sections, 1 if len(x.shape) > 1 else 0)


def vsplit(ary, indices_or_sections):
    """Splits along axis 0."""
    return split(ary, indices_or_sections, 0)


def broadcast_to(array, shape):
    """``array`` broadcast to ``shape``."""
    x = unary_operand(array)
    shape = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(d) for d in shape)
    try:
        np.broadcast_shapes(tuple(x.shape), shape)
    except ValueError:
        raise ValueError(f"fnp.broadcast_to: cannot broadcast shape {x.shape} to {shape}") from None
    return lax.broadcast_to(x, shape)


def broadcast_arrays(*args):
    """The arguments broadcast against each other."""
    xs = [unary_operand(a) for a in args]
    shape = broadcast_shapes(*[x.shape for x in xs])
    return [lax.broadcast_to(x, shape) for x in xs]


def broadcast_shapes(*shapes):
    """The shape that the given shapes broadcast to."""
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        raise ValueError(
            f"fnp.broadcast_shapes: shapes {list(shapes)} are not broadcastable"
        ) from None


def flip(m, axis=None):
    """``m`` reversed along ``axis`` (all axes by default)."""
    x = unary_operand(m)
    if axis is None:
        axes = range(len(x.shape))
    else:
        axes = [axis] if isinstance(axis, (int, np.integer)) else list(axis)
    return lax.rev(x, [_axis(x, int(a), "flip") for a in axes])


def fliplr(m):
    """Reverses axis 1."""
    return flip(m, 1)


def flipud(m):
    """Reverses axis 0."""
    return flip(m, 0)


def roll(a, shift, axis=None):
    """Elements shifted cyclically by ``shift`` along ``axis`` (flattened when None)."""
    x = unary_operand(a)
    if axis is None:
        return reshape(roll(ravel(x), shift, 0), x.shape)
    shifts = [shift] if isinstance(shift, (int, np.integer)) else list(shift)
    axes = [axis] if isinstance(axis, (int, np.integer)) else list(axis)
    if len(shifts) == 1:
        shifts = shifts * len(axes)
    for s, ax in zip(shifts, axes):
        ax = _axis(x, int(ax), "roll")
        n = x.shape[ax]
        if n == 0:
            continue
        s = int(s) % n
        if s:
            x = lax.concatenate(
                [lax.slice_in_dim(x, n - s, n, axis=ax), lax.slice_in_dim(x, 0, n - s, axis=ax)], ax
            )
    return x


def tile(A, reps):
    """``A`` repeated ``reps`` times along each axis (NumPy's ``tile``)."""
    x = unary_operand(A)
    reps = (int(reps),) if isinstance(reps, (int, np.integer)) else tuple(int(r) for r in reps)
    nd = builtins.max(len(x.shape), len(reps))
    reps = (1,) * (nd - len(reps)) + reps
    x = lax.reshape(x, (1,) * (nd - len(x.shape)) + tuple(x.shape))
    # Broadcast each axis into (rep, size), then merge.
    expanded = []
    target = []
    for r, d in zip(reps, x.shape):
        expanded += [1, d]
        target += [r, d]
    y = lax.broadcast_to(lax.reshape(x, expanded), target)
    return lax.reshape(y, [r * d for r, d in zip(reps, x.shape)])


def repeat(a, repeats, axis=None, *, total_repeat_length=None):
    """Repeats each element ``repeats`` times (an int, or a per-element sequence)."""
    x = unary_operand(a)
    if axis is None:
        x, axis = ravel(x), 0
    ax = _axis(x, axis, "repeat")
    if isinstance(repeats, (int, np.integer)):
        r = int(repeats)
        shape = list(x.shape)
        y = lax.expand_dims(x, (ax + 1,))
        bshape = shape[: ax + 1] + [r] + shape[ax + 1 :]
        y = lax.broadcast_to(y, bshape)
        shape[ax] *= r
        return lax.reshape(y, shape)
    reps = np.asarray(repeats)
    if reps.shape != (x.shape[ax],):
        raise ValueError(
            f"fnp.repeat: repeats has shape {reps.shape} but axis {ax} has size {x.shape[ax]}"
        )
    from funcgrad.numpy._indexing import take

    return take(x, np.repeat(np.arange(x.shape[ax]), reps), axis=ax)


def pad(array, pad_width, mode="constant", constant_values=0, **kwargs):
    """Pads an array (NumPy's ``pad``): modes constant, edge, reflect, symmetric, wrap."""
    x = unary_operand(array)
    nd = len(x.shape)
    pw = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (nd, 2)).tolist()
    if any(lo < 0 or hi < 0 for lo, hi in pw):
        raise ValueError(f"fnp.pad: pad_width {pad_width} has negative entries")
    if mode == "constant":
        if isinstance(constant_values, ArrayBase):  # a traced value: one scalar for all sides
            return lax.pad(x, constant_values, [(lo, hi, 0) for lo, hi in pw])
        cv = np.broadcast_to(np.asarray(constant_values, dtype=x.dtype), (nd, 2))
        if nd == 0 or np.all(cv == cv.flat[0]):
            value = cv.flat[0] if nd else np.asarray(constant_values, x.dtype)[()]
            return lax.pad(x, value, [(lo, hi, 0) for lo, hi in pw])
        for ax, (lo, hi) in enumerate(pw):  # different values per side: pad one side at a time
            for side in (0, 1):
                cfg = [(0, 0, 0)] * nd
                cfg[ax] = (lo, 0, 0) if side == 0 else (0, hi, 0)
                x = lax.pad(x, cv[ax][side], cfg)
        return x
    for ax, (lo, hi) in enumerate(pw):
        n = x.shape[ax]
        if (lo or hi) and n == 0:
            raise ValueError(f"fnp.pad: cannot pad an empty axis {ax} with mode {mode!r}")
        idx = np.pad(np.arange(n), (lo, hi), mode=mode)
        if lo or hi:
            from funcgrad.numpy._indexing import take

            x = take(x, idx, axis=ax)
    return x


def ndim(a):
    """Number of dimensions."""
    return len(np.shape(a)) if not hasattr(a, "shape") else len(a.shape)


def shape(a):
    """Shape of an array-like."""
    return tuple(a.shape) if hasattr(a, "shape") else np.shape(a)


def size(a, axis=None):
    """Number of elements (along ``axis`` when given)."""
    s = shape(a)
    return int(np.prod(s)) if axis is None else s[axis]


def copy(a):
    """A copy (the same immutable array: copying is never needed in funcgrad)."""
    return asarray(a)


# --------------------------------------------------------------------------------------------
# append, insert, delete (static positions), meshgrid


def append(arr, values, axis=None):
    """``arr`` with ``values`` joined at the end (both flattened when ``axis`` is None).

    Example:
      >>> fnp.append(fnp.asarray([1.0, 2.0]), [3.0])
      Array([1., 2., 3.], dtype=float32)
    """
    x, v = unary_operand(arr), unary_operand(values)
    if axis is None:
        return concatenate([ravel(x), ravel(v)], 0)
    return concatenate([x, v], axis)


def _static_positions(obj, who):
    if isinstance(obj, ArrayBase):
        from funcgrad.numpy._indexing import _concrete

        obj = _concrete(obj, who)
    return obj


def delete(arr, obj, axis=None):
    """``arr`` without the entries at ``obj`` along ``axis`` (flattened when None): an int, a
    slice, a sequence of ints or a boolean mask. ``obj`` must be concrete (static).

    Example:
      >>> fnp.delete(fnp.asarray([1.0, 2.0, 3.0]), 1)
      Array([1., 3.], dtype=float32)
    """
    x = unary_operand(arr)
    if axis is None:
        x, axis = ravel(x), 0
    ax = _axis(x, axis, "delete")
    n = x.shape[ax]
    obj = _static_positions(obj, "delete")
    keep = np.ones(n, dtype=bool)
    if isinstance(obj, slice):
        keep[obj] = False
    else:
        idx = np.asarray(obj)
        if idx.dtype == bool:
            if idx.shape != (n,):
                raise ValueError(
                    f"fnp.delete: a boolean mask must have shape ({n},) (axis {ax}), got "
                    f"{idx.shape}"
                )
            keep = ~idx
        else:
            if idx.size and idx.dtype.kind not in "iu":
                raise IndexError(f"fnp.delete: indices must be integers, got dtype {idx.dtype}")
            idx = idx.astype(np.int64)
            if idx.size and (idx.min() < -n or idx.max() >= n):
                raise IndexError(
                    f"fnp.delete: index {idx.tolist()} is out of bounds for axis {ax} with size {n}"
                )
            keep[idx] = False
    from funcgrad.numpy._indexing import take

    return take(x, np.flatnonzero(keep), axis=ax, unique_indices=True)


def insert(arr, obj, values, axis=None):
    """``arr`` with ``values`` inserted before the positions ``obj`` along ``axis`` (flattened
    when None), as NumPy's ``insert``: ``obj`` is an int, a slice or a sequence of ints, and
    must be concrete. ``values`` are cast to ``arr``'s dtype; both are differentiable.

    Example:
      >>> fnp.insert(fnp.asarray([1.0, 2.0, 3.0]), 1, 9.0)
      Array([1., 9., 2., 3.], dtype=float32)
    """
    x = unary_operand(arr)
    if axis is None:
        x, axis = ravel(x), 0
    ax = _axis(x, axis, "insert")
    n = x.shape[ax]
    nd = len(x.shape)
    obj = _static_positions(obj, "insert")
    idx = np.arange(*obj.indices(n)) if isinstance(obj, slice) else np.asarray(obj)
    if idx.dtype == bool:
        raise TypeError("fnp.insert: obj must hold integer positions, not a boolean mask")
    if idx.size and idx.dtype.kind not in "iu":
        raise IndexError(f"fnp.insert: positions must be integers, got dtype {idx.dtype}")
    if idx.ndim > 1:
        raise ValueError(f"fnp.insert: obj must be an int or 1-d, got shape {idx.shape}")
    idx = idx.astype(np.int64)
    if idx.size and (idx.min() < -n or idx.max() > n):
        raise IndexError(
            f"fnp.insert: position {idx.tolist()} is out of bounds for axis {ax} with size {n}"
        )
    idx = np.where(idx < 0, idx + n, idx)
    v = lax.convert_element_type(unary_operand(values), x.dtype)
    if idx.size == 1:  # one position: values fill a block there (moved to ``ax`` for an int)
        pos = int(idx.reshape(()))
        if len(v.shape) < nd:
            v = lax.reshape(v, (1,) * (nd - len(v.shape)) + tuple(v.shape))
        if idx.ndim == 0:
            v = moveaxis(v, 0, ax)
        shape = list(x.shape)
        shape[ax] = v.shape[ax]
        v = _insert_values(v, shape)
        return concatenate(
            [lax.slice_in_dim(x, 0, pos, axis=ax), v, lax.slice_in_dim(x, pos, n, axis=ax)], ax
        )
    k = idx.shape[0]
    shape = list(x.shape)
    shape[ax] = k
    v = _insert_values(v, shape)
    order = np.argsort(idx, kind="stable")
    new_pos = idx.copy()
    new_pos[order] += np.arange(k)
    src = np.empty(n + k, dtype=np.int64)
    mask = np.ones(n + k, dtype=bool)
    mask[new_pos] = False
    src[mask] = np.arange(n)
    src[new_pos] = n + np.arange(k)
    from funcgrad.numpy._indexing import take

    return take(concatenate([x, v], ax), src, axis=ax, unique_indices=True)


def _insert_values(v, shape):
    try:
        np.broadcast_shapes(tuple(v.shape), tuple(shape))
    except ValueError:
        raise ValueError(
            f"fnp.insert: values of shape {tuple(v.shape)} do not broadcast to the inserted "
            f"block of shape {tuple(shape)}"
        ) from None
    return lax.broadcast_to(v, tuple(shape))


def meshgrid(*xi, copy=True, sparse=False, indexing="xy"):
    """Coordinate arrays from 1-d coordinate vectors (NumPy's ``meshgrid``; a tuple).

    ``indexing="xy"`` (default) swaps the first two output axes; ``"ij"`` keeps matrix order.
    ``sparse=True`` returns broadcastable arrays instead of full grids.

    Example:
      >>> X, Y = fnp.meshgrid(fnp.asarray([1.0, 2.0, 3.0]), fnp.asarray([4.0, 5.0]))
      >>> X.shape
      (2, 3)
    """
    if indexing not in ("xy", "ij"):
        raise ValueError(f"fnp.meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}")
    xs = [ravel(unary_operand(x)) for x in xi]
    nd = len(xs)
    out = []
    for i, x in enumerate(xs):
        shape = [1] * nd
        shape[i] = x.shape[0]
        out.append(lax.reshape(x, tuple(shape)))
    if indexing == "xy" and nd > 1:
        for i, x in enumerate(out):
            s = list(x.shape)
            s[0], s[1] = s[1], s[0]
            out[i] = lax.reshape(x, tuple(s))
    if not sparse:
        full = broadcast_shapes(*[tuple(x.shape) for x in out])
        out = [lax.broadcast_to(x, full) for x in out]
    return tuple(out)
