"""Op-table rows for linalg (issue 8); appended to tests/op_table.OPS.

Decompositions are compared through quantities that do not depend on the sign (phase) of the
eigen- and singular vectors: eigenvalues, singular values, ``|v|**2`` entrywise, products like
``u @ vh``. Inputs are drawn from "unit" and moved to matrices with well-separated spectra by
adding a spread-out diagonal (``_sep``), so that every derivative exists and is well conditioned.
"""

from __future__ import annotations

import numpy as np

import funcgrad.numpy as fnp
from tests.op_table import Op

F = (np.float32, np.float64)
FC = (np.float32, np.float64, np.complex128)
_TOL = dict(atol=1e-5, rtol=1e-5)


def _spread(shape, dtype):
    """Diagonal entries 3 * max(m, n) * (1, 2, ..., k) on an (m, n) matrix: the spectrum of
    ``a + spread`` stays separated for entries of ``a`` in the "unit" domain (Weyl)."""
    m, n = shape[-2:]
    d = np.zeros((m, n), np.result_type(dtype, np.float32))
    k = min(m, n)
    d[range(k), range(k)] = 3.0 * max(m, n) * np.arange(1, k + 1)
    return d


def _sep(a):
    return a + _spread(a.shape, a.dtype).astype(a.dtype)


def _sep_f(a):
    return a + fnp.asarray(_spread(a.shape, a.dtype).astype(a.dtype))


def _sym(a):
    return (a + np.conj(np.swapaxes(a, -1, -2))) / 2


def _abs2(x, xp):
    return xp.real(x * xp.conj(x))


def _mT(x):
    return np.swapaxes(x, -1, -2)


# eigh: eigenvalues stacked on top of |v|**2 (one column per eigenvector).
def _eigh_out(w, v, xp):
    return xp.concatenate([w[..., None, :], _abs2(v, xp)], axis=-2)


def _eigh_f(a, **kw):
    w, v = fnp.linalg.eigh(_sep_f(a), **kw)
    return _eigh_out(w, v, fnp)


def _eigh_np(a, symmetrize=True, **kw):
    w, v = np.linalg.eigh(_sym(_sep(a)) if symmetrize else _sep(a), **kw)
    return _eigh_out(w, v, np)


# svd: per singular triple, |u|**2, s and |vh|**2 side by side: (..., k, m + 1 + n).
def _svd_out(u, s, vh, xp):
    return xp.concatenate([xp.swapaxes(_abs2(u, xp), -1, -2), s[..., None], _abs2(vh, xp)], -1)


def _svd_f(a, **kw):
    return _svd_out(*fnp.linalg.svd(_sep_f(a), **kw), fnp)


def _svd_np(a, **kw):
    return _svd_out(*np.linalg.svd(_sep(a), **kw), np)


# qr: LAPACK's signs on both sides (the same routine), so q and r compare directly.
def _qr_out(q, r, xp):
    return xp.concatenate([xp.swapaxes(q, -1, -2), r], -1)


def _complex_of(dtype):
    return np.result_type(dtype, np.complex64)


# eig: eigenvalues on top of |v|**2; NumPy returns real arrays when every eigenvalue is real.
def _eig_f(a):
    w, v = fnp.linalg.eig(_sep_f(a))
    return fnp.concatenate([w[..., None, :], v * fnp.conj(v)], axis=-2)


def _eig_np(a):
    w, v = np.linalg.eig(_sep(a))
    out = np.concatenate([w[..., None, :], v * np.conj(v)], axis=-2)
    return out.astype(_complex_of(a.dtype))


