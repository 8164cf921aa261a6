"""jit: trace a function once per signature into a program, optimise it, replay it.

``fg.jit(f)`` returns a ``JittedFunction``. Its first call for a signature (the pytree structure
of the arguments, each leaf's shape and dtype, whether it is a weakly typed Python scalar, and
the values of static arguments) traces ``f`` with abstract values into a ``Program``
(``core/ir.py``); that call and later ones with the same signature run the program with the
replay interpreter (``core/replay.py``), after the passes of ``core/passes.py``.

A call with tracers among its arguments (``grad(jit(f))``, ``vmap(jit(f))``, ``jit`` inside
``jit``) binds ``jit_p``, a higher-order primitive carrying the traced program, with a rule in
every table:

- jvp: the program's jvp, traced once into a program of (primals, tangents);
- vjp: the program's vjp traced into a backward program of (primals, cotangents); it runs the
  forward pass again rather than saving intermediates (like ``checkpoint``): the tape keeps only
  the call's inputs and outputs;
- batch: the program vmapped, traced once per batch dimensions and size;
- passes: a nested call is inlined into its caller.
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
import sys
import traceback
import weakref
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from funcgrad.core.array import Array
from funcgrad.core.backend import (
    Sharded,
    _OnDevice,
    committed_device,
    default_backend,
    device_of,
    gather,
)
from funcgrad.core.backend import state as _backend_state
from funcgrad.core.dtypes import dtype_of
from funcgrad.core.ir import (
    Program,
    ProgramTrace,
    ProgramTracer,
    Var,
    effectful_primitives,
    eval_program,
    make_program,
)
from funcgrad.core.passes import call_primitives, optimize
from funcgrad.core.primitive import Primitive, ShapedArray
from funcgrad.core.replay import compile_program
from funcgrad.core.trace import Tracer, new_trace
from funcgrad.core.tree import PyTreeDef, leaf_paths, tree_flatten, tree_unflatten
from funcgrad.transforms.grad import defjvp_all, defvjp_all, jvp, vjp, zeros_like
from funcgrad.transforms.vmap import batch_rules, batch_size, vmap

__all__ = ["jit", "make_ir", "JittedFunction", "CacheInfo", "jit_p"]

logger = logging.getLogger("funcgrad.jit")

_PY_SCALARS = (bool, int, float, complex)
_FUNCGRAD_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ---------------------------------------------------------------------------------------------
# The jit primitive


def _jit_impl(xp, *args, program, name):
    return compile_program(program, xp=xp)(list(args))


def _jit_abstract_eval(*avals, program, name):
    return program.out_avals


def _inexact(aval) -> bool:
    return np.dtype(aval.dtype).kind in "fc"


# Programs derived from a program (its jvp, vjp, batched versions), cached per program.
_derived: weakref.WeakKeyDictionary[Program, dict[tuple, Program]] = weakref.WeakKeyDictionary()


def _derive(program: Program, key: tuple, build: Callable[[], Program]) -> Program:
    per = _derived.get(program)
    if per is None:
        per = _derived[program] = {}
    out = per.get(key)
    if out is None:
        out = per[key] = build()
    return out


def _jit_jvp(primals, tangents, *, program, name):
    mask = tuple(t is not None for t in tangents)

    def build():
        n = len(primals)
        in_avals = program.in_avals

        def jvp_fun(*args):
            ps, ts = list(args[:n]), iter(args[n:])
            ts = [next(ts) if m else zeros_like(p) for p, m in zip(ps, mask)]
            out, out_t = jvp(lambda *a: eval_program(program, *a), ps, ts)
            return list(out) + list(out_t)

        t_avals = [a for a, m in zip(in_avals, mask) if m]
        return make_program(jvp_fun, *in_avals, *t_avals)[0]

    jvp_program = _derive(program, ("jvp", mask), build)
    outs = jit_p.bind(
        *primals,
        *[t for t in tangents if t is not None],
        program=jvp_program,
        name=f"jvp({name})",
    )
    k = len(program.outvars)
    out, out_t = outs[:k], outs[k:]
    return out, [t if _inexact(a) else None for t, a in zip(out_t, program.out_avals)]


def _jit_vjp(g, ans, *args, program, name):
    def build():
        n = len(args)

        def vjp_fun(*a):
            _, pullback = vjp(lambda *p: eval_program(program, *p), *a[:n])
            return list(pullback(list(a[n:])))

        bwd, _ = make_program(vjp_fun, *program.in_avals, *program.out_avals)
        # It re-runs the forward pass; its effects (debug callbacks) already happened there.
        bwd.eqns = [e for e in bwd.eqns if e.prim not in effectful_primitives]
        return bwd

    bwd = _derive(program, ("vjp",), build)
    cts = jit_p.bind(*args, *g, program=bwd, name=f"vjp({name})")
    return tuple(c if _inexact(a) else None for c, a in zip(cts, program.in_avals))


def _jit_batch(args, dims, *, program, name):
    size = batch_size(args, dims)
    key = ("vmap", tuple(dims), size)

    def build():
        avals = []
        for a, d in zip(program.in_avals, dims):
            shape = a.shape if d is None else a.shape[:d] + (size,) + a.shape[d:]
            avals.append(ShapedArray(shape, a.dtype))
        f = vmap(lambda *a: eval_program(program, *a), in_axes=tuple(dims), axis_size=size)
        return make_program(f, *avals)[0]

    batched = _derive(program, key, build)
    outs = jit_p.bind(*args, program=batched, name=f"vmap({name})")
    return outs, [0] * len(outs)


jit_p = Primitive("jit", multiple_results=True)
jit_p.def_impl(_jit_impl)
jit_p.def_abstract_eval(_jit_abstract_eval)
defjvp_all(jit_p, _jit_jvp)
defvjp_all(jit_p, _jit_vjp)
batch_rules[jit_p] = _jit_batch
call_primitives[jit_p] = lambda params: params["program"]


# ---------------------------------------------------------------------------------------------
# Tracing a call


class JitTrace(ProgramTrace):
    """The trace of one jitted call: it knows the function and which argument each input came
    from, to say so when a traced value is converted to a concrete one or leaks."""

    __slots__ = ("fun_name", "input_names")

    def __init__(self, level: int, fun_name: str, input_names: dict[Var, str]):
        super().__init__(level)
        self.fun_name = fun_name
        self.input_names = input_names

    def describe(self) -> str:
        return f"jit({self.fun_name})"

    def sources(self, var: Var) -> list[str]:
        """The names of the arguments ``var`` was computed from."""
        needed = {var}
        for eqn in reversed(self.eqns):
            if any(o in needed for o in eqn.outputs):
                needed.update(x for x in eqn.inputs if type(x) is Var)
        return [name for v, name in self.input_names.items() if v in needed]

    def concretization_error(self, tracer: ProgramTracer) -> Exception:
        names = self.sources(tracer.var)
        origin = (
            f"computed from argument{'s' if len(names) > 1 else ''} {', '.join(names)}"
            if names
            else "computed inside the function"
        )
        where = _user_frame()
        return TypeError(
            f"jit({self.fun_name}): a traced value (shape {tracer.shape}, dtype {tracer.dtype}, "
            f"{origin}) was converted to a Python bool/int/float or a NumPy array{where}. Under "
            "jit only shapes and dtypes are known while tracing. Use lax.cond (or "
            "lax.while_loop) for control flow on array values, fnp.where for elementwise "
            "choices, or mark the argument static with static_argnums/static_argnames."
        )


def _user_frame() -> str:
    """`` at file:line (code)`` for the innermost frame outside funcgrad, if any."""
    for frame in reversed(traceback.extract_stack()):
        path = os.path.abspath(frame.filename)
        if not path.startswith(_FUNCGRAD_DIR + os.sep):
            line = f" ({frame.line.strip()})" if frame.line else ""
            return f" at {frame.filename}:{frame.lineno}{line}"
    return ""


# ---------------------------------------------------------------------------------------------
# The jitted function


class CacheInfo(NamedTuple):
    """``hits``: calls that replayed a cached program; ``misses``: calls that traced; ``size``:
    programs cached; ``last_retrace``: why the latest trace happened (None: never retraced)."""

    hits: int
    misses: int
    size: int
    last_retrace: str | None


class _Entry:
    __slots__ = ("program", "out_tree", "executable", "forwarded", "lifted", "donated")

    def __init__(self, program, out_tree, lifted, donated):
        self.program = program
        self.out_tree = out_tree
        self.lifted = lifted  # consts that are tracers of outer transforms, passed as operands
        self.donated = donated  # per input leaf: may its buffer be reused
        self.executable = None
        # Outputs that are inputs unchanged: index of the input, or -1.
        pos = {v: i for i, v in enumerate(program.invars)}
        self.forwarded = [pos.get(v, -1) for v in program.outvars]


def _describe_leaf(x: Any) -> str:
    if type(x) in _PY_SCALARS:
        return f"Python {type(x).__name__}"
    where = ""
    if type(x) is Array and (type(x._value) is _OnDevice or device_of(x._value).platform == "gpu"):
        where = f" on {device_of(x._value)}"
    return f"{np.dtype(x.dtype).name}{list(x.shape)}{where}"


def _may_default_to_gpu() -> bool:
    # Cheap test before default_backend() (which reads the environment): the default platform
    # can be the GPU only once CuPy may be in use, or before the default was first determined.
    return _backend_state.gpu or _backend_state.default is None


class JittedFunction:
    """A function compiled by ``fg.jit``: call it like the function; see ``fg.jit``."""

    def __init__(
        self,
        fun: Callable[..., Any],
        static_argnums: int | Sequence[int] = (),
        static_argnames: str | Sequence[str] = (),
        donate_argnums: int | Sequence[int] = (),
    ):
        if not callable(fun):
            raise TypeError(f"jit: expected a function, got {type(fun).__name__}")
        functools.update_wrapper(self, fun)
        self.fun = fun
        self._name = getattr(fun, "__name__", type(fun).__name__)
        nums = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)
        names = (static_argnames,) if isinstance(static_argnames, str) else tuple(static_argnames)
        donate = (donate_argnums,) if isinstance(donate_argnums, int) else tuple(donate_argnums)
        try:
            params = list(inspect.signature(fun).parameters.values())
        except (TypeError, ValueError):
            params = []
        positional = [
            p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        self._param_names = positional
        # As in JAX, a static argument may be named by position or by name: each implies the
        # other where the signature tells.
        nums = {n + len(positional) if n < 0 else n for n in nums}
        names = set(names)
        for n in list(nums):
            if n < len(positional):
                names.add(positional[n])
        for name in list(names):
            if name in positional:
                nums.add(positional.index(name))
        self._static_nums = frozenset(nums)
        self._static_names = frozenset(names)
        self._donate = frozenset(n + len(positional) if n < 0 else n for n in donate)
        if self._donate & self._static_nums:
            raise ValueError(
                f"jit({self._name}): argument(s) {sorted(self._donate & self._static_nums)} are "
                "both static and donated; only array arguments can be donated"
            )
        self._cache: dict[tuple, _Entry] = {}
        self._hits = 0
        self._misses = 0
        self._last_key: tuple | None = None
        self._last_described: tuple | None = None
        self._last_retrace: str | None = None

    # -- the call ----------------------------------------------------------------------------

    def _split(self, args: tuple, kwargs: dict):
        """(dynamic args, dynamic kwargs, static key) of one call."""
        if not self._static_nums and not self._static_names:
            return args, kwargs, ()
        static = []
        dyn_args = []
        for i, a in enumerate(args):
            if i in self._static_nums:
                static.append((i, a))
            else:
                dyn_args.append(a)
        dyn_kwargs = {}
        for k, v in kwargs.items():
            if k in self._static_names:
                static.append((k, v))
            else:
                dyn_kwargs[k] = v
        for k, v in static:
            try:
                hash(v)
            except TypeError:
                raise TypeError(
                    f"jit({self._name}): static argument {self._arg_name(k)} has unhashable "
                    f"type {type(v).__name__}; static arguments are cache keys, so pass a "
                    "hashable value (e.g. a tuple instead of a list), or make it a dynamic "
                    "(array) argument"
                ) from None
        return tuple(dyn_args), dyn_kwargs, tuple(static)

    def _static_by_name(self, items: tuple) -> dict:
        """Static values keyed by parameter name where the signature tells (a static argument
        passed by position or by name is the same argument)."""
        names = self._param_names
        return {(names[k] if isinstance(k, int) and k < len(names) else k): v for k, v in items}

    def _arg_name(self, k: int | str) -> str:
        if isinstance(k, str):
            if k in self._param_names:
                return f"{self._param_names.index(k)} ({k!r})"
            return repr(k)
        if k < len(self._param_names):
            return f"{k} ({self._param_names[k]!r})"
        return str(k)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        dyn_args, dyn_kwargs, static = self._split(args, kwargs)
        leaves, in_tree = tree_flatten((dyn_args, dyn_kwargs))
        sig = []
        committed = []
        has_tracer = False
        cp = sys.modules.get("cupy") if _backend_state.gpu else None
        for i, x in enumerate(leaves):
            t = type(x)
            if t is Array:
                v = x._value
                if cp is not None and type(v) is Sharded:  # a pmap output: on its first GPU
                    v = gather(v)
                    leaves[i] = x = _new_array(Array)
                    x._value = v
                if type(v) is _OnDevice:  # committed by fg.device_put: the device is in the key
                    committed.append(v)
                    sig.append((v.shape, v.dtype, v.fg_device))
                elif cp is not None and isinstance(v, cp.ndarray):  # on a GPU: committed too
                    committed.append(v)
                    sig.append((v.shape, v.dtype, ("gpu", v.device.id)))
                else:
                    sig.append((v.shape, v.dtype))
            elif t in _PY_SCALARS:
                sig.append(t)
            elif isinstance(x, Tracer):
                has_tracer = True
                sig.append((x.shape, x.dtype))
            elif isinstance(x, (np.ndarray, np.generic)):
                sig.append((x.shape, x.dtype))
            else:
                raise TypeError(
                    f"jit({self._name}): an argument of type {t.__name__} is not an array; pass "
                    "arrays, NumPy values or Python scalars, or mark the argument static with "
                    "static_argnums/static_argnames"
                )
        device = None
        if committed:
            device = committed_device(f"jit({self._name})", committed)  # one device, or an error
        key = (in_tree, tuple(sig), static)
        entry = self._cache.get(key)
        if entry is None:
            entry = self._trace(leaves, in_tree, key)
        else:
            self._hits += 1
        if has_tracer or entry.lifted:
            outs = jit_p.bind(*entry.lifted, *leaves, program=entry.program, name=self._name)
        elif device is None and _may_default_to_gpu() and default_backend() == "gpu":
            outs = self._run_gpu(entry, leaves, 0)  # host data goes to the default device
        elif device is not None and device.platform == "gpu":
            outs = self._run_gpu(entry, leaves, device.id)
        else:
            outs = self._run(entry, leaves)
        return tree_unflatten(entry.out_tree, outs)

    def _run_gpu(self, entry: _Entry, leaves: list, gpu: int) -> list:
        """Runs the program with CuPy under GPU ``gpu``; host arguments are copied there."""
        cp = sys.modules["cupy"]
        with cp.cuda.Device(gpu):
            exe = compile_program(entry.program, entry.donated, cp)
            raw = []
            for x in leaves:
                v = x._value if type(x) is Array else x
                raw.append(cp.asarray(v) if isinstance(v, (np.ndarray, np.generic)) else v)
            outs = exe(raw)
        result = []
        for o in outs:
            a = _new_array(Array)
            a._value = o
            result.append(a)
        return result

    def _run(self, entry: _Entry, leaves: list) -> list:
        exe = entry.executable
        if exe is None:
            exe = entry.executable = compile_program(entry.program, entry.donated)
        raw = [x._value if type(x) is Array else x for x in leaves]
        if entry.donated:
            for x, d in zip(leaves, entry.donated):
                if d and type(x) is Array:
                    x._value = _DELETED  # the run may write into this buffer
        outs = exe(raw)  # takes over `raw`: its slots are freed as values die
        result = []
        for o, src in zip(outs, entry.forwarded):
            if src >= 0 and type(leaves[src]) is not Array and isinstance(o, np.ndarray):
                o = o.copy()  # a NumPy argument returned as is: the caller may still write it
            a = _new_array(Array)
            a._value = o
            result.append(a)
        return result

    def _trace(self, leaves: list, in_tree: PyTreeDef, key: tuple) -> _Entry:
        """Traces the function for this signature and caches the program (unless it closes
        over tracers of an enclosing transform: those are only valid for this call)."""
        self._misses += 1
        if self._cache:
            self._last_retrace = self._explain(key, leaves, in_tree)
            logger.info("jit(%s): retracing: %s", self._name, self._last_retrace)
        entry = self._trace_entry(leaves, in_tree, key[2])
        if not entry.lifted:
            self._cache[key] = entry
        self._last_key = key
        paths = self._paths(in_tree)
        self._last_described = (in_tree, paths, [_describe_leaf(x) for x in leaves])
        return entry

    @staticmethod
    def _paths(in_tree: PyTreeDef) -> list[str]:
        return leaf_paths(in_tree.children[0], "args") + leaf_paths(in_tree.children[1], "kwargs")

    def _trace_entry(self, leaves: list, in_tree: PyTreeDef, static_items: tuple) -> _Entry:
        static = dict(static_items)
        invars = []
        for x in leaves:
            if type(x) in _PY_SCALARS:
                invars.append(Var(ShapedArray((), dtype_of(x)), type(x)))
            else:
                invars.append(Var(ShapedArray(tuple(x.shape), np.dtype(x.dtype))))
        names = {v: self._pretty_path(p) for v, p in zip(invars, self._paths(in_tree))}
        out_tree = None

        def fun(*tracers):
            nonlocal out_tree
            d_args, d_kwargs = tree_unflatten(in_tree, tracers)
            it = iter(d_args)
            n = len(d_args) + sum(1 for k in static if isinstance(k, int))
            full = [static[i] if i in static else next(it) for i in range(n)]
            kw = dict(d_kwargs)
            kw.update({k: v for k, v in static.items() if isinstance(k, str)})
            out = self.fun(*full, **kw)
            flat, out_tree = tree_flatten(out)
            return flat

        with new_trace(JitTrace, self._name, names) as trace:
            tracers = [ProgramTracer(trace, v) for v in invars]
            outs = fun(*tracers)
            outvars = [trace.output_var(o) for o in outs]
        lifted_vars, lifted, constvars, consts = [], [], [], []
        for v, c in zip(trace.constvars, trace.consts):
            if isinstance(c, Tracer):
                lifted_vars.append(v)
                lifted.append(c)
            else:
                constvars.append(v)
                consts.append(c)
        program = Program(lifted_vars + invars, constvars, consts, trace.eqns, outvars)
        donated = self._donation_mask(in_tree, static_items) if self._donate and not lifted else ()
        return _Entry(program, out_tree, lifted, donated)

    def _donation_mask(self, in_tree: PyTreeDef, static_items: tuple) -> tuple[bool, ...]:
        """Per input leaf: does it belong to a donated positional argument."""
        static_positions = {k for k, _ in static_items if isinstance(k, int)}
        args_tree = in_tree.children[0]
        positions = (i for i in range(10**9) if i not in static_positions)
        mask: list[bool] = []
        for pos, sub in zip(positions, args_tree.children):
            mask.extend([pos in self._donate] * sub.num_leaves)
        mask.extend([False] * in_tree.children[1].num_leaves)
        return tuple(mask)

    def _pretty_path(self, path: str) -> str:
        # "args[0]['w']" -> "params['w']" when the signature names the parameter.
        if path.startswith("args["):
            close = path.index("]")
            i = int(path[5:close])
            dyn = [k for k in range(len(self._param_names)) if k not in self._static_nums]
            if i < len(dyn):
                return self._param_names[dyn[i]] + path[close + 1 :]
            return path
        if path.startswith("kwargs['"):
            close = path.index("']")
            return path[8:close] + path[close + 2 :]
        return path

    def _explain(self, key, leaves, in_tree) -> str:
        if self._last_described is None:
            return "a new signature"
        old_tree, old_paths, old_desc = self._last_described
        old_static = self._static_by_name(self._last_key[2])
        new_static = self._static_by_name(key[2])
        for k in sorted(set(old_static) | set(new_static), key=str):
            if old_static.get(k, None) != new_static.get(k, None):
                return (
                    f"static argument {self._arg_name(k)} changed from "
                    f"{old_static.get(k)!r} to {new_static.get(k)!r}"
                )
        if old_tree != in_tree:
            return f"the argument structure changed from {old_tree} to {in_tree}"
        for p, old, x in zip(self._paths(in_tree), old_desc, leaves):
            new = _describe_leaf(x)
            if new != old:
                return f"argument {self._pretty_path(p)} changed from {old} to {new}"
        return "a signature not seen before"

    # -- inspection ---------------------------------------------------------------------------

    def lower(self, *args: Any, **kwargs: Any) -> Program:
        """The optimised program that calls with these arguments run (print it to read it)."""
        dyn_args, dyn_kwargs, static = self._split(args, kwargs)
        leaves, in_tree = tree_flatten((dyn_args, dyn_kwargs))
        sig = tuple(
            type(x) if type(x) in _PY_SCALARS else (tuple(x.shape), np.dtype(x.dtype))
            for x in leaves
        )
        key = (in_tree, sig, static)
        entry = self._cache.get(key) or self._trace(leaves, in_tree, key)
        return optimize(entry.program)

    def cache_info(self) -> CacheInfo:
        """Cache statistics: hits, misses (traces), size, and why the latest retrace happened."""
        return CacheInfo(self._hits, self._misses, len(self._cache), self._last_retrace)

    def clear_cache(self) -> None:
        self._cache.clear()

    def __get__(self, obj, objtype=None):
        # As a method: bind ``self`` like a function would (it becomes the first argument).
        if obj is None:
            return self
        return functools.partial(self, obj)

    def __repr__(self) -> str:
        return f"<jit({self._name})>"


_new_array = Array.__new__


class _Deleted:
    """The value of an Array whose buffer was donated to a jitted call."""

    def __getattr__(self, name):
        raise RuntimeError(
            "this Array was donated to a jitted function (donate_argnums) and its buffer may "
            "have been reused; use the function's outputs instead of the donated input"
        )


_DELETED = _Deleted()


def jit(
    fun: Callable[..., Any] | None = None,
    *,
    static_argnums: int | Sequence[int] = (),
    static_argnames: str | Sequence[str] = (),
    donate_argnums: int | Sequence[int] = (),
) -> Any:
    """Compiles ``fun``: traced once per signature into a program that is optimised and replayed.

    Args:
      fun: a pure function of pytrees of arrays (Python scalars are weakly typed inputs).
      static_argnums, static_argnames: arguments that are Python values rather than arrays
        (sizes, flags, modules): part of the cache key, so they must be hashable; a new value
        retraces.
      donate_argnums: arguments whose buffers the call may reuse for its results; a donated
        Array cannot be used afterwards.

    Returns:
      A ``JittedFunction``: call it like ``fun``; ``.lower(*args)`` gives the program,
      ``.cache_info()`` the cache statistics. Usable as a decorator, with or without arguments.

    Example:
      >>> @fg.jit
      ... def step(w, x):
      ...     return w - 0.1 * fg.grad(lambda w: ((x @ w) ** 2).sum())(w)
      >>> step(fnp.ones(3), fnp.ones((2, 3)))
      Array([-1.4, -1.4, -1.4], dtype=float32)
    """
    if fun is None:
        return functools.partial(
            jit,
            static_argnums=static_argnums,
            static_argnames=static_argnames,
            donate_argnums=donate_argnums,
        )
    return JittedFunction(fun, static_argnums, static_argnames, donate_argnums)


def make_ir(
    fun: Callable[..., Any],
    static_argnums: int | Sequence[int] = (),
    static_argnames: str | Sequence[str] = (),
) -> Callable[..., Program]:
    """``make_ir(f)(*args)`` traces ``f`` and returns its program (as traced, before the passes).

    Example:
      >>> print(fg.make_ir(lambda x: fnp.sin(x) * 2.0)(fnp.ones(3)))
      { lambda ; a:f32[3] . let
          b:f32[3] = sin a
          c:f32[3] = mul b 2.0
        in (c) }
    """
    jitted = JittedFunction(fun, static_argnums, static_argnames)

    @functools.wraps(fun)
    def make(*args: Any, **kwargs: Any) -> Program:
        dyn_args, dyn_kwargs, static = jitted._split(args, kwargs)
        leaves, in_tree = tree_flatten((dyn_args, dyn_kwargs))
        return jitted._trace_entry(leaves, in_tree, static).program

    return make
