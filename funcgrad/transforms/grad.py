"""Automatic differentiation: the jvp and vjp rule tables, their traces, and the public API."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from funcgrad.core import backend
from funcgrad.core.array import Array, raw_value
from funcgrad.core.config import config as _config
from funcgrad.core.primitive import Primitive, eval_primitive
from funcgrad.core.trace import Trace, Tracer, new_trace
from funcgrad.core.tree import flatten_up_to, tree_flatten, tree_map, tree_unflatten

__all__ = [
    "grad",
    "value_and_grad",
    "vjp",
    "jvp",
    "linearize",
    "jvp_rules",
    "vjp_rules",
    "nondiff_primitives",
    "defjvp",
    "defjvp_all",
    "defvjp",
    "defvjp_all",
]

# jvp_rules[prim] is either a tuple of per-argument rules ``rule(t, ans, *args, **params)``
# returning that argument's contribution to the output tangent (None: no derivative there), or
# one function ``rule(primals, tangents, **params) -> (primal_out, tangent_out)`` where an
# argument with a zero tangent has ``None``. Rules use funcgrad operations only.
jvp_rules: dict[Primitive, Any] = {}

# vjp_rules[prim] is either a tuple of per-argument rules ``rule(g, ans, *args, **params)``
# returning the cotangent of that argument (None entry: not differentiable there), or one
# function ``rule(g, ans, *args, **params) -> tuple`` giving every argument's cotangent (None
# for zero). ``g``/``ans`` are lists for multiple_results primitives. The residuals are the
# primal inputs and output, saved on the tape in the forward pass.
vjp_rules: dict[Primitive, Any] = {}

# Primitives whose outputs carry no derivative (comparisons, argmax, floor, ...): exempt from
# the jvp/vjp tables; both traces return their plain outputs.
nondiff_primitives: set[Primitive] = set()


def defjvp(prim: Primitive, *rules) -> None:
    jvp_rules[prim] = tuple(rules)


def defjvp_all(prim: Primitive, rule: Callable[..., Any]) -> None:
    jvp_rules[prim] = rule


def defvjp(prim: Primitive, *rules) -> None:
    vjp_rules[prim] = tuple(rules)


def defvjp_all(prim: Primitive, rule: Callable[..., Any]) -> None:
    vjp_rules[prim] = rule


# eager_vjp_rules[prim]: per-argument rules like defvjp's, but on raw NumPy values (arrays and
# NumPy scalars in, a NumPy array or scalar out). A first-order backward pass over concrete
# NumPy values uses them instead of the rules above: the same maths with NumPy's operators
# directly, without building an Array and dispatching a primitive per operation (about half of
# an eager backward pass's cost). Higher-order, traced and CuPy backward passes keep the
# funcgrad rules. Each rule is tested against its primitive's vjp rule (tests/transforms).
eager_vjp_rules: dict[Primitive, tuple] = {}


def defvjp_eager(prim: Primitive, *rules) -> None:
    eager_vjp_rules[prim] = tuple(rules)


def _missing_rule(prim: Primitive, kind: str) -> NotImplementedError:
    return NotImplementedError(
        f"{prim.name}: no {kind} rule; this primitive cannot be differentiated"
    )


def zeros_like(x: Any) -> Array:
    """Concrete zeros with ``x``'s shape and dtype (used for symbolic-zero cotangents)."""
    return Array(np.zeros(x.shape, x.dtype)) if x.shape else Array(x.dtype.type(0))


# ---------------------------------------------------------------------------------------------
# Forward mode


class JVPTracer(Tracer):
    __slots__ = ("primal", "tangent")

    def __init__(self, trace: JVPTrace, primal: Any, tangent: Any):
        self._trace = trace
        self.primal = primal
        self.tangent = tangent

    @property
    def shape(self):
        return self.primal.shape

    @property
    def dtype(self):
        return self.primal.dtype

    def concrete_value(self):
        p = self.primal
        return p.concrete_value() if isinstance(p, Tracer) else p


