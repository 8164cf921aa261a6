"""fnp.linalg decompositions and what builds on them: eigh, eigvalsh, eig, eigvals, svd,
svdvals, qr, pinv, matrix_rank, lstsq, tensorsolve, tensorinv, cond, the SVD matrix norms.
Named-tuple results as pytrees through vjp; values against NumPy; errors."""

from __future__ import annotations

import numpy as np
import pytest

import funcgrad as fg
from funcgrad.core.tree import tree_flatten
from tests.helpers import check_grads, check_vmap
from tests.linalg_inputs import hermitian as symmetric
from tests.linalg_inputs import rand, separated

fnp = fg.numpy


def close(a, b, tol=1e-10):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=tol, atol=tol)


def abs2(x):
    return fnp.real(x * fnp.conj(x))


# --------------------------------------------------------------------------------------------
# Named tuples: NumPy's names, pytrees through vjp


@pytest.mark.parametrize(
    "name, make, kw",
    [
        ("eigh", symmetric, {}),
        ("eig", separated, {}),
        ("svd", separated, {}),
        ("qr", separated, {}),
        ("slogdet", separated, {}),
    ],
)
def test_results_are_named_tuples_with_numpy_fields(name, make, kw):
    a = make((3, 3))
    out = getattr(fnp.linalg, name)(a, **kw)
    expected = getattr(np.linalg, name)(a, **kw)
    assert type(out).__name__ == type(expected).__name__
    assert out._fields == expected._fields
    assert len(tree_flatten(out)[0]) == len(expected)


@pytest.mark.parametrize("name", ["eigh", "svd", "qr", "eig"])
def test_named_tuples_through_vjp(name):
    a = symmetric((3, 3)) if name == "eigh" else separated((3, 3))
    f = getattr(fnp.linalg, name)
    out, f_vjp = fg.vjp(f, a)
    assert type(out) is type(f(a))
    ct = type(out)(*[fnp.ones_like(x) for x in out])
    (g,) = f_vjp(ct)
    assert g.shape == a.shape and np.all(np.isfinite(np.asarray(g)))
    # The same cotangent as a plain tuple is refused: the structure must match.
    with pytest.raises((TypeError, ValueError)):
        f_vjp(tuple(ct))


def test_named_tuple_fields_work_under_grad():
    a = symmetric((3, 3))
    g = fg.grad(lambda x: fnp.sum(fnp.linalg.eigh(x).eigenvalues ** 2))(a)
    close(g, 2 * a)  # d tr(a^2) = 2 a
    g = fg.grad(lambda x: fnp.sum(fnp.linalg.svd(x).S ** 2))(a)
    close(g, 2 * a)  # d |a|_F^2 = 2 a


# --------------------------------------------------------------------------------------------
# eigh / eigvalsh / eig / eigvals


@pytest.mark.parametrize("dtype", [np.float64, np.complex128, np.float32])
def test_eigh_matches_numpy(dtype):
    a = symmetric((2, 3, 3), dtype=dtype)
    w, v = fnp.linalg.eigh(a)
    wn, vn = np.linalg.eigh(a)
    tol = 1e-5 if dtype == np.float32 else 1e-10
    close(w, wn, tol)
    close(abs2(v), np.abs(vn) ** 2, tol)
    close(fnp.linalg.eigvalsh(a), wn, tol)
    assert w.dtype == wn.dtype and v.dtype == vn.dtype


def test_eigh_uplo():
    a = separated((3, 3), seed=1)  # not symmetric: NumPy reads one triangle
    for uplo in ("L", "U"):
        w = fnp.linalg.eigvalsh(a, UPLO=uplo, symmetrize_input=False)
        close(w, np.linalg.eigvalsh(a, UPLO=uplo))
        close(fnp.linalg.eigh(a, uplo, symmetrize_input=False)[0], np.linalg.eigh(a, uplo)[0])
    with pytest.raises(ValueError, match="eigh: UPLO must be 'L' or 'U', got 'X'"):
        fnp.linalg.eigh(a, UPLO="X")


def test_eigh_gradient_is_symmetric():
    a = symmetric((3, 3), seed=2)
    g = np.asarray(fg.grad(lambda x: fnp.sum(fnp.linalg.eigh(x).eigenvectors[:, 0] ** 4))(a))
    close(g, g.T, 1e-12)


