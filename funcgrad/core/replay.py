"""The replay interpreter: a program compiled to a flat list of steps, run with no tracing.

``compile_program`` optimises a program (``core/passes.py``) and turns each equation into a
step: the primitive's NumPy function (its impl with the parameters bound, or the ufunc or
operator itself), the slots it reads, the slots it writes, and the slots whose values die there.
The inputs come first, then constants and literals, then every intermediate value.

The step list is run by a straight-line Python function generated from it (``source`` shows
it): one line per step, each value a local variable, so that a step costs the call of its NumPy
function and little else (a loop over the steps costs about 0.25 µs per step more, as much as
the NumPy call on a scalar). No tracers, no pytrees, no dtype promotion run per step.

Memory: a value is released right after its last use, so intermediates are freed as soon as
eager execution would free them. Buffer reuse: an elementwise step (a NumPy ufunc) whose input
dies there and has the output's shape and dtype writes into that input's buffer (``out=``) when
the buffer is one this run allocated and nobody else holds: it owns its memory, is writeable,
and its reference count shows no other holder. A buffer the caller passed in is reused only when
that argument was donated.
"""

from __future__ import annotations

import functools
import operator
import sys
import weakref
from typing import Any, NamedTuple

import numpy as np

from funcgrad.core import backend
from funcgrad.core.array import Array
from funcgrad.core.ir import Program, Var
from funcgrad.core.passes import optimize

__all__ = ["Executable", "Step", "compile_program", "run_program"]

# Operators written inline in the generated code (the same NumPy calls, minus a function call).
_INFIX = {operator.add: "+", operator.sub: "-", operator.mul: "*", operator.truediv: "/"}


class Step(NamedTuple):
    """One equation, ready to run: ``outs = fn(*[slots[i] for i in ins])``."""

    fn: Any
    ins: tuple[int, ...]
    outs: tuple[int, ...]
    free: tuple[int, ...]  # slots whose values die here
    reuse: int | None  # the input slot whose buffer the output may take (elementwise ufuncs)
    weak: type | None  # a weakly typed scalar result is converted to this Python type
    multiple: bool


class Executable:
    """A program ready to run: ``executable(values) -> output values`` (NumPy values in and
    out, one per program input/output).

    Attributes:
      program: the optimised program it runs.
      steps: the flat step list (see ``Step``).
      source: the Python source generated from the steps.
      num_inplace: how many steps may write into a dead input's buffer.
    """

    __slots__ = (
        "program",
        "steps",
        "consts",
        "source",
        "num_inplace",
        "_run",
        "__weakref__",
    )

    def __init__(self, program: Program, donated: tuple[bool, ...] = (), xp: Any = np):
        # For CuPy, build under the device the program will run on: constants are copied there.
        self.program = program
        n_in = len(program.invars)
        slot: dict[Var, int] = {v: i for i, v in enumerate(program.invars)}
        consts: list[Any] = []

        def const_slot(value: Any) -> int:
            consts.append(value)
            return n_in + len(consts) - 1

        on_gpu = _current_gpu(xp) is not None

        def on_device(c: Any) -> Any:
            c = backend.gather(c._value) if isinstance(c, Array) else c  # a Sharded: stacked
            if on_gpu and isinstance(c, (np.ndarray, xp.ndarray)):
                c = _to_current_device(xp, c)
            return c

        for v, c in zip(program.constvars, program.consts):
            slot[v] = const_slot(on_device(c))
        literal_slots: dict[tuple[type, str], int] = {}

        def atom_slot(x: Any) -> int:
            if type(x) is Var:
                return slot[x]
            key = (type(x.val), repr(x.val))
            s = literal_slots.get(key)
            if s is None:
                s = literal_slots[key] = const_slot(on_device(x.val))
            return s

        eqns = program.eqns
        # The last equation reading each value (values returned are never freed); literals get
        # their constant slots first.
        last_use: dict[Var, int] = {}
        for i, eqn in enumerate(eqns):
            for x in eqn.inputs:
                if type(x) is Var:
                    last_use[x] = i
                else:
                    atom_slot(x)
        for v in program.outvars:
            last_use.pop(v, None)
        reusable = {v for v, d in zip(program.invars, donated) if d}
        n_fixed = n_in + len(consts)  # intermediates come after inputs and constants
        next_slot = n_fixed
        steps = []
        for i, eqn in enumerate(eqns):
            ins = tuple(atom_slot(x) for x in eqn.inputs)
            dying = {x for x in eqn.inputs if type(x) is Var and last_use.get(x) == i}
            free = tuple(sorted({slot[x] for x in dying if slot[x] >= n_fixed or slot[x] < n_in}))
            outs = tuple(range(next_slot, next_slot + len(eqn.outputs)))
            slot.update(zip(eqn.outputs, outs))
            next_slot += len(outs)
            impl = eqn.prim.impl
            # NumPy's own function where the impl names one; else the impl on ``xp``.
            direct = getattr(impl, "direct", None) if xp is np else None
            if direct is not None and not eqn.params:
                fn = direct
            else:
                fn = functools.partial(impl, xp, **eqn.params)
            multiple = eqn.prim.multiple_results
            weak = None if multiple else eqn.outputs[0].weak
            reuse = None
            ufunc = getattr(impl, "ufunc", None) if xp is np else None
            if ufunc is not None and not multiple and weak is None and len(ins) in (1, 2):
                (ovar,) = eqn.outputs
                for x in eqn.inputs:
                    if (
                        ovar.aval.shape
                        and type(x) is Var
                        and x in dying
                        and (slot[x] >= n_fixed or x in reusable)
                        and x.aval == ovar.aval
                        and x.weak is None
                    ):
                        reuse, fn = slot[x], ufunc
                        break
            steps.append(Step(fn, ins, outs, free, reuse, weak, multiple))
        self.steps = steps
        self.consts = consts
        self.num_inplace = sum(s.reuse is not None for s in steps)
        out_slots = [atom_slot(v) for v in program.outvars]
        # A weakly typed output (a Python scalar inside) leaves as a NumPy scalar of its dtype.
        out_types = [
            _weak_out(np.dtype(v.aval.dtype).type, xp) if v.weak is not None else None
            for v in program.outvars
        ]
        self.source, self._run = _generate(n_in, consts, steps, out_slots, out_types)

    def __call__(self, args: list[Any]) -> list[Any]:
        """Runs on ``args`` (one value per input). The list is taken over (emptied), so that a
        donated buffer has no other holder."""
        return self._run(args)