class JVPTrace(Trace):
    __slots__ = ()

    def pure(self, value):
        return JVPTracer(self, value, zeros_like(value))

    def process_primitive(self, prim, args, params):
        primals, tangents, any_tangent = [], [], False
        for a in args:
            if type(a) is JVPTracer and a._trace is self:
                primals.append(a.primal)
                tangents.append(a.tangent)
                any_tangent = True
            else:
                primals.append(a)
                tangents.append(None)
        if not any_tangent or prim in nondiff_primitives:
            return prim.bind(*primals, **params)
        rule = jvp_rules.get(prim)
        if rule is None:
            raise _missing_rule(prim, "jvp")
        if type(rule) is tuple:
            out = prim.bind(*primals, **params)
            t_out = None
            for r, t in zip(rule, tangents):
                if t is not None and r is not None:
                    c = r(t, out, *primals, **params)
                    if c is not None:
                        t_out = c if t_out is None else t_out + c
        else:
            out, t_out = rule(primals, tangents, **params)
        if prim.multiple_results:
            return [o if t is None else JVPTracer(self, o, t) for o, t in zip(out, t_out)]
        return out if t_out is None else JVPTracer(self, out, t_out)

    def process_custom_jvp_call(self, fun, rule, args):
        primals = [a.primal if type(a) is JVPTracer and a._trace is self else a for a in args]
        tangents = [
            a.tangent if type(a) is JVPTracer and a._trace is self else zeros_like(a) for a in args
        ]
        out, t_out = rule(primals, tangents)
        return [JVPTracer(self, o, t) for o, t in zip(out, t_out)]

    def process_custom_vjp_call(self, fun, fwd, bwd, args):
        raise TypeError(
            f"jvp: cannot apply forward-mode differentiation to the custom_vjp function "
            f"{getattr(fun, '__name__', fun)}; define it with custom_jvp to support jvp"
        )


def jvp(f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any], has_aux=False):
    """Forward-mode derivative: ``(f(*primals), J(primals) @ tangents)``.

    Args:
      f: a function of pytrees of arrays.
      primals, tangents: tuples (or lists) of the same pytree structure, shapes and dtypes.
      has_aux: ``f`` returns ``(out, aux)``; aux is returned as a third value, undifferentiated.

    Example:
      >>> fg.jvp(fnp.sin, (0.0,), (1.0,))
      (Array(0., dtype=float32), Array(1., dtype=float32))
    """
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError(
            "jvp: primals and tangents must be tuples or lists of arguments, got "
            f"{type(primals).__name__} and {type(tangents).__name__}"
        )
    p_flat, p_tree = tree_flatten(tuple(primals))
    t_flat, t_tree = tree_flatten(tuple(tangents))
    if p_tree != t_tree:
        raise TypeError(f"jvp: primal structure {p_tree} differs from tangent structure {t_tree}")
    p_flat = [_as_array(p) for p in p_flat]
    t_flat = [_tangent_for(p, t) for p, t in zip(p_flat, t_flat)]
    for i, (p, t) in enumerate(zip(p_flat, t_flat)):
        if p.shape != t.shape:
            raise ValueError(
                f"jvp: primal {i} has shape {p.shape} but its tangent has shape {t.shape}"
            )
        if _is_inexact(p) and t.dtype != p.dtype:
            raise TypeError(
                f"jvp: primal {i} has dtype {p.dtype} but its tangent has dtype {t.dtype}; "
                "tangents must have their primal's dtype"
            )
    with new_trace(JVPTrace) as trace:
        tracers = [JVPTracer(trace, p, t) if _is_inexact(p) else p for p, t in zip(p_flat, t_flat)]
        out = f(*tree_unflatten(p_tree, tracers))
        if has_aux:
            out, aux = _split_aux(out, "jvp")
        out_flat, out_tree = tree_flatten(out)
        primals_out, tangents_out = [], []
        for o in out_flat:
            if type(o) is JVPTracer and o._trace is trace:
                primals_out.append(o.primal)
                tangents_out.append(o.tangent)
            else:
                o = _as_array(o)
                primals_out.append(o)
                tangents_out.append(zeros_like(o))
        if has_aux:
            aux = _lower(aux, trace)
    result = (tree_unflatten(out_tree, primals_out), tree_unflatten(out_tree, tangents_out))
    return result + (aux,) if has_aux else result


