"""The per-thread trace stack, the Trace and Tracer base classes, and finding the top trace."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from funcgrad.core.array import ArrayBase


class Trace:
    """One level of the transform stack (the eval trace, implicit, is below all of them).

    A subclass implements ``process_primitive(prim, args, params)``: ``args`` mixes this trace's
    tracers with values of lower levels (Arrays, NumPy values, Python scalars, lower tracers),
    which the trace treats as constants. ``pure``/``lift`` box a value as one of this trace's
    tracers where a transform needs every input boxed (e.g. its own inputs).
    """

    __slots__ = ("level", "alive", "__weakref__")

    def __init__(self, level: int):
        self.level = level
        self.alive = True

    def pure(self, value: Any) -> Tracer:
        raise NotImplementedError

    def lift(self, tracer: Tracer) -> Tracer:
        return self.pure(tracer)

    def full_raise(self, value: Any) -> Tracer:
        if isinstance(value, Tracer):
            if value._trace is self:
                return value
            if value._trace.level > self.level:
                raise RuntimeError("internal: a tracer of a higher level reached a lower trace")
            return self.lift(value)
        return self.pure(value)

    def process_primitive(self, prim, args, params):
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}(level={self.level})"


class Tracer(ArrayBase):
    """A value seen by a transform: it knows its trace and its abstract value (shape, dtype)."""

    __slots__ = ("_trace",)
    __array_ufunc__ = None  # NumPy ufuncs must never run on a tracer; it defers to our methods

    @property
    def shape(self) -> tuple[int, ...]:
        raise NotImplementedError

    @property
    def dtype(self) -> np.dtype:
        raise NotImplementedError

    def concrete_value(self) -> Any:
        """The value behind the tracer where the transform knows it (grad, jvp), else an error."""
        raise TypeError(
            f"{type(self).__name__}: this value has no concrete value at trace time "
            f"(shape {self.shape}, dtype {self.dtype})"
        )

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.concrete_value(), dtype=dtype)

    def __bool__(self):
        return bool(self.concrete_value())

    def __int__(self):
        return int(self.concrete_value())

    def __float__(self):
        return float(self.concrete_value())

    def __complex__(self):
        return complex(self.concrete_value())

    def __index__(self):
        return self.concrete_value().__index__()

    def item(self, *args):
        return self.concrete_value().item(*args)

    def tolist(self):
        return self.concrete_value().tolist()

    def __iter__(self):
        if not self.shape:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(self.shape[0]))

    def __setitem__(self, idx, value):
        raise TypeError(
            "funcgrad arrays are immutable and do not support item assignment; "
            "use x = x.at[idx].set(value) for a functional update"
        )

    def __repr__(self):
        return f"{type(self).__name__}(shape={self.shape}, dtype={self.dtype})"


class _ThreadState(threading.local):
    def __init__(self):
        self.stack: list[Trace] = []


_state = _ThreadState()


class new_trace:
    """``with new_trace(TraceType) as trace:`` pushes a fresh trace one level above the current
    top, and pops it (marking it dead, so leaked tracers are caught) on exit."""

    __slots__ = ("trace",)

    def __init__(self, trace_type: type[Trace], *args: Any, **kwargs: Any):
        self.trace = trace_type(len(_state.stack) + 1, *args, **kwargs)

    def __enter__(self) -> Trace:
        _state.stack.append(self.trace)
        return self.trace

    def __exit__(self, *exc) -> None:
        trace = self.trace
        trace.alive = False
        popped = _state.stack.pop()
        assert popped is trace, "trace stack corrupted"


def current_level() -> int:
    return len(_state.stack)


def find_top_trace(args) -> Trace | None:
    top = None
    for a in args:
        if isinstance(a, Tracer):
            t = a._trace
            if top is None or t.level > top.level:
                top = t
    if top is not None and not top.alive:
        raise leaked_tracer_error(top)
    return top


def leaked_tracer_error(trace: Trace) -> Exception:
    describe = getattr(trace, "describe", None)
    if describe is not None:  # e.g. jit names the function the value escaped from
        what = describe()
        return RuntimeError(
            f"funcgrad: leaked tracer: a value traced inside {what} escaped it (stored in a "
            "global, a closure or an attribute) and was used after the function returned; it "
            "has no value outside the trace. Return it from the function instead."
        )
    return RuntimeError(
        f"funcgrad: a tracer of a finished transform ({trace!r}) was used after that transform "
        "returned. A value computed inside grad/vjp/jvp/vmap was stored outside the function "
        "(a global, a closure, an attribute); return it from the function instead."
    )
