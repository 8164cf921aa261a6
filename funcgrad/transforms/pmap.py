"""pmap: one program, traced once, run SPMD with one shard per device.

``fg.pmap(f)`` maps ``f`` over an axis of its inputs like ``vmap``, but instead of one batched
computation it runs one shard per device: the shard function is traced once per signature into
a program (the jit machinery: ``core/ir.py``, ``core/passes.py``, ``core/replay.py``) with the
per-shard shapes, and each device's shard is replayed in its own thread of a persistent pool
(NumPy releases the GIL in its kernels, so shards overlap on several cores).

Collectives (``lax.psum``, ``pmean``, ``pmax``, ``pmin``, ``all_gather``, ``ppermute``,
``axis_index``) over the pmap's ``axis_name`` are equations of the program; replayed in shard
thread k, their impls exchange values with the other shards through the call's
``Communicator`` (``lax/parallel.py``), found in the thread's axis environment. Reductions run in
device order, so every shard gets bit-identical results. ``axis_index`` is the program's first
input, a hidden int32 token holding the shard's index.

On the CPU the devices are ``fg.config.num_cpu_devices`` virtual devices sharing the host's
memory; shards are views of the inputs, and the outputs are stacked into host Arrays. On GPUs
(CuPy) shard k runs under ``cupy.cuda.Device(k)`` on its own stream with its slice of the inputs
copied to its GPU; collectives use NCCL when CuPy has it (else they are staged through the
host). The mapped outputs stay sharded, as JAX's do: an Array whose value is a
``backend.Sharded`` (one buffer per GPU) until something reads it. A pmap over the same GPUs
that maps the sharded axis hands each shard its own buffer (the data-parallel training loop
moves nothing between steps); any other operation gathers the value onto the first GPU once
(``backend.gather``), and ``np.asarray`` / ``fg.device_get`` stack it on the host. Under a
transform (``grad``/``jit``/``vmap`` of a pmap: ``pmap_p``) the outputs are stacked on the first
GPU.

A call with tracers among its arguments (``grad`` of a pmapped function, ``jit(pmap(f))``,
``vmap(pmap(f))``) binds ``pmap_p``, a higher-order primitive carrying the shard program, with
jvp, vjp and batch rules built like ``jit_p``'s: the shard program transformed once (under a
pmap trace of the same axis, so its collectives stay collectives) and run by ``pmap_p`` again.
"""

from __future__ import annotations

import concurrent.futures
import functools
import inspect
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from funcgrad import distributed
from funcgrad.core import backend
from funcgrad.core.array import Array
from funcgrad.core.dtypes import dtype_of
from funcgrad.core.ir import Program, ProgramTracer, Var, effectful_primitives, eval_program
from funcgrad.core.primitive import Primitive, ShapedArray
from funcgrad.core.replay import compile_program
from funcgrad.core.trace import Tracer, _state, new_trace
from funcgrad.core.tree import PyTreeDef, leaf_paths, tree_flatten, tree_unflatten
from funcgrad.lax.parallel import (
    Communicator,
    _axis_trace,
    _unbound,
    axis_environment,
    make_gpu_communicator,
    unmapped_rules,
)
from funcgrad.transforms.grad import defjvp_all, defvjp_all, jvp, vjp, zeros_like
from funcgrad.transforms.jit import JitTrace, _derive, _inexact
from funcgrad.transforms.vmap import _expand_prefix, batch_rules, batch_size, vmap

__all__ = ["pmap", "PmappedFunction", "pmap_p"]

_PY_SCALARS = (bool, int, float, complex)
_TOKEN = ShapedArray((), np.dtype(np.int32))


# ---------------------------------------------------------------------------------------------
# Tracing a shard


class PmapTrace(JitTrace):
    """The trace of one shard of a pmapped function: it binds ``axis_name`` (size
    ``axis_size``) for collectives, and ``token`` is the shard index (the program's first
    input)."""

    __slots__ = ("axis_name", "axis_size", "token")

    def __init__(self, level, fun_name, input_names, axis_name, axis_size):
        super().__init__(level, fun_name, input_names)
        self.axis_name = axis_name
        self.axis_size = axis_size
        self.token = None

    def describe(self) -> str:
        return f"pmap({self.fun_name})"

    def process_primitive(self, prim, args, params):
        if prim in unmapped_rules and _axis_trace(params["axis_name"]) is None:
            raise _unbound(prim.name, params["axis_name"])  # at trace time, not in the shards
        return super().process_primitive(prim, args, params)

    def concretization_error(self, tracer: ProgramTracer) -> Exception:
        err = super().concretization_error(tracer)
        return TypeError(str(err).replace(f"jit({self.fun_name})", self.describe(), 1))


