"""Op-table rows for numpy edges (issue 8); appended to tests/op_table.OPS.

Sequences with traced elements, NumPy's keywords, and the remaining common names: NaN-ignoring
reductions, statistics (median, quantiles, average, cov, corrcoef), differences and integrals,
1-d convolution, polynomials, interpolation, insert/delete/append/meshgrid.
"""

from __future__ import annotations

import numpy as np

import funcgrad.numpy as fnp
from tests.op_table import Op

_TOL = {"rtol": 1e-5, "atol": 1e-5}
_KNOTS = (-1.0, -1 / 3, 0.0, 1 / 3, 1.0)  # sample points of the interp rows (kinks)


def _nan_first_np(x):
    x = np.array(x, copy=True)
    x[..., 0] = np.nan
    return x


def _nan_first(x):
    return x.at[..., 0].set(np.nan)


def _cast(f):
    """A NumPy reference whose result is cast to the first argument's dtype: funcgrad keeps
    float32 where NumPy's cov, corrcoef, interp and percentile (with a list q) give float64."""
    return lambda x, *rest: np.asarray(f(x, *rest)).astype(x.dtype)


def _coords(n):
    return np.cumsum(np.linspace(0.5, 1.5, n))


OPS = [
    # sequences holding traced values
    Op(
        "mean_of_list",
        lambda x, y: fnp.mean([x, y], axis=0),
        lambda x, y: np.mean([x, y], axis=0),
        2,
        shapes="same",
    ),
    Op(
        "array_of_list",
        lambda x, y: fnp.array([x, y * y, x]),
        lambda x, y: np.array([x, y * y, x]),
        2,
        shapes="same",
    ),
    Op(
        "concatenate_with_numpy",
        lambda x: fnp.concatenate(
            [x, np.ones(x.shape, x.dtype), [x[..., 0]]] if x.ndim == 1 else [x, x]
        ),
        lambda x: np.concatenate([x, np.ones_like(x), [x[..., 0]]] if x.ndim == 1 else [x, x]),
        shapes="nonempty_rank1+",
    ),
    Op(
        "norm_of_list",
        lambda x: fnp.linalg.norm([x[0], x[-1], 1.0]),
        _cast(lambda x: np.linalg.norm([x[0], x[-1], 1.0])),  # 1.0 is weakly typed
        shapes="vecs",
        domain="positive",
    ),
    Op("getitem_list", lambda x: x[[0, 0, 2]], lambda x: x[[0, 0, 2]], shapes="rows3"),
    Op("float64_of_traced", lambda x: fnp.float64(x) * 2.0, lambda x: x.astype(np.float64) * 2.0),
    # keywords
    Op(
        "clip_keywords",
        lambda x: fnp.clip(x, a_min=-0.5, a_max=0.7),
        lambda x: np.clip(x, a_min=-0.5, a_max=0.7),
        avoid=(-0.5, 0.7),
    ),
    Op(
        "clip_min_only",
        lambda x: fnp.clip(x, min=-0.5),
        lambda x: np.clip(x, min=-0.5),
        avoid=(-0.5,),
    ),
    Op("rad2deg", fnp.rad2deg, np.rad2deg, **_TOL),
    Op(
        "nan_to_num",
        lambda x: fnp.nan_to_num(_nan_first(x), nan=0.5),
        lambda x: np.nan_to_num(_nan_first_np(x), nan=0.5),
        shapes="nonempty_rank1+",
    ),
    # NaN-ignoring reductions (a NaN in front of every slice)
    Op(
        "nansum",
        lambda x: fnp.nansum(_nan_first(x), axis=-1),
        lambda x: np.nansum(_nan_first_np(x), axis=-1),
        shapes="rank1_n2",
        **_TOL,
    ),
    Op(
        "nanmean",
        lambda x: fnp.nanmean(_nan_first(x), axis=-1, keepdims=True),
        lambda x: np.nanmean(_nan_first_np(x), axis=-1, keepdims=True),
        shapes="rank1_n2",
        **_TOL,
    ),
    Op(
        "nanmean_all",
        lambda x: fnp.nanmean(_nan_first(x)),
        lambda x: np.nanmean(_nan_first_np(x)),
        shapes="rank1_n2",
        **_TOL,
    ),
    Op(
        "nanprod",
        lambda x: fnp.nanprod(_nan_first(x), axis=-1),
        lambda x: np.nanprod(_nan_first_np(x), axis=-1),
        shapes="rank1_n2",
        domain="small",
        **_TOL,
    ),
    Op(
        "nanmax",
        lambda x: fnp.nanmax(_nan_first(x), axis=-1),
        lambda x: np.nanmax(_nan_first_np(x), axis=-1),
        shapes="rank1_n2",
        avoid=("distinct",),
    ),
    Op(
        "nanmin",
        lambda x: fnp.nanmin(_nan_first(x)),
        lambda x: np.nanmin(_nan_first_np(x)),
        shapes="rank1_n2",
        avoid=("distinct",),
    ),
    Op(
        "nanvar",
        lambda x: fnp.nanvar(_nan_first(x), axis=-1),
        lambda x: np.nanvar(_nan_first_np(x), axis=-1),
        shapes="rank1_n2",
        **_TOL,
    ),
    Op(
        "nanstd",
        lambda x: fnp.nanstd(_nan_first(x), axis=-1),
        lambda x: np.nanstd(_nan_first_np(x), axis=-1),
        shapes="rank1_n2",
        **_TOL,
    ),
    Op(
        "nancumsum",
        lambda x: fnp.nancumsum(_nan_first(x), axis=-1),
        lambda x: np.nancumsum(_nan_first_np(x), axis=-1),
        shapes="rank1_n2",
        **_TOL,
    ),
    Op(
        "nanargmax",
        lambda x: fnp.nanargmax(_nan_first(x), axis=-1),
        lambda x: np.nanargmax(_nan_first_np(x), axis=-1),
        shapes="rank1_n2",
        grad=False,
    ),
    # statistics
    Op(
        "median",
        lambda x: fnp.median(x, axis=-1),
        lambda x: np.median(x, axis=-1),
        shapes="nonempty_rank1+",
        avoid=("distinct",),
        **_TOL,
    ),
    Op(
        "median_all_keepdims",
        lambda x: fnp.median(x, keepdims=True),
        lambda x: np.median(x, keepdims=True),
        shapes="nonempty",
        avoid=("distinct",),
        **_TOL,
    ),
    Op(
        "percentile",
        lambda x: fnp.percentile(x, [10, 50, 95], axis=-1),
        _cast(lambda x: np.percentile(x, [10, 50, 95], axis=-1)),
        shapes="nonempty_rank1+",
        avoid=("distinct",),
        **_TOL,
    ),
    *[
        Op(
            f"quantile_{method}",
            lambda x, method=method: fnp.quantile(x, 0.3, axis=0, method=method),
            lambda x, method=method: np.quantile(x, 0.3, axis=0, method=method),
            shapes="nonempty_rank1+",
            avoid=("distinct",),
            **_TOL,
        )
        for method in ("lower", "higher", "midpoint", "nearest")
    ],
    Op(
        "nanmedian",
        lambda x: fnp.nanmedian(_nan_first(x), axis=-1),
        lambda x: np.nanmedian(_nan_first_np(x), axis=-1),
        shapes="rank1_n2",
        avoid=("distinct",),
        **_TOL,
    ),
    Op(
        "nanpercentile",
        lambda x: fnp.nanpercentile(_nan_first(x), 40.0, axis=-1),
        lambda x: np.nanpercentile(_nan_first_np(x), 40.0, axis=-1),
        shapes="rank1_n2",
        avoid=("distinct",),
        **_TOL,
    ),
    Op(
        "average_weights",
        lambda x, w: fnp.average(x, weights=w),
        lambda x, w: np.average(x, weights=w),
        2,
        domain=("real", "positive"),
        shapes="nonempty",
        **_TOL,
    ),
    Op(
        "average_axis_weights",
        lambda x: fnp.average(x, axis=-1, weights=np.arange(1.0, x.shape[-1] + 1)),
        lambda x: np.average(x, axis=-1, weights=np.arange(1.0, x.shape[-1] + 1)),
        shapes="nonempty_rank1+",
        **_TOL,
    ),
    Op("cov", fnp.cov, _cast(np.cov), shapes="obs2d", **_TOL),
    Op(
        "cov_columns_ddof",
        lambda x: fnp.cov(x.T, rowvar=False, ddof=0),
        _cast(lambda x: np.cov(x.T, rowvar=False, ddof=0)),
        shapes="obs2d",
        **_TOL,
    ),
    Op(
        "cov_weighted",
        lambda x: fnp.cov(
            x, fweights=np.arange(1, x.shape[1] + 1), aweights=np.linspace(0.5, 1.5, x.shape[1])
        ),
        _cast(
            lambda x: np.cov(
                x,
                fweights=np.arange(1, x.shape[1] + 1),
                aweights=np.linspace(0.5, 1.5, x.shape[1]),
            )
        ),
        shapes="obs2d",
        **_TOL,
    ),
    Op(
        "cov_xy_bias",
        lambda x, y: fnp.cov(x, y, bias=True),
        _cast(lambda x, y: np.cov(x, y, bias=True)),
        2,
        shapes="obs2d",
        **_TOL,
    ),
    Op(
        "corrcoef",
        fnp.corrcoef,
        _cast(np.corrcoef),
        shapes="obs2d",
        rtol=1e-4,
        atol=1e-5,
        grad_tol=1e-4,
    ),
    # differences, integrals
    Op(
        "diff2_prepend",
        lambda x: fnp.diff(x, 2, axis=-1, prepend=0.5),
        _cast(lambda x: np.diff(x, 2, axis=-1, prepend=0.5)),
        shapes="rank1+",
    ),
    Op(
        "ediff1d",
        lambda x: fnp.ediff1d(x, to_end=[1.0, 2.0], to_begin=3.0),
        lambda x: np.ediff1d(x, to_end=[1.0, 2.0], to_begin=3.0),
    ),
    Op(
        "trapezoid",
        lambda y, x: fnp.trapezoid(y, x, axis=-1),
        lambda y, x: np.trapezoid(y, x, axis=-1),
        2,
        shapes="same_rank1+",
        **_TOL,
    ),
    Op(
        "trapezoid_dx",
        lambda y: fnp.trapezoid(y, dx=0.5, axis=0),
        lambda y: np.trapezoid(y, dx=0.5, axis=0),
        shapes="rank1+",
        **_TOL,
    ),
    Op(
        "gradient",
        lambda f: fnp.gradient(f, axis=-1),
        lambda f: np.gradient(f, axis=-1),
        shapes="rank1_n2",
        **_TOL,
    ),
    Op(
        "gradient_coords",
        lambda f: fnp.gradient(f, _coords(f.shape[-1]), axis=-1),
        lambda f: np.gradient(f, _coords(f.shape[-1]), axis=-1),
        shapes="rank1_n2",
        **_TOL,
    ),
    # 1-d convolution
    *[
        Op(
            f"convolve_{mode}",
            lambda a, v, mode=mode: fnp.convolve(a, v, mode),
            lambda a, v, mode=mode: np.convolve(a, v, mode),
            2,
            shapes="vecs",
            **_TOL,
        )
        for mode in ("full", "same", "valid")
    ],
    *[
        Op(
            f"correlate_{mode}",
            lambda a, v, mode=mode: fnp.correlate(a, v, mode),
            lambda a, v, mode=mode: np.correlate(a, v, mode),
            2,
            shapes="vecs",
            **_TOL,
        )
        for mode in ("full", "same", "valid")
    ],
    # polynomials, interpolation
    Op("polyval", fnp.polyval, np.polyval, 2, shapes="vecs", **_TOL),
    Op("polymul", fnp.polymul, np.polymul, 2, shapes="vecs", **_TOL),
    Op("polyadd", fnp.polyadd, np.polyadd, 2, shapes="vecs"),
    Op("polyder", lambda p: fnp.polyder(p, 2), _cast(lambda p: np.polyder(p, 2)), shapes="vecs"),
    Op(
        "polyint",
        lambda p: fnp.polyint(p, 2, k=[1.0, 2.0]),
        _cast(lambda p: np.polyint(p, 2, k=[1.0, 2.0])),
        shapes="vecs",
        **_TOL,
    ),
    Op(
        "vander",
        lambda x: fnp.vander(x, 4),
        _cast(lambda x: np.vander(x, 4)),
        shapes="vecs",
        **_TOL,
    ),
    Op(
        "vander_increasing",
        lambda x: fnp.vander(x, increasing=True),
        _cast(lambda x: np.vander(x, increasing=True)),
        shapes="vecs",
        **_TOL,
    ),
    Op(
        "interp",
        lambda x, fp: fnp.interp(x, np.linspace(-1, 1, fp.shape[0]), fp),
        lambda x, fp: np.interp(x, np.linspace(-1, 1, fp.shape[0]), fp),  # float64 xp
        2,
        shapes="vecs",
        avoid=_KNOTS,
        **_TOL,
    ),
    Op(
        "interp_left_right",
        lambda x: fnp.interp(x, [-1.0, 0.0, 1.0], [0.5, -0.5, 2.0], left=-3.0, right=3.0),
        _cast(lambda x: np.interp(x, [-1.0, 0.0, 1.0], [0.5, -0.5, 2.0], left=-3.0, right=3.0)),
        avoid=_KNOTS,
        **_TOL,
    ),
    Op(
        "interp_xp",  # differentiable in the sample points too
        lambda xp: fnp.interp(0.1, fnp.sort(xp), fnp.arange(xp.shape[0], dtype=xp.dtype)),
        _cast(lambda xp: np.interp(0.1, np.sort(xp), np.arange(xp.shape[0]) * 1.0)),
        shapes="vecs",
        avoid=("distinct", 0.1),
        **_TOL,
    ),
    # products with NumPy's axes conventions
    Op(
        "tensordot_axes_pairs",
        lambda a, b: fnp.tensordot(a, b, axes=([1], [0])),
        lambda a, b: np.tensordot(a, b, axes=([1], [0])),
        2,
        shapes="matmul2d",
        **_TOL,
    ),
    Op("kron", fnp.kron, np.kron, 2, **_TOL),
    Op("cross", fnp.cross, np.cross, 2, shapes="last3", **_TOL),
    # append, insert, delete, meshgrid
    Op("append", fnp.append, np.append, 2),
    Op(
        "insert",
        lambda x, y: fnp.insert(x, [0, 0, x.size], y[0]),
        lambda x, y: np.insert(x, [0, 0, x.size], y[0]),
        2,
        shapes="vecs",
    ),
    Op(
        "insert_axis",
        lambda x: fnp.insert(x, 1, 2.0 * x[..., 0], axis=-1),
        lambda x: np.insert(x, 1, 2.0 * x[..., 0], axis=-1),
        shapes="nonempty_rank1+",
    ),
    Op(
        "delete",
        lambda x: fnp.delete(x, [0, -1], axis=-1),
        lambda x: np.delete(x, [0, -1], axis=-1),
        shapes="nonempty_rank1+",
    ),
    Op(
        "meshgrid",
        lambda x, y: fnp.stack(fnp.meshgrid(x, y)),
        lambda x, y: np.stack(np.meshgrid(x, y)),
        2,
        shapes="vecs",
    ),
    Op(
        "meshgrid_ij_sparse",
        lambda x, y: fnp.meshgrid(x, y, indexing="ij", sparse=True)[0] * y,
        lambda x, y: np.meshgrid(x, y, indexing="ij", sparse=True)[0] * y,
        2,
        shapes="vecs",
    ),
    # the derivative is in x2 alone, where x1 == 0: drawn away from 0, both are 0
    Op("heaviside", fnp.heaviside, np.heaviside, 2, avoid=(0.0,)),
]
