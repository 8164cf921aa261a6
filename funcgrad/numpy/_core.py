"""Conversion of NumPy-style inputs (lists, scalars, NumPy arrays) and array creation."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from funcgrad import lax
from funcgrad.core import backend
from funcgrad.core.array import Array, ArrayBase
from funcgrad.core.dtypes import default_float
from funcgrad.core.trace import Tracer

ndarray = ArrayBase  # isinstance(x, fnp.ndarray) holds for Arrays and tracers alike


def _np_default(value: Any, dtype=None) -> np.ndarray:
    """A NumPy array from Python data; Python floats become the default float dtype."""
    arr = np.array(value, dtype=dtype)
    if dtype is None and arr.dtype == np.float64 and not _has_float64(value):
        arr = arr.astype(default_float())
    if dtype is None and arr.dtype == np.complex128 and not _has_float64(value):
        arr = arr.astype(np.complex64 if default_float() == np.float32 else np.complex128)
    return arr


def _has_float64(value: Any) -> bool:
    if isinstance(value, (np.ndarray, np.generic)):
        return value.dtype in (np.float64, np.complex128)
    if isinstance(value, (list, tuple)):
        return any(_has_float64(v) for v in value)
    return False


def _contains_traced(value: Any) -> bool:
    if isinstance(value, ArrayBase):
        return True
    if isinstance(value, (list, tuple)):
        return any(_contains_traced(v) for v in value)
    return False


_INTERNAL = frozenset({"operand", "unary_operand", "asarray_checked"})


def public_caller(default: str = "asarray") -> str:
    """The name of the public ``fnp`` function the user called (for error messages): the
    outermost ``funcgrad.numpy`` frame on the stack before the user's code."""
    frame = sys._getframe(1)
    name = default
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if not module.startswith("funcgrad"):
            break
        code = frame.f_code
        fn = code.co_name
        if "name" in code.co_freevars:  # a function made by a factory (_unary("sin", ...))
            fn = frame.f_locals.get("name", fn)
        if module.startswith("funcgrad.numpy") and fn[0] not in "_<" and fn not in _INTERNAL:
            name = ("linalg." if module == "funcgrad.numpy.linalg" else "") + fn
        frame = frame.f_back
    return name


def _element_shapes(value) -> list:
    shapes = []
    for v in value:
        try:
            shapes.append(tuple(v.shape) if isinstance(v, ArrayBase) else np.shape(v))
        except ValueError:
            shapes.append("ragged")
    return shapes


def _ragged_error(value, who: str) -> ValueError:
    return ValueError(
        f"fnp.{who}: cannot make an array from a {type(value).__name__} whose elements have "
        f"different shapes {_element_shapes(value)}; give elements of one shape (pad or reshape "
        "them), or use fnp.concatenate for arrays that differ along one axis"
    )


_WEAK_OF_KIND = {"b": False, "i": 0, "u": 0, "f": 0.0, "c": 0j}


def _stack_traced(value) -> Any:
    """An array from a list/tuple holding traced values. Python scalars in it are weakly typed
    (``[x_f32, 1.0]`` stays float32), NumPy values keep their dtype."""
    elems, shapes, kinds = [], [], []
    for v in value:
        if isinstance(v, (list, tuple)) and _contains_traced(v):
            v = _stack_traced(v)
        if isinstance(v, ArrayBase):
            elems.append(v)
            shapes.append(tuple(v.shape))
            kinds.append(v.dtype)
            continue
        try:
            raw = np.asarray(v)
        except ValueError:
            raise _ragged_error(value, public_caller()) from None
        if raw.dtype == object:
            raise TypeError(
                f"fnp.{public_caller()}: cannot convert {v!r} (in a list) to a numeric array"
            )
        elems.append(raw)
        shapes.append(raw.shape)
        weak = type(v) in (int, float, bool, complex) or (
            isinstance(v, (list, tuple)) and not _has_numpy(v)
        )
        kinds.append(_WEAK_OF_KIND.get(raw.dtype.kind, raw.dtype) if weak else raw.dtype)
    if any(s != shapes[0] for s in shapes):
        raise _ragged_error(value, public_caller())
    dtype = np.result_type(*kinds)
    parts = [
        lax.expand_dims(lax.convert_element_type(e, dtype), (0,))
        if isinstance(e, ArrayBase)
        else Array(np.asarray(e, dtype)[None])
        for e in elems
    ]
    return lax.concatenate(parts, 0)