def linearize(f: Callable[..., Any], *primals: Any):
    """``(f(*primals), f_jvp)`` where ``f_jvp(*tangents)`` is the jvp at ``primals``.

    funcgrad has no partial evaluation outside ``jit``, so each ``f_jvp`` call re-runs the
    forward pass with the tangents (JAX evaluates only the linear part).

    Example:
      >>> y, f_jvp = fg.linearize(fnp.sin, 0.0)
      >>> f_jvp(2.0)
      Array(2., dtype=float32)
    """
    primals = tuple(primals)
    out = f(*primals)

    def f_jvp(*tangents):
        if len(tangents) != len(primals):
            raise TypeError(
                f"linearize: f_jvp takes {len(primals)} tangents (one per primal), "
                f"got {len(tangents)}"
            )
        return jvp(f, primals, tangents)[1]

    return out, f_jvp


# ---------------------------------------------------------------------------------------------
# Reverse mode


class VJPTracer(Tracer):
    __slots__ = ("primal",)

    def __init__(self, trace: VJPTrace, primal: Any):
        self._trace = trace
        self.primal = primal

    @property
    def shape(self):
        return self.primal.shape

    @property
    def dtype(self):
        return self.primal.dtype

    def concrete_value(self):
        p = self.primal
        return p.concrete_value() if isinstance(p, Tracer) else p


_new_tracer = object.__new__
_new_array = Array.__new__
_backend_state = backend.state


def _new_vjp_tracer(trace, primal):
    t = _new_tracer(VJPTracer)
    t._trace = trace
    t.primal = primal
    return t


class VJPTrace(Trace):
    """Records, per primitive, (prim, params, traced inputs, outputs, primal inputs, answer)."""

    __slots__ = ("tape",)

    def __init__(self, level):
        self.level = level
        self.alive = True
        self.tape = []

    def pure(self, value):
        return VJPTracer(self, value)

    def process_primitive(self, prim, args, params):
        # The hot path of reverse mode: one pass over the arguments, one tape entry.
        if len(args) == 1:
            a = args[0]  # the caller found a tracer: with one argument it is ours
            ins, primals = (a,), (a.primal,)
        else:
            ins = []
            primals = []
            for a in args:
                if type(a) is VJPTracer and a._trace is self:
                    ins.append(a)
                    primals.append(a.primal)
                else:
                    ins.append(None)
                    primals.append(a)
        # At level 1 nothing lies below this trace: the primals are concrete, so skip bind.
        if self.level == 1:
            out = eval_primitive(prim, primals, params)
        else:
            out = prim.bind(*primals, **params)
        if prim in nondiff_primitives:
            return out
        if prim.multiple_results:
            outs = [_new_vjp_tracer(self, o) for o in out]
        else:
            outs = _new_tracer(VJPTracer)
            outs._trace = self
            outs.primal = out
        self.tape.append((prim, params, ins, outs, primals, out))
        return outs

    def process_custom_vjp_call(self, fun, fwd, bwd, args):
        primals = [a.primal if type(a) is VJPTracer and a._trace is self else a for a in args]
        out, res = fwd(*primals)
        outs = [VJPTracer(self, o) for o in out]
        ins = tuple(a if type(a) is VJPTracer and a._trace is self else None for a in args)
        params = {"bwd": bwd, "res": res, "fun": fun}
        self.tape.append((custom_vjp_call_p, params, ins, outs, primals, out))
        return outs

    def process_custom_jvp_call(self, fun, rule, args):
        primals = [a.primal if type(a) is VJPTracer and a._trace is self else a for a in args]
        out = fun(*primals)
        outs = [VJPTracer(self, o) for o in out]
        ins = tuple(a if type(a) is VJPTracer and a._trace is self else None for a in args)
        self.tape.append((custom_jvp_call_p, {"rule": rule, "fun": fun}, ins, outs, primals, out))
        return outs


# Tape keys for calls of custom_vjp / custom_jvp functions (see transforms/custom.py).
custom_vjp_call_p = Primitive("custom_vjp_call", multiple_results=True)
custom_jvp_call_p = Primitive("custom_jvp_call", multiple_results=True)


