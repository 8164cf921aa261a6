"""funcgrad.numpy.fft: NumPy's discrete Fourier transforms, differentiable (as ``jax.numpy.fft``).

Every transform is one ``lax.fft`` call (``funcgrad.lax.fft``) on the requested axes moved to the
end, after cropping or zero-padding them to ``n``/``s``, then scaled for ``norm``. Dtypes follow
the installed NumPy (float32 in, complex64 out).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from funcgrad import lax
from funcgrad.lax.fft import FftType
from funcgrad.numpy._core import unary_operand

__all__ = [
    "fft",
    "fft2",
    "fftfreq",
    "fftn",
    "fftshift",
    "hfft",
    "ifft",
    "ifft2",
    "ifftn",
    "ifftshift",
    "ihfft",
    "irfft",
    "irfft2",
    "irfftn",
    "rfft",
    "rfft2",
    "rfftfreq",
    "rfftn",
]

_NORMS = (None, "backward", "ortho", "forward")
_NUMPY_FN = {FftType.FFT: "fft", FftType.IFFT: "ifft", FftType.RFFT: "rfft", FftType.IRFFT: "irfft"}


@functools.cache
def _numpy_dtypes(fft_type: FftType, dtype: np.dtype) -> tuple[np.dtype, np.dtype]:
    """(operand dtype of the lax call, result dtype) of NumPy's transform of a ``dtype`` array."""
    out = getattr(np.fft, _NUMPY_FN[fft_type])(np.ones(2, dtype)).dtype
    if fft_type == FftType.RFFT:
        return np.empty((), out).real.dtype, out
    if fft_type == FftType.IRFFT:
        return np.fft.fft(np.ones(2, dtype)).dtype, out
    return out, out


def _check_norm(name: str, norm):
    if norm not in _NORMS:
        raise ValueError(
            f'fnp.fft.{name}: invalid norm value {norm!r}; should be "backward", "ortho" or '
            '"forward"'
        )


def _normalize_axes(name: str, x, axes) -> list[int]:
    nd = len(x.shape)
    out = []
    for ax in axes:
        ax = int(ax)
        if not -nd <= ax < nd:
            raise np.exceptions.AxisError(
                f"fnp.fft.{name}: axis {ax} is out of bounds for an array of shape "
                f"{tuple(x.shape)} ({nd} dimensions)"
            )
        out.append(ax % nd)
    return out


def _resize(x, axis: int, n: int):
    """``x`` cropped or zero-padded (at the end) to length ``n`` along ``axis``."""
    d = x.shape[axis]
    if d == n:
        return x
    if d > n:
        return lax.slice_in_dim(x, 0, n, axis=axis)
    config = [(0, 0, 0)] * len(x.shape)
    config[axis] = (0, n - d, 0)
    return lax.pad(x, np.zeros((), x.dtype)[()], config)


def _raw_fftn(name, fft_type, x, s, axes, norm):
    """One lax.fft over distinct ``axes`` (normalised) with output lengths ``s``, then ``norm``."""
    nd = len(x.shape)
    perm = [i for i in range(nd) if i not in axes] + list(axes)
    x = lax.transpose(x, perm) if perm != list(range(nd)) else x
    k = len(axes)
    for i, n in enumerate(s):
        want = n // 2 + 1 if fft_type == FftType.IRFFT and i == k - 1 else n
        x = _resize(x, nd - k + i, want)
    out = lax.fft(x, fft_type, tuple(s))
    if norm in ("ortho", "forward"):
        size = math.prod(s)
        inverse = fft_type in (FftType.IFFT, FftType.IRFFT)
        scale = math.sqrt(size) if norm == "ortho" else float(size)
        out = out * (scale if inverse else 1.0 / scale)
    inv = [0] * nd
    for i, p in enumerate(perm):
        inv[p] = i
    return lax.transpose(out, inv) if perm != list(range(nd)) else out