def _has_numpy(value: Any) -> bool:
    if isinstance(value, (np.ndarray, np.generic)):
        return True
    if isinstance(value, (list, tuple)):
        return any(_has_numpy(v) for v in value)
    return False


def asarray(a: Any, dtype=None, order=None, *, copy: bool | None = None, device=None) -> Any:
    """Converts ``a`` to a funcgrad array (NumPy's ``asarray``); Arrays and tracers pass through.

    Python floats become float32 (``fg.config.default_float_dtype``); NumPy inputs keep their
    dtype and are copied, so later writes to them do not change the Array. Lists and tuples may
    hold arrays being differentiated (``fnp.asarray([x, 1.0])`` under ``fg.grad``); Python
    scalars among them take the arrays' dtype, as in JAX.

    Host data lands on the default device (the first GPU where ``fg.default_backend()`` is
    ``"gpu"``), or on ``device`` when given (``fg.device_put``).

    Example:
      >>> fnp.asarray([1.0, 2.0]).dtype
      dtype('float32')
    """
    out = _to_array(a, dtype, True)
    if device is not None:
        from funcgrad.core.array import device_put

        out = device_put(out, device)
    return out


def _to_array(a: Any, dtype, place: bool) -> Any:
    """``asarray``; host data is placed on the default device if ``place``, else it stays an
    uncommitted host Array (which follows the other operands of an operation to their GPU)."""
    new = _placed if place else _host
    if isinstance(a, ArrayBase):
        return a if dtype is None else lax.convert_element_type(a, dtype)
    if isinstance(a, (list, tuple)) and _contains_traced(a):
        out = _stack_traced(a)
        return out if dtype is None else lax.convert_element_type(out, dtype)
    if hasattr(a, "__array__") and not isinstance(a, (np.ndarray, np.generic)):
        if backend.xp_of(a) is not np:  # a CuPy array: copied on its own GPU
            backend.state.gpu = True
            with backend.gpu_context(a.device.id):
                return Array(a.astype(dtype) if dtype is not None else a.copy())
        a = np.asarray(a)
    if isinstance(a, (np.ndarray, np.generic)):
        return new(np.array(a, dtype=dtype, copy=True))
    try:
        v = _np_default(a, dtype)
    except ValueError as e:
        if isinstance(a, (list, tuple)) and "inhomogeneous" in str(e):
            raise _ragged_error(a, public_caller()) from None
        raise TypeError(f"fnp.{public_caller()}: cannot convert {type(a).__name__}: {e}") from e
    except TypeError as e:
        raise TypeError(
            f"fnp.{public_caller()}: cannot convert {type(a).__name__} to an array: {e}"
        ) from e
    if v.dtype == object:
        raise TypeError(f"fnp.{public_caller()}: cannot convert {a!r} to a numeric array")
    return new(v)


def _placed(v: np.ndarray) -> Array:
    """An Array of fresh host data, on the default device (``fg.default_backend()``)."""
    return Array(backend.on_default_device(v if v.ndim else v[()]))


def _host(v: np.ndarray) -> Array:
    return Array(v if v.ndim else v[()])


def array(object: Any, dtype=None, *, copy: bool = True, order="K", ndmin: int = 0) -> Any:  # noqa: A002
    """Creates an array (NumPy's ``array``); same conversions as ``asarray``.

    Example:
      >>> fg.grad(lambda x: fnp.array([x, 2.0 * x]).sum())(1.0)
      Array(3., dtype=float32)
    """
    out = asarray(object, dtype)
    if ndmin > len(out.shape):
        out = lax.reshape(out, (1,) * (ndmin - len(out.shape)) + tuple(out.shape))
    return out


def no_out(who: str, out: Any) -> None:
    """Raises NumPy's ``out=`` users a clear error: funcgrad arrays are never written."""
    if out is not None:
        raise TypeError(
            f"fnp.{who}: out= is not supported because funcgrad arrays are immutable; "
            f"use the returned value instead (y = fnp.{who}(...))"
        )


