"""The traced program: variables, equations, ``make_program`` (trace), ``eval_program``, printing.

Control-flow primitives (``lax.scan``, ``lax.cond``, ``lax.while_loop``) carry programs as
parameters; ``jit`` records and replays the same structure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from funcgrad.core.array import Array, ArrayBase
from funcgrad.core.dtypes import dtype_of, is_python_scalar
from funcgrad.core.primitive import Primitive, ShapedArray, abstract_eval_rules
from funcgrad.core.trace import Trace, Tracer, leaked_tracer_error, new_trace
from funcgrad.core.tree import PyTreeDef, tree_flatten, tree_unflatten

__all__ = [
    "effectful_primitives",
    "program_eval_rules",
    "Var",
    "Literal",
    "Eqn",
    "Program",
    "ProgramTrace",
    "ProgramTracer",
    "make_program",
    "eval_program",
]


class Var:
    """A value of a program, known by its abstract value (named a, b, c... when printed).

    ``weak`` is the Python scalar type (float, int, bool, complex) of a weakly typed scalar,
    e.g. a Python float passed to a jitted function: it promotes like that Python scalar.
    """

    __slots__ = ("aval", "weak")

    def __init__(self, aval: ShapedArray, weak: type | None = None):
        self.aval = aval
        self.weak = weak

    def __repr__(self) -> str:
        return f"Var({aval_str(self.aval)})"


class Literal:
    """A Python scalar inside an equation (weakly typed, as in eager code)."""

    __slots__ = ("val",)

    def __init__(self, val: bool | int | float | complex):
        self.val = val

    def __repr__(self) -> str:
        return repr(self.val)


Atom = Var | Literal

# Primitives with an effect (e.g. a debug callback): program passes never remove, merge or
# precompute their equations.
effectful_primitives: set[Primitive] = set()

# program_eval_rules[prim](inputs, **params) -> outputs: how ``eval_program`` re-applies an
# equation that is not a plain bind (custom_vjp/custom_jvp calls re-dispatch to their rules).
program_eval_rules: dict[Primitive, Callable[..., Any]] = {}

# An example Python scalar per weak type: abstract_eval rules take weak scalars as they are.
_WEAK_EXAMPLE = {float: 1.0, int: 1, bool: True, complex: 1j}


class Eqn(NamedTuple):
    """``outputs = prim[params](*inputs)``."""

    prim: Primitive
    inputs: list[Atom]
    params: dict[str, Any]
    outputs: list[Var]


class Program:
    """A traced function: ``outvars = eqns(invars, constvars)``, with ``consts`` the concrete (or
    lower-level traced) values of ``constvars``. Hashable and compared by identity, so that
    programs can be static parameters of higher-order primitives."""

    __slots__ = ("invars", "constvars", "consts", "eqns", "outvars", "__weakref__")

    def __init__(
        self,
        invars: list[Var],
        constvars: list[Var],
        consts: list[Any],
        eqns: list[Eqn],
        outvars: list[Var],
    ):
        assert len(constvars) == len(consts)
        self.invars = invars
        self.constvars = constvars
        self.consts = consts
        self.eqns = eqns
        self.outvars = outvars

    @property
    def in_avals(self) -> list[ShapedArray]:
        return [v.aval for v in self.invars]

    @property
    def out_avals(self) -> list[ShapedArray]:
        return [v.aval for v in self.outvars]

    def consts_as_inputs(self) -> Program:
        """The same program with its constvars as leading invars (its consts to be passed in)."""
        return Program(self.constvars + self.invars, [], [], self.eqns, self.outvars)

    def __str__(self) -> str:
        return "\n".join(_pp_program(self, _Namer(), ""))

    def __repr__(self) -> str:
        return f"Program({len(self.invars)} inputs, {len(self.eqns)} equations)"


# ---------------------------------------------------------------------------------------------
# Tracing


class ProgramTracer(Tracer):
    __slots__ = ("var",)

    def __init__(self, trace: ProgramTrace, var: Var):
        self._trace = trace
        self.var = var

    @property
    def aval(self) -> ShapedArray:
        return self.var.aval

    @property
    def shape(self) -> tuple[int, ...]:
        return self.var.aval.shape

    @property
    def dtype(self) -> np.dtype:
        return self.var.aval.dtype

    def concrete_value(self) -> Any:
        trace = self._trace
        if not trace.alive:
            raise leaked_tracer_error(trace)
        raise trace.concretization_error(self)


class ProgramTrace(Trace):
    """Records each primitive applied to its tracers as an equation. Any other argument is a
    constant: Python scalars become Literals; arrays and tracers of lower levels become
    constvars (closure conversion: the enclosing transforms see them as operands)."""

    __slots__ = ("eqns", "constvars", "consts", "_const_ids")

    def __init__(self, level: int):
        super().__init__(level)
        self.eqns: list[Eqn] = []
        self.constvars: list[Var] = []
        self.consts: list[Any] = []
        self._const_ids: dict[int, Var] = {}

    def concretization_error(self, tracer: ProgramTracer) -> Exception:
        """The error for converting ``tracer`` to a Python or NumPy value while tracing."""
        return TypeError(
            f"a value traced inside lax.scan/cond/while_loop (shape {tracer.shape}, dtype "
            f"{tracer.dtype}) was converted to a Python value (bool(), int(), float(), `if`, or "
            "NumPy); only its shape and dtype are known while the body is traced. Use lax.cond "
            "or fnp.where for data-dependent choices, or make the value static (a Python value "
            "computed outside the loop)."
        )

    def const_var(self, value: Any) -> Var:
        var = self._const_ids.get(id(value))
        if var is None:
            if isinstance(value, (np.ndarray, np.generic)):
                value = Array(value)
            elif not isinstance(value, ArrayBase):
                raise TypeError(
                    f"{type(value).__name__} is not a valid funcgrad value inside "
                    "lax.scan/cond/while_loop; pass arrays, NumPy values or Python scalars"
                )
            var = Var(ShapedArray(tuple(value.shape), value.dtype))
            self._const_ids[id(value)] = var
            self.constvars.append(var)
            self.consts.append(value)  # keeps the value alive, so its id stays unique
        return var

    def pure(self, value: Any) -> ProgramTracer:
        if is_python_scalar(value):
            value = Array(np.asarray(value, dtype_of(value))[()])
        return ProgramTracer(self, self.const_var(value))

    def process_primitive(self, prim, args, params):
        inputs: list[Atom] = []
        avals: list[Any] = []
        all_weak = True
        any_weak = False
        for a in args:
            if type(a) is ProgramTracer and a._trace is self:
                var = a.var
                inputs.append(var)
                avals.append(var.aval)
                if var.weak is None:
                    all_weak = False
                else:
                    any_weak = True
            elif is_python_scalar(a):
                inputs.append(Literal(a))
                avals.append(a)  # abstract_eval rules take weak scalars as they are
            else:
                var = self.const_var(a)
                inputs.append(var)
                avals.append(var.aval)
                all_weak = False
        if any_weak and not all_weak:  # beside a strong operand, weak values act as Python scalars
            avals = [
                _WEAK_EXAMPLE[x.weak] if type(x) is Var and x.weak is not None else a
                for x, a in zip(inputs, avals)
            ]
        rule = abstract_eval_rules.get(prim)
        if rule is None:
            raise NotImplementedError(
                f"{prim.name}: no abstract_eval rule, so it cannot be traced (inside "
                "lax.scan/cond/while_loop or jit)"
            )
        out = rule(*avals, **params)
        out_vars = [Var(o) for o in (out if prim.multiple_results else [out])]
        if all_weak and not prim.multiple_results and "new_dtype" not in params:
            _mark_weak(out_vars[0])  # arithmetic on weak scalars stays weak, as in Python
        self.eqns.append(Eqn(prim, inputs, dict(params), out_vars))
        if prim.multiple_results:
            return [ProgramTracer(self, v) for v in out_vars]
        return ProgramTracer(self, out_vars[0])

    # A custom_vjp/custom_jvp call is recorded as one equation that keeps its rules: it runs
    # its traced function, and transforming the program re-dispatches to the rules.
    def process_custom_vjp_call(self, fun, fwd, bwd, args):
        from funcgrad.transforms.grad import custom_vjp_call_p

        return _bind_custom_call(custom_vjp_call_p, fun, args, fwd=fwd, bwd=bwd)

    def process_custom_jvp_call(self, fun, rule, args):
        from funcgrad.transforms.grad import custom_jvp_call_p

        return _bind_custom_call(custom_jvp_call_p, fun, args, rule=rule)

    def output_var(self, x: Any) -> Var:
        if isinstance(x, Tracer) and x._trace is not self and x._trace.level >= self.level:
            raise leaked_tracer_error(x._trace)
        if type(x) is ProgramTracer and x._trace is self:
            return x.var
        if is_python_scalar(x):
            x = Array(np.asarray(x, dtype_of(x))[()])
        return self.const_var(x)


def _bind_custom_call(prim: Primitive, fun: Callable[..., Any], args, **rules: Any) -> Any:
    """One equation for a custom_vjp/custom_jvp call: ``fun`` traced into its program, whose
    closed-over values become the first ``num_consts`` operands."""
    program, _ = make_program(fun, *[_aval_of(a) for a in args])
    return prim.bind(
        *program.consts,
        *args,
        program=program.consts_as_inputs(),
        num_consts=len(program.consts),
        **rules,
    )


def _mark_weak(var: Var) -> None:
    if var.aval.shape == ():
        kind = np.dtype(var.aval.dtype).kind
        var.weak = {"f": float, "i": int, "b": bool, "c": complex}.get(kind)


def _aval_of(x: Any) -> ShapedArray:
    if isinstance(x, ShapedArray):
        return x
    shape = getattr(x, "shape", None)
    if shape is not None:
        return ShapedArray(tuple(shape), np.dtype(x.dtype))
    return ShapedArray((), dtype_of(x))


def _is_aval(x: Any) -> bool:
    return isinstance(x, ShapedArray)


def make_program(f: Callable[..., Any], *args: Any) -> tuple[Program, PyTreeDef]:
    """Traces ``f`` once, at a fresh level above the current top, into a Program.

    Args:
      f: a function of pytrees of arrays.
      args: pytrees whose leaves are ShapedArrays or example values (only their shapes and
        dtypes are used; Python floats count as the default float dtype).

    Returns:
      ``(program, out_tree)``: the program takes the flattened ``args`` and returns the
      flattened output, whose structure is ``out_tree``.

    Example:
      >>> program, _ = make_program(lambda x: fnp.sin(x) * 2.0, ShapedArray((3,), f32))
      >>> print(program)
      { lambda ; a:f32[3] . let
          b:f32[3] = sin a
          c:f32[3] = mul b 2.0
        in (c) }
    """
    flat, in_tree = tree_flatten(args, is_leaf=_is_aval)
    invars = [Var(_aval_of(x)) for x in flat]
    with new_trace(ProgramTrace) as trace:
        tracers = [ProgramTracer(trace, v) for v in invars]
        out = f(*tree_unflatten(in_tree, tracers))
        out_flat, out_tree = tree_flatten(out)
        outvars = [trace.output_var(o) for o in out_flat]
    program = Program(invars, trace.constvars, trace.consts, trace.eqns, outvars)
    return program, out_tree


def eval_program(program: Program, *args: Any) -> list[Any]:
    """Evaluates ``program`` on ``args`` (one per invar), returning its flat outputs.

    Each equation binds its primitive on the values, so under an active transform (grad,
    vmap, a trace) the program is transformed like the code it was traced from.
    """
    if len(args) != len(program.invars):
        raise TypeError(
            f"eval_program: the program takes {len(program.invars)} inputs, got {len(args)}"
        )
    env: dict[Var, Any] = dict(zip(program.constvars, program.consts))
    env.update(zip(program.invars, args))
    for eqn in program.eqns:
        ins = [env[x] if type(x) is Var else x.val for x in eqn.inputs]
        rule = program_eval_rules.get(eqn.prim)
        if rule is not None:
            out = rule(ins, **eqn.params)
        else:
            out = eqn.prim.bind(*ins, **eqn.params)
        if eqn.prim.multiple_results:
            env.update(zip(eqn.outputs, out))
        else:
            env[eqn.outputs[0]] = out
    return [env[v] for v in program.outvars]


# ---------------------------------------------------------------------------------------------
# Printing

_KIND = {"f": "f", "i": "i", "u": "u", "c": "c"}


def aval_str(aval: ShapedArray) -> str:
    """``f32[3,4]``; scalars are ``f32[]``."""
    dt = np.dtype(aval.dtype)
    name = "bool" if dt.kind == "b" else f"{_KIND.get(dt.kind, dt.kind)}{dt.itemsize * 8}"
    return f"{name}[{','.join(map(str, aval.shape))}]"


class _Namer:
    def __init__(self):
        self.names: dict[Var, str] = {}

    def __call__(self, v: Atom) -> str:
        if type(v) is Literal:
            return repr(v.val)
        name = self.names.get(v)
        if name is None:
            n, name = len(self.names) + 1, ""
            while n:
                n, r = divmod(n - 1, 26)
                name = chr(97 + r) + name
            self.names[v] = name
        return name

    def typed(self, v: Var) -> str:
        return f"{self(v)}:{aval_str(v.aval)}"


def _pp_program(p: Program, name: _Namer, indent: str) -> list[str]:
    consts = " ".join(name.typed(v) for v in p.constvars)
    ins = " ".join(name.typed(v) for v in p.invars)
    lines = [f"{indent}{{ lambda {consts}{' ' if consts else ''}; {ins} . let"]
    for eqn in p.eqns:
        outs = " ".join(name.typed(v) for v in eqn.outputs)
        static = {k: v for k, v in eqn.params.items() if not _programs_in(v)}
        ps = " ".join(f"{k}={_param_str(v)}" for k, v in static.items())
        args = " ".join(name(x) for x in eqn.inputs)
        lhs = f"{outs} = " if outs else ""
        lines.append(f"{indent}    {lhs}{eqn.prim.name}{f'[{ps}]' if ps else ''} {args}")
        for k, v in eqn.params.items():
            for i, sub in enumerate(_programs_in(v)):
                label = k if isinstance(v, Program) else f"{k}[{i}]"
                lines.append(f"{indent}      {label}=")
                lines.extend(_pp_program(sub, name, indent + "        "))
    outs = " ".join(name(v) for v in p.outvars)
    lines.append(f"{indent}  in ({outs}) }}")
    return lines


def _param_str(v: Any) -> str:
    return str(v) if isinstance(v, np.dtype) else repr(v)


def _programs_in(v: Any) -> Sequence[Program]:
    if isinstance(v, Program):
        return [v]
    if isinstance(v, tuple) and v and all(isinstance(p, Program) for p in v):
        return v
    return []
