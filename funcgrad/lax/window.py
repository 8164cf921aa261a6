"""Windowed reductions (pooling): lax.reduce_window with max/min/sum, max_pool, avg_pool.

Impls fold elementwise ops over one strided view per window offset (never a reduction over
strided window axes, which is many times slower); derivatives route through the arg-max.
"""

from __future__ import annotations

import builtins
import functools
import itertools

import numpy as np

from funcgrad.core.array import Array
from funcgrad.core.primitive import Primitive, ShapedArray, shaped_array
from funcgrad.lax import elementwise
from funcgrad.lax.shape import padtype_to_pads
from funcgrad.transforms.grad import defjvp, defvjp
from funcgrad.transforms.vmap import batch_rules, batch_size, move_batch_axis

_WINDOW_PARAMS = (
    "window_dimensions",
    "window_strides",
    "padding",
    "base_dilation",
    "window_dilation",
)

# ----------------------------------------------------------------------------- shapes and views


def _padded_shape(shape, padding, base_dilation):
    return tuple(
        lo + hi + ((d - 1) * b + 1 if d else 0)
        for d, (lo, hi), b in zip(shape, padding, base_dilation)
    )


@functools.lru_cache(maxsize=512)
def _out_shape(
    name, shape, window_dimensions, window_strides, padding, base_dilation, window_dilation
):
    """The pooled shape of an operand of ``shape``; raises naming the shapes when it is invalid."""
    n = len(shape)
    given = dict(
        zip(
            _WINDOW_PARAMS,
            (window_dimensions, window_strides, padding, base_dilation, window_dilation),
        )
    )
    for k, v in given.items():
        if len(v) != n:
            raise ValueError(
                f"{name}: operand of shape {tuple(shape)} has rank {n} but {k} {tuple(v)} has "
                f"{len(v)} entries; give one per axis"
            )
    for k in ("window_dimensions", "window_strides", "base_dilation", "window_dilation"):
        if any(v < 1 for v in given[k]):
            raise ValueError(f"{name}: {k} {tuple(given[k])} must be positive")
    if any(lo < 0 or hi < 0 for lo, hi in padding):
        raise ValueError(f"{name}: padding {tuple(padding)} must be non-negative (lo, hi) pairs")
    padded = _padded_shape(shape, padding, base_dilation)
    span = tuple((w - 1) * r + 1 for w, r in zip(window_dimensions, window_dilation))
    # An empty axis may give an empty output; otherwise a window must fit the padded operand.
    if any(s > p and d for s, p, d in zip(span, padded, shape)):
        raise ValueError(
            f"{name}: window {tuple(window_dimensions)} (spanning {span} with window_dilation "
            f"{tuple(window_dilation)}) is larger than the operand of shape {tuple(shape)} "
            f"padded to {padded}; use a smaller window or more padding"
        )
    return tuple(
        builtins.max((p - s) // st + 1, 0) for p, s, st in zip(padded, span, window_strides)
    )


def _interior(shape, padding, base_dilation):
    """The index of the operand's elements inside its padded, base-dilated array."""
    return tuple(
        builtins.slice(lo, lo + (d - 1) * b + 1 if d else lo, b)
        for d, (lo, _), b in zip(shape, padding, base_dilation)
    )


def _is_plain(padding, base_dilation):
    return all(lo == 0 and hi == 0 for lo, hi in padding) and all(b == 1 for b in base_dilation)


def _pad(xp, x, fill, padding, base_dilation):
    """``x`` padded with ``fill`` and base-dilated (``x`` itself when neither applies)."""
    if _is_plain(padding, base_dilation):
        return x
    out = xp.full(_padded_shape(x.shape, padding, base_dilation), fill, dtype=x.dtype)
    out[_interior(x.shape, padding, base_dilation)] = x
    return out


def _views(a, out_shape, window_dimensions, window_strides, window_dilation, **_):
    """For each window offset (in row-major window order), the strided view ``a[k::stride]``."""
    for idx in _view_indices(tuple(out_shape), window_dimensions, window_strides, window_dilation):
        yield a[idx]


@functools.lru_cache(maxsize=512)
def _view_indices(out_shape, window_dimensions, window_strides, window_dilation):
    return tuple(
        tuple(
            builtins.slice(k * r, k * r + (n - 1) * s + 1, s)
            for k, r, n, s in zip(offset, window_dilation, out_shape, window_strides)
        )
        for offset in itertools.product(*map(range, window_dimensions))
    )


def _identity(select, dtype):
    """The identity of max (``select='max'``) or min: the value padding is filled with."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return -np.inf if select == "max" else np.inf
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return info.min if select == "max" else info.max
    if dtype.kind == "b":
        return select != "max"
    raise TypeError(f"reduce_window: {select} pooling needs a real dtype, got {dtype}")


def _non_overlapping(window_dimensions, window_strides, window_dilation):
    return all(
        s >= (w - 1) * r + 1 for w, s, r in zip(window_dimensions, window_strides, window_dilation)
    )


# ----------------------------------------------------------------------------- reduce_window


def _fold(xp, op, views):
    first = next(views)
    second = next(views, None)
    if second is None:
        return first  # a window of one element: a view (buffers are never written)
    out = op(first, second)
    for v in views:
        op(out, v, out=out)
    return out


def _reduce_window_impl(select):
    def impl(xp, x, *, window_dimensions, window_strides, padding, base_dilation, window_dilation):
        x = xp.asarray(x)
        fill = 0 if select == "sum" else _identity(select, x.dtype)
        p = _pad(xp, x, fill, padding, base_dilation)
        out_shape = _out_shape(
            "reduce_window",
            x.shape,
            window_dimensions,
            window_strides,
            padding,
            base_dilation,
            window_dilation,
        )
        if 0 in out_shape:
            return xp.zeros(out_shape, x.dtype)
        op = {"max": xp.maximum, "min": xp.minimum, "sum": xp.add}[select]
        views = _views(p, out_shape, window_dimensions, window_strides, window_dilation)
        return _fold(xp, op, views)

    return impl


def _reduce_window_abstract_eval(x, **params):
    return ShapedArray(_out_shape("reduce_window", x.shape, **params), x.dtype)


def _with_unit_window(params, d):
    """Window params for an operand with an extra axis at ``d``: window 1, stride 1, no padding."""
    new = dict(params)
    for k, v in (
        ("window_dimensions", 1),
        ("window_strides", 1),
        ("padding", (0, 0)),
        ("base_dilation", 1),
        ("window_dilation", 1),
    ):
        new[k] = params[k][:d] + (v,) + params[k][d:]
    return new


def _window_batch(prim):
    # The batch axis becomes a window axis of size 1 (all operands moved to the first one's axis).
    def rule(args, dims, **params):
        d = next(dd for dd in dims if dd is not None)
        size = batch_size(args, dims)
        args = [move_batch_axis(a, dd, size, to=d) for a, dd in zip(args, dims)]
        new = _with_unit_window(params, d)
        if "operand_shape" in params:
            new["operand_shape"] = (
                params["operand_shape"][:d] + (size,) + params["operand_shape"][d:]
            )
        return prim.bind(*args, **new), d

    return rule


def _reduce_window_primitive(select):
    prim = Primitive(f"reduce_window_{select}")
    prim.def_impl(_reduce_window_impl(select))
    prim.def_abstract_eval(_reduce_window_abstract_eval)
    batch_rules[prim] = _window_batch(prim)
    return prim


reduce_window_sum_p = _reduce_window_primitive("sum")
reduce_window_max_p = _reduce_window_primitive("max")
reduce_window_min_p = _reduce_window_primitive("min")


# ----------------------------------------------------------------------------- sum's transpose


def _reduce_window_sum_transpose_impl(xp, g, *, operand_shape, **params):
    # out[p] = sum of g over the windows that contain p: one strided add per window offset.
    g = xp.asarray(g)
    out = xp.zeros(
        _padded_shape(operand_shape, params["padding"], params["base_dilation"]), g.dtype
    )
    for v in _views(out, g.shape, **params):
        v += g
    if _is_plain(params["padding"], params["base_dilation"]):
        return out
    return out[_interior(operand_shape, params["padding"], params["base_dilation"])]


def _reduce_window_sum_transpose_abstract_eval(g, *, operand_shape, **params):
    out = _out_shape("reduce_window_sum_transpose", operand_shape, **params)
    if out != tuple(g.shape):
        raise ValueError(
            f"reduce_window_sum_transpose: cotangent of shape {tuple(g.shape)} does not match the "
            f"pooled shape {out} of operand shape {tuple(operand_shape)}"
        )
    return ShapedArray(tuple(operand_shape), g.dtype)


reduce_window_sum_transpose_p = Primitive("reduce_window_sum_transpose")
reduce_window_sum_transpose_p.def_impl(_reduce_window_sum_transpose_impl)
reduce_window_sum_transpose_p.def_abstract_eval(_reduce_window_sum_transpose_abstract_eval)
batch_rules[reduce_window_sum_transpose_p] = _window_batch(reduce_window_sum_transpose_p)
defjvp(
    reduce_window_sum_transpose_p,
    lambda t, ans, g, **p: reduce_window_sum_transpose_p.bind(t, **p),
)
defvjp(
    reduce_window_sum_transpose_p,
    lambda ct, ans, g, *, operand_shape, **p: reduce_window_sum_p.bind(ct, **p),
)
defjvp(reduce_window_sum_p, lambda t, ans, x, **p: reduce_window_sum_p.bind(t, **p))
defvjp(
    reduce_window_sum_p,
    lambda g, ans, x, **p: reduce_window_sum_transpose_p.bind(g, operand_shape=tuple(x.shape), **p),
)


# ----------------------------------------------------------------------------- arg-max routing
# select_and_gather_add(t, x, m) picks, per window, t at the first position (in window order)
# where x equals the pooled m; select_and_scatter_add(g, x, m) is its transpose: g added at that
# position. Both are linear in their first operand and constant in x and m (almost everywhere),
# so each one's derivative rules are the other one.


def _winners(xp, x, m, select, params):
    """Per window offset: (view index, bool mask of the windows it wins), first winner only.

    The masks share one buffer: use each before asking for the next.
    """
    p = _pad(
        xp, xp.asarray(x), _identity(select, x.dtype), params["padding"], params["base_dilation"]
    )
    # NaN propagates through max/min: a NaN window selects its first NaN (as PyTorch does).
    nan = m.dtype.kind == "f" and bool(xp.isnan(m).any())
    n = int(np.prod(params["window_dimensions"]))
    win = taken = None
    for k, v in enumerate(_views(p, m.shape, **params)):
        if k == n - 1 and taken is not None and not nan:
            # Every window holds its maximum m: the last offset wins where none did before.
            yield k, xp.logical_not(taken, out=taken)
            return
        win = xp.equal(v, m, out=win)
        if nan:
            win |= xp.isnan(v)
        if taken is None:
            taken = win.copy() if n > 1 else None
        else:
            xp.greater(win, taken, out=win)  # win & ~taken, in one pass
            xp.logical_or(taken, win, out=taken)
        yield k, win


def _select_and_gather_add_impl(xp, t, x, m, *, select, **params):
    t, m = xp.asarray(t), xp.asarray(m)
    if m.size == 0:
        return xp.zeros(m.shape, t.dtype)
    tp = _pad(xp, t, 0, params["padding"], params["base_dilation"])
    t_views = list(_views(tp, m.shape, **params))
    out = xp.zeros(m.shape, t.dtype)
    for k, win in _winners(xp, x, m, select, params):
        xp.copyto(out, t_views[k], where=win)
    return out


def _select_and_scatter_add_impl(xp, g, x, m, *, select, **params):
    g, x = xp.asarray(g), xp.asarray(x)
    pad, bd = params["padding"], params["base_dilation"]
    padded = _padded_shape(x.shape, pad, bd)
    disjoint = _non_overlapping(
        params["window_dimensions"], params["window_strides"], params["window_dilation"]
    )
    # Windows that tile the padded operand exactly write every element once: no zero fill.
    tiles = disjoint and all(
        w == s and o * s == p and r == 1
        for w, s, o, p, r in zip(
            params["window_dimensions"],
            params["window_strides"],
            g.shape,
            padded,
            params["window_dilation"],
        )
    )
    out = (xp.empty if tiles else xp.zeros)(padded, g.dtype)
    if g.size:
        out_views = list(_views(out, g.shape, **params))
        for k, win in _winners(xp, x, xp.asarray(m), select, params):
            if disjoint:
                xp.multiply(g, win, out=out_views[k])
            else:
                out_views[k] += g * win
    if _is_plain(pad, bd):
        return out
    return out[_interior(x.shape, pad, bd)]


def _select_abstract_eval(name, a, x, m, params, a_is_pooled):
    pooled = _out_shape(name, x.shape, **params)
    if tuple(m.shape) != pooled or tuple(a.shape) != (pooled if a_is_pooled else tuple(x.shape)):
        raise ValueError(
            f"{name}: operands of shapes {tuple(a.shape)}, {tuple(x.shape)}, {tuple(m.shape)} do "
            f"not match the operand shape {tuple(x.shape)} and its pooled shape {pooled}"
        )
    return ShapedArray(tuple(x.shape) if a_is_pooled else pooled, a.dtype)


select_and_gather_add_p = Primitive("select_and_gather_add")
select_and_gather_add_p.def_impl(_select_and_gather_add_impl)
select_and_gather_add_p.def_abstract_eval(
    lambda t, x, m, *, select, **p: _select_abstract_eval(
        "select_and_gather_add", t, x, m, p, False
    )
)
batch_rules[select_and_gather_add_p] = _window_batch(select_and_gather_add_p)

select_and_scatter_add_p = Primitive("select_and_scatter_add")
select_and_scatter_add_p.def_impl(_select_and_scatter_add_impl)
select_and_scatter_add_p.def_abstract_eval(
    lambda g, x, m, *, select, **p: _select_abstract_eval(
        "select_and_scatter_add", g, x, m, p, True
    )
)
batch_rules[select_and_scatter_add_p] = _window_batch(select_and_scatter_add_p)

defjvp(
    select_and_gather_add_p,
    lambda tt, ans, t, x, m, **p: select_and_gather_add_p.bind(tt, x, m, **p),
    None,
    None,
)
defvjp(
    select_and_gather_add_p,
    lambda g, ans, t, x, m, **p: select_and_scatter_add_p.bind(g, x, m, **p),
    None,
    None,
)
defjvp(
    select_and_scatter_add_p,
    lambda tg, ans, g, x, m, **p: select_and_scatter_add_p.bind(tg, x, m, **p),
    None,
    None,
)
defvjp(
    select_and_scatter_add_p,
    lambda ct, ans, g, x, m, **p: select_and_gather_add_p.bind(ct, x, m, **p),
    None,
    None,
)

for _prim, _select in ((reduce_window_max_p, "max"), (reduce_window_min_p, "min")):
    defjvp(
        _prim,
        functools.partial(
            lambda t, ans, x, *, _s, **p: select_and_gather_add_p.bind(t, x, ans, select=_s, **p),
            _s=_select,
        ),
    )
    defvjp(
        _prim,
        functools.partial(
            lambda g, ans, x, *, _s, **p: select_and_scatter_add_p.bind(g, x, ans, select=_s, **p),
            _s=_select,
        ),
    )


# ----------------------------------------------------------------------------- public API

_COMPUTATIONS = {
    "max": "max",
    "min": "min",
    "add": "sum",
    "sum": "sum",
}
_PRIMS = {"max": reduce_window_max_p, "min": reduce_window_min_p, "sum": reduce_window_sum_p}


def _computation_kind(computation):
    if isinstance(computation, str) and computation in _COMPUTATIONS:
        return _COMPUTATIONS[computation]
    for fn, kind in ((elementwise.max, "max"), (elementwise.min, "min"), (elementwise.add, "sum")):
        if computation is fn:
            return kind
    raise TypeError(
        f"reduce_window: computation {computation!r} is not supported; use lax.max, lax.min, "
        "lax.add or one of the strings 'max', 'min', 'add' ('sum')"
    )


def _padtype_to_pads(in_shape, window_shape, window_strides, padding):
    if not isinstance(padding, str):
        return tuple((int(lo), int(hi)) for lo, hi in padding)
    return padtype_to_pads(in_shape, window_shape, window_strides, padding, "reduce_window")


def _window_params(
    shape, window_dimensions, window_strides, padding, base_dilation, window_dilation
):
    n = len(shape)
    wd = tuple(map(int, window_dimensions))
    ws = tuple(map(int, window_strides))
    bd = (1,) * n if base_dilation is None else tuple(map(int, base_dilation))
    wdil = (1,) * n if window_dilation is None else tuple(map(int, window_dilation))
    if isinstance(padding, str):
        span = tuple((w - 1) * r + 1 for w, r in zip(wd, wdil))
        pads = _padtype_to_pads(shape, span, ws, padding)
    else:
        try:
            pads = tuple((int(lo), int(hi)) for lo, hi in padding)
        except (TypeError, ValueError):
            raise ValueError(
                f"reduce_window: padding {padding!r} is not 'VALID', 'SAME' or (lo, hi) pairs"
            ) from None
    params = dict(
        window_dimensions=wd,
        window_strides=ws,
        padding=pads,
        base_dilation=bd,
        window_dilation=wdil,
    )
    _out_shape("reduce_window", shape, **params)  # validate eagerly: impls assume valid params
    return params


def _concrete_scalar(v):
    if isinstance(v, (int, float, bool, np.number, np.bool_)):
        return v
    if type(v) is Array and v.shape == ():
        return np.asarray(v)[()]
    if isinstance(v, np.ndarray) and v.shape == ():
        return v[()]
    return None


def reduce_window(
    operand,
    init_value,
    computation,
    window_dimensions,
    window_strides,
    padding,
    base_dilation=None,
    window_dilation=None,
):
    """Reduces every window of ``operand`` with ``computation`` (JAX's ``lax.reduce_window``).

    Args:
      operand: an array.
      init_value: the reduction's start, also the padding value (``-inf`` for max, ``0`` for sum).
      computation: ``lax.max``, ``lax.min`` or ``lax.add`` (or ``'max'``, ``'min'``, ``'add'``).
      window_dimensions, window_strides: one int per axis of ``operand``.
      padding: ``'VALID'``, ``'SAME'``, ``'SAME_LOWER'`` or one ``(lo, hi)`` pair per axis.
      base_dilation, window_dilation: one int per axis (default 1s).

    Returns:
      The pooled array. Derivatives of max/min route to the first arg-max in each window (as in
      PyTorch; JAX's XLA lowering also picks one element).

    Example:
      >>> lax.reduce_window(x, -fnp.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")  # NCHW
    """
    kind = _computation_kind(computation)
    aval = shaped_array(operand)
    if kind != "sum" and np.dtype(aval.dtype).kind not in "fiub":
        raise TypeError(f"reduce_window: {kind} pooling needs a real dtype, got {aval.dtype}")
    params = _window_params(
        aval.shape, window_dimensions, window_strides, padding, base_dilation, window_dilation
    )
    out = _PRIMS[kind].bind(operand, **params)
    init = _concrete_scalar(init_value)
    if kind == "sum":
        if init is not None and init == 0:
            return out
        # XLA fills padding and base-dilation holes with init_value, and each window starts at it.
        real = _window_count(tuple(aval.shape), np.dtype(aval.dtype), False, tuple(params.items()))
        starts = int(np.prod(params["window_dimensions"])) + 1 - real
        init = elementwise.convert_element_type(init_value, aval.dtype)
        return out + init * (starts if isinstance(starts, int) else Array(starts))
    if init is not None and (
        (kind == "max" and init <= _identity("max", aval.dtype))
        or (kind == "min" and init >= _identity("min", aval.dtype))
    ):
        return out
    init = elementwise.convert_element_type(init_value, aval.dtype)
    return (elementwise.max if kind == "max" else elementwise.min)(out, init)


def _full_window(x_ndim, window_dimensions, strides, padding):
    """Window specs over the trailing axes, extended with 1s (no padding) over the leading ones."""
    wd = tuple(map(int, window_dimensions))
    lead = x_ndim - len(wd)
    if lead < 0:
        raise ValueError(
            f"pool: window {wd} has more axes than the operand's {x_ndim}; give at most one "
            "entry per axis (leading axes get window 1)"
        )
    ws = wd if strides is None else tuple(map(int, strides))
    if len(ws) != len(wd):
        raise ValueError(f"pool: strides {ws} and window {wd} need the same length")
    if not isinstance(padding, str):
        padding = tuple((int(lo), int(hi)) for lo, hi in padding)
        if len(padding) != len(wd):
            raise ValueError(f"pool: padding {padding} and window {wd} need the same length")
        padding = ((0, 0),) * lead + padding
    # A string padding pads nothing on the leading axes (window 1, stride 1).
    return (1,) * lead + wd, (1,) * lead + ws, padding


def max_pool(x, window_dimensions, strides=None, padding="VALID"):
    """Max pooling over the trailing ``len(window_dimensions)`` axes (NCHW-style layouts).

    ``strides`` defaults to the window (PyTorch's default); ``padding`` is ``'VALID'``,
    ``'SAME'`` or ``(lo, hi)`` pairs for the pooled axes, padded with ``-inf``.

    Example:
      >>> lax.max_pool(x, (2, 2)).shape  # x: (N, C, 32, 32)
      (N, C, 16, 16)
    """
    wd, ws, pads = _full_window(len(shaped_array(x).shape), window_dimensions, strides, padding)
    return reduce_window(x, -np.inf, "max", wd, ws, pads)


def avg_pool(x, window_dimensions, strides=None, padding="VALID", count_include_pad=True):
    """Average pooling over the trailing axes: window sum / window count.

    With ``count_include_pad`` (PyTorch's default) padded positions count in the divisor;
    without it only the operand's elements do. Arguments as in ``max_pool``.

    Example:
      >>> lax.avg_pool(x, (2, 2), padding=((1, 1), (1, 1)), count_include_pad=False)
    """
    aval = shaped_array(x)
    if np.dtype(aval.dtype).kind not in "fc":
        raise TypeError(f"avg_pool: needs a floating-point operand, got {aval.dtype}")
    wd, ws, pads = _full_window(len(aval.shape), window_dimensions, strides, padding)
    params = _window_params(aval.shape, wd, ws, pads, None, None)
    total = reduce_window_sum_p.bind(x, **params)
    count = _window_count(
        tuple(aval.shape), np.dtype(aval.dtype), bool(count_include_pad), tuple(params.items())
    )
    return total / (count if isinstance(count, int) else Array(count))


@functools.lru_cache(maxsize=256)
def _window_count(shape, dtype, include_pad, params):
    """Per window, how many operand elements (plus padded positions if ``include_pad``) it covers.

    An int when every window has the same count, else a read-only array of the pooled shape.
    """
    params = dict(params)
    if include_pad or _is_plain(params["padding"], params["base_dilation"]):
        return int(np.prod(params["window_dimensions"]))  # windows lie inside the padded operand
    ones = np.ones(shape, dtype)
    count = _reduce_window_impl("sum")(np, ones, **params)
    count = np.ascontiguousarray(count)
    if count.size and count.min() == count.max():
        return int(count.flat[0])
    count.flags.writeable = False
    return count
