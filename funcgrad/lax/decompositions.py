"""Matrix decompositions: eigh, svd, qr and eig, each a primitive with all its rules.

Re-exported by ``funcgrad.lax.linalg`` (JAX's ``jax.lax.linalg`` names); the factorisations and
solves they build on (cholesky, triangular_solve, solve, inv, det) live there.
"""

from __future__ import annotations

import numpy as np

from funcgrad.core.primitive import Primitive, ShapedArray
from funcgrad.lax.complex import _complex_dtype, _real_dtype, conj
from funcgrad.lax.complex import real as _real
from funcgrad.lax.elementwise import convert_element_type, eq, select, sqrt
from funcgrad.lax.linalg import (
    LinAlgError,
    _check_square,
    _eye,
    _inexact,
    _mm,
    _mT,
    _raise_linalg,
    _tril,
    _triu,
    _unary_batch,
    inv_p,
    solve_p,
    triangular_solve,
)
from funcgrad.lax.reduce import reduce_sum
from funcgrad.lax.shape import concatenate, reshape, slice_in_dim
from funcgrad.transforms.grad import defjvp_all, defvjp
from funcgrad.transforms.vmap import batch_rules

# --------------------------------------------------------------------------------------------
# Decompositions: eigh, svd, qr, eig. Their derivatives are the standard perturbation formulas
# (jvp as in JAX's lax.linalg; vjp the transpose of the same linear map under the pairing
# Re(sum(g * t)), so complex inputs follow JAX's convention). Eigen- and singular vectors are
# defined up to sign (phase); their derivatives are those of the vectors the impl returns where
# those vary smoothly, and need distinct eigen- (singular) values.


def _H(x):
    return conj(_mT(x)) if x.dtype.kind == "c" else _mT(x)


def _conj(x):
    return conj(x) if x.dtype.kind == "c" else x


def _diag(x):
    """The diagonal (..., n) of a matrix batch (..., n, n)."""
    return reduce_sum(x * _eye(x.shape[-1], x.dtype), (len(x.shape) - 1,))


def _rows(v):
    """A vector batch (..., k) as (..., 1, k): multiplying by it scales a matrix's columns."""
    return reshape(v, tuple(v.shape[:-1]) + (1, v.shape[-1]))


def _cols(v):
    """A vector batch (..., k) as (..., k, 1): multiplying by it scales a matrix's rows."""
    return reshape(v, tuple(v.shape) + (1,))


def _diag_embed(v):
    return _rows(v) * _eye(v.shape[-1], v.dtype)


def _to(x, dtype):
    """``x`` as ``dtype``; complex to real keeps the real part (the transpose of the embedding)."""
    if x.dtype == dtype:
        return x
    if x.dtype.kind == "c" and np.dtype(dtype).kind != "c":
        x = _real(x)
    return x if x.dtype == dtype else convert_element_type(x, dtype)


def _safe_recip(x):
    """``1 / x`` where ``x != 0``, else 0 (a zero singular value contributes nothing)."""
    zero = eq(x, 0.0)
    return select(zero, 0.0, 1.0 / select(zero, 1.0, x))


def _gaps_recip(w):
    """F[..., i, j] = 1 / (w_j - w_i) off the diagonal; 0 on it and where w_i == w_j exactly."""
    return _safe_recip(_rows(w) - _cols(w))


def _imag_diag(x):
    """``i Im(diag(x))`` as a diagonal matrix (zero for real ``x``)."""
    d = x * _eye(x.shape[-1], x.dtype)
    return d - convert_element_type(_real(d), x.dtype)


def _check_matrix(name, x, arg="a"):
    if len(x.shape) < 2:
        raise ValueError(
            f"{name}: argument {arg} must be a matrix or a batch of them (shape (..., m, n)), "
            f"got shape {tuple(x.shape)}"
        )
    if np.dtype(x.dtype).kind not in "fc":
        raise TypeError(
            f"{name}: argument {arg} must have a float or complex dtype, got {x.dtype}; "
            "convert it first (e.g. a.astype('float64'))"
        )


def _host(xp, fn, *xs):
    """Runs a NumPy-only LAPACK routine (CuPy has no ``eig``) on the host; results back on xp."""
    if xp is np:
        return fn(*xs)
    outs = fn(*[xp.asnumpy(x) for x in xs])
    return tuple(xp.asarray(o) for o in outs) if isinstance(outs, tuple) else xp.asarray(outs)


# --------------------------------------------------------------------------------------------
# eigh: x = v diag(w) v^H for Hermitian x, w ascending. The impl reads one triangle (LAPACK),
# and the rules see the Hermitian matrix that triangle defines (real diagonal).