def _trace_shard(fun, avals, weak, axis_name, size, name, input_names=None, token_arg=False):
    """Traces ``fun`` (flat shard values in, a flat list out; the shard index first if
    ``token_arg``) under a pmap trace.

    Returns ``(program, lifted)``: the program's inputs are the token, the lifted constants (the
    tracers of enclosing transforms it closes over, passed as unmapped operands) and the shard
    inputs."""
    invars = [Var(a, w) for a, w in zip(avals, weak)]
    names = dict(zip(invars, input_names or []))
    # After fg.distributed.initialize() the axis is global: every process's devices.
    global_size = size * distributed.process_count()
    with new_trace(PmapTrace, name, names, axis_name, global_size) as trace:
        token = Var(_TOKEN)
        trace.token = ProgramTracer(trace, token)
        tracers = [ProgramTracer(trace, v) for v in invars]
        outs = fun(trace.token, *tracers) if token_arg else fun(*tracers)
        outvars = [trace.output_var(o) for o in outs]
    lifted_vars, lifted, constvars, consts = [], [], [], []
    for v, c in zip(trace.constvars, trace.consts):
        if isinstance(c, Tracer):
            lifted_vars.append(v)
            lifted.append(c)
        else:
            constvars.append(v)
            consts.append(c)
    program = Program([token] + lifted_vars + invars, constvars, consts, trace.eqns, outvars)
    return program, lifted


def _trace_derived(fun, avals, params) -> Program:
    """A program derived from a shard program (its jvp, vjp, batched version); ``fun`` takes
    the token first."""
    program, lifted = _trace_shard(
        fun,
        list(avals),
        [None] * len(avals),
        params["axis_name"],
        params["axis_size"],
        params["name"],
        token_arg=True,
    )
    assert not lifted, "internal: a derived pmap program closes over a tracer"
    return program


# ---------------------------------------------------------------------------------------------
# Running the shards


class _ShardState(threading.local):
    def __init__(self):
        self.inside = False


_shard_state = _ShardState()
_pool: concurrent.futures.ThreadPoolExecutor | None = None
_pool_size = 0
_pool_lock = threading.Lock()  # one SPMD run at a time from the pool (barriers need all shards)


def _executor(workers: int) -> concurrent.futures.ThreadPoolExecutor:
    global _pool, _pool_size
    if _pool is None or _pool_size < workers:
        if _pool is not None:
            _pool.shutdown(wait=False)
        _pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="funcgrad-pmap")
        _pool_size = workers
    return _pool


def _plain(v: Any) -> Any:
    if type(v) is Array:
        v = backend.gather(v._value)
    return v.view(np.ndarray) if type(v) is backend._OnDevice else v


def run_spmd(
    program: Program, args, in_axes, out_axes, axis_name, size, devices=None, sharded=False
) -> list:
    """Runs ``program`` once per shard, shard k in its own thread; returns the stacked outputs
    (NumPy values; when ``devices`` are GPUs, CuPy values on the first GPU, or with ``sharded``
    the mapped outputs as ``backend.Sharded`` values, one buffer per GPU). ``args`` are the
    full operands (after the token), ``in_axes`` their mapped axes (None: the same value for
    every shard)."""
    if devices and devices[0].platform == "gpu":
        return _run_spmd_gpu(program, args, in_axes, out_axes, axis_name, devices, sharded)
    exe = compile_program(program)
    values = [_plain(a) for a in args]
    # Across processes (fg.distributed), this process runs the shards offset .. offset + size - 1
    # of the global axis.
    offset = size * distributed.process_index()
    shard_args = []
    for k in range(size):
        shard = [np.asarray(offset + k, dtype=np.int32)]
        for v, ax in zip(values, in_axes):
            shard.append(v if ax is None else v[(slice(None),) * ax + (k,)])
        shard_args.append(shard)
    if distributed.process_count() > 1:
        comm = ProcessCommunicator(size, offset)
    else:
        comm = Communicator(size)

    def run(k):
        outer = _shard_state.inside
        _shard_state.inside = True
        try:
            if axis_name is None:
                return exe(shard_args[k])
            with axis_environment(axis_name, comm, offset + k):
                return exe(shard_args[k])
        except BaseException:
            comm.abort()  # the other shards raise instead of waiting for this one
            raise
        finally:
            _shard_state.inside = outer

    if size == 1:
        results = [run(0)]
    elif _shard_state.inside:  # a pmap run from a shard thread: threads of its own
        with concurrent.futures.ThreadPoolExecutor(size - 1) as pool:
            results = _run_all(run, size, pool)
    else:
        with _pool_lock:
            results = _run_all(run, size, _executor(size - 1))
    outs = []
    for j, (ax, aval) in enumerate(zip(out_axes, program.out_avals)):
        parts = [np.asarray(r[j], dtype=aval.dtype) for r in results]
        outs.append(parts[0] if ax is None else np.stack(parts, axis=ax))
    return outs