OPS: list = [
    Op("eigh", _eigh_f, _eigh_np, shapes="square", dtypes=FC, domain="unit", **_TOL),
    Op(
        "eigh_upper_triangle",  # NumPy's semantics: only the upper triangle is read
        lambda a: _eigh_f(a, UPLO="U", symmetrize_input=False),
        lambda a: _eigh_np(a, symmetrize=False, UPLO="U"),
        shapes="square",
        dtypes=FC,
        domain="unit",
        **_TOL,
    ),
    Op(
        "eigvalsh",
        lambda a: fnp.linalg.eigvalsh(_sep_f(a)),
        lambda a: np.linalg.eigvalsh(_sym(_sep(a))),
        shapes="square",
        dtypes=FC,
        domain="unit",
        **_TOL,
    ),
    Op(
        "svd",
        lambda a: _svd_f(a, full_matrices=False),
        lambda a: _svd_np(a, full_matrices=False),
        shapes="matrix_mn",
        dtypes=FC,
        domain="unit",
        **_TOL,
    ),
    Op(
        "svd_full_square",
        lambda a: _svd_f(a),
        lambda a: _svd_np(a),
        shapes="square",
        dtypes=FC,
        domain="unit",
        **_TOL,
    ),
    Op(
        "svd_u_vh",  # u @ vh (the polar factor): sign-invariant, uses every singular vector
        lambda a: (lambda u, s, vh: u @ vh)(*fnp.linalg.svd(_sep_f(a), full_matrices=False)),
        lambda a: (lambda u, s, vh: u @ vh)(*np.linalg.svd(_sep(a), full_matrices=False)),
        shapes="matrix_mn",
        dtypes=FC,
        domain="unit",
        **_TOL,
    ),
    Op(
        "svdvals",
        lambda a: fnp.linalg.svdvals(_sep_f(a)),
        lambda a: np.linalg.svd(_sep(a), compute_uv=False),
        shapes="matrix_mn",
        dtypes=FC,
        domain="unit",
        **_TOL,
    ),
    Op(
        "qr",
        lambda a: _qr_out(*fnp.linalg.qr(_sep_f(a)), fnp),
        lambda a: _qr_out(*np.linalg.qr(_sep(a)), np),
        shapes="matrix_mn",
        dtypes=FC,
        domain="unit",
        **_TOL,
    ),
    Op(
        "qr_r",
        lambda a: fnp.linalg.qr(_sep_f(a), mode="r"),
        lambda a: np.linalg.qr(_sep(a), mode="r"),
        shapes="matrix_mn",
        dtypes=FC,
        domain="unit",
        **_TOL,
    ),
    Op("eig", _eig_f, _eig_np, shapes="square", dtypes=FC, domain="unit", **_TOL),
    Op(
        "eigvals",
        lambda a: fnp.linalg.eigvals(_sep_f(a)),
        lambda a: np.linalg.eigvals(_sep(a)).astype(_complex_of(a.dtype)),
        shapes="square",
        dtypes=FC,
        domain="unit",
        **_TOL,
    ),
    Op(
        "pinv",
        lambda a: fnp.linalg.pinv(_sep_f(a)),
        lambda a: np.linalg.pinv(_sep(a)),
        shapes="matrix_mn",
        dtypes=FC,
        domain="unit",
        **_TOL,
    ),
    Op(
        "lstsq",
        lambda a, b: fnp.linalg.lstsq(_sep_f(a), b)[0],
        lambda a, b: np.linalg.lstsq(_sep(a), b)[0],
        2,
        shapes="solve2d",
        domain=("unit", "real"),
        **_TOL,
    ),
    Op(
        "matrix_rank",
        fnp.linalg.matrix_rank,
        np.linalg.matrix_rank,
        shapes="matrix_mn",
        dtypes=FC,
        grad=False,
    ),
    Op(
        "cond",
        lambda a: fnp.linalg.cond(_sep_f(a)),
        lambda a: np.linalg.cond(_sep(a)),
        shapes="matrix_mn",
        dtypes=FC,
        domain="unit",
        **_TOL,
    ),
    *[
        Op(
            f"matrix_norm_{name}",
            lambda a, o=o: fnp.linalg.norm(_sep_f(a), o, axis=(-2, -1)),
            lambda a, o=o: np.linalg.norm(_sep(a), o, axis=(-2, -1)),
            shapes="matrix_mn",
            dtypes=FC,
            domain="unit",
            **_TOL,
        )
        for name, o in (("2", 2), ("-2", -2), ("nuc", "nuc"))
    ],
    Op(
        "matrix_power",
        lambda a: fnp.linalg.matrix_power(a, 3),
        lambda a: np.linalg.matrix_power(a, 3),
        shapes="square",
        dtypes=FC,
        **_TOL,
    ),
]