def _fftn_core(name: str, fft_type: FftType, a, s, axes, norm):
    _check_norm(name, norm)
    x = unary_operand(a)
    if fft_type == FftType.RFFT and x.dtype.kind == "c":
        raise TypeError(
            f"fnp.fft.{name}: the input must be real, got dtype {x.dtype}; use fnp.fft.fft "
            "(or fftn) for complex input"
        )
    if s is not None:
        s = [int(n) for n in s]
        if axes is None:
            axes = range(-len(s), 0)
    if axes is None:
        axes = range(len(x.shape))
    axes = _normalize_axes(name, x, axes)
    if s is None:
        s = [x.shape[ax] for ax in axes]
        if fft_type == FftType.IRFFT and s:
            s[-1] = 2 * (s[-1] - 1)
    elif len(s) != len(axes):
        raise ValueError(
            f"fnp.fft.{name}: s {tuple(s)} and axes {tuple(axes)} have different lengths"
        )
    for n in s:
        if n < 1:
            raise ValueError(
                f"fnp.fft.{name}: invalid number of FFT data points ({n}) specified for input "
                f"of shape {tuple(x.shape)}; the transform length (n or s) must be at least 1"
                + (
                    " (irfft's default n = 2 * (m - 1) needs an axis of length m >= 2)"
                    if fft_type == FftType.IRFFT
                    else ""
                )
            )
    if not axes:  # as NumPy: the input itself, unless the real transforms lack their last axis
        if fft_type in (FftType.RFFT, FftType.IRFFT):
            raise ValueError(f"fnp.fft.{name}: needs at least one axis to transform, got axes=()")
        return x
    in_dtype, out_dtype = _numpy_dtypes(fft_type, np.dtype(x.dtype))
    if fft_type == FftType.IRFFT and len(axes) > 1:  # NumPy's ifft steps promote float16 first
        out_dtype = _numpy_dtypes(fft_type, in_dtype)[1]
    if x.dtype.kind != "c":  # real input: lax.fft promotes it to complex where needed
        x_dtype = in_dtype if fft_type == FftType.RFFT else np.empty((), in_dtype).real.dtype
        x = x if x.dtype == x_dtype else lax.convert_element_type(x, x_dtype)
    elif x.dtype != in_dtype:
        x = lax.convert_element_type(x, in_dtype)
    if len(set(axes)) == len(axes):
        out = _raw_fftn(name, fft_type, x, s, axes, norm)
    else:  # repeated axes: one axis at a time, as NumPy does
        out = x
        if fft_type in (FftType.FFT, FftType.IFFT):
            for n, ax in reversed(list(zip(s, axes))):
                out = _raw_fftn(name, fft_type, out, [n], [ax], norm)
        elif fft_type == FftType.RFFT:
            out = _raw_fftn(name, fft_type, out, s[-1:], axes[-1:], norm)
            for n, ax in reversed(list(zip(s[:-1], axes[:-1]))):
                out = _raw_fftn(name, FftType.FFT, out, [n], [ax], norm)
        else:
            for n, ax in zip(s[:-1], axes[:-1]):
                out = _raw_fftn(name, FftType.IFFT, out, [n], [ax], norm)
            out = _raw_fftn(name, fft_type, out, s[-1:], axes[-1:], norm)
    return out if out.dtype == out_dtype else lax.convert_element_type(out, out_dtype)


def _one_axis(name, fft_type, a, n, axis, norm):
    return _fftn_core(name, fft_type, a, None if n is None else [n], [axis], norm)


def fft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None) -> Any:
    """The one-dimensional discrete Fourier transform along ``axis`` (NumPy's ``fft.fft``).

    Args:
      a: the input, real or complex.
      n: the transform length: ``a`` is cropped or zero-padded to it along ``axis``
        (default: its length there).
      axis: the axis to transform.
      norm: "backward" (default, no scaling), "ortho" (``1/sqrt(n)``) or "forward" (``1/n``).

    Returns:
      A complex array (complex64 for float32 input, as NumPy 2).

    Example:
      >>> fnp.fft.fft(fnp.asarray([1.0, 2.0, 3.0, 4.0]))
      Array([10.+0.j, -2.+2.j, -2.+0.j, -2.-2.j], dtype=complex64)
    """
    return _one_axis("fft", FftType.FFT, a, n, axis, norm)


def ifft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None) -> Any:
    """The inverse of ``fft`` along ``axis`` (divides by ``n`` with the default norm).

    Example:
      >>> fnp.fft.ifft(fnp.fft.fft(fnp.asarray([1.0, 2.0]))).real
      Array([1., 2.], dtype=float32)
    """
    return _one_axis("ifft", FftType.IFFT, a, n, axis, norm)