def _run_spmd_gpu(
    program: Program, args, in_axes, out_axes, axis_name, devices, sharded=False
) -> list:
    """``run_spmd`` on GPUs: shard k runs with CuPy under ``cupy.cuda.Device(k)`` on its own
    stream, on its slice of the operands copied to its GPU; collectives go through NCCL where
    CuPy has it, else through the host. An operand sharded over these devices along its mapped
    axis (a pmap output fed back) gives each shard its own buffer: no gather, no copy. The
    mapped outputs stay on their devices as ``backend.Sharded`` values with ``sharded`` (else
    they are stacked on the first device); unmapped ones are the first device's."""
    if distributed.process_count() > 1:
        raise NotImplementedError(
            "pmap over GPUs in a multi-process run (fg.distributed) is not supported yet; run "
            "one process per GPU with pmap over its local GPU, or use CPU devices"
        )
    cp = backend.cupy_module()
    ids = [d.id for d in devices]
    size = len(ids)
    values = []
    for a, ax in zip(args, in_axes):
        v = a._value if type(a) is Array else a
        if type(v) is backend.Sharded and not (ax == v.axis and v.devices == tuple(devices)):
            v = v.gather()  # sharded differently: stacked on its first GPU, then sliced
        values.append(v)
    comm = make_gpu_communicator(ids) if axis_name is not None else None

    def shard_args(k: int) -> list:
        gpu = ids[k]
        shard = [backend.to_gpu(np.asarray(k, dtype=np.int32), gpu)]
        for v, ax in zip(values, in_axes):
            if type(v) in _PY_SCALARS:
                shard.append(v)  # weakly typed: stays a Python scalar
                continue
            if type(v) is backend.Sharded:
                shard.append(v.shards[k])  # already this shard's slice, on this GPU
                continue
            if ax is not None:
                v = v[(slice(None),) * ax + (k,)]  # a view, on the device v is on
            shard.append(backend.to_gpu(v, gpu))
        return shard

    def run(k):
        outer = _shard_state.inside
        _shard_state.inside = True
        stream = backend.shard_stream(ids[k])
        try:
            with cp.cuda.Device(ids[k]), stream:
                exe = compile_program(program, xp=cp)
                if axis_name is None:
                    out = exe(shard_args(k))
                else:
                    with axis_environment(axis_name, comm, k):
                        out = exe(shard_args(k))
                out = [cp.asarray(o, dtype=a.dtype) for o, a in zip(out, program.out_avals)]
                stream.synchronize()  # the outputs are read from other streams and devices
                return out
        except BaseException:
            if comm is not None:
                comm.abort()  # the other shards raise instead of waiting for this one
            raise
        finally:
            _shard_state.inside = outer

    if size == 1:
        results = [run(0)]
    elif _shard_state.inside:
        with concurrent.futures.ThreadPoolExecutor(size - 1) as pool:
            results = _run_all(run, size, pool)
    else:
        with _pool_lock:
            results = _run_all(run, size, _executor(size - 1))
    outs = []
    with cp.cuda.Device(ids[0]):
        for j, ax in enumerate(out_axes):
            if ax is None:
                outs.append(results[0][j])  # shard 0's, on the first device
            elif sharded and size > 1:
                outs.append(backend.Sharded([r[j] for r in results], ax))
            else:
                parts = [backend.to_gpu(r[j], ids[0]) for r in results]
                outs.append(cp.stack(parts, axis=ax))
    return outs


