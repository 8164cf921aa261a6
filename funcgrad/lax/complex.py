"""Complex-number primitives: real, imag, conj and complex (building z from x + iy).

Cotangents follow JAX's convention (the transpose of the real-linear map under the bilinear
pairing ``Re(sum(g * t))``): the vjp of ``real`` is ``g -> complex(g, 0)``, of ``imag`` is
``g -> complex(0, -g)``, of ``conj`` is ``g -> conj(g)``.
"""

from __future__ import annotations

import numpy as np

from funcgrad.core.array import Array
from funcgrad.core.primitive import Primitive, ShapedArray
from funcgrad.lax.elementwise import broadcast_like, neg, unbroadcast
from funcgrad.transforms.grad import defjvp, defvjp
from funcgrad.transforms.vmap import defbroadcasting


def _real_dtype(dtype) -> np.dtype:
    return np.empty((), dtype).real.dtype


def _complex_dtype(dtype) -> np.dtype:
    return np.result_type(dtype, np.complex64)


def _zeros(x, dtype=None):
    return Array(np.zeros(x.shape, dtype or x.dtype))


def _shape(x):
    return tuple(x.shape) if hasattr(x, "shape") else ()


def _dtype(x):
    return x.dtype if hasattr(x, "dtype") else np.result_type(x)


# --------------------------------------------------------------------------------------------
# real / imag


def _real_impl(xp, x):
    return xp.real(x)


def _imag_impl(xp, x):
    return xp.imag(x)


def _part_abstract_eval(x):
    return ShapedArray(x.shape, _real_dtype(x.dtype))


real_p = Primitive("real")
real_p.def_impl(_real_impl)
real_p.def_abstract_eval(_part_abstract_eval)
defjvp(real_p, lambda t, ans, x: real(t))
defvjp(real_p, lambda g, ans, x: complex(g, _zeros(g)) if x.dtype.kind == "c" else g)
defbroadcasting(real_p)

imag_p = Primitive("imag")
imag_p.def_impl(_imag_impl)
imag_p.def_abstract_eval(_part_abstract_eval)
defjvp(imag_p, lambda t, ans, x: imag(t))
defvjp(imag_p, lambda g, ans, x: complex(_zeros(g), neg(g)) if x.dtype.kind == "c" else None)
defbroadcasting(imag_p)


def real(x):
    """The real part of ``x`` (``x`` itself for real inputs)."""
    return real_p.bind(x) if _dtype(x).kind == "c" else x


def imag(x):
    """The imaginary part of ``x`` (zeros for real inputs)."""
    if _dtype(x).kind == "c":
        return imag_p.bind(x)
    return _zeros(ShapedArray(_shape(x), _dtype(x)))


# --------------------------------------------------------------------------------------------
# conj


def _conj_impl(xp, x):
    return xp.conj(x)


conj_p = Primitive("conj")
conj_p.def_impl(_conj_impl)
conj_p.def_abstract_eval(lambda x: ShapedArray(x.shape, x.dtype))
defjvp(conj_p, lambda t, ans, x: conj(t))
defvjp(conj_p, lambda g, ans, x: conj(g))
defbroadcasting(conj_p)


def conj(x):
    """The complex conjugate of ``x`` (``x`` itself for real inputs)."""
    return conj_p.bind(x) if _dtype(x).kind == "c" else x


# --------------------------------------------------------------------------------------------
# complex


def _complex_impl(xp, x, y):
    dtype = _complex_dtype(np.result_type(x, y))  # before asarray: Python scalars stay weak
    x, y = xp.asarray(x), xp.asarray(y)
    # Assigning the parts (not x + 1j * y) keeps infinities exact: inf * 1j would give nan.
    out = xp.empty(np.broadcast_shapes(x.shape, y.shape), dtype)
    out.real = x
    out.imag = y
    return out


def _complex_abstract_eval(x, y):
    for name, a in (("x", x), ("y", y)):
        if a.dtype.kind == "c":
            raise TypeError(f"complex: argument {name} must be real, got dtype {a.dtype}")
    try:
        shape = np.broadcast_shapes(x.shape, y.shape)
    except ValueError:
        raise ValueError(
            f"complex: the shapes of x {x.shape} and y {y.shape} do not broadcast"
        ) from None
    return ShapedArray(shape, _complex_dtype(np.result_type(x.dtype, y.dtype)))


complex_p = Primitive("complex")
complex_p.def_impl(_complex_impl)
complex_p.def_abstract_eval(_complex_abstract_eval)
defjvp(
    complex_p,
    lambda t, ans, x, y: broadcast_like(complex(t, _zeros(t)), ans),
    lambda t, ans, x, y: broadcast_like(complex(_zeros(t), t), ans),
)
defvjp(
    complex_p,
    lambda g, ans, x, y: unbroadcast(real(g), x),
    lambda g, ans, x, y: unbroadcast(neg(imag(g)), y),
)
defbroadcasting(complex_p)


def complex(x, y):  # noqa: A001 - lax's name
    """The complex array ``x + 1j * y`` from real ``x`` and ``y`` (broadcast together).

    Example:
      >>> lax.complex(1.0, fnp.asarray([2.0, -1.0]))
      Array([1.+2.j, 1.-1.j], dtype=complex64)
    """
    for name, a in (("x", x), ("y", y)):
        if _dtype(a).kind == "c":
            raise TypeError(
                f"complex: argument {name} must be real, got dtype {_dtype(a)}; take its real "
                "part (lax.real) or use x + 1j * y for complex parts"
            )
    return complex_p.bind(x, y)
