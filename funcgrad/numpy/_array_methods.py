"""Operators and NumPy-named methods, installed on fg.Array and every tracer (ArrayBase)."""

from __future__ import annotations

import numpy as np

from funcgrad import lax
from funcgrad.core.array import Array, ArrayBase
from funcgrad.core.primitive import eval_primitive
from funcgrad.lax import elementwise as ew
from funcgrad.numpy import _math, _reductions, _shape
from funcgrad.numpy._core import _to_array

_SCALARS = (int, float, bool, complex)


def _other(x):
    """The other operand of an operator, or None when the operator should not handle it."""
    if isinstance(x, ArrayBase) or type(x) in _SCALARS:
        return x
    if isinstance(x, (np.ndarray, np.generic, list, tuple)):
        return _to_array(x, None, False)  # host data follows ``self`` to its device
    return None


def _binop(prim, reflected=False):
    bind = prim.bind

    if reflected:

        def op(self, other):
            other = _other(other)
            if other is None:
                return NotImplemented
            return bind(other, self)

    else:

        def op(self, other):
            if type(other) is not float and not isinstance(other, ArrayBase):
                other = _other(other)
                if other is None:
                    return NotImplemented
            return bind(self, other)

    return op


def _concrete_binop(prim, reflected=False):
    """Array's own operator: with a Python float or another Array there is no tracer to find,
    so it evaluates directly (this is most of a backward pass's arithmetic)."""
    traced = _binop(prim, reflected)
    impl_eval = eval_primitive

    if reflected:

        def op(self, other):
            if type(other) in _FAST_OTHER:
                return impl_eval(prim, (other, self), _NO_PARAMS)
            return traced(self, other)

    else:

        def op(self, other):
            if type(other) in _FAST_OTHER:
                return impl_eval(prim, (self, other), _NO_PARAMS)
            return traced(self, other)

    return op


_NO_PARAMS: dict = {}
_FAST_OTHER = frozenset({float, int, Array})


def _matmul(self, other):
    from funcgrad.numpy._linalg import matmul

    return matmul(self, other)


def _rmatmul(self, other):
    from funcgrad.numpy._linalg import matmul

    return matmul(other, self)


def _getitem(self, idx):
    from funcgrad.numpy._indexing import getitem

    return getitem(self, idx)


def _at(self):
    from funcgrad.numpy._indexing import _IndexUpdateHelper

    return _IndexUpdateHelper(self)


def _astype(self, dtype, order="K", casting="unsafe", subok=True, copy=True):
    return lax.convert_element_type(self, np.dtype(dtype))


def _fill(self, value):
    raise TypeError(
        "x.fill: funcgrad arrays are immutable; use x = fnp.full_like(x, value) instead"
    )


def _reshape(self, *shape, order="C"):
    if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
        shape = shape[0]
    return _shape.reshape(self, shape, order)


def _transpose(self, *axes):
    if len(axes) == 1 and not isinstance(axes[0], (int, np.integer)):
        axes = axes[0]
    return _shape.transpose(self, axes or None)


def _conj(self):
    from funcgrad.numpy._complex import conj

    return conj(self)


def _real(self):
    from funcgrad.numpy._complex import real

    return real(self)


def _imag(self):
    from funcgrad.numpy._complex import imag

    return imag(self)


def _dot(self, b, out=None):
    from funcgrad.numpy._core import no_out
    from funcgrad.numpy._linalg import dot

    no_out("dot", out)
    return dot(self, b)