class ProcessCommunicator:
    """The shards of every process (fg.distributed) exchanging values: the local shards meet at
    a barrier, the first one exchanges the local values with the other processes (MPI
    allgather), and every shard gets the global list, in global device order. Members are
    known by their global index (``offset`` + the local one)."""

    device_native = False

    def __init__(self, size: int, offset: int):
        self.local = Communicator(size)
        self.offset = offset
        self.size = size * distributed.process_count()
        self._result: list = []

    def exchange(self, index: int, value: Any) -> list:
        k = index - self.offset
        local = self.local.exchange(k, value)
        if k == 0:  # one MPI call per exchange, from one thread
            self._result = [v for part in distributed.allgather_objects(local) for v in part]
        self.local.wait()  # the leader has the global list; it writes again only after the
        return list(self._result)  # next exchange's barrier, when every shard has read it

    def abort(self) -> None:
        self.local.abort()


def _run_all(run, size, pool) -> list:
    futures = [pool.submit(run, k) for k in range(1, size)]
    results: list = [None] * size
    errors: list[BaseException] = []
    try:
        results[0] = run(0)
    except BaseException as e:
        errors.append(e)
    for k, f in enumerate(futures, 1):
        try:
            results[k] = f.result()
        except BaseException as e:
            errors.append(e)
    if errors:
        # The first error that is not another shard's abort is the cause.
        cause = [e for e in errors if not isinstance(e, threading.BrokenBarrierError)]
        raise (cause or errors)[0]
    return results


# ---------------------------------------------------------------------------------------------
# The pmap primitive


def _pmap_impl(xp, *args, program, in_axes, out_axes, axis_name, axis_size, devices, name):
    return run_spmd(program, args, in_axes, out_axes, axis_name, axis_size, devices)


def _insert(shape: tuple, ax: int | None, size: int) -> tuple:
    return shape if ax is None else shape[:ax] + (size,) + shape[ax:]


def _pmap_abstract_eval(*avals, program, in_axes, out_axes, axis_name, axis_size, devices, name):
    return [
        ShapedArray(_insert(tuple(a.shape), ax, axis_size), a.dtype)
        for a, ax in zip(program.out_avals, out_axes)
    ]


def _pmap_jvp(primals, tangents, **params):
    program, in_axes = params["program"], params["in_axes"]
    mask = tuple(t is not None for t in tangents)

    def build():
        n = len(primals)

        def jvp_fun(token, *args):
            ps, ts = list(args[:n]), iter(args[n:])
            ts = [next(ts) if m else zeros_like(p) for p, m in zip(ps, mask)]
            out, out_t = jvp(lambda *a: eval_program(program, token, *a), ps, ts)
            return list(out) + list(out_t)

        avals = program.in_avals[1:]
        return _trace_derived(jvp_fun, avals + [a for a, m in zip(avals, mask) if m], params)

    jvp_program = _derive(program, ("pmap-jvp", mask), build)
    outs = pmap_p.bind(
        *primals,
        *[t for t in tangents if t is not None],
        **{
            **params,
            "program": jvp_program,
            "in_axes": in_axes + tuple(ax for ax, m in zip(in_axes, mask) if m),
            "out_axes": params["out_axes"] * 2,
            "name": f"jvp({params['name']})",
        },
    )
    k = len(program.outvars)
    out, out_t = outs[:k], outs[k:]
    return out, [t if _inexact(a) else None for t, a in zip(out_t, program.out_avals)]