def rfft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None) -> Any:
    """The FFT of real input along ``axis``: its ``n // 2 + 1`` non-negative frequencies.

    Complex input is a TypeError (as NumPy); use ``fft``.

    Example:
      >>> fnp.fft.rfft(fnp.asarray([1.0, 2.0, 3.0, 4.0]))
      Array([10.+0.j, -2.+2.j, -2.+0.j], dtype=complex64)
    """
    return _one_axis("rfft", FftType.RFFT, a, n, axis, norm)


def irfft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None) -> Any:
    """The inverse of ``rfft``: real output of length ``n`` (default ``2 * (m - 1)``).

    The input is cropped or zero-padded to ``n // 2 + 1`` frequencies along ``axis``; an odd
    original length must be passed as ``n``.

    Example:
      >>> fnp.fft.irfft(fnp.fft.rfft(fnp.asarray([1.0, 2.0, 3.0])), n=3)
      Array([1., 2., 3.], dtype=float32)
    """
    return _one_axis("irfft", FftType.IRFFT, a, n, axis, norm)


def hfft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None) -> Any:
    """The FFT of a Hermitian-symmetric signal given by its first half: real output of length
    ``n`` (default ``2 * (m - 1)``), NumPy's ``fft.hfft``.

    Example:
      >>> fnp.fft.hfft(fnp.asarray([1.0, 2.0, 3.0]))   # the signal [1, 2, 3, 2]
      Array([ 8., -2.,  0., -2.], dtype=float32)
    """
    _check_norm("hfft", norm)
    swapped = {None: "forward", "backward": "forward", "ortho": "ortho", "forward": "backward"}
    x = unary_operand(a)
    return _one_axis("hfft", FftType.IRFFT, lax.conj(x), n, axis, swapped[norm])


def ihfft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None) -> Any:
    """The inverse of ``hfft``: the first ``n // 2 + 1`` bins of the inverse FFT of real input.

    Example:
      >>> fnp.fft.ihfft(fnp.asarray([8.0, -2.0, 0.0, -2.0]))
      Array([1.-0.j, 2.-0.j, 3.-0.j], dtype=complex64)
    """
    _check_norm("ihfft", norm)
    swapped = {None: "forward", "backward": "forward", "ortho": "ortho", "forward": "backward"}
    return lax.conj(_one_axis("ihfft", FftType.RFFT, a, n, axis, swapped[norm]))


def fftn(
    a: Any, s: Sequence[int] | None = None, axes: Sequence[int] | None = None, norm=None
) -> Any:
    """The n-dimensional FFT over ``axes`` (default: all, or the last ``len(s)``).

    Args:
      a: the input, real or complex.
      s: the transform lengths along ``axes`` (each axis cropped or zero-padded to its length).
      axes: the axes to transform.
      norm: "backward", "ortho" or "forward", scaling by ``prod(s)`` as in ``fft``.

    Example:
      >>> fnp.fft.fftn(fnp.ones((2, 2)))
      Array([[4.+0.j, 0.+0.j],
             [0.+0.j, 0.+0.j]], dtype=complex64)
    """
    return _fftn_core("fftn", FftType.FFT, a, s, axes, norm)


def ifftn(
    a: Any, s: Sequence[int] | None = None, axes: Sequence[int] | None = None, norm=None
) -> Any:
    """The inverse of ``fftn``. Example: ``fnp.fft.ifftn(fnp.fft.fftn(x))`` is ``x``."""
    return _fftn_core("ifftn", FftType.IFFT, a, s, axes, norm)


def rfftn(
    a: Any, s: Sequence[int] | None = None, axes: Sequence[int] | None = None, norm=None
) -> Any:
    """The n-dimensional FFT of real input; the last axis keeps ``s[-1] // 2 + 1`` frequencies.

    Example: ``fnp.fft.rfftn(fnp.ones((2, 4))).shape`` is ``(2, 3)``.
    """
    return _fftn_core("rfftn", FftType.RFFT, a, s, axes, norm)