def _custom_vjp_call_vjp(gs, ans, *primals, bwd, res, fun):
    cts = bwd(res, gs)
    return tuple(cts)


def _custom_jvp_call_vjp(gs, ans, *primals, rule, fun):
    # The tangent map t -> rule(primals, t)[1] is linear, so its vjp is its transpose.
    def tangent_map(*ts):
        return rule(list(primals), list(ts))[1]

    zeros = [zeros_like(p) for p in primals]
    _, pullback = vjp(tangent_map, *zeros)
    return pullback(list(gs))


defvjp_all(custom_vjp_call_p, _custom_vjp_call_vjp)
defvjp_all(custom_jvp_call_p, _custom_jvp_call_vjp)


def backward_pass(tape, out_tracers, cts_out, in_tracers, level: int = 0) -> list[Any]:
    """Runs the tape in reverse from the output cotangents; returns the inputs' cotangents.

    ``level`` is the level of the trace that recorded the tape: at level 1 its values are
    concrete, and with concrete NumPy cotangents the pass runs on raw NumPy values.
    """
    if (
        level == 1
        and use_eager_vjp_rules
        and not _backend_state.gpu
        and not _config._any_debug_nans
        and all(type(c) is Array for c in cts_out)
    ):
        return _eager_backward_pass(tape, out_tracers, cts_out, in_tracers)
    cts: dict[int, Any] = {}
    for t, ct in zip(out_tracers, cts_out):
        if type(t) is VJPTracer:
            _accumulate(cts, id(t), ct)
    for prim, params, ins, outs, primals, ans in reversed(tape):
        _vjp_entry(cts, prim, params, ins, outs, primals, ans)
    return [cts.get(id(t)) for t in in_tracers]


def _vjp_entry(cts, prim, params, ins, outs, primals, ans, raw: bool = False) -> None:
    """One tape entry through the primitive's funcgrad vjp rule: pops the outputs' cotangents
    from ``cts`` and adds the inputs'. With ``raw`` the cotangents in ``cts`` are NumPy values
    (the eager pass): wrapped for the rule, unwrapped after."""
    if prim.multiple_results:
        gs = [cts.pop(id(o), None) for o in outs]
        if all(g is None for g in gs):
            return
        g = [zeros_like(a) if g is None else Array(g) if raw else g for g, a in zip(gs, ans)]
    else:
        g = cts.pop(id(outs), None)
        if g is None:
            return
        if raw:
            g = Array(g)
    rule = vjp_rules.get(prim)
    if rule is None:
        raise _missing_rule(prim, "vjp")
    if type(rule) is tuple:
        if not raw:
            _apply_per_argument(cts, rule, ins, g, ans, primals, params)
            return
        in_cts = [
            None if t is None or r is None else r(g, ans, *primals, **params)
            for t, r in zip(ins, rule)
        ]
    else:
        in_cts = rule(g, ans, *primals, **params)
    for t, ct in zip(ins, in_cts):
        if t is not None and ct is not None:
            _accumulate(cts, id(t), raw_value(ct) if raw else ct)


def _apply_per_argument(cts, rules, ins, g, ans, primals, params) -> None:
    """Adds each traced argument's cotangent ``rule(g, ans, *primals)`` into ``cts``."""
    for t, r in zip(ins, rules):
        if t is None or r is None:
            continue
        ct = r(g, ans, *primals, **params) if params else r(g, ans, *primals)
        if ct is None:
            continue
        k = id(t)
        old = cts.get(k)
        cts[k] = ct if old is None else old + ct


def _accumulate(cts: dict[int, Any], key: int, ct: Any) -> None:
    old = cts.get(key)
    cts[key] = ct if old is None else old + ct


# Tests flip this to compare the eager rules with the funcgrad ones.
use_eager_vjp_rules = True


