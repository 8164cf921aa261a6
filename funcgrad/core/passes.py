"""Optimisation passes over traced programs, each a small function ``Program -> Program``.

``optimize`` runs them in order: inline nested calls, fold constants, forward trivial
operations, merge common subexpressions, then remove dead code. Every pass keeps the program's
inputs and outputs (and their order) and never removes, merges or precomputes an equation of an
effectful primitive (``effectful_primitives``, e.g. a debug callback).

The passes prepare a program for execution by the replay interpreter (``core/replay.py``); the
program a transform differentiates or batches is always the traced one, so a pass may drop
operations that matter only to transforms (``stop_gradient`` is the identity when run).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from funcgrad.core.array import Array
from funcgrad.core.ir import Eqn, Literal, Program, Var, effectful_primitives
from funcgrad.core.primitive import Primitive, eval_primitive
from funcgrad.core.trace import Tracer

__all__ = [
    "call_primitives",
    "forwarding_rules",
    "inline_calls",
    "fold_constants",
    "forward_trivial",
    "eliminate_common_subexpressions",
    "eliminate_dead_code",
    "optimize",
]

# call_primitives[prim](params) -> Program: primitives that just run a program on their inputs
# (a nested jit); ``inline_calls`` splices that program into its caller.
call_primitives: dict[Primitive, Callable[[dict], Program]] = {}

# forwarding_rules[prim](eqn, is_zero) -> index of the input that the output equals, or None.
# ``is_zero(atom)`` tells whether an input is known to be all zeros (a literal 0 or a constant of
# zeros, e.g. an unused cotangent). Filled next to the primitives (reshape to the same shape,
# ``x * 1``, ``x + 0``, ...); see ``forward_trivial``.
forwarding_rules: dict[Primitive, Callable[[Eqn, Callable[[Any], bool]], int | None]] = {}

# Constants larger than this (in elements) are not precomputed when they would be produced from
# smaller inputs (a broadcast of a scalar would otherwise be stored in the program).
FOLD_MAX_GROWTH = 1 << 16


def _subst(env: dict[Var, Any], x: Any) -> Any:
    return env.get(x, x) if type(x) is Var else x


def _rebuild(program: Program, eqns: list[Eqn], env: dict[Var, Any], consts=None) -> Program:
    """A program with ``eqns``, its outputs renamed through ``env`` (a Literal output becomes a
    constant)."""
    constvars = list(program.constvars)
    cvals = list(program.consts)
    if consts:
        for var, value in consts:
            constvars.append(var)
            cvals.append(value)
    outvars = []
    for v in program.outvars:
        o = _subst(env, v)
        if type(o) is Literal:
            value = Array(np.asarray(o.val, v.aval.dtype))
            o = Var(v.aval)
            constvars.append(o)
            cvals.append(value)
        outvars.append(o)
    return Program(program.invars, constvars, cvals, eqns, outvars)


# ---------------------------------------------------------------------------------------------
# Inlining


def inline_calls(program: Program) -> Program:
    """Splices the programs of nested calls (``call_primitives``) into ``program``."""
    if not any(e.prim in call_primitives for e in program.eqns):
        return program
    eqns: list[Eqn] = []
    env: dict[Var, Any] = {}
    extra_consts: list[tuple[Var, Any]] = []
    for eqn in program.eqns:
        inputs = [_subst(env, x) for x in eqn.inputs]
        to_program = call_primitives.get(eqn.prim)
        if to_program is None:
            eqns.append(eqn._replace(inputs=inputs))
            continue
        sub = inline_calls(to_program(eqn.params))
        renamed: dict[Var, Any] = dict(zip(sub.invars, inputs))
        for v, c in zip(sub.constvars, sub.consts):
            nv = Var(v.aval, v.weak)
            renamed[v] = nv
            extra_consts.append((nv, c))
        for e in sub.eqns:
            outs = [Var(o.aval, o.weak) for o in e.outputs]
            renamed.update(zip(e.outputs, outs))
            eqns.append(Eqn(e.prim, [_subst(renamed, x) for x in e.inputs], e.params, outs))
        for o, so in zip(eqn.outputs, sub.outvars):
            env[o] = _subst(renamed, so)
    return _rebuild(program, eqns, env, extra_consts)


# ---------------------------------------------------------------------------------------------
# Constant folding


def _size(shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def fold_constants(program: Program) -> Program:
    """Precomputes every equation whose inputs are all known at trace time (constants and
    literals), turning its outputs into constants of the program."""
    known: dict[Var, Any] = {}
    for v, c in zip(program.constvars, program.consts):
        if not isinstance(c, Tracer):
            known[v] = c
    eqns: list[Eqn] = []
    new_consts: list[tuple[Var, Any]] = []
    changed = False
    for eqn in program.eqns:
        foldable = eqn.prim not in effectful_primitives and all(
            type(x) is Literal or x in known for x in eqn.inputs
        )
        if foldable:
            in_size = max([_size(x.aval.shape) for x in eqn.inputs if type(x) is Var] + [1])
            out_size = max(_size(o.aval.shape) for o in eqn.outputs) if eqn.outputs else 0
            foldable = out_size <= max(in_size, FOLD_MAX_GROWTH)
        if not foldable:
            eqns.append(eqn)
            continue
        args = [x.val if type(x) is Literal else known[x] for x in eqn.inputs]
        out = eval_primitive(eqn.prim, args, eqn.params)
        outs = out if eqn.prim.multiple_results else [out]
        for var, value in zip(eqn.outputs, outs):
            known[var] = value
            new_consts.append((var, value))
        changed = True
    if not changed:
        return program
    return _rebuild(program, eqns, {}, new_consts)


# ---------------------------------------------------------------------------------------------
# Forwarding trivial operations


def forward_trivial(program: Program) -> Program:
    """Replaces operations whose output is one of their inputs (reshape to the same shape,
    ``x * 1``, ``x + 0``, a reshape of a reshape...) by that input, using ``forwarding_rules``."""
    env: dict[Var, Any] = {}
    eqns: list[Eqn] = []
    producer: dict[Var, Eqn] = {}
    zeros = {
        v
        for v, c in zip(program.constvars, program.consts)
        if isinstance(c, Array) and c.size <= FOLD_MAX_GROWTH and not np.any(np.asarray(c))
    }

    def is_zero(x: Any) -> bool:
        if type(x) is Literal:
            return x.val == 0
        return x in zeros

    for eqn in program.eqns:
        eqn = eqn._replace(inputs=[_subst(env, x) for x in eqn.inputs])
        rule = forwarding_rules.get(eqn.prim)
        if rule is not None:
            eqn = _collapse_reshapes(eqn, producer)
            i = rule(eqn, is_zero)
            if i is not None:
                x, (o,) = eqn.inputs[i], eqn.outputs
                if type(x) is Var and x.aval == o.aval and x.weak == o.weak:
                    env[o] = x
                    continue
        for o in eqn.outputs:
            producer[o] = eqn
        eqns.append(eqn)
    if not env and len(eqns) == len(program.eqns):
        if all(a is b for a, b in zip(eqns, program.eqns)):
            return program
    return _rebuild(program, eqns, env)


def _collapse_reshapes(eqn: Eqn, producer: dict[Var, Eqn]) -> Eqn:
    """``reshape(reshape(x, s1), s2)`` is ``reshape(x, s2)``."""
    if eqn.prim.name != "reshape" or type(eqn.inputs[0]) is not Var:
        return eqn
    src = producer.get(eqn.inputs[0])
    if src is not None and src.prim is eqn.prim:
        return eqn._replace(inputs=[src.inputs[0]] + list(eqn.inputs[1:]))
    return eqn


# ---------------------------------------------------------------------------------------------
# Common subexpressions


def _atom_key(x: Any) -> Any:
    if type(x) is Var:
        return x
    return ("literal", type(x.val), x.val)


def eliminate_common_subexpressions(program: Program) -> Program:
    """Merges equations that apply the same primitive with the same parameters to the same
    inputs (effectful ones excepted)."""
    seen: dict[Any, list[Var]] = {}
    env: dict[Var, Any] = {}
    eqns: list[Eqn] = []
    for eqn in program.eqns:
        eqn = eqn._replace(inputs=[_subst(env, x) for x in eqn.inputs])
        key = None
        if eqn.prim not in effectful_primitives:
            try:
                key = (
                    eqn.prim,
                    tuple(_atom_key(x) for x in eqn.inputs),
                    tuple(sorted(eqn.params.items())),
                )
                hash(key)
            except TypeError:  # an unhashable parameter: keep the equation
                key = None
        if key is not None:
            prev = seen.get(key)
            if prev is not None:
                env.update(zip(eqn.outputs, prev))
                continue
            seen[key] = eqn.outputs
        eqns.append(eqn)
    if not env:
        return program
    return _rebuild(program, eqns, env)


# ---------------------------------------------------------------------------------------------
# Dead code


def eliminate_dead_code(program: Program) -> Program:
    """Removes equations none of whose outputs is used (effectful ones are kept), and constants
    that nothing uses."""
    live = {v for v in program.outvars if type(v) is Var}
    kept: list[Eqn] = []
    for eqn in reversed(program.eqns):
        if eqn.prim in effectful_primitives or any(o in live for o in eqn.outputs):
            kept.append(eqn)
            live.update(x for x in eqn.inputs if type(x) is Var)
    kept.reverse()
    consts = [(v, c) for v, c in zip(program.constvars, program.consts) if v in live]
    if len(kept) == len(program.eqns) and len(consts) == len(program.consts):
        return program
    return Program(
        program.invars,
        [v for v, _ in consts],
        [c for _, c in consts],
        kept,
        program.outvars,
    )


# ---------------------------------------------------------------------------------------------


PASSES = (
    inline_calls,
    fold_constants,
    forward_trivial,
    eliminate_common_subexpressions,
    forward_trivial,
    eliminate_dead_code,
)


def optimize(program: Program) -> Program:
    """Runs every pass in ``PASSES`` once, in order."""
    for p in PASSES:
        program = p(program)
    return program