def _pmap_vjp(g, ans, *args, **params):
    from funcgrad.lax.reduce import reduce_sum
    from funcgrad.lax.shape import expand_dims, pad

    program, in_axes, out_axes = params["program"], params["in_axes"], params["out_axes"]
    size = params["axis_size"]

    def build():
        n = len(args)

        def vjp_fun(token, *a):
            _, pullback = vjp(lambda *p: eval_program(program, token, *p), *a[:n])
            return list(pullback(list(a[n:])))

        bwd = _trace_derived(vjp_fun, program.in_avals[1:] + program.out_avals, params)
        # It re-runs the forward pass; its effects (debug callbacks) already happened there.
        bwd.eqns = [e for e in bwd.eqns if e.prim not in effectful_primitives]
        return bwd

    bwd = _derive(program, ("pmap-vjp",), build)
    cts_in = []
    for c, ax in zip(g, out_axes):
        if ax is None:
            # An unmapped output is shard 0's: its cotangent goes to shard 0, zeros elsewhere
            # (collectives in the backward pass share it with the other shards).
            nd = len(c.shape)
            c = pad(expand_dims(c, (0,)), 0, [(0, size - 1, 0)] + [(0, 0, 0)] * nd)
        cts_in.append(c)
    cts = pmap_p.bind(
        *args,
        *cts_in,
        **{
            **params,
            "program": bwd,
            "in_axes": in_axes + tuple(0 if ax is None else ax for ax in out_axes),
            "out_axes": tuple(0 if ax is None else ax for ax in in_axes),
            "name": f"vjp({params['name']})",
        },
    )
    result = []
    for c, ax, aval in zip(cts, in_axes, program.in_avals[1:]):
        if not _inexact(aval):
            result.append(None)
        elif ax is None:  # the same operand in every shard: the shards' cotangents add up
            result.append(reduce_sum(c, (0,)))
        else:
            result.append(c)
    return tuple(result)


def _pmap_batch(args, dims, **params):
    program, in_axes, out_axes = params["program"], params["in_axes"], params["out_axes"]
    size = batch_size(args, dims)
    full_axes, shard_dims = [], []
    for d, ax in zip(dims, in_axes):
        if d is None or ax is None:
            full_axes.append(ax)
            shard_dims.append(d)
        else:
            ax_b = ax if ax < d else ax + 1  # the pmap axis in the batched operand
            full_axes.append(ax_b)
            shard_dims.append(d if d < ax_b else d - 1)

    def build():
        avals = [
            ShapedArray(_insert(tuple(a.shape), d, size), a.dtype)
            for a, d in zip(program.in_avals[1:], shard_dims)
        ]

        def batched(token, *a):
            f = vmap(
                lambda *xs: list(eval_program(program, token, *xs)),
                in_axes=tuple(shard_dims),
                axis_size=size,
            )
            return f(*a)

        return _trace_derived(batched, avals, params)

    prog = _derive(program, ("pmap-vmap", tuple(shard_dims), size), build)
    outs = pmap_p.bind(
        *args,
        **{
            **params,
            "program": prog,
            "in_axes": tuple(full_axes),
            "out_axes": tuple(None if o is None else o + 1 for o in out_axes),
            "name": f"vmap({params['name']})",
        },
    )
    return outs, [0] * len(outs)


pmap_p = Primitive("pmap", multiple_results=True)
pmap_p.def_impl(_pmap_impl)
pmap_p.def_abstract_eval(_pmap_abstract_eval)
defjvp_all(pmap_p, _pmap_jvp)
defvjp_all(pmap_p, _pmap_vjp)
batch_rules[pmap_p] = _pmap_batch


# ---------------------------------------------------------------------------------------------
# The pmapped function


class _Entry:
    __slots__ = ("program", "out_tree", "out_axes", "lifted")

    def __init__(self, program, out_tree, out_axes, lifted):
        self.program = program
        self.out_tree = out_tree
        self.out_axes = out_axes
        self.lifted = lifted