def _eigh_impl(xp, x, *, lower):
    try:
        w, v = xp.linalg.eigh(x, UPLO="L" if lower else "U")
    except LinAlgError as e:
        _raise_linalg("eigh", f"the eigenvalue iteration did not converge (shape {x.shape})", e)
    return [v, w]


def _eigh_abstract_eval(x, *, lower):
    _check_square("eigh", x)
    return [ShapedArray(x.shape, x.dtype), ShapedArray(x.shape[:-1], _real_dtype(x.dtype))]


def _real_diagonal(t):
    d = t * _eye(t.shape[-1], t.dtype)
    return convert_element_type(_real(d), t.dtype) if t.dtype.kind == "c" else d


def _hermitian_part(t, lower):
    strict = _tril(t, -1) if lower else _triu(t, 1)
    return strict + _H(strict) + _real_diagonal(t)


def _hermitian_part_transpose(g, lower):
    m = g + _H(g)
    return (_tril(m, -1) if lower else _triu(m, 1)) + _real_diagonal(g)


def _eigh_jvp(primals, tangents, *, lower):
    # dw = diag(v^H dx v), dv = v (F o v^H dx v) (Magnus 1985; JAX's rule).
    (x,), (t,) = primals, tangents
    v, w = eigh_p.bind(x, lower=lower)
    vh_t_v = _mm(_mm(_H(v), _hermitian_part(t, lower)), v)
    dv = _mm(v, _gaps_recip(w) * vh_t_v)
    return [v, w], [dv, _to(_diag(vh_t_v), w.dtype)]


def _eigh_vjp(g, ans, x, *, lower):
    (gv, gw), (v, w) = g, ans
    inner = _diag_embed(gw) + _gaps_recip(w) * _mm(_mT(v), gv)
    gx = _mm(_mm(_conj(v), inner), _mT(v))
    return _to(_hermitian_part_transpose(gx, lower), x.dtype)


eigh_p = Primitive("eigh", multiple_results=True)
eigh_p.def_impl(_eigh_impl)
eigh_p.def_abstract_eval(_eigh_abstract_eval)
defjvp_all(eigh_p, _eigh_jvp)
defvjp(eigh_p, _eigh_vjp)
batch_rules[eigh_p] = _unary_batch(eigh_p)


def eigh(x, *, lower: bool = True, symmetrize_input: bool = True):
    """Eigenvectors and eigenvalues ``(v, w)`` of a symmetric (Hermitian) matrix batch.

    ``x = v @ diag(w) @ v^H`` with ``w`` ascending (real) and ``v`` unitary.

    Args:
      x: (..., n, n).
      lower: read the lower triangle of ``x`` (else the upper), when not symmetrized.
      symmetrize_input: decompose ``(x + x^H) / 2`` (JAX's default), so that the gradient is
        symmetric; otherwise only one triangle of ``x`` is read (NumPy's behaviour).

    Eigenvectors are defined up to sign (phase); their derivatives need distinct eigenvalues
    (ties contribute 0, where JAX gives NaN).

    Example:
      >>> v, w = lax.linalg.eigh(a)   # a @ v == v * w
    """
    x = _inexact(x)
    _check_square("eigh", x)
    if symmetrize_input:
        x = (x + _H(x)) * 0.5
    v, w = eigh_p.bind(x, lower=bool(lower))
    return v, w


# --------------------------------------------------------------------------------------------
# svd: x = u diag(s) vh, s descending and nonnegative.


def _svd_impl(xp, x, *, full_matrices, compute_uv):
    try:
        if not compute_uv:
            return [xp.linalg.svd(x, compute_uv=False)]
        u, s, vh = xp.linalg.svd(x, full_matrices=full_matrices)
    except LinAlgError as e:
        _raise_linalg("svd", f"the SVD did not converge (shape {x.shape})", e)
    return [s, u, vh]


def _svd_abstract_eval(x, *, full_matrices, compute_uv):
    _check_matrix("svd", x)
    *batch, m, n = x.shape
    batch, k = tuple(batch), min(m, n)
    s = ShapedArray(batch + (k,), _real_dtype(x.dtype))
    if not compute_uv:
        return [s]
    u = ShapedArray(batch + (m, m if full_matrices else k), x.dtype)
    vh = ShapedArray(batch + (n if full_matrices else k, n), x.dtype)
    return [s, u, vh]


