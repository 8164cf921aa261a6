"""Op-table rows for complex (issue 8); appended to tests/op_table.OPS.

Two kinds of rows: complex copies (``<name>_complex``, dtypes complex64/complex128) of the base
rows whose operation NumPy defines for complex input, and rows for the complex functions
themselves (real, imag, conj, angle, vdot, real-valued functions of complex inputs). The
property tests run their derivatives in complex128 (real and imaginary parts both drawn from
the row's domain, see tests/strategies.values).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

import funcgrad.numpy as fnp
from tests import op_table as _table  # partially initialised here: its base rows exist
from tests.op_table import Op

C = (np.complex64, np.complex128)

# Base rows whose operation NumPy defines for complex input -> overrides for the complex copy.
# A domain is narrowed where the real one would reach a branch cut or a pole:
# arctan and arcsinh (cuts on the imaginary axis beyond +-i), tanh (poles at +-i pi/2),
# logsumexp (the log's cut: the sum of exponentials must stay off the negative real axis).
_VARIANTS: dict[str, dict] = {
    **{
        name: {}
        for name in (
            # elementwise (the domains of tan, arcsin, arccos, arctanh, arccosh, log*, sqrt,
            # rsqrt and reciprocal already keep away from their cuts and poles)
            "neg sin cos tan arcsin arccos sinh cosh arccosh arctanh exp exp2 expm1 log log1p "
            "log2 log10 sqrt rsqrt square reciprocal abs logistic integer_pow3 integer_pow0 "
            "sign round isfinite sinc stop_gradient add subtract multiply divide power maximum "
            "minimum equal where "
            # reductions
            "sum sum_axis0 mean_keepdims prod max min_axis var std_ddof1 cumsum cumprod "
            # shapes, indexing, sorting (NumPy orders complex numbers lexicographically)
            "transpose reshape_flat expand_squeeze broadcast_to concatenate stack flip roll "
            "tile repeat pad swapaxes split getitem_basic getitem_advanced at_set "
            "at_add_repeated at_multiply take_along_axis dynamic_slice dynamic_update_slice sort "
            # products, convolution, pooling by averages, linear algebra
            "matmul dot outer tensordot einsum trace triu conv1d conv1d_strided avg_pool_pad "
            "inv solve det slogdet triangular_solve norm"
        ).split()
    },
    "arctan": {"domain": "unit"},
    "arcsinh": {"domain": "unit"},
    "tanh": {"domain": "unit"},
    "logsumexp": {"domain": "unit"},
}

_BASE = {op.name: op for op in _table.OPS}
OPS: list = [
    replace(_BASE[name], name=f"{name}_complex", dtypes=C, **kw)
    for name, kw in _VARIANTS.items()
    if name in _BASE
]

OPS += [
    Op("real", fnp.real, np.real, dtypes=C),
    Op("imag", fnp.imag, np.imag, dtypes=C),
    Op("conj", fnp.conj, np.conj, dtypes=C),
    # the principal argument jumps on the negative real axis: keep Re(z) > 0
    Op("angle", fnp.angle, np.angle, domain="positive", dtypes=C),
    Op(
        "angle_deg",
        lambda z: fnp.angle(z, deg=True),
        lambda z: np.angle(z, deg=True),
        dtypes=C,
        domain="positive",
        rtol=1e-5,
        atol=1e-5,
    ),
    Op("abs_squared", lambda z: fnp.abs(z) ** 2, lambda z: np.abs(z) ** 2, dtypes=C),
    Op(
        "real_times_conj",
        lambda z, w: fnp.real(z * fnp.conj(w)) + fnp.imag(z) * fnp.abs(w),
        lambda z, w: np.real(z * np.conj(w)) + np.imag(z) * np.abs(w),
        2,
        dtypes=C,
        avoid=(0.0,),
    ),
    Op(
        "holomorphic_chain",
        lambda z: fnp.exp(fnp.sin(z)) * fnp.log(z) / (z * z + 1.0),
        lambda z: np.exp(np.sin(z)) * np.log(z) / (z * z + 1.0),
        domain="positive",
        dtypes=C,
        rtol=1e-5,
        atol=1e-5,
    ),
    Op("vdot", fnp.vdot, np.vdot, 2, shapes="same", dtypes=C, rtol=1e-5, atol=1e-5),
    Op(
        "hermitian_product",
        lambda a: fnp.matmul(fnp.conj(fnp.swapaxes(a, -1, -2)), a),
        lambda a: np.matmul(np.conj(np.swapaxes(a, -1, -2)), a),
        shapes="square",
        dtypes=C,
        rtol=1e-5,
        atol=1e-5,
    ),
    # real values through complex operations (grad of a real function must stay real)
    Op(
        "real_via_complex",
        lambda x: fnp.real(fnp.exp(1j * x) * (2.0 - 1j)),
        lambda x: np.real(np.exp(1j * x) * (2.0 - 1j)),
    ),
    Op(
        "abs_of_real_as_complex",
        lambda x: fnp.abs(x.astype(np.result_type(x.dtype, np.complex64)) * (1.0 + 2.0j)),
        lambda x: np.abs(x * (1.0 + 2.0j)).astype(x.dtype),
        avoid=(0.0,),
    ),
]