class PmappedFunction:
    """A function mapped over devices by ``fg.pmap``: call it like the function; see
    ``fg.pmap``."""

    def __init__(
        self,
        fun: Callable[..., Any],
        axis_name: Any = None,
        in_axes: Any = 0,
        out_axes: Any = 0,
        static_broadcasted_argnums: int | Sequence[int] = (),
        devices: Sequence[backend.Device] | None = None,
    ):
        if not callable(fun):
            raise TypeError(f"pmap: expected a function, got {type(fun).__name__}")
        functools.update_wrapper(self, fun)
        self.fun = fun
        self._name = getattr(fun, "__name__", type(fun).__name__)
        if not (in_axes is None or isinstance(in_axes, (int, tuple, list, dict))):
            raise ValueError(
                f"pmap({self._name}): in_axes must be an int, None, or a tuple/list/dict, got "
                f"{type(in_axes).__name__}"
            )
        self.axis_name = axis_name
        self.in_axes = in_axes
        self.out_axes = out_axes
        nums = static_broadcasted_argnums
        self._static = frozenset((nums,) if isinstance(nums, int) else tuple(nums))
        if devices is not None:
            devices = tuple(devices)
            for d in devices:
                if not isinstance(d, backend.Device):
                    raise TypeError(
                        f"pmap({self._name}): devices must be Devices (from fg.devices()), got "
                        f"{type(d).__name__} {d!r}"
                    )
            if len(set(devices)) != len(devices):
                raise ValueError(f"pmap({self._name}): devices={devices} lists a device twice")
        self.devices = devices
        try:
            params = list(inspect.signature(fun).parameters.values())
            self._param_names = [
                p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
            ]
        except (TypeError, ValueError):
            self._param_names = []
        self._cache: dict[tuple, _Entry] = {}
        self._misses = 0

    def _pretty(self, path: str, dyn_positions: list[int]) -> str:
        if path.startswith("args["):
            close = path.index("]")
            pos = dyn_positions[int(path[5:close])]
            name = self._param_names[pos] if pos < len(self._param_names) else f"args[{pos}]"
            return name + path[close + 1 :]
        if path.startswith("kwargs['"):
            close = path.index("']")
            return path[8:close] + path[close + 2 :]
        return path

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        name = self._name
        for t in _state.stack:
            if isinstance(t, PmapTrace):
                raise NotImplementedError(
                    f"pmap({name}) inside {t.describe()}: nested pmap is not supported; map "
                    "the inner axis with vmap (collectives work over both axis names)"
                )
        n_args = len(args)
        static = []
        for i in sorted(self._static):
            j = i + n_args if i < 0 else i
            if not 0 <= j < n_args:
                raise ValueError(
                    f"pmap({name}): static_broadcasted_argnums has {i}, but the function was "
                    f"called with {n_args} positional argument(s)"
                )
            try:
                hash(args[j])
            except TypeError:
                raise TypeError(
                    f"pmap({name}): static argument {j} has unhashable type "
                    f"{type(args[j]).__name__}; pass a hashable value (e.g. a tuple)"
                ) from None
            static.append((j, args[j]))
        static_pos = {j for j, _ in static}
        dyn_positions = [i for i in range(n_args) if i not in static_pos]
        dyn_args = tuple(args[i] for i in dyn_positions)
        in_axes = self.in_axes
        if isinstance(in_axes, list) and n_args != 1:
            in_axes = tuple(in_axes)
        if isinstance(in_axes, tuple):
            if len(in_axes) == n_args and static:
                in_axes = tuple(in_axes[i] for i in dyn_positions)
            if len(in_axes) != len(dyn_args):
                raise ValueError(
                    f"pmap({name}): in_axes has {len(self.in_axes)} entries but the function "
                    f"was called with {n_args} positional argument(s)"
                )
        leaves, in_tree = tree_flatten((dyn_args, kwargs))
        args_tree, kw_tree = in_tree.children
        axes: list = []
        try:
            if isinstance(in_axes, tuple):
                for i, (a, sub) in enumerate(zip(in_axes, args_tree.children)):
                    _expand_prefix(a, sub, axes, "in_axes", f"argument {i}")
            else:
                _expand_prefix(in_axes, args_tree, axes, "in_axes")
        except ValueError as e:
            raise ValueError(str(e).replace("vmap:", f"pmap({name}):", 1)) from None
        axes.extend([0] * kw_tree.num_leaves)  # keyword arguments are mapped over axis 0
        paths = None
        size = None
        first = None
        norm_axes, sig, has_tracer = [], [], False
        for i, (x, ax) in enumerate(zip(leaves, axes)):
            t = type(x)
            if t in _PY_SCALARS:
                shape, dtype, weak = (), dtype_of(x), t
            elif t is Array or isinstance(x, (Tracer, np.ndarray, np.generic)):
                shape, dtype, weak = tuple(x.shape), np.dtype(x.dtype), None
                has_tracer = has_tracer or isinstance(x, Tracer)
            else:
                raise TypeError(
                    f"pmap({name}): an argument of type {t.__name__} is not an array; pass "
                    "arrays, NumPy values or Python scalars, or make it static with "
                    "static_broadcasted_argnums"
                )
            if ax is not None:
                nd = len(shape)
                if paths is None:
                    paths = self._paths(in_tree, dyn_positions)
                if not -nd <= ax < nd:
                    raise ValueError(
                        f"pmap({name}): in_axes {ax} is out of range for {paths[i]} of shape "
                        f"{shape} (rank {nd})"
                    )
                ax %= nd
                n = shape[ax]
                if size is None:
                    size, first = n, i
                elif n != size:
                    raise ValueError(
                        f"pmap({name}): mapped arguments have different sizes along the mapped "
                        f"axis: {paths[first]} has {size}, {paths[i]} has {n}"
                    )
                shape = shape[:ax] + shape[ax + 1 :]
            norm_axes.append(ax)
            sig.append((shape, dtype, weak))
        if size is None:
            raise ValueError(
                f"pmap({name}): no argument is mapped (all in_axes are None); map at least one "
                "argument over the devices"
            )
        devices = self._devices_for(size, paths[first], axes[first])
        key = (in_tree, tuple(sig), tuple(norm_axes), tuple(static), devices)
        entry = self._cache.get(key)
        if entry is None:
            entry = self._trace(sig, in_tree, static, size, dyn_positions)
            if not entry.lifted:
                self._cache[key] = entry
        if has_tracer or entry.lifted:
            outs = pmap_p.bind(
                *entry.lifted,
                *leaves,
                program=entry.program,
                in_axes=(None,) * len(entry.lifted) + tuple(norm_axes),
                out_axes=entry.out_axes,
                axis_name=self.axis_name,
                axis_size=size,
                devices=devices,
                name=name,
            )
        else:
            raw = run_spmd(
                entry.program,
                leaves,
                norm_axes,
                entry.out_axes,
                self.axis_name,
                size,
                devices,
                sharded=True,
            )
            outs = [Array(o) for o in raw]
        return tree_unflatten(entry.out_tree, outs)

    def _paths(self, in_tree: PyTreeDef, dyn_positions: list[int]) -> list[str]:
        raw = leaf_paths(in_tree.children[0], "args") + leaf_paths(in_tree.children[1], "kwargs")
        return [self._pretty(p, dyn_positions) for p in raw]

    def _devices_for(self, size: int, path: str, ax: int) -> tuple:
        what = f"pmap({self._name}): {path} has size {size} along its mapped axis {ax}"
        if self.devices is not None:
            if size != len(self.devices):
                raise ValueError(
                    f"{what}, but devices= lists {len(self.devices)} device(s) "
                    f"{list(self.devices)}; the mapped axis size must equal the number of "
                    f"devices: pass devices= with {size} devices, or map an axis of size "
                    f"{len(self.devices)}"
                )
            platforms = {d.platform for d in self.devices}
            if len(platforms) > 1:
                raise ValueError(
                    f"pmap({self._name}): devices={list(self.devices)} mixes platforms; pass "
                    "devices of one platform (fg.devices('gpu') or fg.devices('cpu'))"
                )
            return self.devices
        available = backend.local_devices()
        if size > len(available) and available[0].platform == "gpu":
            raise ValueError(
                f"{what}, but there are only {len(available)} GPU(s) ({available}); the mapped "
                "axis size must equal the number of devices used: map an axis of at most "
                f"{len(available)}, or pass devices=fg.devices('cpu') with "
                f"FUNCGRAD_NUM_CPU_DEVICES={size} to run the shards on virtual CPU devices"
            )
        if size > len(available):
            raise ValueError(
                f"{what}, but there are only {len(available)} device(s) available "
                f"({available}); the mapped axis size must equal the number of devices used. "
                f"Set FUNCGRAD_NUM_CPU_DEVICES={size} (or fg.config.update('num_cpu_devices', "
                f"{size})) for {size} virtual CPU devices, or pass devices= explicitly"
            )
        return tuple(available[:size])

    def _trace(self, sig, in_tree, static, size, dyn_positions) -> _Entry:
        self._misses += 1
        static_vals = dict(static)
        out_tree = None

        def fun(*tracers):
            nonlocal out_tree
            d_args, d_kwargs = tree_unflatten(in_tree, tracers)
            it = iter(d_args)
            n = len(d_args) + len(static_vals)
            full = [static_vals[i] if i in static_vals else next(it) for i in range(n)]
            out = self.fun(*full, **d_kwargs)
            flat, out_tree = tree_flatten(out)
            return flat

        avals = [ShapedArray(shape, dtype) for shape, dtype, _ in sig]
        weak = [w for _, _, w in sig]
        names = self._paths(in_tree, dyn_positions)
        program, lifted = _trace_shard(fun, avals, weak, self.axis_name, size, self._name, names)
        out_axes_spec = self.out_axes
        if out_axes_spec is None or isinstance(out_axes_spec, int):
            o_axes = [out_axes_spec] * out_tree.num_leaves
        else:
            o_axes = []
            try:
                _expand_prefix(out_axes_spec, out_tree, o_axes, "out_axes")
            except ValueError as e:
                raise ValueError(str(e).replace("vmap:", f"pmap({self._name}):", 1)) from None
        norm = []
        for ax, aval in zip(o_axes, program.out_avals):
            if ax is not None:
                nd = len(aval.shape) + 1
                if not -nd <= ax < nd:
                    raise ValueError(
                        f"pmap({self._name}): out_axes {ax} is out of range for an output of "
                        f"rank {nd - 1}"
                    )
                ax %= nd
            norm.append(ax)
        return _Entry(program, out_tree, tuple(norm), lifted)

    def __repr__(self) -> str:
        return f"<pmap({self._name})>"