def _svd_no_full(x, full_matrices, compute_uv):
    m, n = x.shape[-2:]
    if compute_uv and full_matrices and m != n:
        raise NotImplementedError(
            f"svd: the derivative of u and vh with full_matrices=True for a non-square matrix "
            f"(shape {tuple(x.shape)}) is not defined (the extra columns are arbitrary); use "
            "full_matrices=False"
        )


def _svd_jvp(primals, tangents, *, full_matrices, compute_uv):
    # JAX's rule (Townsend 2016, with the complex phase term), for the reduced decomposition.
    (x,), (t,) = primals, tangents
    _svd_no_full(x, full_matrices, compute_uv)
    s, u, vh = svd_p.bind(x, full_matrices=False, compute_uv=True)
    v = _H(vh)
    ds_mat = _mm(_mm(_H(u), t), v)
    ds = _to(_diag(ds_mat), s.dtype)
    if not compute_uv:
        return [s], [ds]
    f = _gaps_recip(s * s)
    s_inv = _safe_recip(s)
    dss = ds_mat * _rows(s)  # dS diag(s)
    sds = _cols(s) * ds_mat  # diag(s) dS
    du = f * (dss + _H(dss))
    if x.dtype.kind == "c":
        du = du + _imag_diag(ds_mat) * _rows(s_inv)
    du = _mm(u, du)
    dv = _mm(v, f * (sds + _H(sds)))
    m, n = x.shape[-2:]
    if m > n:  # the part of dx v outside the span of u
        tv = _mm(t, v)
        du = du + (tv - _mm(u, _mm(_H(u), tv))) * _rows(s_inv)
    if n > m:
        tu = _mm(_H(t), u)
        dv = dv + (tu - _mm(v, _mm(vh, tu))) * _rows(s_inv)
    return [s, u, vh], [ds, du, _H(dv)]


def _svd_vjp(g, ans, x, *, full_matrices, compute_uv):
    # The transpose of _svd_jvp, term by term.
    _svd_no_full(x, full_matrices, compute_uv)
    if not compute_uv:
        (gs,) = g
        s, u, vh = svd_p.bind(x, full_matrices=False, compute_uv=True)
        return _to(_mm(_conj(u) * _rows(gs), _conj(vh)), x.dtype)
    (gs, gu, gvh), (s, u, vh) = g, ans
    f = _gaps_recip(s * s)
    s_inv = _safe_recip(s)
    gu_ = _mm(_mT(u), gu)  # U^T gU
    gv_ = _mm(_conj(vh), _H(gvh))  # V^T gV, with gV = gvh^H
    inner = (f * (gu_ - _H(gu_))) * _rows(s) + _cols(s) * (f * (gv_ - _H(gv_)))
    inner = inner + _diag_embed(convert_element_type(gs, inner.dtype))
    if x.dtype.kind == "c":
        inner = inner + _imag_diag(gu_) * _rows(s_inv)
    m, n = x.shape[-2:]
    if m > n:
        inner_u = (gu - _mm(_conj(u), gu_)) * _rows(s_inv)
        gx = _mm(_mm(_conj(u), inner) + inner_u, _conj(vh))
    elif n > m:
        gvh_perp = gvh - _mm(_mm(gvh, _mT(vh)), _conj(vh))
        gx = _mm(_conj(u), _mm(inner, _conj(vh)) + _cols(s_inv) * gvh_perp)
    else:
        gx = _mm(_mm(_conj(u), inner), _conj(vh))
    return _to(gx, x.dtype)


svd_p = Primitive("svd", multiple_results=True)
svd_p.def_impl(_svd_impl)
svd_p.def_abstract_eval(_svd_abstract_eval)
defjvp_all(svd_p, _svd_jvp)
defvjp(svd_p, _svd_vjp)
batch_rules[svd_p] = _unary_batch(svd_p)


def svd(x, *, full_matrices: bool = True, compute_uv: bool = True):
    """The singular value decomposition ``x = u @ diag(s) @ vh`` of a matrix batch.

    Args:
      x: (..., m, n).
      full_matrices: u is (..., m, m) and vh (..., n, n); else (..., m, k) and (..., k, n)
        with k = min(m, n).
      compute_uv: return ``(u, s, vh)``; else only ``s`` (descending, nonnegative).

    Derivatives of ``s`` exist wherever ``s`` is simple (no repeated nonzero values); those of
    ``u`` and ``vh`` also need ``full_matrices=False`` unless ``x`` is square.

    Example:
      >>> u, s, vh = lax.linalg.svd(a, full_matrices=False)
    """
    x = _inexact(x)
    _check_matrix("svd", x)
    out = svd_p.bind(x, full_matrices=bool(full_matrices), compute_uv=bool(compute_uv))
    if not compute_uv:
        return out[0]
    s, u, vh = out
    return u, s, vh


