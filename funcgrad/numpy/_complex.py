"""Complex-number functions: real, imag, conj/conjugate, angle (composed from lax.complex)."""

from __future__ import annotations

import numpy as np

from funcgrad import lax
from funcgrad.numpy._core import unary_operand


def real(val, /):
    """The real part (``val`` itself for real inputs). Example: ``fnp.real(z)``."""
    return lax.real(unary_operand(val))


def imag(val, /):
    """The imaginary part (zeros of ``val``'s dtype for real inputs)."""
    return lax.imag(unary_operand(val))


def conj(x, /, out=None):
    """The complex conjugate, elementwise (``x`` itself for real inputs)."""
    if out is not None:
        raise TypeError("fnp.conj: out= is not supported; funcgrad arrays are immutable")
    return lax.conj(unary_operand(x))


conjugate = conj


def angle(z, deg: bool = False):
    """The counterclockwise angle from the positive real axis, in radians (degrees if ``deg``).

    For real inputs it is 0 for ``z >= 0`` and pi for ``z < 0``, as in NumPy. Its gradient for
    complex ``z = x + iy`` follows JAX's convention (``d/dx - i d/dy``):
    ``(-y - ix) / |z|**2``.

    Example:
      >>> fnp.angle(fnp.asarray([1j, -1.0]))
      Array([1.5707964, 3.1415927], dtype=float32)
    """
    z = unary_operand(z)
    if z.dtype.kind in "biu":  # as NumPy's arctan2 loops: int8 -> float16, int32 -> float64
        z = lax.convert_element_type(z, np.arctan2(np.zeros((), z.dtype), 0).dtype)
    re = lax.real(z)
    im = lax.imag(z)
    out = lax.atan2(im, re)
    return out * (180.0 / np.pi) if deg else out


def iscomplexobj(x) -> bool:
    """True if ``x`` has a complex dtype (whatever its values). Example: ``fnp.iscomplexobj(z)``."""
    dtype = getattr(x, "dtype", None)
    return (np.asarray(x).dtype if dtype is None else np.dtype(dtype)).kind == "c"


def isrealobj(x) -> bool:
    """True if ``x`` does not have a complex dtype."""
    return not iscomplexobj(x)


def iscomplex(x, /):
    """True where the imaginary part is non-zero (False everywhere for real dtypes)."""
    x = unary_operand(x)
    return lax.ne(lax.imag(x), 0)


def isreal(x, /):
    """True where the imaginary part is zero (True everywhere for real dtypes)."""
    x = unary_operand(x)
    return lax.eq(lax.imag(x), 0)