def test_eig_matches_numpy():
    a = separated((2, 3, 3), seed=3) + rand((2, 3, 3), seed=4)
    w, v = fnp.linalg.eig(a)
    assert w.dtype == v.dtype == np.complex128  # NumPy: real when every eigenvalue is real
    close(fnp.asarray(a).astype(np.complex128) @ v, v * w[..., None, :])
    wn = np.linalg.eigvals(a)
    close(np.sort_complex(np.asarray(fnp.linalg.eigvals(a))), np.sort_complex(wn))
    close(np.sort_complex(np.asarray(w)), np.sort_complex(wn))


def test_eigvals_grads():
    a = separated((3, 3), seed=5) + 0.5 * rand((3, 3), seed=6)
    check_grads(lambda x: fnp.linalg.eigvals(x), (a,), order=2)
    # d sum(w) = d trace
    g = fg.grad(lambda x: fnp.real(fnp.sum(fnp.linalg.eigvals(x))))(a)
    close(g, np.eye(3))


# --------------------------------------------------------------------------------------------
# svd / svdvals / qr


@pytest.mark.parametrize("shape", [(4, 3), (3, 4), (2, 3, 3)])
@pytest.mark.parametrize("full_matrices", [True, False])
def test_svd_matches_numpy(shape, full_matrices):
    a = rand(shape, seed=7)
    U, S, Vh = fnp.linalg.svd(a, full_matrices=full_matrices)
    Un, Sn, Vhn = np.linalg.svd(a, full_matrices=full_matrices)
    close(S, Sn)
    close(np.abs(np.asarray(U)), np.abs(Un))
    close(np.abs(np.asarray(Vh)), np.abs(Vhn))
    close(fnp.linalg.svd(a, compute_uv=False), Sn)
    close(fnp.linalg.svdvals(a), Sn)


@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_svd_hermitian(dtype):
    a = rand((2, 3, 3), seed=8, dtype=dtype)
    a = a + np.conj(np.swapaxes(a, -1, -2))  # indefinite: negative eigenvalues too
    U, S, Vh = fnp.linalg.svd(a, hermitian=True)
    Un, Sn, Vhn = np.linalg.svd(a, hermitian=True)
    close(S, Sn)
    close((np.asarray(U) * np.asarray(S)[..., None, :]) @ np.asarray(Vh), a)
    close(fnp.linalg.svd(a, compute_uv=False, hermitian=True), Sn)
    check_grads(lambda x: fnp.linalg.svd(x, compute_uv=False, hermitian=True), (a[0],), order=2)
    with pytest.raises(ValueError, match=r"svd: hermitian=True needs a square.*\(2, 3\)"):
        fnp.linalg.svd(np.ones((2, 3)), hermitian=True)


def test_svd_grads_through_named_fields():
    a = separated((4, 3), seed=9)

    def f(x):
        r = fnp.linalg.svd(x, full_matrices=False)
        return r.U @ r.Vh, r.S

    check_grads(f, (a,), order=2)


@pytest.mark.parametrize("mode", ["reduced", "complete", "r"])
@pytest.mark.parametrize("shape", [(4, 3), (3, 4), (2, 3, 3)])
def test_qr_modes_match_numpy(mode, shape):
    a = rand(shape, seed=10)
    out = fnp.linalg.qr(a, mode=mode)
    expected = np.linalg.qr(a, mode=mode)
    if mode == "r":
        close(out, expected)
    else:
        close(out.Q, expected.Q)
        close(out.R, expected.R)


def test_qr_mode_errors():
    with pytest.raises(NotImplementedError, match="qr: mode='raw'"):
        fnp.linalg.qr(np.eye(2), mode="raw")
    with pytest.raises(ValueError, match="qr: mode must be .* got 'full'"):
        fnp.linalg.qr(np.eye(2), mode="full")


def test_qr_r_grads():
    check_grads(lambda x: fnp.linalg.qr(x, mode="r"), (separated((4, 3), seed=11),), order=2)
    check_grads(lambda x: fnp.linalg.qr(x, mode="complete"), (separated((2, 3), seed=11),))


# --------------------------------------------------------------------------------------------
# pinv / matrix_rank / lstsq