# --------------------------------------------------------------------------------------------
# qr: x = q r, q with orthonormal columns, r upper triangular (LAPACK's signs).


def _qr_impl(xp, x, *, full_matrices):
    q, r = xp.linalg.qr(x, mode="complete" if full_matrices else "reduced")
    return [q, r]


def _qr_abstract_eval(x, *, full_matrices):
    _check_matrix("qr", x)
    *batch, m, n = x.shape
    batch, k = tuple(batch), (m if full_matrices else min(m, n))
    return [ShapedArray(batch + (m, k), x.dtype), ShapedArray(batch + (k, n), x.dtype)]


def _qr_check(x, full_matrices):
    m, n = x.shape[-2:]
    if full_matrices and m > n:
        raise NotImplementedError(
            f"qr: the derivative of the complete decomposition of a tall matrix (shape "
            f"{tuple(x.shape)}) is not defined (the extra columns of q are arbitrary); use "
            "mode='reduced' (full_matrices=False)"
        )


def _split_cols(x, k):
    nd = len(x.shape)
    return slice_in_dim(x, 0, k, axis=nd - 1), slice_in_dim(x, k, x.shape[-1], axis=nd - 1)


def _qr_square_jvp(q, r, t):
    # Walter & Lehmann / Townsend's "QR derivative" (m >= n), with JAX's complex correction.
    t_rinv = triangular_solve(r, t)  # t r^-1
    b = _mm(_H(q), t_rinv)
    low = _tril(b, -1)
    do = low - _H(low)  # q^H dq: skew-Hermitian
    if b.dtype.kind == "c":
        do = do + _imag_diag(b)
    return _mm(q, do - b) + t_rinv, _mm(b - do, r)


def _qr_square_vjp(gq, gr, q, r):
    g_do = _mm(_mT(q), gq) - _mm(gr, _mT(r))
    g_b = _tril(g_do, -1) - _tril(_H(g_do), -1) - g_do
    if g_do.dtype.kind == "c":
        g_b = g_b + _imag_diag(g_do)
    g_t_rinv = gq + _mm(_conj(q), g_b)
    return triangular_solve(r, g_t_rinv, transpose_a=True)  # .. r^-T


def _qr_jvp(primals, tangents, *, full_matrices):
    (x,), (t,) = primals, tangents
    _qr_check(x, full_matrices)
    q, r = qr_p.bind(x, full_matrices=False)  # the same for m <= n
    m, n = x.shape[-2:]
    if m >= n:
        dq, dr = _qr_square_jvp(q, r, t)
        return [q, r], [dq, dr]
    # Wide: x = [x1 | x2] = q [r1 | r2] with x1 square, so r2 = q^H x2.
    (r1, r2), (t1, t2) = _split_cols(r, m), _split_cols(t, m)
    dq, dr1 = _qr_square_jvp(q, r1, t1)
    dr2 = _mm(_H(q), t2 - _mm(dq, r2))
    return [q, r], [dq, concatenate([dr1, dr2], len(x.shape) - 1)]


def _qr_vjp(g, ans, x, *, full_matrices):
    _qr_check(x, full_matrices)
    (gq, gr), (q, r) = g, ans
    m, n = x.shape[-2:]
    if m >= n:
        return _to(_qr_square_vjp(gq, gr, q, r), x.dtype)
    (r1, r2), (gr1, gr2) = _split_cols(r, m), _split_cols(gr, m)
    g_t2 = _mm(_conj(q), gr2)
    g_t1 = _qr_square_vjp(gq - _mm(g_t2, _mT(r2)), gr1, q, r1)
    return _to(concatenate([g_t1, g_t2], len(x.shape) - 1), x.dtype)


qr_p = Primitive("qr", multiple_results=True)
qr_p.def_impl(_qr_impl)
qr_p.def_abstract_eval(_qr_abstract_eval)
defjvp_all(qr_p, _qr_jvp)
defvjp(qr_p, _qr_vjp)
batch_rules[qr_p] = _unary_batch(qr_p)


def qr(x, *, full_matrices: bool = True):
    """The QR decomposition ``x = q @ r`` of a matrix batch (..., m, n).

    ``full_matrices``: q is (..., m, m) and r (..., m, n); else (..., m, k) and (..., k, n) with
    k = min(m, n). Signs follow LAPACK (NumPy's), the diagonal of r may be negative. Derivatives
    need r's leading k x k block invertible, and full_matrices=False when m > n.

    Example:
      >>> q, r = lax.linalg.qr(a, full_matrices=False)
    """
    x = _inexact(x)
    _check_matrix("qr", x)
    q, r = qr_p.bind(x, full_matrices=bool(full_matrices))
    return q, r


