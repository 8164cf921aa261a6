"""Op-table rows for scipy (issue 8); appended to tests/op_table.OPS.

funcgrad.scipy.special (the functions without rows in tests/op_table.py), stats.norm and linalg.
Edge values, tails and errors are in tests/scipy/.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sl
import scipy.special as sps
import scipy.stats as ss

import funcgrad.scipy.linalg as fsl
import funcgrad.scipy.special as fsp
from funcgrad.scipy.stats import norm
from tests.op_table import Op, _spd, _spd_f, _wc, _wc_f

_C = (np.float32, np.float64, np.complex128)


def _norm_row(name, domain="real"):
    ours, ref = getattr(norm, name), getattr(ss.norm, name)
    return Op(
        f"norm_{name}",
        lambda x, loc, scale: ours(x, loc, scale),
        lambda x, loc, scale: ref(x, loc, scale).astype(np.result_type(x, loc, scale)),
        3,
        domain=(domain, "small", "positive"),
        rtol=1e-5,
        atol=1e-6,
        grad_tol=1e-4,
    )


def _solve_triangular_row(name, **kw):
    return Op(
        name,
        lambda a, b: fsl.solve_triangular(_wc_f(a), b, **kw),
        lambda a, b: sl.solve_triangular(_wc(a), b, **kw),
        2,
        shapes="solve2d",
        dtypes=_C,
        rtol=1e-5,
        atol=1e-5,
    )


OPS: list = [
    # special
    Op("xlogy", fsp.xlogy, sps.xlogy, 2, domain=("real", "positive"), rtol=1e-5),
    Op("xlog1py", fsp.xlog1py, sps.xlog1py, 2, domain=("real", "unit"), rtol=1e-5),
    Op("betaln", fsp.betaln, sps.betaln, 2, domain="positive", rtol=1e-5, atol=1e-5),
    Op("ndtr", fsp.ndtr, sps.ndtr, rtol=1e-6),
    Op("ndtri", fsp.ndtri, sps.ndtri, domain="prob", rtol=1e-6, grad_tol=1e-4),
    Op("log_ndtr", fsp.log_ndtr, sps.log_ndtr, rtol=1e-6),
    Op(  # the tails: the asymptotic series below -30 (float64) / -10 (float32), log1p above 0
        "log_ndtr_tails",
        lambda x: fsp.log_ndtr(x * 20.0 - 10.0),
        lambda x: sps.log_ndtr(x * 20.0 - 10.0).astype(x.dtype),
        rtol=1e-6,
        grad_tol=1e-4,
    ),
    # stats.norm
    _norm_row("pdf"),
    _norm_row("logpdf"),
    _norm_row("cdf"),
    _norm_row("logcdf"),
    _norm_row("sf"),
    _norm_row("logsf"),
    _norm_row("ppf", "prob"),
    _norm_row("isf", "prob"),
    # linalg
    _solve_triangular_row("solve_triangular"),
    _solve_triangular_row("solve_triangular_lower_trans", lower=True, trans=1),
    _solve_triangular_row("solve_triangular_conj_unit", trans="C", unit_diagonal=True),
    Op(
        "solve_triangular_batched",
        lambda a, b: fsl.solve_triangular(_wc_f(a), b, lower=True),
        lambda a, b: np.linalg.solve(np.tril(_wc(a)), b),
        2,
        shapes="solve",
        rtol=1e-5,
        atol=1e-5,
    ),
    Op(
        "cho_solve",
        lambda a, b: fsl.cho_solve(fsl.cho_factor(_spd_f(a)), b),
        lambda a, b: sl.cho_solve(sl.cho_factor(_spd(a)), b),
        2,
        shapes="solve2d",
        rtol=1e-5,
        atol=1e-5,
    ),
    Op(
        "cho_solve_lower",
        lambda a, b: fsl.cho_solve(fsl.cho_factor(_spd_f(a), lower=True), b),
        lambda a, b: sl.cho_solve(sl.cho_factor(_spd(a), lower=True), b),
        2,
        shapes="solve2d",
        rtol=1e-5,
        atol=1e-5,
    ),
    Op(
        "scipy_cholesky",
        lambda a: fsl.cholesky(_spd_f(a)),
        lambda a: sl.cholesky(_spd(a)),
        shapes="square",
        rtol=1e-5,
        atol=1e-5,
    ),
    Op(
        "expm",
        fsl.expm,
        sl.expm,
        shapes="square",
        dtypes=_C,
        rtol=1e-5,
        atol=1e-5,
        grad_tol=1e-4,
    ),
    Op(  # norms up to ~30: several squarings
        "expm_large",
        lambda a: fsl.expm(a * 5.0),
        lambda a: sl.expm(a * 5.0),
        shapes="square",
        rtol=1e-5,
        atol=1e-4,
        grad_tol=1e-3,
    ),
]