def irfftn(
    a: Any, s: Sequence[int] | None = None, axes: Sequence[int] | None = None, norm=None
) -> Any:
    """The inverse of ``rfftn``; the last output length defaults to ``2 * (m - 1)``.

    Example: ``fnp.fft.irfftn(fnp.fft.rfftn(x), s=x.shape)`` is ``x``.
    """
    return _fftn_core("irfftn", FftType.IRFFT, a, s, axes, norm)


def fft2(a: Any, s: Sequence[int] | None = None, axes: Sequence[int] = (-2, -1), norm=None) -> Any:
    """``fftn`` over the last two axes. Example: ``fnp.fft.fft2(fnp.ones((2, 2)))``."""
    return _fftn_core("fft2", FftType.FFT, a, s, axes, norm)


def ifft2(a: Any, s: Sequence[int] | None = None, axes: Sequence[int] = (-2, -1), norm=None) -> Any:
    """``ifftn`` over the last two axes. Example: ``fnp.fft.ifft2(fnp.fft.fft2(x))`` is ``x``."""
    return _fftn_core("ifft2", FftType.IFFT, a, s, axes, norm)


def rfft2(a: Any, s: Sequence[int] | None = None, axes: Sequence[int] = (-2, -1), norm=None) -> Any:
    """``rfftn`` over the last two axes. Example: ``fnp.fft.rfft2(fnp.ones((2, 4))).shape``."""
    return _fftn_core("rfft2", FftType.RFFT, a, s, axes, norm)


def irfft2(
    a: Any, s: Sequence[int] | None = None, axes: Sequence[int] = (-2, -1), norm=None
) -> Any:
    """``irfftn`` over the last two axes. Example: ``fnp.fft.irfft2(fnp.fft.rfft2(x), x.shape)``."""
    return _fftn_core("irfft2", FftType.IRFFT, a, s, axes, norm)


def _shift(name, x, axes, sign):
    x = unary_operand(x)
    if axes is None:
        axes = list(range(len(x.shape)))
    elif isinstance(axes, (int, np.integer)):
        axes = [axes]
    axes = _normalize_axes(name, x, axes)
    from funcgrad.numpy._shape import roll

    if not axes:
        return x
    shifts = [(x.shape[ax] // 2) if sign > 0 else -(x.shape[ax] // 2) for ax in axes]
    return roll(x, shifts, axes)


def fftshift(x: Any, axes: int | Sequence[int] | None = None) -> Any:
    """The zero frequency moved to the centre of ``axes`` (default: all), NumPy's ``fftshift``.

    Example:
      >>> fnp.fft.fftshift(fnp.asarray([0, 1, 2, -2, -1]))
      Array([-2, -1,  0,  1,  2], dtype=int32)
    """
    return _shift("fftshift", x, axes, 1)


def ifftshift(x: Any, axes: int | Sequence[int] | None = None) -> Any:
    """The inverse of ``fftshift`` (they differ for odd lengths).

    Example:
      >>> fnp.fft.ifftshift(fnp.asarray([-2, -1, 0, 1, 2]))
      Array([ 0,  1,  2, -2, -1], dtype=int32)
    """
    return _shift("ifftshift", x, axes, -1)


def fftfreq(n: int, d: float = 1.0, *, dtype=None) -> Any:
    """The sample frequencies of an ``n``-point FFT with sample spacing ``d`` (not traced).

    ``dtype`` defaults to funcgrad's default float (float32), as JAX; NumPy gives float64.

    Example:
      >>> fnp.fft.fftfreq(4)
      Array([ 0.  ,  0.25, -0.5 , -0.25], dtype=float32)
    """
    from funcgrad.numpy._core import asarray

    return asarray(np.fft.fftfreq(int(n), d), dtype=dtype or _default_float())


def rfftfreq(n: int, d: float = 1.0, *, dtype=None) -> Any:
    """The non-negative sample frequencies of an ``n``-point ``rfft`` (see ``fftfreq``).

    Example:
      >>> fnp.fft.rfftfreq(4)
      Array([0.  , 0.25, 0.5 ], dtype=float32)
    """
    from funcgrad.numpy._core import asarray

    return asarray(np.fft.rfftfreq(int(n), d), dtype=dtype or _default_float())


def _default_float():
    from funcgrad.core.dtypes import default_float

    return default_float()