def operand(x: Any) -> Any:
    """An operand for a lax call: arrays/tracers and Python scalars pass through (scalars stay
    weakly typed); everything else goes through ``asarray``, staying on the host: a NumPy
    operand follows the other operands to their device (JAX's uncommitted data)."""
    if isinstance(x, ArrayBase) or type(x) in (int, float, bool, complex):
        return x
    return _to_array(x, None, False)


def unary_operand(x: Any) -> Any:
    """Like ``operand``, but a lone Python scalar becomes an array of the default dtype."""
    if isinstance(x, ArrayBase):
        return x
    return asarray(x)


def _dtype_or_default(dtype):
    return default_float() if dtype is None else np.dtype(dtype)


def zeros(shape, dtype=None) -> Array:
    """An array of zeros (float32 by default). Example: ``fnp.zeros((2, 3))``."""
    return _placed(np.zeros(_shape_arg(shape), _dtype_or_default(dtype)))


def ones(shape, dtype=None) -> Array:
    """An array of ones (float32 by default). Example: ``fnp.ones(3)``."""
    return _placed(np.ones(_shape_arg(shape), _dtype_or_default(dtype)))


def full(shape, fill_value, dtype=None) -> Any:
    """An array filled with ``fill_value`` (differentiable in ``fill_value``).

    Example: ``fnp.full((2,), 7.0)``.
    """
    shape = _shape_arg(shape)
    if isinstance(fill_value, ArrayBase):
        v = fill_value if dtype is None else lax.convert_element_type(fill_value, dtype)
        return lax.broadcast_to(v, shape)
    if dtype is None:
        dtype = np.asarray(fill_value).dtype
        if dtype == np.float64 and type(fill_value) is float:
            dtype = default_float()
    return _placed(np.full(shape, fill_value, dtype))


def empty(shape, dtype=None) -> Array:
    """Same as ``zeros``: funcgrad arrays are immutable, so no uninitialised memory is exposed."""
    return zeros(shape, dtype)


def _like(a, v: np.ndarray) -> Array:
    """``v`` on ``a``'s GPU when ``a`` is a GPU Array, else on the default device."""
    value = a._value if type(a) is Array else a
    if type(value) is backend.Sharded:  # a pmap output sharded over GPUs: on the first one
        return Array(backend.to_gpu(v, value.devices[0].id))
    if backend.xp_of(value) is not np:
        return Array(backend.to_gpu(v, value.device.id))
    return _placed(v)


def _like_dtype(a, dtype):
    return np.dtype(dtype) if dtype is not None else asarray(a).dtype


def zeros_like(a, dtype=None, shape=None) -> Array:
    """Zeros with the shape and dtype of ``a``."""
    return _like(a, np.zeros(_shape_of(a) if shape is None else shape, _like_dtype(a, dtype)))


def ones_like(a, dtype=None, shape=None) -> Array:
    """Ones with the shape and dtype of ``a``."""
    return _like(a, np.ones(_shape_of(a) if shape is None else shape, _like_dtype(a, dtype)))


def full_like(a, fill_value, dtype=None, shape=None) -> Any:
    """``fill_value`` with the shape and dtype of ``a``."""
    shape = _shape_of(a) if shape is None else shape
    return full(shape, fill_value, _like_dtype(a, dtype))


def empty_like(a, dtype=None, shape=None) -> Array:
    """Same as ``zeros_like``."""
    return zeros_like(a, dtype, shape)


def arange(start, stop=None, step=1, dtype=None) -> Array:
    """Evenly spaced values in ``[start, stop)`` (NumPy's ``arange``; floats default to float32)."""
    if stop is None:
        start, stop = 0, start
    start, stop, step = (_concrete(v, "arange") for v in (start, stop, step))
    v = np.arange(start, stop, step, dtype=dtype)
    if dtype is None and v.dtype == np.float64:
        v = v.astype(default_float())
    return _placed(v)


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    """``num`` evenly spaced values from ``start`` to ``stop`` (differentiable in both)."""
    if isinstance(start, ArrayBase) or isinstance(stop, ArrayBase):
        from funcgrad.numpy._shape import moveaxis

        start, stop = asarray(start), asarray(stop)
        div = (num - 1) if endpoint else num
        steps = np.arange(num, dtype=np.result_type(start.dtype, stop.dtype)) / max(div, 1)
        shape = np.broadcast_shapes(start.shape, stop.shape)
        steps = steps.reshape((num,) + (1,) * len(shape))
        out = start + (stop - start) * Array(steps)
        out = moveaxis(out, 0, axis)
        return (out, (stop - start) / max(div, 1)) if retstep else out
    v, step = np.linspace(start, stop, num, endpoint=endpoint, retstep=True, axis=axis)
    if dtype is not None:
        v = v.astype(dtype)
    elif v.dtype == np.float64 and not _has_float64(start) and not _has_float64(stop):
        v = v.astype(default_float())
    return (_placed(v), step) if retstep else _placed(v)


