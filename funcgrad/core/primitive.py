"""Primitives, the core rule tables (impl, abstract_eval) and ``bind``, the one dispatch point."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from funcgrad.core import backend
from funcgrad.core.array import Array
from funcgrad.core.config import config
from funcgrad.core.trace import Tracer, leaked_tracer_error

# impl(xp, *values, **params) -> value (or a list of values for multiple_results primitives);
# ``xp`` is numpy or cupy, values are that module's arrays, NumPy scalars or Python scalars.
impl_rules: dict[Primitive, Callable[..., Any]] = {}

# abstract_eval(*avals, **params) -> ShapedArray (or a list): shapes and dtypes only.
abstract_eval_rules: dict[Primitive, Callable[..., Any]] = {}

all_primitives: list[Primitive] = []


class ShapedArray(NamedTuple):
    """An abstract value: what jit and shape checking know about an array."""

    shape: tuple[int, ...]
    dtype: np.dtype

    @property
    def ndim(self) -> int:
        return len(self.shape)


class Primitive:
    """An operation with one rule per transform, registered in the transforms' tables.

    ``bind(*args, **params)`` applies it: array data positional, static parameters keyword (and
    hashable). A primitive with ``multiple_results`` returns a list; others return one value.
    """

    __slots__ = ("name", "multiple_results", "impl", "__weakref__")

    def __init__(self, name: str, multiple_results: bool = False):
        self.name = name
        self.multiple_results = multiple_results
        self.impl = None
        all_primitives.append(self)

    def __repr__(self) -> str:
        return self.name

    def def_impl(self, impl: Callable[..., Any]) -> Callable[..., Any]:
        impl_rules[self] = impl
        self.impl = impl
        return impl

    def def_abstract_eval(self, rule: Callable[..., Any]) -> Callable[..., Any]:
        abstract_eval_rules[self] = rule
        return rule

    def bind(self, *args: Any, **params: Any) -> Any:
        top = None
        for a in args:
            if isinstance(a, Tracer):
                t = a._trace
                if top is None or t.level > top.level:
                    top = t
        if top is None:
            return eval_primitive(self, args, params)
        if not top.alive:
            raise leaked_tracer_error(top)
        return top.process_primitive(self, args, params)


def eval_primitive(prim: Primitive, args, params) -> Any:
    """Runs a primitive on concrete values: unwrap Arrays, call ``impl`` with xp, wrap results."""
    # The hot path of eager execution and of every backward pass. The common case (NumPy, one
    # result, no NaN checks) makes exactly one impl call and one wrapper object.
    if prim.multiple_results or _backend_state.gpu or config._any_debug_nans:
        return _eval_general(prim, args, params)
    try:
        if len(args) == 2:
            a, b = args
            a = a._value if type(a) is Array else a
            b = b._value if type(b) is Array else b
            out = prim.impl(np, a, b, **params) if params else prim.impl(np, a, b)
        elif len(args) == 1:
            a = args[0]
            a = a._value if type(a) is Array else a
            out = prim.impl(np, a, **params) if params else prim.impl(np, a)
        else:
            out = prim.impl(np, *[a._value if type(a) is Array else a for a in args], **params)
    except (ValueError, TypeError, IndexError) as e:
        raise _describe(prim, args, params, e) from e
    a = _new_array(Array)
    a._value = out
    return a


def _eval_general(prim: Primitive, args, params) -> Any:
    vals = [a._value if type(a) is Array else a for a in args]
    gpu = None
    if _backend_state.gpu:  # CuPy operands: run on their GPU, host operands copied there
        xp, vals, gpu = backend.place(prim.name, vals)
    else:
        xp = np
    try:
        if gpu is None:
            out = prim.impl(xp, *vals, **params)
        elif gpu == "commit":
            out = prim.impl(xp, *vals, **params)
            out = backend.recommit(prim.name, vals, out, prim.multiple_results)
        else:
            with xp.cuda.Device(gpu):
                out = prim.impl(xp, *vals, **params)
                out = [_on_gpu(xp, o) for o in out] if prim.multiple_results else _on_gpu(xp, out)
    except (ValueError, TypeError, IndexError) as e:
        raise _describe(prim, args, params, e) from e
    if config._any_debug_nans and config.debug_nans:
        if isinstance(gpu, int):
            with xp.cuda.Device(gpu):
                _check_nans(prim, out)
        else:
            _check_nans(prim, out)
    if prim.multiple_results:
        return [_wrap(o) for o in out]
    return _wrap(out)


_backend_state = backend.state


def _on_gpu(xp, value: Any) -> Any:
    # An impl may hand back a NumPy value (a host-side shortcut): results stay on the GPU.
    return xp.asarray(value) if isinstance(value, (np.ndarray, np.generic)) else value


def _wrap(value: Any) -> Array:
    a = _new_array(Array)
    a._value = value
    return a


_new_array = Array.__new__


def _describe(prim, args, params, err: Exception) -> Exception:
    if str(err).startswith(f"{prim.name}:"):
        return err  # already a funcgrad message
    shapes = ", ".join(_shape_str(a) for a in args)
    ps = ", ".join(f"{k}={v!r}" for k, v in params.items())
    msg = f"{prim.name}: cannot apply to operands of shapes/dtypes ({shapes})"
    if ps:
        msg += f" with {ps}"
    msg += f": {err}"
    return type(err)(msg)


def _shape_str(x: Any) -> str:
    shape = getattr(x, "shape", None)
    if shape is None:
        return f"{type(x).__name__} {x!r}"
    return f"{getattr(x, 'dtype', '?')}{list(shape)}"


def _check_nans(prim: Primitive, out: Any) -> None:
    outs = out if prim.multiple_results else [out]
    for o in outs:
        dt = getattr(o, "dtype", None)
        if dt is not None and dt.kind in "fc" and bool(np.isnan(o).any()):
            raise FloatingPointError(
                f"debug_nans: primitive '{prim.name}' produced a NaN "
                f"(output shape {tuple(np.shape(o))}, dtype {dt})"
            )


def shaped_array(x: Any) -> ShapedArray:
    """The abstract value of an Array, tracer, NumPy value or Python scalar."""
    shape = getattr(x, "shape", None)
    if shape is not None:
        return ShapedArray(tuple(shape), x.dtype)
    return ShapedArray((), np.result_type(x))