@pytest.mark.parametrize("shape", [(4, 3), (3, 4), (2, 3, 3), (0, 3), (3, 0)])
def test_pinv_matches_numpy(shape):
    a = rand(shape, seed=12)
    close(fnp.linalg.pinv(a), np.linalg.pinv(a))


def test_pinv_rank_deficient_and_cutoffs():
    u, v = rand((4, 2), seed=13), rand((2, 3), seed=14)
    a = u @ v  # rank 2
    close(fnp.linalg.pinv(a), np.linalg.pinv(a))
    close(fnp.linalg.pinv(a, rtol=None), np.linalg.pinv(a, rtol=None))
    close(fnp.linalg.pinv(a, 0.9), np.linalg.pinv(a, 0.9))
    close(fnp.linalg.pinv(a, rtol=0.9), np.linalg.pinv(a, rtol=0.9))
    batch = np.stack([a, rand((4, 3), seed=15)])
    rc = np.array([1e-15, 0.5])
    close(fnp.linalg.pinv(batch, rc), np.linalg.pinv(batch, rc))
    with pytest.raises(ValueError, match="pinv: rtol and rcond"):
        fnp.linalg.pinv(a, 0.1, rtol=0.1)
    # Derivative along directions that keep the rank (Golub & Pereyra): through the factors.
    check_grads(lambda u, v: fnp.linalg.pinv(u @ v), (u, v), order=2)


@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_pinv_grads(dtype):
    check_grads(fnp.linalg.pinv, (separated((3, 2), seed=16, dtype=dtype),), order=2)
    s = symmetric((3, 3), seed=17, dtype=dtype)
    close(fnp.linalg.pinv(s, hermitian=True), np.linalg.pinv(s, hermitian=True))
    check_grads(lambda x: fnp.linalg.pinv(x, hermitian=True), (s,), order=2)


def test_pinv_vmap():
    x = rand((3, 4, 2), seed=18)
    for axis in (0, 1, 2):
        check_vmap(fnp.linalg.pinv, [np.moveaxis(x, 0, axis)], [axis], atol=1e-10, rtol=1e-10)


def test_matrix_rank():
    a = rand((4, 2), seed=19) @ rand((2, 3), seed=20)
    assert int(fnp.linalg.matrix_rank(a)) == np.linalg.matrix_rank(a) == 2
    batch = np.stack([a, np.eye(4, 3), np.zeros((4, 3))])
    np.testing.assert_array_equal(fnp.linalg.matrix_rank(batch), np.linalg.matrix_rank(batch))
    assert fnp.linalg.matrix_rank(batch).dtype == np.intp
    d = np.diag([1.0, 0.1, 0.01])
    for kw in (dict(tol=0.05), dict(rtol=0.5), dict(hermitian=True), {}):
        assert int(fnp.linalg.matrix_rank(d, **kw)) == np.linalg.matrix_rank(d, **kw)
    assert int(fnp.linalg.matrix_rank(np.ones(3))) == 1
    assert int(fnp.linalg.matrix_rank(np.zeros(3))) == 0
    assert int(fnp.linalg.matrix_rank(np.zeros((0, 3)))) == 0
    with pytest.raises(ValueError, match="matrix_rank: tol and rtol"):
        fnp.linalg.matrix_rank(d, tol=1.0, rtol=1.0)


@pytest.mark.parametrize(
    "a_shape, b_shape", [((5, 3), (5,)), ((5, 3), (5, 2)), ((3, 5), (3, 2)), ((3, 3), (3,))]
)
def test_lstsq_matches_numpy(a_shape, b_shape):
    a, b = rand(a_shape, seed=21), rand(b_shape, seed=22)
    x, res, rank, s = fnp.linalg.lstsq(a, b)
    xn, resn, rankn, sn = np.linalg.lstsq(a, b)
    close(x, xn)
    close(s, sn)
    assert int(rank) == rankn
    if resn.size:
        close(res, resn)
    x2, res2, _, _ = fnp.linalg.lstsq(a, b, numpy_resid=True)
    assert np.shape(res2) == resn.shape
    n_cols = 1 if len(b_shape) == 1 else b_shape[1]
    assert res.shape == (n_cols,)  # JAX's default: always the residuals