def _eager_backward_pass(tape, out_tracers, cts_out, in_tracers) -> list[Any]:
    # backward_pass on raw NumPy values: cotangents are NumPy arrays/scalars until the end.
    # Primitives without an eager rule run their funcgrad rule on wrapped values.
    cts: dict[int, Any] = {}
    for t, ct in zip(out_tracers, cts_out):
        if type(t) is VJPTracer:
            _accumulate(cts, id(t), ct._value)
    eager = eager_vjp_rules
    for prim, params, ins, outs, primals, ans in reversed(tape):
        rules = eager.get(prim)
        if rules is None:
            _vjp_entry(cts, prim, params, ins, outs, primals, ans, raw=True)
            continue
        g = cts.pop(id(outs), None)
        if g is None:
            continue
        a = ans._value if type(ans) is Array else ans
        if len(primals) == 1:
            x = primals[0]
            vals = (x._value if type(x) is Array else x,)
        else:
            vals = [p._value if type(p) is Array else p for p in primals]
        _apply_per_argument(cts, rules, ins, g, a, vals, params)
    out = []
    for t in in_tracers:
        c = cts.get(id(t))
        if c is not None:
            w = _new_array(Array)
            w._value = c
            c = w
        out.append(c)
    return out


def vjp(f: Callable[..., Any], *primals: Any, has_aux: bool = False):
    """Reverse-mode derivative: ``(f(*primals), vjp_fn)`` with ``vjp_fn(ct) = ct @ J``.

    ``vjp_fn`` takes a cotangent with the structure, shapes and dtypes of the output and returns
    a tuple with one cotangent per primal argument. It may be called several times.

    Example:
      >>> y, f_vjp = fg.vjp(fnp.sin, 0.0)
      >>> f_vjp(1.0)
      (Array(1., dtype=float32),)
    """
    p_flat, p_tree = tree_flatten(primals)
    p_flat = [_as_array(p) for p in p_flat]
    with new_trace(VJPTrace) as trace:
        in_tracers = [VJPTracer(trace, p) if _is_inexact(p) else p for p in p_flat]
        out = f(*tree_unflatten(p_tree, in_tracers))
        if has_aux:
            out, aux = _split_aux(out, "vjp")
        out_flat, out_tree = tree_flatten(out)
        out_primals = [
            o.primal if type(o) is VJPTracer and o._trace is trace else _as_array(o)
            for o in out_flat
        ]
        out_tracers = [o if type(o) is VJPTracer and o._trace is trace else None for o in out_flat]
        if has_aux:
            aux = _lower(aux, trace)
    tape, level = trace.tape, trace.level
    trace.tape = None  # tracers point at the trace: dropping its tape link avoids a cycle
    name = getattr(f, "__name__", "f")

    def vjp_fn(ct):
        ct_flat = flatten_up_to(out_tree, ct, f"vjp of {name}: cotangent")
        ct_flat = [_as_array(c) for c in ct_flat]
        for i, (c, o) in enumerate(zip(ct_flat, out_primals)):
            if c.shape != o.shape:
                raise ValueError(
                    f"vjp of {name}: cotangent {i} has shape {c.shape} but the output has shape "
                    f"{o.shape}"
                )
            if c.dtype.kind == "c" and o.dtype.kind != "c":
                raise TypeError(
                    f"vjp of {name}: cotangent {i} is complex ({c.dtype}) but the output is real "
                    f"({o.dtype}); pass a real cotangent (its real part)"
                )
            if o.dtype.kind == "c" and c.dtype.kind != "c" and type(c) is Array:
                v = backend.gather(c._value)  # a pmap output sharded over GPUs: stacked
                if backend.xp_of(v) is np:
                    ct_flat[i] = Array(np.asarray(v, o.dtype))  # a real cotangent: x + 0j
                else:
                    with backend.gpu_context(v.device.id):
                        ct_flat[i] = Array(v.astype(o.dtype))
        cts = backward_pass(tape, out_tracers, ct_flat, in_tracers, level)
        cts = [zeros_like(p) if c is None else c for c, p in zip(cts, p_flat)]
        return tree_unflatten(p_tree, cts)

    out = tree_unflatten(out_tree, out_primals)
    return (out, vjp_fn, aux) if has_aux else (out, vjp_fn)