def eye(N, M=None, k=0, dtype=None) -> Array:
    """A 2-d array with ones on the ``k``-th diagonal."""
    return _placed(np.eye(N, M, k, dtype=_dtype_or_default(dtype)))


def identity(n, dtype=None) -> Array:
    """The ``n`` x ``n`` identity matrix."""
    return eye(n, dtype=dtype)


def _shape_arg(shape) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(int(_concrete(d, "shape")) for d in shape)


def _shape_of(a) -> tuple[int, ...]:
    return tuple(a.shape) if hasattr(a, "shape") else np.shape(a)


def _concrete(v, who):
    if isinstance(v, Tracer):
        v = v.concrete_value()
    if isinstance(v, Array):
        v = backend.gather(v._value)
    return v.item() if isinstance(v, (np.ndarray, np.generic)) else v


# --------------------------------------------------------------------------------------------
# Scalar types: ``fnp.float32`` is a dtype everywhere NumPy takes one, and a converter that also
# works on funcgrad arrays and tracers (JAX's ``_ScalarMeta``).


class _ScalarMeta(type):
    """The type of ``fnp.float32`` and friends.

    ``np.dtype(fnp.float32)`` reads the ``dtype`` attribute; calling one converts like NumPy's
    scalar type on plain values (``fnp.float32(1.5)`` is ``np.float32(1.5)``) and like
    ``.astype`` on funcgrad arrays and tracers, so ``fnp.float32(x)`` works under every transform.
    """

    dtype: np.dtype

    def __hash__(cls) -> int:
        return hash(cls.dtype.type)

    def __eq__(cls, other) -> bool:
        return cls is other or cls.dtype.type == other

    def __ne__(cls, other) -> bool:
        return not cls == other

    def __instancecheck__(cls, instance) -> bool:
        return isinstance(instance, cls.dtype.type)

    def __call__(cls, x=0, /):
        if isinstance(x, ArrayBase) or (isinstance(x, (list, tuple)) and _contains_traced(x)):
            return asarray(x, cls.dtype)
        return cls.dtype.type(x)

    def __repr__(cls) -> str:
        return f"<class 'funcgrad.numpy.{cls.__name__}'>"


def _scalar_type(np_type: type, name: str | None = None) -> _ScalarMeta:
    name = name or np_type.__name__
    return _ScalarMeta(
        name,
        (object,),
        {
            "dtype": np.dtype(np_type),
            "__module__": "funcgrad.numpy",
            "__doc__": f"NumPy's ``{name}`` as a dtype; calling it converts plain values as NumPy "
            f"does and funcgrad arrays like ``x.astype({name})``.",
        },
    )


bool_ = _scalar_type(np.bool_, "bool_")
int8 = _scalar_type(np.int8)
int16 = _scalar_type(np.int16)
int32 = _scalar_type(np.int32)
int64 = _scalar_type(np.int64)
uint8 = _scalar_type(np.uint8)
uint16 = _scalar_type(np.uint16)
uint32 = _scalar_type(np.uint32)
uint64 = _scalar_type(np.uint64)
float16 = _scalar_type(np.float16)
float32 = _scalar_type(np.float32)
float64 = _scalar_type(np.float64)
complex64 = _scalar_type(np.complex64)
complex128 = _scalar_type(np.complex128)
int_ = _scalar_type(np.int_, "int_")
intp = _scalar_type(np.intp, "intp")
uint = _scalar_type(np.uint, "uint")
half = _scalar_type(np.half, "half")
single = _scalar_type(np.single, "single")
double = _scalar_type(np.double, "double")
csingle = _scalar_type(np.csingle, "csingle")
cdouble = _scalar_type(np.cdouble, "cdouble")