# --------------------------------------------------------------------------------------------
# eig: x v = v diag(w) for a general square x; complex results (as in JAX) whatever x's dtype.
# Eigenvectors have unit norm; derivatives need distinct eigenvalues, and those of v are taken
# in the gauge Re(v_i^H dv_i) = 0, so only phase-invariant functions of v (|v|, v v^H) agree
# with finite differences when the eigenvalues are complex.


def _eig_impl(xp, x, *, compute_right_eigenvectors):
    dtype = _complex_dtype(x.dtype)
    try:
        if not compute_right_eigenvectors:
            return [_host(xp, np.linalg.eigvals, x).astype(dtype)]
        w, v = _host(xp, np.linalg.eig, x)
    except LinAlgError as e:
        _raise_linalg("eig", f"the eigenvalue iteration did not converge (shape {x.shape})", e)
    return [w.astype(dtype), v.astype(dtype)]


def _eig_abstract_eval(x, *, compute_right_eigenvectors):
    _check_square("eig", x)
    dtype = _complex_dtype(x.dtype)
    w = ShapedArray(x.shape[:-1], dtype)
    return [w, ShapedArray(x.shape, dtype)] if compute_right_eigenvectors else [w]


def _eig_jvp(primals, tangents, *, compute_right_eigenvectors):
    # dw = diag(v^-1 dx v) (Magnus 1985); dv = v (F o v^-1 dx v), then the norm-keeping gauge.
    (x,), (t,) = primals, tangents
    w, v = eig_p.bind(x, compute_right_eigenvectors=True)
    vinv_t_v = _mm(solve_p.bind(v, convert_element_type(t, v.dtype)), v)
    dw = _diag(vinv_t_v)
    if not compute_right_eigenvectors:
        return [w], [dw]
    ve = _mm(v, _gaps_recip(w) * vinv_t_v)
    dv = ve - v * convert_element_type(_rows(_real(_diag(_mm(_H(v), ve)))), v.dtype)
    return [w, v], [dw, dv]


def _eig_vjp(g, ans, x, *, compute_right_eigenvectors):
    if compute_right_eigenvectors:
        (gw, gv), (w, v) = g, ans
    else:
        (gw,) = g
        w, v = eig_p.bind(x, compute_right_eigenvectors=True)
    inner = _diag_embed(gw)
    if compute_right_eigenvectors:
        norm_part = convert_element_type(_rows(_real(_diag(_mm(_mT(v), gv)))), v.dtype)
        inner = inner + _gaps_recip(w) * _mm(_mT(v), gv - _conj(v) * norm_part)
    gx = solve_p.bind(_mT(v), _mm(inner, _mT(v)))  # v^-T inner v^T
    return _to(gx, x.dtype)


eig_p = Primitive("eig", multiple_results=True)
eig_p.def_impl(_eig_impl)
eig_p.def_abstract_eval(_eig_abstract_eval)
defjvp_all(eig_p, _eig_jvp)
defvjp(eig_p, _eig_vjp)
batch_rules[eig_p] = _unary_batch(eig_p)


def eig(
    x, *, compute_left_eigenvectors: bool = True, compute_right_eigenvectors: bool = True
) -> list:
    """Eigenvalues and eigenvectors of a general square matrix batch (JAX's ``lax.linalg.eig``).

    Returns ``[w] + [vl] + [vr]`` (the eigenvector lists as requested): ``x @ vr == vr * w`` and
    ``vl^H @ x == w[:, None] * vl^H``, both with unit-norm columns. Results are complex whatever
    ``x``'s dtype. Runs on the host (CuPy has no ``eig``). Left eigenvectors come from
    ``inv(vr)^H``; their phases may differ from LAPACK's.

    Example:
      >>> w, vr = lax.linalg.eig(a, compute_left_eigenvectors=False)
    """
    x = _inexact(x)
    _check_square("eig", x)
    want_v = bool(compute_left_eigenvectors or compute_right_eigenvectors)
    out = eig_p.bind(x, compute_right_eigenvectors=want_v)
    if not want_v:
        return out
    w, vr = out
    result = [w]
    if compute_left_eigenvectors:
        vl = _H(inv_p.bind(vr))
        norms = sqrt(reduce_sum(_real(vl * _conj(vl)), (len(vl.shape) - 2,)))
        result.append(vl / convert_element_type(_rows(norms), vl.dtype))
    if compute_right_eigenvectors:
        result.append(vr)
    return result