def value_and_grad(
    f: Callable[..., Any],
    argnums: int | Sequence[int] = 0,
    has_aux: bool = False,
    holomorphic: bool = False,
) -> Callable[..., Any]:
    """Like ``grad``, but the function returns ``(f(*args), grad)``.

    Example:
      >>> fg.value_and_grad(lambda x: x ** 2)(3.0)
      (Array(9., dtype=float32), Array(6., dtype=float32))
    """
    name = getattr(f, "__name__", "f")
    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)

    def value_and_grad_f(*args, **kwargs):
        nargs = len(args)
        for n in nums:
            if not isinstance(n, int) or not -nargs <= n < nargs:
                raise TypeError(
                    f"grad of {name}: argnums={argnums!r} is out of range for "
                    f"{nargs} positional argument(s)"
                )
        pos = [n % nargs for n in nums]
        flat, tree = tree_flatten(args[pos[0]] if single else tuple(args[n] for n in pos))
        leaves = [_as_array(x) for x in flat]
        for k, x in enumerate(leaves):
            if x.dtype.kind not in "fc":
                n = pos[0] if single else _argnum_of(k, tree, pos)
                raise TypeError(
                    f"grad of {name}: argument {n} has dtype {x.dtype}, but grad needs float or "
                    "complex inputs; convert it (e.g. x.astype('float32')) or differentiate "
                    "with respect to another argument (argnums)"
                )
            if holomorphic and x.dtype.kind != "c":
                n = pos[0] if single else _argnum_of(k, tree, pos)
                raise TypeError(
                    f"grad of {name} with holomorphic=True: the inputs must be complex, but "
                    f"argument {n} has dtype {x.dtype}; convert it (e.g. "
                    "x.astype('complex64')) or drop holomorphic=True for a real input"
                )
        with new_trace(VJPTrace) as trace:
            tracers = [_new_vjp_tracer(trace, x) for x in leaves]
            dargs = tree_unflatten(tree, tracers)
            full = list(args)
            if single:
                full[pos[0]] = dargs
            else:
                for n, d in zip(pos, dargs):
                    full[n] = d
            out = f(*full, **kwargs)
            if has_aux:
                out, aux = _split_aux(out, "grad")
                aux = _lower(aux, trace)
            if not isinstance(out, (Array, Tracer)) or out.shape != ():
                shape = getattr(out, "shape", type(out).__name__)
                raise TypeError(
                    f"grad of {name}: the function must return a scalar, got output of shape "
                    f"{shape}; use fg.jacrev or fg.vjp for non-scalar outputs"
                )
            if out.dtype.kind == "c" and not holomorphic:
                raise TypeError(
                    f"grad of {name}: the output is complex ({out.dtype}), but grad needs a real "
                    "output; pass holomorphic=True for a holomorphic function, take a real part "
                    "(fnp.real, fnp.abs), or use fg.vjp for the general complex case"
                )
            if holomorphic and out.dtype.kind != "c":
                raise TypeError(
                    f"grad of {name} with holomorphic=True: the output must be complex, got "
                    f"{out.dtype}; drop holomorphic=True for a real-valued function"
                )
            out_tracer = out if type(out) is VJPTracer and out._trace is trace else None
            value = out if out_tracer is None else out.primal
        tape = trace.tape
        trace.tape = None
        seed = _one(value.dtype)
        v = value._value if type(value) is Array else None
        if v is not None and type(v) is not np.ndarray and not isinstance(v, np.generic):
            seed = Array(backend.like_device(seed._value, v))  # on a GPU or a CPU device
        cts = backward_pass(tape, [out_tracer], [seed], tracers, trace.level)
        grads = tree_unflatten(
            tree, [zeros_like(x) if c is None else c for c, x in zip(cts, leaves)]
        )
        return ((value, aux), grads) if has_aux else (value, grads)

    value_and_grad_f.__name__ = f"value_and_grad({name})"
    return value_and_grad_f


