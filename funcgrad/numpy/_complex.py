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

    For real inputs it is 0 for ``z >= 0`` and pi for ``z < 0``, as in NumPy.
    """
    z = unary_operand(z)
    if z.dtype.kind in "biu":
        z = lax.convert_element_type(z, np.float64)
    re = lax.real(z)
    im = lax.imag(z)
    out = lax.atan2(im, re)
    return out * (180.0 / np.pi) if deg else out
