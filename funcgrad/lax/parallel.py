"""Named-axis collectives (psum, pmax, pmin, all_gather, ppermute, axis_index) and their rules.

A collective reduces or exchanges values across the members of a mapped axis named by
``vmap(..., axis_name=...)`` or ``pmap(..., axis_name=...)``.

- Under ``vmap`` its ``collective_rules`` entry implements it over the trace that binds the name.
- Under ``pmap`` the function is traced into a program that contains the collective's equation;
  each device's shard runs that program in its own thread, where the impl finds the axis in the
  thread's axis environment (``axis_environment``: name -> the ``Communicator`` of the call and
  the shard's index) and exchanges values with the other shards. An operand that is the same on
  every device (no value of the pmap trace) takes ``unmapped_rules`` at trace time instead.
- Reaching ``impl`` with neither means that no transform in scope binds the name.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import numpy as np

from funcgrad.core.array import Array
from funcgrad.core.primitive import Primitive, ShapedArray
from funcgrad.core.trace import Tracer, _state, find_top_trace
from funcgrad.core.tree import tree_map
from funcgrad.lax.elementwise import convert_element_type, eq
from funcgrad.lax.indexing import gather
from funcgrad.lax.reduce import reduce_max, reduce_min, reduce_sum
from funcgrad.lax.shape import pad, reshape
from funcgrad.transforms.grad import _as_array, defjvp, defvjp, nondiff_primitives
from funcgrad.transforms.vmap import (
    BatchTracer,
    axis_names_in_scope,
    collective_rules,
    move_batch_axis,
    moveaxis,
)

__all__ = [
    "Communicator",
    "NcclCommunicator",
    "UnboundAxisError",
    "all_gather",
    "axis_index",
    "pmax",
    "pmean",
    "pmin",
    "ppermute",
    "psum",
]

# unmapped_rules[prim](trace, *operands, **params) -> value: a collective over a pmap axis whose
# operand is the same on every device (or that has none, like axis_index), applied at trace time
# by the pmap trace (``trace.axis_size``; ``trace.token`` is the shard index in the program).
unmapped_rules: dict[Primitive, Any] = {}


class UnboundAxisError(NameError):
    """A collective named an axis that no enclosing ``vmap``/``pmap`` binds."""


def _unbound(who: str, name: Any) -> UnboundAxisError:
    return UnboundAxisError(
        f"{who}: unbound axis name {name!r}: no enclosing vmap or pmap maps an axis of that "
        f"name (axis names in scope: {axis_names_in_scope()}); pass axis_name={name!r} to the "
        "vmap/pmap whose axis the collective should run over"
    )


def _axis_trace(name: Any):
    """The innermost active trace that binds the axis ``name`` (None if there is none)."""
    for t in reversed(_state.stack):
        if getattr(t, "axis_name", None) is not None and t.axis_name == name:
            return t
    return None


def _axis_size(name: Any, who: str) -> int:
    trace = _axis_trace(name)
    if trace is None:
        raise _unbound(who, name)
    return trace.axis_size


class CollectivePrimitive(Primitive):
    """A primitive over the named axis ``params["axis_name"]``.

    ``bind`` also goes to the trace that binds the name when no operand is one of its tracers
    (a value that is the same for every member, or no operand at all): the collective still
    runs over that axis, as under JAX's axis environment (``psum(1.0, "i")`` is the axis size).
    """

    __slots__ = ()

    def bind(self, *args: Any, **params: Any) -> Any:
        trace = _axis_trace(params["axis_name"])
        if trace is not None:
            top = find_top_trace(args)
            if top is None or top.level < trace.level:
                if getattr(trace, "token", None) is not None:  # a pmap trace
                    return unmapped_rules[self](trace, *args, **params)
                if args:
                    return trace.process_primitive(self, args, params)
                # BatchTrace.process_primitive expects an operand: apply the rule directly.
                out, dim = collective_rules[self](trace, None, None, **params)
                return out if dim is None else BatchTracer(trace, out, dim)
        return super().bind(*args, **params)


def _collective(name: str) -> CollectivePrimitive:
    prim = CollectivePrimitive(name)

    def impl(xp, *args, axis_name, **params):
        raise _unbound(name, axis_name)

    impl.__name__ = f"_{name}_impl"
    prim.def_impl(impl)
    return prim


# ----------------------------------------------------------------------------- under pmap


class Communicator:
    """The shards of one pmap call exchanging values: ``exchange(index, value)`` returns every
    shard's value, in device order, once all ``size`` shards have given theirs.

    One barrier per exchange: the values of consecutive exchanges alternate between two slot
    lists, and a shard can only write the list of exchange r + 2 after every shard has passed
    the barrier of r + 1, hence finished reading r. ``abort`` (a shard failed) makes every
    waiting and later ``exchange`` raise ``threading.BrokenBarrierError`` instead of hanging.
    """

    device_native = False  # values are exchanged as they are (on the GPU: staged on the host)

    def __init__(self, size: int):
        self.size = size
        self._barrier = threading.Barrier(size)
        self._slots = ([None] * size, [None] * size)
        self._round = [0] * size

    def exchange(self, index: int, value: Any) -> list:
        r = self._round[index]
        self._round[index] = r + 1
        slots = self._slots[r & 1]
        slots[index] = value
        self._barrier.wait()
        return list(slots)

    def wait(self) -> None:
        """A barrier of the shards, outside an exchange."""
        self._barrier.wait()

    def abort(self) -> None:
        self._barrier.abort()


class NcclCommunicator:
    """GPU shards of one pmap call (one per GPU, one thread each) exchanging values with NCCL:
    ``exchange`` is an all-gather into every shard's own GPU, so the shards combine the same
    values in the same (device) order and get bit-identical results, as with ``Communicator``.

    The NCCL communicators (``cupy.cuda.nccl.NcclCommunicator.initAll``) are made once per
    tuple of devices and kept; ``abort`` aborts them (a shard failed), and the next call makes
    new ones.
    """

    device_native = True
    _cache: dict[tuple[int, ...], list] = {}  # (the nccl module's id, device ids) -> comms

    def __init__(self, device_ids: list[int]):
        from cupy.cuda import nccl

        self._nccl = nccl
        self.size = len(device_ids)
        self._ids = (id(nccl), *device_ids)
        comms = self._cache.get(self._ids)
        if comms is None:
            comms = self._cache[self._ids] = nccl.NcclCommunicator.initAll(list(device_ids))
        self._comms = comms
        self._barrier = threading.Barrier(self.size)

    def exchange(self, index: int, value: Any) -> list:
        import cupy as cp

        shape = tuple(getattr(value, "shape", ()))
        x = cp.ascontiguousarray(value)  # NumPy's (and so the fake's) makes a 0-d value 1-d
        n = x.nbytes
        if n == 0:
            return [x.reshape(shape)] * self.size
        # Bytes, whatever the dtype (bool and complex included): NCCL only moves them.
        out = cp.empty((self.size, n), dtype=cp.uint8)
        stream = cp.cuda.get_current_stream()
        self._comms[index].allGather(x.data.ptr, out.data.ptr, n, self._nccl.NCCL_UINT8, stream.ptr)
        return [out[k].view(x.dtype).reshape(shape) for k in range(self.size)]

    def wait(self) -> None:
        self._barrier.wait()

    def abort(self) -> None:
        self._barrier.abort()
        comms = self._cache.pop(self._ids, None)
        for c in comms or ():
            try:
                c.abort()
            except Exception:  # already aborted or destroyed  # pragma: no cover
                pass


def make_gpu_communicator(device_ids: list[int]):
    """The communicator of a pmap over the GPUs ``device_ids``: NCCL's when CuPy has it and
    there are several GPUs, else the host-staged ``Communicator`` (values copied to the host
    with ``.get()`` and back)."""
    if len(device_ids) > 1:
        try:
            from cupy.cuda import nccl

            if nccl is not None and getattr(nccl, "available", True):
                return NcclCommunicator(device_ids)
        except ImportError:
            pass
    return Communicator(len(device_ids))


class _AxisEnvironment(threading.local):
    def __init__(self):
        self.axes: dict[Any, tuple[Communicator, int]] = {}


_env = _AxisEnvironment()


@contextlib.contextmanager
def axis_environment(axis_name: Any, communicator: Communicator, index: int):
    """Within it (in one shard thread), collectives over ``axis_name`` exchange values through
    ``communicator`` as member ``index``."""
    axes = _env.axes
    saved = axes.get(axis_name)
    axes[axis_name] = (communicator, index)
    try:
        yield
    finally:
        if saved is None:
            del axes[axis_name]
        else:
            axes[axis_name] = saved


def _member(name: str, axis_name: Any) -> tuple[Communicator, int]:
    entry = _env.axes.get(axis_name)
    if entry is None:
        raise _unbound(name, axis_name)
    return entry


def _def_pmap_impl(prim: Primitive, combine) -> None:
    """The impl of ``prim`` in a shard thread: ``combine(xp, values, index, x, **params)`` with
    every shard's operand (in device order) gives this shard's result."""

    def impl(xp, x, *, axis_name, **params):
        comm, index = _member(prim.name, axis_name)
        if comm.size == 1:
            return combine(xp, [x], 0, x, **params)
        if xp is np or comm.device_native:
            return combine(xp, comm.exchange(index, x), index, x, **params)
        # GPU shards without NCCL: the values meet on the host, the result goes back.
        host = xp.asnumpy(x)
        return xp.asarray(combine(np, comm.exchange(index, host), index, host, **params))

    impl.__name__ = f"_{prim.name}_impl"
    prim.def_impl(impl)


def _fold(op):
    def combine(xp, values, index, x):
        out = values[0]
        for v in values[1:]:  # in device order: every shard gets bit-identical results
            out = getattr(xp, op)(out, v)
        return out.astype(x.dtype, copy=False) if isinstance(out, xp.ndarray) else out

    return combine


def _same_abstract_eval(x, **params):
    return ShapedArray(tuple(x.shape), x.dtype)


def _names(axis_name: Any) -> tuple:
    """A tuple of axis names stands for all of them (JAX's convention); else one name."""
    return axis_name if isinstance(axis_name, tuple) else (axis_name,)


def _operand(x: Any) -> Any:
    return x if isinstance(x, (Array, Tracer)) else _as_array(x)


# ----------------------------------------------------------------------------- psum


psum_p = _collective("psum")
psum_p.def_abstract_eval(_same_abstract_eval)
defjvp(psum_p, lambda t, ans, x, *, axis_name: psum_p.bind(t, axis_name=axis_name))
# Each member's output is the sum over all members, so a member's input reaches every member's
# output: its cotangent is the sum of all members' cotangents (the transpose of psum is psum).
defvjp(psum_p, lambda g, ans, x, *, axis_name: psum_p.bind(g, axis_name=axis_name))


def _psum_collective(trace, x, dim, *, axis_name):
    if dim is None:  # the same value in every member
        return x * trace.axis_size, None
    return reduce_sum(x, (dim,)), None


collective_rules[psum_p] = _psum_collective
unmapped_rules[psum_p] = lambda trace, x, *, axis_name: x * trace.axis_size
_def_pmap_impl(psum_p, _fold("add"))


def psum(x: Any, axis_name: Any) -> Any:
    """The sum of ``x`` over the members of the mapped axis ``axis_name``, in every member.

    Args:
      x: a pytree of arrays (each leaf is summed).
      axis_name: the ``axis_name`` of an enclosing ``vmap``/``pmap``, or a tuple of names.

    Example:
      >>> fg.vmap(lambda v: v / lax.psum(v, "i"), axis_name="i")(fnp.array([1.0, 3.0]))
      Array([0.25, 0.75], dtype=float32)
    """
    names = _names(axis_name)

    def leaf(v):
        v = _operand(v)
        for n in names:
            v = psum_p.bind(v, axis_name=n)
        return v

    return tree_map(leaf, x)


def pmean(x: Any, axis_name: Any) -> Any:
    """The mean of ``x`` over the members of the mapped axis (or axes) ``axis_name``.

    Example:
      >>> fg.vmap(lambda v: v - lax.pmean(v, "i"), axis_name="i")(fnp.array([1.0, 3.0]))
      Array([-1.,  1.], dtype=float32)
    """
    size = int(np.prod([_axis_size(n, "pmean") for n in _names(axis_name)]))
    return tree_map(lambda v: v / size, psum(x, axis_name))


# ----------------------------------------------------------------------------- pmax / pmin


def _extremum_weights(ans, x, axis_name):
    # The members that attain the extremum share its derivative evenly (as reduce_max).
    mask = convert_element_type(eq(x, ans), ans.dtype)
    return mask / psum_p.bind(mask, axis_name=axis_name)


def _pextremum(name, reduce):
    prim = _collective(name)
    prim.def_abstract_eval(_same_abstract_eval)

    def jvp(t, ans, x, *, axis_name):
        return psum_p.bind(t * _extremum_weights(ans, x, axis_name), axis_name=axis_name)

    def vjp(g, ans, x, *, axis_name):
        return psum_p.bind(g, axis_name=axis_name) * _extremum_weights(ans, x, axis_name)

    def rule(trace, x, dim, *, axis_name):
        return (x, None) if dim is None else (reduce(x, (dim,)), None)

    defjvp(prim, jvp)
    defvjp(prim, vjp)
    collective_rules[prim] = rule
    unmapped_rules[prim] = lambda trace, x, *, axis_name: x
    return prim


pmax_p = _pextremum("pmax", reduce_max)
pmin_p = _pextremum("pmin", reduce_min)
_def_pmap_impl(pmax_p, _fold("maximum"))
_def_pmap_impl(pmin_p, _fold("minimum"))


def pmax(x: Any, axis_name: Any) -> Any:
    """The elementwise maximum of ``x`` over the members of the mapped axis ``axis_name``.

    Members that tie for the maximum share its gradient evenly (JAX gives it to each of them).
    """

    def leaf(v):
        v = _operand(v)
        for n in _names(axis_name):
            v = pmax_p.bind(v, axis_name=n)
        return v

    return tree_map(leaf, x)


def pmin(x: Any, axis_name: Any) -> Any:
    """The elementwise minimum of ``x`` over the members of the mapped axis ``axis_name``."""

    def leaf(v):
        v = _operand(v)
        for n in _names(axis_name):
            v = pmin_p.bind(v, axis_name=n)
        return v

    return tree_map(leaf, x)


# ----------------------------------------------------------------------------- all_gather


def _gather_axis(axis: int, rank: int, tiled: bool, who: str = "all_gather") -> int:
    """``axis`` as a non-negative axis of the result (negative: counted from its end)."""
    out_rank = rank if tiled else rank + 1
    if not -out_rank <= axis < out_rank:
        raise ValueError(
            f"{who}: axis {axis} is out of range for an operand of rank {rank} (tiled={tiled})"
        )
    return axis % out_rank


def _all_gather_abstract_eval(x, *, axis_name, axis, tiled):
    n = _axis_size(axis_name, "all_gather")
    shape = list(x.shape)
    ax = _gather_axis(axis, len(shape), tiled)
    if tiled:
        shape[ax] *= n
    else:
        shape.insert(ax, n)
    return ShapedArray(tuple(shape), x.dtype)


def _all_gather_vjp(g, ans, x, *, axis_name, axis, tiled):
    # Every member's output holds x_i at slot i, so x_i's cotangent is slot i of the sum of all
    # members' cotangents (JAX's psum_scatter); the slot is picked by a one-hot contraction.
    total = psum_p.bind(g, axis_name=axis_name)
    ax = _gather_axis(axis, len(x.shape), tiled)
    shape = tuple(total.shape)
    n = shape[ax] // x.shape[ax] if tiled else shape[ax]
    if tiled:
        shape = shape[:ax] + (n, x.shape[ax]) + shape[ax + 1 :]
        total = reshape(total, shape)
    slots = Array(np.arange(n, dtype=np.int32).reshape((n,) + (1,) * (len(shape) - ax - 1)))
    one_hot = convert_element_type(eq(slots, axis_index_p.bind(axis_name=axis_name)), g.dtype)
    return reduce_sum(total * one_hot, (ax,))


def _all_gather_collective(trace, x, dim, *, axis_name, axis, tiled):
    n = trace.axis_size
    rank = len(x.shape) - (dim is not None)
    ax = _gather_axis(axis, rank, tiled)
    out = move_batch_axis(x, dim, n, to=ax)  # every member sees the whole batched value
    if tiled:
        shape = tuple(out.shape)
        out = reshape(out, shape[:ax] + (n * shape[ax + 1],) + shape[ax + 2 :])
    return out, None


all_gather_p = _collective("all_gather")
all_gather_p.def_abstract_eval(_all_gather_abstract_eval)
defjvp(all_gather_p, lambda t, ans, x, **params: all_gather_p.bind(t, **params))
defvjp(all_gather_p, _all_gather_vjp)
collective_rules[all_gather_p] = _all_gather_collective
unmapped_rules[all_gather_p] = lambda trace, x, **params: _all_gather_collective(
    trace, x, None, **params
)[0]


def _all_gather_combine(xp, values, index, x, *, axis, tiled):
    ax = _gather_axis(axis, x.ndim, tiled)
    return xp.concatenate(values, axis=ax) if tiled else xp.stack(values, axis=ax)


_def_pmap_impl(all_gather_p, _all_gather_combine)


def all_gather(x: Any, axis_name: Any, axis: int = 0, tiled: bool = False) -> Any:
    """Every member's ``x``, stacked along a new axis ``axis`` (concatenated if ``tiled``).

    Args:
      x: a pytree of arrays.
      axis_name: the name of the mapped axis (one name).
      axis: where the members' axis goes in the result (negative counts from the end).
      tiled: concatenate along the existing ``axis`` instead of stacking along a new one.

    Example:
      >>> fg.vmap(lambda v: lax.all_gather(v, "i"), axis_name="i")(fnp.arange(2.0))
      Array([[0., 1.],
             [0., 1.]], dtype=float32)
    """
    if isinstance(axis_name, tuple):
        raise NotImplementedError(
            f"all_gather: axis_name={axis_name!r}: gathering over several axes at once is not "
            "supported; nest all_gather calls, one name each"
        )

    def leaf(v):
        v = _operand(v)
        rank = len(v.shape)
        ax = _gather_axis(int(axis), rank, bool(tiled))
        # Bound as a new last axis, then moved: a vmap over another axis name passes the
        # params through unchanged, which keeps its batch axis in place only for a new last axis.
        out = all_gather_p.bind(v, axis_name=axis_name, axis=-1, tiled=False)
        out = moveaxis(out, rank, ax)
        if tiled:
            shape = tuple(out.shape)
            out = reshape(out, shape[:ax] + (shape[ax] * shape[ax + 1],) + shape[ax + 2 :])
        return out

    return tree_map(leaf, x)


# ----------------------------------------------------------------------------- ppermute


def _check_perm(perm, n: int, axis_name: Any) -> None:
    for s, d in perm:
        if not (0 <= s < n and 0 <= d < n):
            raise ValueError(
                f"ppermute: the pair ({s}, {d}) in perm is out of range for axis {axis_name!r} "
                f"of size {n}"
            )


def _ppermute_collective(trace, x, dim, *, axis_name, perm):
    n = trace.axis_size
    _check_perm(perm, n, axis_name)
    src = np.full(n, n, dtype=np.int64)  # index n: a row of zeros (members that receive nothing)
    for s, d in perm:
        src[d] = s
    x = move_batch_axis(x, dim, n, to=0)
    if (src == n).any():
        x = pad(x, 0, [(0, 1, 0)] + [(0, 0, 0)] * (len(x.shape) - 1))
    return gather(x, (Array(src),), unique_indices=len(perm) == n), 0


def _inverse(perm):
    return tuple((d, s) for s, d in perm)


def _ppermute_abstract_eval(x, *, axis_name, perm):
    trace = _axis_trace(axis_name)
    if trace is not None:
        _check_perm(perm, trace.axis_size, axis_name)
    return ShapedArray(tuple(x.shape), x.dtype)


def _ppermute_unmapped(trace, x, *, axis_name, perm):
    # The same x everywhere: the destinations keep it, the other members get zeros.
    n = trace.axis_size
    _check_perm(perm, n, axis_name)
    dests = {d for _, d in perm}
    if len(dests) == n:
        return x
    one_hot = convert_element_type(eq(Array(np.arange(n, dtype=np.int32)), trace.token), x.dtype)
    keep = Array(np.array([k in dests for k in range(n)], dtype=x.dtype))
    return x * reduce_sum(one_hot * keep, (0,))


def _ppermute_combine(xp, values, index, x, *, perm):
    for s, d in perm:
        if d == index:
            return values[s]
    return xp.zeros_like(x)


ppermute_p = _collective("ppermute")
ppermute_p.def_abstract_eval(_ppermute_abstract_eval)
unmapped_rules[ppermute_p] = _ppermute_unmapped
_def_pmap_impl(ppermute_p, _ppermute_combine)
# ppermute is linear: its jvp permutes the tangent, its vjp sends cotangents back (inverse perm).
defjvp(ppermute_p, lambda t, ans, x, **params: ppermute_p.bind(t, **params))
defvjp(
    ppermute_p,
    lambda g, ans, x, *, axis_name, perm: ppermute_p.bind(
        g, axis_name=axis_name, perm=_inverse(perm)
    ),
)
collective_rules[ppermute_p] = _ppermute_collective


def ppermute(x: Any, axis_name: Any, perm) -> Any:
    """Sends each member's ``x`` to another: ``perm`` lists ``(source, destination)`` pairs.

    Members that are no pair's destination receive zeros (as in JAX).

    Example:
      >>> shift = [(i, (i + 1) % 3) for i in range(3)]
      >>> fg.vmap(lambda v: lax.ppermute(v, "i", shift), axis_name="i")(fnp.arange(3.0))
      Array([2., 0., 1.], dtype=float32)
    """
    if isinstance(axis_name, tuple):
        raise NotImplementedError(f"ppermute: axis_name={axis_name!r}: give one axis name")
    try:
        perm = tuple((int(s), int(d)) for s, d in perm)
    except (TypeError, ValueError):
        raise TypeError(
            f"ppermute: perm must be (source, destination) pairs, got {perm!r}"
        ) from None
    for k, what in ((0, "source"), (1, "destination")):
        seen = [p[k] for p in perm]
        if len(set(seen)) != len(seen):
            raise ValueError(f"ppermute: perm {perm} names a {what} more than once")
    return tree_map(lambda v: ppermute_p.bind(_operand(v), axis_name=axis_name, perm=perm), x)


# ----------------------------------------------------------------------------- axis_index


def _axis_index_collective(trace, x, dim, *, axis_name):
    return Array(np.arange(trace.axis_size, dtype=np.int32)), 0


axis_index_p = _collective("axis_index")
axis_index_p.def_abstract_eval(lambda *, axis_name: ShapedArray((), np.dtype(np.int32)))
nondiff_primitives.add(axis_index_p)
collective_rules[axis_index_p] = _axis_index_collective
unmapped_rules[axis_index_p] = lambda trace, *, axis_name: trace.token


def _axis_index_impl(xp, *, axis_name):
    return xp.asarray(_member("axis_index", axis_name)[1], dtype=np.int32)


axis_index_p.def_impl(_axis_index_impl)


def axis_index(axis_name: Any) -> Any:
    """This member's position (int32) along the mapped axis ``axis_name``.

    A tuple of names gives the position in their flattened product (the last name fastest).

    Example:
      >>> fg.vmap(lambda v: lax.axis_index("i"), axis_name="i")(fnp.ones(3))
      Array([0, 1, 2], dtype=int32)
    """
    index = None
    for n in _names(axis_name):
        i = axis_index_p.bind(axis_name=n)
        index = i if index is None else index * _axis_size(n, "axis_index") + i
    return index