def _current_gpu(xp: Any) -> int | None:
    """The current CUDA device of a CuPy-like module (None for other modules)."""
    cuda = getattr(xp, "cuda", None)
    return None if cuda is None else cuda.Device().id


def _to_current_device(xp: Any, c: Any) -> Any:
    """A constant for a CuPy program: host data copied to the current GPU, a GPU array of
    another device copied over."""
    if isinstance(c, np.ndarray):
        return xp.asarray(c.view(np.ndarray))
    return c if c.device.id == xp.cuda.Device().id else c.copy()


def _weak_out(t: type, xp: Any):
    if xp is np:
        return t
    # CuPy values cannot become NumPy scalars implicitly; Python scalars can.
    return lambda v: t(v) if type(v) in (bool, int, float, complex) else v


def _generate(n_in: int, consts: list[Any], steps: list[Step], out_slots: list[int], out_types):
    """The straight-line function that runs ``steps``: its source and the function."""
    namespace: dict[str, Any] = {"ndarray": np.ndarray, "refcount": sys.getrefcount}
    for k, c in enumerate(consts):
        namespace[f"s{n_in + k}"] = c
    lines = ["def replay(args):"]
    if n_in:
        names = ", ".join(f"s{i}" for i in range(n_in))
        lines.append(f"    {names}, = args")
    lines.append("    args.clear()")
    for k, step in enumerate(steps):
        ins = [f"s{i}" for i in step.ins]
        outs = ", ".join(f"s{o}" for o in step.outs)
        f = f"f{k}"
        namespace[f] = step.fn
        op = _INFIX.get(step.fn)
        if op is not None and step.reuse is None:
            call = f"{ins[0]} {op} {ins[1]}"
        else:
            call = f"{f}({', '.join(ins)})"
        if step.reuse is not None:
            b = f"s{step.reuse}"
            # Held only by its local name and getrefcount's argument: nobody else has it.
            lines.append(
                f"    if {b}.__class__ is ndarray and {b}.base is None and "
                f"{b}.flags.writeable and refcount({b}) == 2:"
            )
            lines.append(f"        {outs} = {f}({', '.join(ins)}, out={b})")
            lines.append("    else:")
            lines.append(f"        {outs} = {call}")
        elif step.multiple:
            target = {0: "", 1: f"{outs}, = "}.get(len(step.outs), f"{outs} = ")
            lines.append(f"    {target}{call}")
        elif step.weak is not None:
            namespace[f"w{k}"] = step.weak
            lines.append(f"    {outs} = w{k}({call})")
        else:
            lines.append(f"    {outs} = {call}")
        if step.free:
            lines.append(f"    del {', '.join(f's{i}' for i in step.free)}")
    outs = []
    for k, (i, t) in enumerate(zip(out_slots, out_types)):
        if t is None:
            outs.append(f"s{i}")
        else:
            namespace[f"t{k}"] = t
            outs.append(f"t{k}(s{i})")
    lines.append(f"    return [{', '.join(outs)}]")
    source = "\n".join(lines) + "\n"
    # Constants are globals of the generated function: only const slots are read from there.
    exec(compile(source, "<funcgrad replay>", "exec"), namespace)
    return source, namespace["replay"]


_compiled: weakref.WeakKeyDictionary[Program, dict[tuple, Executable]] = weakref.WeakKeyDictionary()


def compile_program(program: Program, donated: tuple[bool, ...] = (), xp: Any = np) -> Executable:
    """The program optimised and compiled for replay on the array module ``xp`` (numpy, or
    cupy where impls run on the GPU), cached per program, donation and module (and, for CuPy,
    the current device, where its constants live: call it and run the result under the
    ``cupy.cuda.Device`` the inputs are on)."""
    per = _compiled.get(program)
    if per is None:
        per = _compiled[program] = {}
    key = (donated, xp.__name__) if xp is np else (donated, id(xp), _current_gpu(xp))
    exe = per.get(key)
    if exe is None:
        exe = per[key] = Executable(optimize(program), donated, xp)
    return exe


def run_program(program: Program, *args: Any, xp: Any = np) -> list[Any]:
    """Runs ``program`` on ``xp`` values with the replay interpreter."""
    return compile_program(program, xp=xp)(list(args))  # a fresh list: the run takes it over