_METHODS = {
    "__add__": _binop(ew.add_p),
    "__radd__": _binop(ew.add_p, True),
    "__sub__": _binop(ew.sub_p),
    "__rsub__": _binop(ew.sub_p, True),
    "__mul__": _binop(ew.mul_p),
    "__rmul__": _binop(ew.mul_p, True),
    "__truediv__": _binop(ew.div_p),
    "__rtruediv__": _binop(ew.div_p, True),
    "__floordiv__": lambda self, other: _math.floor_divide(self, other),
    "__rfloordiv__": lambda self, other: _math.floor_divide(other, self),
    "__mod__": lambda self, other: _math.mod(self, other),
    "__rmod__": lambda self, other: _math.mod(other, self),
    "__divmod__": lambda self, other: (_math.floor_divide(self, other), _math.mod(self, other)),
    "__pow__": lambda self, other: _pow(self, other),
    "__rpow__": lambda self, other: _math.power(other, self),
    "__matmul__": _matmul,
    "__rmatmul__": _rmatmul,
    "__neg__": lambda self: ew.neg_p.bind(self),
    "__pos__": lambda self: self,
    "__abs__": lambda self: ew.abs_p.bind(self),
    "__invert__": lambda self: _math.invert(self),
    "__eq__": _binop(ew.eq_p),
    "__ne__": _binop(ew.ne_p),
    "__lt__": _binop(ew.lt_p),
    "__le__": _binop(ew.le_p),
    "__gt__": _binop(ew.gt_p),
    "__ge__": _binop(ew.ge_p),
    "__and__": _binop(ew.and_p),
    "__rand__": _binop(ew.and_p, True),
    "__or__": _binop(ew.or_p),
    "__ror__": _binop(ew.or_p, True),
    "__xor__": _binop(ew.xor_p),
    "__rxor__": _binop(ew.xor_p, True),
    "__lshift__": _binop(ew.shift_left_p),
    "__rshift__": _binop(ew.shift_right_p),
    "__getitem__": _getitem,
    "at": property(_at),
    "T": property(lambda self: _shape.transpose(self)),
    "mT": property(lambda self: _shape.matrix_transpose(self)),
    "real": property(_real),
    "imag": property(_imag),
    "astype": _astype,
    "reshape": _reshape,
    "transpose": _transpose,
    "ravel": lambda self, order="C": _shape.ravel(self),
    "flatten": lambda self, order="C": _shape.ravel(self),
    "squeeze": lambda self, axis=None: _shape.squeeze(self, axis),
    "swapaxes": lambda self, a1, a2: _shape.swapaxes(self, a1, a2),
    "repeat": lambda self, repeats, axis=None: _shape.repeat(self, repeats, axis),
    "sum": lambda self, axis=None, dtype=None, out=None, keepdims=False, **kw: _reductions.sum(
        self, axis, dtype, out, keepdims, **kw
    ),
    "mean": lambda self, axis=None, dtype=None, out=None, keepdims=False, **kw: _reductions.mean(
        self, axis, dtype, out, keepdims, **kw
    ),
    "prod": lambda self, axis=None, dtype=None, out=None, keepdims=False, **kw: _reductions.prod(
        self, axis, dtype, out, keepdims, **kw
    ),
    "max": lambda self, axis=None, out=None, keepdims=False, **kw: _reductions.max(
        self, axis, out, keepdims, **kw
    ),
    "min": lambda self, axis=None, out=None, keepdims=False, **kw: _reductions.min(
        self, axis, out, keepdims, **kw
    ),
    "var": lambda self, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **kw: (
        _reductions.var(self, axis, dtype, out, ddof, keepdims, **kw)
    ),
    "std": lambda self, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **kw: (
        _reductions.std(self, axis, dtype, out, ddof, keepdims, **kw)
    ),
    "argmax": lambda self, axis=None, out=None, keepdims=False: _reductions.argmax(
        self, axis, out, keepdims
    ),
    "argmin": lambda self, axis=None, out=None, keepdims=False: _reductions.argmin(
        self, axis, out, keepdims
    ),
    "all": lambda self, axis=None, out=None, keepdims=False, *, where=None: _reductions.all(
        self, axis, out, keepdims, where=where
    ),
    "any": lambda self, axis=None, out=None, keepdims=False, *, where=None: _reductions.any(
        self, axis, out, keepdims, where=where
    ),
    "copy": lambda self, order="C": self,  # immutable: a copy is never needed
    "fill": _fill,
    "itemsize": property(lambda self: np.dtype(self.dtype).itemsize),
    "nbytes": property(lambda self: self.size * np.dtype(self.dtype).itemsize),
    "cumsum": lambda self, axis=None, dtype=None, out=None: _reductions.cumsum(
        self, axis, dtype, out
    ),
    "cumprod": lambda self, axis=None, dtype=None, out=None: _reductions.cumprod(
        self, axis, dtype, out
    ),
    "clip": lambda self, min=None, max=None, out=None: _math.clip(self, min, max, out),
    "round": lambda self, decimals=0, out=None: _math.round(self, decimals, out),
    "conj": _conj,
    "conjugate": _conj,
    "dot": _dot,
    "sort": lambda self, axis=-1: _sorting().sort(self, axis),
    "argsort": lambda self, axis=-1: _sorting().argsort(self, axis),
    "searchsorted": lambda self, v, side="left", sorter=None: _sorting().searchsorted(
        self, v, side, sorter
    ),
    "take": lambda self, indices, axis=None, mode=None: _indexing().take(
        self, indices, axis, mode=mode
    ),
    "nonzero": lambda self: _indexing().nonzero(self),
    "diagonal": lambda self, offset=0, axis1=0, axis2=1: _indexing().diagonal(
        self, offset, axis1, axis2
    ),
    "trace": lambda self, offset=0, axis1=0, axis2=1: _linalg().trace(self, offset, axis1, axis2),
}


def _sorting():
    from funcgrad.numpy import _sorting

    return _sorting


def _indexing():
    from funcgrad.numpy import _indexing

    return _indexing


def _linalg():
    from funcgrad.numpy import _linalg

    return _linalg


def _pow(self, other):
    # x ** 2 (a static Python int) uses integer_pow: exact and cheap, with derivative 2x.
    if type(other) is int:
        return lax.integer_pow(self, other)
    return _math.power(self, other)


_ARRAY_FAST = {
    "__add__": _concrete_binop(ew.add_p),
    "__radd__": _concrete_binop(ew.add_p, True),
    "__sub__": _concrete_binop(ew.sub_p),
    "__rsub__": _concrete_binop(ew.sub_p, True),
    "__mul__": _concrete_binop(ew.mul_p),
    "__rmul__": _concrete_binop(ew.mul_p, True),
    "__truediv__": _concrete_binop(ew.div_p),
    "__rtruediv__": _concrete_binop(ew.div_p, True),
    "__neg__": lambda self: eval_primitive(ew.neg_p, (self,), _NO_PARAMS),
}


def install() -> None:
    for name, fn in _METHODS.items():
        setattr(ArrayBase, name, fn)
    for name, fn in _ARRAY_FAST.items():
        setattr(Array, name, fn)
    # Array defines its own eager versions of a few methods (item, tolist, __setitem__).
    assert not hasattr(Array, "__dict__") or "sum" not in Array.__dict__