def pmap(
    fun: Callable[..., Any] | None = None,
    axis_name: Any = None,
    *,
    in_axes: Any = 0,
    out_axes: Any = 0,
    static_broadcasted_argnums: int | Sequence[int] = (),
    devices: Sequence[backend.Device] | None = None,
) -> Any:
    """Maps ``fun`` over an axis of its inputs, one shard per device, run in parallel (SPMD).

    ``fun`` is traced once per signature (like ``jit``) with the per-shard shapes; the shards
    run concurrently, one thread per device. Collectives over ``axis_name`` (``lax.psum``,
    ``lax.pmean``, ``lax.all_gather``, ...) combine the shards' values; sums run in device order,
    so every shard gets the same bits.

    Args:
      fun: a pure function of pytrees of arrays.
      axis_name: the name of the mapped axis, for collectives.
      in_axes: like ``vmap``'s: per positional argument the mapped axis, None to give every
        device the whole argument, or a pytree prefix. Keyword arguments are mapped over axis 0.
      out_axes: like ``vmap``'s: where the device axis goes in each output; None returns device
        0's value (for outputs that are the same on every device, e.g. after ``psum``).
      static_broadcasted_argnums: positional arguments that are Python values (hashable; part
        of the cache key), given to every device as they are.
      devices: the devices to use (CPU or GPU, one platform); the mapped axis size must equal
        their number. Default: the first ``size`` devices of ``fg.local_devices()``, the GPUs
        where they are the default platform (``FUNCGRAD_NUM_CPU_DEVICES=N`` or
        ``fg.config.update("num_cpu_devices", N)`` gives N virtual CPU devices).

    Returns:
      A ``PmappedFunction``. On the CPU its outputs are host Arrays with the shards stacked
      along ``out_axes``. On GPUs (each shard under its ``cupy.cuda.Device`` and stream) the
      mapped outputs stay sharded, as in JAX: one buffer per GPU (``x.devices()`` lists them,
      ``x.device`` is the first), with the full ``shape``. Passed to a pmap over the same
      devices with ``in_axes`` equal to that axis, each device uses its own shard (no copy);
      any other use (an operation, ``jit``, ``grad``, indexing, ``fg.device_put(x, device)``)
      gathers it onto the first GPU, and ``np.asarray``/``fg.device_get`` onto the host.
      Unmapped outputs (``out_axes=None``) are the first device's. Usable as a decorator,
      with or without arguments.

    Example:
      >>> fg.config.update("num_cpu_devices", 2)
      >>> fg.pmap(lambda x: x / lax.psum(x, "i"), axis_name="i")(fnp.array([1.0, 3.0]))
      Array([0.25, 0.75], dtype=float32)
      >>> step = fg.pmap(lambda w: w - lax.pmean(w, "i"), axis_name="i")   # on 2 GPUs:
      >>> w = step(np.ones((2, 3)))           # w.devices() == [gpu:0, gpu:1]
      >>> w = step(w)                         # each GPU reads its own shard: nothing moves
    """
    if fun is None:
        return functools.partial(
            pmap,
            axis_name=axis_name,
            in_axes=in_axes,
            out_axes=out_axes,
            static_broadcasted_argnums=static_broadcasted_argnums,
            devices=devices,
        )
    return PmappedFunction(fun, axis_name, in_axes, out_axes, static_broadcasted_argnums, devices)