def test_lstsq_rank_deficient():
    a = rand((5, 2), seed=23) @ rand((2, 3), seed=24)
    b = rand((5,), seed=25)
    x, res, rank, s = fnp.linalg.lstsq(a, b)
    xn, resn, rankn, _ = np.linalg.lstsq(a, b)
    close(x, xn, 1e-8)
    assert int(rank) == rankn == 2
    assert fnp.linalg.lstsq(a, b, numpy_resid=True)[1].shape == resn.shape == (0,)
    close(fnp.linalg.lstsq(a, b, rcond=0.99)[0], np.linalg.lstsq(a, b, rcond=0.99)[0])


def test_lstsq_grads_and_errors():
    a, b = separated((4, 3), seed=26), rand((4, 2), seed=27)
    check_grads(lambda a, b: fnp.linalg.lstsq(a, b)[0], (a, b), order=2)
    check_grads(lambda a, b: fnp.linalg.lstsq(a, b)[1], (a, b), order=2)
    with pytest.raises(ValueError, match=r"lstsq: .*\(4, 3\) and \(3,\)"):
        fnp.linalg.lstsq(a, np.ones(3))
    with pytest.raises(ValueError, match=r"lstsq: a must be 2-d.*\(2, 4, 3\)"):
        fnp.linalg.lstsq(np.ones((2, 4, 3)), np.ones(4))


# --------------------------------------------------------------------------------------------
# tensorsolve / tensorinv


def test_tensorsolve_and_tensorinv_match_numpy():
    a = np.eye(6).reshape(6, 2, 3) + 0.1 * rand((6, 2, 3), seed=28)
    close(fnp.linalg.tensorinv(a, ind=1), np.linalg.tensorinv(a, ind=1))
    b4 = np.eye(6).reshape(2, 3, 6) + 0.1 * rand((2, 3, 6), seed=29)
    close(fnp.linalg.tensorinv(b4.reshape(2, 3, 2, 3)), np.linalg.tensorinv(b4.reshape(2, 3, 2, 3)))
    b = rand((2, 3), seed=30)
    close(fnp.linalg.tensorsolve(b4, b), np.linalg.tensorsolve(b4, b))
    a2 = np.moveaxis(b4.reshape(2, 3, 2, 3), 0, 2)
    close(fnp.linalg.tensorsolve(a2, b, axes=(2,)), np.linalg.tensorsolve(a2, b, axes=(2,)))
    check_grads(lambda a, b: fnp.linalg.tensorsolve(a, b), (b4, b), order=2)
    check_grads(lambda a: fnp.linalg.tensorinv(a, ind=1), (a,), order=2)


def test_tensorsolve_tensorinv_errors():
    with pytest.raises(ValueError, match=r"tensorinv: .*\(2, 3\) with ind=1 is not square"):
        fnp.linalg.tensorinv(np.ones((2, 3)), ind=1)
    with pytest.raises(ValueError, match="tensorinv: ind must be a positive int, got 0"):
        fnp.linalg.tensorinv(np.ones((2, 2)), ind=0)
    with pytest.raises(ValueError, match=r"tensorsolve: .*\(2, 3, 5\).*\(2, 3\): prod"):
        fnp.linalg.tensorsolve(np.ones((2, 3, 5)), np.ones((2, 3)))


# --------------------------------------------------------------------------------------------
# cond and the singular-value matrix norms


@pytest.mark.parametrize("p", [None, 2, -2, "fro", "nuc", 1, -1, np.inf, -np.inf])
def test_cond_matches_numpy(p):
    a = separated((2, 3, 3), seed=31)
    close(fnp.linalg.cond(a, p), np.linalg.cond(a, p))
    check_grads(lambda x: fnp.linalg.cond(x, p), (a[0],), order=2)


def test_cond_rectangular_and_errors():
    a = rand((4, 3), seed=32)
    close(fnp.linalg.cond(a), np.linalg.cond(a))
    with pytest.raises(ValueError, match=r"cond: p='fro' needs square.*\(4, 3\)"):
        fnp.linalg.cond(a, "fro")