def grad(
    f: Callable[..., Any],
    argnums: int | Sequence[int] = 0,
    has_aux: bool = False,
    holomorphic: bool = False,
) -> Callable[..., Any]:
    """The gradient of a scalar function with respect to argument(s) ``argnums``.

    The gradient has each argument's dtype: float32 for float32, float64 for float64, complex
    for complex.

    Complex numbers follow JAX's convention: ``grad(f)(x)`` is ``vjp(f, x)[1](1.0)``, where the
    vjp is the transpose of the real-linear jvp under the pairing ``Re(sum(g * t))`` (no
    conjugation). So for a real-valued ``f`` of ``z = x + iy``, ``grad(f)(z) = df/dx - i df/dy``,
    the conjugate of the steepest-ascent direction: ``grad(lambda z: fnp.abs(z) ** 2)(3 + 4j)``
    is ``6 - 8j``; step along ``-conj(grad)`` to minimise. With ``holomorphic=True`` (complex
    inputs and output), it is the complex derivative ``f'(z)``.

    Args:
      f: function returning a real scalar (or ``(scalar, aux)`` with ``has_aux=True``); a
        complex scalar with ``holomorphic=True``.
      argnums: an int or a tuple of ints; the gradient has the structure of those arguments.
      has_aux: return ``(grad, aux)``.
      holomorphic: promise that ``f`` is holomorphic in complex inputs and return ``f'(z)``.
        The inputs and the output must then be complex (TypeError otherwise). For a
        non-holomorphic ``f`` the result is the derivative of ``Re(f)`` in JAX's convention.

    Example:
      >>> fg.grad(fnp.sin)(0.0)
      Array(1., dtype=float32)
      >>> fg.grad(fg.grad(lambda x: x ** 3))(2.0)   # any nesting works
      Array(12., dtype=float32)
      >>> fg.grad(lambda z: z ** 2, holomorphic=True)(fnp.asarray(1 + 2j))
      Array(2.+4.j, dtype=complex64)
    """
    vg = value_and_grad(f, argnums, has_aux, holomorphic)

    def grad_f(*args, **kwargs):
        value, g = vg(*args, **kwargs)
        if has_aux:
            return g, value[1]
        return g

    grad_f.__name__ = f"grad({getattr(f, '__name__', 'f')})"
    return grad_f


# ---------------------------------------------------------------------------------------------
# Helpers


def _as_array(x: Any) -> Any:
    """Leaves entering a transform: Arrays and tracers stay, everything else becomes an Array."""
    if isinstance(x, (Array, Tracer)):
        return x
    if isinstance(x, (np.ndarray, np.generic)):
        return Array(x)
    if type(x) is float:
        from funcgrad.core.dtypes import default_float

        return Array(default_float().type(x))
    if type(x) is complex:
        from funcgrad.core.dtypes import default_float

        return Array(np.result_type(default_float(), np.complex64).type(x))
    if type(x) in (int, bool):
        return Array(np.asarray(x)[()])
    raise TypeError(
        f"{type(x).__name__} is not a valid funcgrad value; pass arrays, NumPy values or "
        "Python scalars (other objects belong in static arguments or closures)"
    )


_ONES: dict[np.dtype, Array] = {}


def _one(dtype: np.dtype) -> Array:
    """The cotangent 1 of a scalar output (cached per dtype: Arrays are immutable)."""
    one = _ONES.get(dtype)
    if one is None:
        one = _ONES[dtype] = Array(dtype.type(1))
    return one


def _argnum_of(i: int, tree, pos) -> int:
    # Which differentiated argument leaf i came from (for error messages).
    for n, sub in zip(pos, tree.children):
        if i < sub.num_leaves:
            return n
        i -= sub.num_leaves
    return pos[-1]


def _tangent_for(primal: Any, t: Any) -> Any:
    """A tangent leaf as an array: a Python scalar is weakly typed and takes the primal's dtype
    (``1j`` for a complex128 primal), unless that would drop an imaginary part."""
    if type(t) in (int, float, complex) and _is_inexact(primal):
        if primal.dtype.kind == "c" or type(t) is not complex:
            return Array(np.asarray(t, primal.dtype)[()])
    return _as_array(t)


def _is_inexact(x: Any) -> bool:
    return x.dtype.kind in "fc"


def _split_aux(out: Any, who: str):
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise TypeError(f"{who} with has_aux=True: the function must return a pair (out, aux)")
    return out


def _lower(tree: Any, trace: Trace) -> Any:
    """Replaces ``trace``'s tracers in ``tree`` by their primal values (aux outputs)."""

    def lower(x):
        while isinstance(x, Tracer) and x._trace is trace:
            x = x.primal
        return x

    return tree_map(lower, tree)
