"""The fast Fourier transform primitive ``fft_p`` (JAX's ``lax.fft``): FFT, IFFT, RFFT, IRFFT.

One primitive transforms the trailing ``len(fft_lengths)`` axes of its operand; the impl is
``xp.fft`` (NumPy's pocketfft, or cuFFT through CuPy). Every type is linear, so the jvp applies
the same transform to the tangent and the vjp applies its transpose (JAX's rules).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any

import numpy as np

from funcgrad.core.array import Array
from funcgrad.core.primitive import Primitive, ShapedArray, shaped_array
from funcgrad.lax.complex import complex as _complex
from funcgrad.lax.complex import conj, real
from funcgrad.lax.elementwise import convert_element_type
from funcgrad.lax.shape import pad
from funcgrad.transforms.grad import defjvp, defvjp
from funcgrad.transforms.vmap import batch_rules, moveaxis

__all__ = ["FftType", "fft", "fft_p"]


class FftType(enum.IntEnum):
    """The transform of ``fft_p`` (XLA's numbering, as ``jax.lax.FftType``)."""

    FFT = 0  # complex -> complex, forward, unnormalized
    IFFT = 1  # complex -> complex, inverse, scaled by 1 / prod(fft_lengths)
    RFFT = 2  # real -> complex, the non-negative frequencies of the last axis (n // 2 + 1)
    IRFFT = 3  # complex (n // 2 + 1 on the last axis) -> real of length n, inverse of RFFT


def _complex_dtype(dtype) -> np.dtype:
    return np.result_type(dtype, np.complex64)


def _real_dtype(dtype) -> np.dtype:
    return np.empty((), _complex_dtype(dtype)).real.dtype


def _fft_impl(xp, x, *, fft_type, fft_lengths):
    axes = tuple(range(-len(fft_lengths), 0))
    if fft_type == FftType.FFT:
        out, dtype = xp.fft.fftn(x, axes=axes), x.dtype
    elif fft_type == FftType.IFFT:
        out, dtype = xp.fft.ifftn(x, axes=axes), x.dtype
    elif fft_type == FftType.RFFT:
        out, dtype = xp.fft.rfftn(x, axes=axes), _complex_dtype(x.dtype)
    else:
        out, dtype = xp.fft.irfftn(x, s=fft_lengths, axes=axes), _real_dtype(x.dtype)
    return out.astype(dtype, copy=False)


def _fft_abstract_eval(x, *, fft_type, fft_lengths):
    k = len(fft_lengths)
    name = FftType(fft_type).name
    if k > len(x.shape):
        raise ValueError(
            f"fft: {name} over {k} axes (fft_lengths={fft_lengths}) needs an operand with at "
            f"least {k} dimensions, got shape {tuple(x.shape)}"
        )
    if any(n < 1 for n in fft_lengths):
        raise ValueError(f"fft: fft_lengths must be positive, got {fft_lengths}")
    lead, core = tuple(x.shape[: len(x.shape) - k]), tuple(x.shape[len(x.shape) - k :])
    want = tuple(fft_lengths)
    if fft_type == FftType.IRFFT:
        want = want[:-1] + (want[-1] // 2 + 1,)
    if core != want:
        raise ValueError(
            f"fft: {name} with fft_lengths={fft_lengths} needs trailing axes {want}, got operand "
            f"shape {tuple(x.shape)}"
        )
    kind = np.dtype(x.dtype).kind
    if fft_type == FftType.RFFT:
        if kind != "f":
            raise TypeError(f"fft: RFFT needs a real floating operand, got dtype {x.dtype}")
        return ShapedArray(tuple(x.shape[:-1]) + (want[-1] // 2 + 1,), _complex_dtype(x.dtype))
    if kind != "c":
        raise TypeError(f"fft: {name} needs a complex operand, got dtype {x.dtype}")
    if fft_type == FftType.IRFFT:
        return ShapedArray(lead + tuple(fft_lengths), _real_dtype(x.dtype))
    return ShapedArray(tuple(x.shape), x.dtype)


def _fft_jvp(t, ans, x, *, fft_type, fft_lengths):
    return fft_p.bind(t, fft_type=fft_type, fft_lengths=fft_lengths)


def _rfft_transpose(g, fft_lengths):
    # RFFT(x) = FFT(complex(x))[..., :n // 2 + 1]. The DFT matrix is symmetric (its own
    # transpose), the slice transposes to zero padding and the real -> complex embedding to
    # taking the real part.
    n, m = fft_lengths[-1], g.shape[-1]
    nd = len(g.shape)
    padded = pad(g, np.zeros((), g.dtype)[()], [(0, 0, 0)] * (nd - 1) + [(0, n - m, 0)])
    return real(fft_p.bind(padded, fft_type=FftType.FFT, fft_lengths=fft_lengths))


def _irfft_transpose(g, fft_lengths):
    # The RFFT of the cotangent, scaled, with the bins that stand for two (conjugate) bins of the
    # full spectrum doubled: all but bin 0 and, for even n, the Nyquist bin n // 2.
    x = fft_p.bind(g, fft_type=FftType.RFFT, fft_lengths=fft_lengths)
    m, odd = x.shape[-1], fft_lengths[-1] % 2
    mask = np.full(m, 2.0)
    mask[0] = 1.0
    if not odd:
        mask[-1] = 1.0
    scale = mask / float(np.prod(fft_lengths))
    # JAX's convention for complex cotangents: the transpose under Re(sum(g * t)) pairs with conj.
    return conj(x * Array(scale.astype(_real_dtype(x.dtype))))


def _fft_vjp(g, ans, x, *, fft_type, fft_lengths):
    if fft_type == FftType.RFFT:
        return _rfft_transpose(g, fft_lengths)
    if fft_type == FftType.IRFFT:
        return _irfft_transpose(g, fft_lengths)
    # The DFT matrix and its inverse are symmetric: each transform is its own transpose.
    return fft_p.bind(g, fft_type=fft_type, fft_lengths=fft_lengths)


def _fft_batch(args, dims, *, fft_type, fft_lengths):
    (x,), (d,) = args, dims
    if d >= len(x.shape) - len(fft_lengths):  # the batch axis is among the transformed ones
        x, d = moveaxis(x, d, 0), 0
    return fft_p.bind(x, fft_type=fft_type, fft_lengths=fft_lengths), d


fft_p = Primitive("fft")
fft_p.def_impl(_fft_impl)
fft_p.def_abstract_eval(_fft_abstract_eval)
defjvp(fft_p, _fft_jvp)
defvjp(fft_p, _fft_vjp)
batch_rules[fft_p] = _fft_batch


def _as_fft_type(fft_type) -> FftType:
    if isinstance(fft_type, str):
        try:
            return FftType[fft_type.upper()]
        except KeyError:
            pass
    elif isinstance(fft_type, (int, np.integer)) and 0 <= int(fft_type) <= 3:
        return FftType(int(fft_type))
    raise ValueError(
        f"fft: unknown fft_type {fft_type!r}; use 'FFT', 'IFFT', 'RFFT', 'IRFFT' or a "
        "funcgrad.lax.FftType"
    )


def fft(x: Any, fft_type: FftType | str, fft_lengths: Sequence[int]) -> Any:
    """The FFT of type ``fft_type`` over the trailing ``len(fft_lengths)`` axes of ``x``.

    As ``jax.lax.fft``: FFT and IFFT take complex ``x`` (real ``x`` is promoted) with trailing
    shape ``fft_lengths``; RFFT takes real ``x`` of that shape and keeps ``n // 2 + 1``
    frequencies on the last axis; IRFFT takes those ``n // 2 + 1`` frequencies and returns real
    values of trailing shape ``fft_lengths``. IFFT and IRFFT divide by ``prod(fft_lengths)``.
    Padding, cropping, axes and ``norm`` are ``funcgrad.numpy.fft``'s job.

    Example:
      >>> lax.fft(fnp.asarray([1.0, 0.0, 0.0, 0.0]), "FFT", (4,))
      Array([1.+0.j, 1.+0.j, 1.+0.j, 1.+0.j], dtype=complex64)
    """
    typ = _as_fft_type(fft_type)
    lengths = tuple(int(n) for n in fft_lengths)
    dtype = np.dtype(x.dtype) if hasattr(x, "dtype") else np.result_type(x)
    if typ == FftType.RFFT:
        if dtype.kind == "c":
            raise TypeError(
                f"fft: RFFT needs a real operand, got dtype {dtype}; use FFT for complex input"
            )
        if dtype.kind != "f":
            x = convert_element_type(x, _real_dtype(dtype))
    elif dtype.kind != "c":
        if dtype.kind != "f":
            x = convert_element_type(x, _real_dtype(dtype))
        # complex(x, 0) rather than a dtype conversion: its transpose takes the real part.
        x = _complex(x, Array(np.zeros((), np.dtype(x.dtype))))
    if not lengths:
        return x
    _fft_abstract_eval(shaped_array(x), fft_type=typ, fft_lengths=lengths)
    return fft_p.bind(x, fft_type=typ, fft_lengths=lengths)