@pytest.mark.parametrize("ord", [2, -2, "nuc"])
@pytest.mark.parametrize("axis", [None, (0, 1), (1, 0), (0, 2), (-1, -3)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_svd_matrix_norms(ord, axis, keepdims):
    x = rand((3, 2, 4), seed=33)
    if axis is None:
        x = x[0]
    close(fnp.linalg.norm(x, ord, axis, keepdims), np.linalg.norm(x, ord, axis, keepdims))


@pytest.mark.parametrize("ord", [2, -2, "nuc"])
def test_svd_matrix_norm_grads_and_array_api(ord):
    x = separated((2, 3, 4), seed=34)
    close(fnp.linalg.matrix_norm(x, ord=ord), np.linalg.matrix_norm(x, ord=ord))
    check_grads(lambda x: fnp.linalg.norm(x, ord, axis=(0, 2)), (x,), order=2)
    # The spectral norm's gradient is u1 v1^T.
    u, s, vh = np.linalg.svd(x[0])
    if ord == 2:
        close(fg.grad(lambda a: fnp.linalg.norm(a, 2))(x[0]), np.outer(u[:, 0], vh[0]))


# --------------------------------------------------------------------------------------------
# multi_dot: NumPy's multiplication order


@pytest.mark.parametrize(
    "shapes",
    [
        [(10, 100), (100, 5), (5, 50)],
        [(5, 10), (10, 100), (100, 2), (2, 30), (30, 4)],
        [(3,), (3, 40), (40, 2), (2, 7), (7,)],
        [(4,), (4, 6)],
    ],
)
def test_multi_dot_order_and_values(shapes):
    from numpy.linalg._linalg import _multi_dot_matrix_chain_order

    from funcgrad.numpy.linalg import _chain_order

    arrays = [rand(s, seed=i) for i, s in enumerate(shapes)]
    close(fnp.linalg.multi_dot(arrays), np.linalg.multi_dot(arrays))
    mats = [a.reshape(1, -1) if i == 0 and a.ndim == 1 else a for i, a in enumerate(arrays)]
    if mats[-1].ndim == 1:
        mats[-1] = mats[-1].reshape(-1, 1)
    if len(mats) > 2:
        dims = [m.shape[0] for m in mats] + [mats[-1].shape[1]]
        s = _multi_dot_matrix_chain_order(mats)
        mine = _chain_order(dims)
        n = len(mats)
        assert all(mine[i][j] == s[i, j] for i in range(n) for j in range(i + 1, n))
    check_grads(lambda *xs: fnp.linalg.multi_dot(list(xs)), arrays, order=1)


def test_multi_dot_misaligned():
    with pytest.raises(ValueError, match=r"multi_dot: arrays 1 and 2 do not align.*\(3, 4\)"):
        fnp.linalg.multi_dot([np.ones((2, 3)), np.ones((3, 4)), np.ones((5, 2))])


# --------------------------------------------------------------------------------------------
# jit: every primitive has a shape rule, so the decompositions and their derivatives trace


@pytest.mark.parametrize(
    "f, make, shape",
    [
        (fnp.linalg.eigh, symmetric, (2, 3, 3)),
        (lambda x: fnp.linalg.svd(x, full_matrices=False), separated, (4, 3)),
        (fnp.linalg.qr, separated, (3, 4)),
        (fnp.linalg.eig, separated, (3, 3)),
        (fnp.linalg.pinv, separated, (4, 3)),
        (lambda x: fnp.linalg.norm(x, "nuc"), separated, (4, 3)),
        (lambda x: fnp.linalg.lstsq(x, np.ones(4)), separated, (4, 3)),
        (fg.grad(lambda x: fnp.sum(fnp.linalg.svdvals(x) ** 3)), separated, (4, 3)),
        (fg.grad(lambda x: fnp.sum(fnp.linalg.pinv(x) ** 2)), separated, (3, 4)),
        (fg.grad(lambda x: fnp.sum(abs2(fnp.linalg.eigh(x)[1]) * 2.0)), symmetric, (3, 3)),
    ],
)
def test_jit_matches_eager(f, make, shape):
    if not hasattr(fg, "jit"):
        pytest.skip("fg.jit is not available")
    x = make(shape, seed=35)
    out, expected = fg.jit(f)(x), f(x)
    assert type(out) is type(expected)
    for o, e in zip(tree_flatten(out)[0], tree_flatten(expected)[0]):
        close(o, e)
