"""Op-table rows for fft (issue 8); appended to tests/op_table.OPS.

Every transform with its default length and with odd/even ``n``/``s`` (cropping and padding),
each ``norm``, one and several axes. Complex inputs: the forward rows run in complex128 too;
their derivatives are checked in tests/numpy/test_fft.py (the grad test draws float64).
"""

from __future__ import annotations

import numpy as np

import funcgrad.numpy as fnp
from funcgrad import lax
from tests.op_table import Op

_C = (np.float32, np.float64, np.complex128)  # transforms that take complex input
_R = (np.float32, np.float64)  # real input only (rfft, ihfft)


def _row(name, kwargs=None, shapes="rank1+", dtypes=_C):
    fn_name = name.split("_")[0]
    kwargs = kwargs or {}
    if "n" in kwargs or "s" in kwargs:
        # NumPy pads an empty axis with uninitialised memory: only non-empty shapes here.
        shapes = "nonempty_" + shapes
    ours, ref = getattr(fnp.fft, fn_name), getattr(np.fft, fn_name)
    return Op(
        name,
        lambda x: ours(x, **kwargs),
        lambda x: ref(x, **kwargs),
        shapes=shapes,
        dtypes=dtypes,
        atol=1e-5,
        rtol=1e-5,
    )


OPS: list = [
    # one axis: default length, odd and even n (crop or pad), other axes, each norm
    _row("fft"),
    _row("fft_n3_ortho", dict(n=3, norm="ortho")),
    _row("fft_n4_axis0_forward", dict(n=4, axis=0, norm="forward")),
    _row("ifft"),
    _row("ifft_n5_ortho", dict(n=5, norm="ortho")),
    _row("ifft_n2_axis0_forward", dict(n=2, axis=0, norm="forward")),
    _row("rfft", dtypes=_R),
    _row("rfft_n5_ortho", dict(n=5, norm="ortho"), dtypes=_R),
    _row("rfft_n4_axis0_forward", dict(n=4, axis=0, norm="forward"), dtypes=_R),
    _row("irfft", shapes="last2"),
    _row("irfft_n5", dict(n=5)),
    _row("irfft_n4_ortho", dict(n=4, norm="ortho")),
    _row("irfft_n3_axis0_forward", dict(n=3, axis=0, norm="forward")),
    _row("hfft", shapes="last2"),
    _row("hfft_n5_ortho", dict(n=5, norm="ortho")),
    _row("ihfft", dtypes=_R),
    _row("ihfft_n3_forward", dict(n=3, norm="forward"), dtypes=_R),
    # several axes
    _row("fft2", shapes="rank2+"),
    _row("fft2_s34_ortho", dict(s=(3, 4), norm="ortho"), shapes="rank2+"),
    _row("ifft2", shapes="rank2+"),
    _row("ifft2_s25_axes10", dict(s=(2, 5), axes=(1, 0)), shapes="rank2+"),
    _row("rfft2", shapes="rank2+", dtypes=_R),
    _row("rfft2_s33_forward", dict(s=(3, 3), norm="forward"), shapes="rank2+", dtypes=_R),
    _row("irfft2", shapes="rank2+_last2"),
    _row("irfft2_s35_ortho", dict(s=(3, 5), norm="ortho"), shapes="rank2+"),
    _row("fftn"),
    _row("fftn_s23_axes0m1", dict(s=(2, 3), axes=(0, -1)), shapes="rank2+"),
    _row("ifftn"),
    _row("ifftn_forward", dict(norm="forward")),
    _row("rfftn", dtypes=_R),
    _row("rfftn_s43_ortho", dict(s=(4, 3), axes=(-2, -1), norm="ortho"), "rank2+", _R),
    _row("irfftn", shapes="last2"),
    _row("irfftn_s24_axes10", dict(s=(2, 4), axes=(1, 0)), shapes="rank2+"),
    # shifts
    _row("fftshift"),
    _row("fftshift_axis0", dict(axes=0)),
    _row("ifftshift"),
    _row("ifftshift_axes", dict(axes=(0, -1))),
    # the primitive itself, through lax.fft over the trailing axes
    Op(
        "lax_fft_irfft",
        lambda x: lax.fft(fnp.fft.rfft(x), "IRFFT", (x.shape[-1],)),
        lambda x: np.fft.irfft(np.fft.rfft(x), n=x.shape[-1]).astype(x.dtype),
        shapes="rank1+",
        dtypes=_R,
    ),
]
