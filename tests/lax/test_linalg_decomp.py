"""lax.linalg decompositions (eigh, svd, qr, eig): reconstruction, shape rules, derivatives
of sign-invariant functions against finite differences, vmap, and errors."""

from __future__ import annotations

import numpy as np
import pytest

import funcgrad as fg
from funcgrad import lax
from funcgrad.core.primitive import ShapedArray, abstract_eval_rules
from funcgrad.lax import linalg
from tests.helpers import check_grads, check_vmap
from tests.linalg_inputs import hermitian, rand, separated

fnp = fg.numpy


def _rng(seed=0):
    return np.random.default_rng(seed)


def H(x):
    return np.conj(np.swapaxes(x, -1, -2))


def close(a, b, tol=1e-10):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=tol, atol=tol)


def abs2(x):
    return fnp.real(x * fnp.conj(x))


DTYPES = [np.float64, np.complex128]


# --------------------------------------------------------------------------------------------
# Values: reconstructions and NumPy's values


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 1), (3, 3), (2, 4, 4), (2, 1, 3, 3), (0, 2, 2), (0, 0)])
def test_eigh_values(shape, dtype):
    a = hermitian(shape, dtype=dtype) if shape[-1] else np.zeros(shape, dtype)
    v, w = linalg.eigh(a)
    v, w = np.asarray(v), np.asarray(w)
    assert v.dtype == dtype and w.dtype == np.float64 and w.shape == shape[:-1]
    close(w, np.linalg.eigvalsh(a))
    close((v * w[..., None, :]) @ H(v), a)
    close(H(v) @ v, np.broadcast_to(np.eye(shape[-1]), shape))


@pytest.mark.parametrize("lower", [True, False])
def test_eigh_reads_one_triangle_without_symmetrization(lower):
    a = separated((3, 3), seed=2)  # not symmetric
    v, w = linalg.eigh(a, lower=lower, symmetrize_input=False)
    close(w, np.linalg.eigvalsh(a, UPLO="L" if lower else "U"))
    v, w = linalg.eigh(a)  # symmetrized by default
    close(w, np.linalg.eigvalsh((a + a.T) / 2))


def test_eigh_float32_keeps_dtype():
    v, w = linalg.eigh(hermitian((3, 3)).astype(np.float32))
    assert v.dtype == np.float32 and w.dtype == np.float32
    v, w = linalg.eigh(hermitian((3, 3), dtype=np.complex64))
    assert v.dtype == np.complex64 and w.dtype == np.float32


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(3, 3), (4, 2), (2, 4), (2, 3, 5), (1, 1), (0, 3), (2, 0)])
@pytest.mark.parametrize("full_matrices", [True, False])
def test_svd_values(shape, dtype, full_matrices):
    a = rand(shape, dtype=dtype)
    u, s, vh = (np.asarray(x) for x in linalg.svd(a, full_matrices=full_matrices))
    for x, y in zip((u, s, vh), np.linalg.svd(a, full_matrices=full_matrices)):
        assert x.shape == y.shape and x.dtype == y.dtype
    k = min(shape[-2:])
    close(s, np.linalg.svd(a, compute_uv=False))
    close((u[..., :, :k] * s[..., None, :]) @ vh[..., :k, :], a)
    close(linalg.svd(a, compute_uv=False), s)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(3, 3), (4, 2), (2, 4), (2, 3, 5), (0, 3), (2, 0)])
@pytest.mark.parametrize("full_matrices", [True, False])
def test_qr_values(shape, dtype, full_matrices):
    a = rand(shape, dtype=dtype)
    q, r = (np.asarray(x) for x in linalg.qr(a, full_matrices=full_matrices))
    qn, rn = np.linalg.qr(a, mode="complete" if full_matrices else "reduced")
    close(q, qn)
    close(r, rn)
    close(q @ r, a)
    assert np.all(np.tril(r, -1) == 0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 1), (3, 3), (2, 4, 4), (0, 2, 2)])
def test_eig_values(shape, dtype):
    a = rand(shape, dtype=dtype)
    w, vl, vr = (np.asarray(x) for x in linalg.eig(a))
    assert w.dtype == vr.dtype == vl.dtype == np.complex128
    close(a @ vr, vr * w[..., None, :])
    close(H(vl) @ a, w[..., :, None] * H(vl))
    close(np.linalg.norm(vl, axis=-2), np.ones(shape[:-1]))
    close(np.sort_complex(w.reshape(-1)), np.sort_complex(np.linalg.eigvals(a).reshape(-1)))
    (w2,) = linalg.eig(a, compute_left_eigenvectors=False, compute_right_eigenvectors=False)
    close(w2, w)
    w3, vr3 = linalg.eig(a, compute_left_eigenvectors=False)
    close(vr3, vr)


def test_eig_of_a_real_matrix_with_complex_eigenvalues():
    a = np.array([[0.0, 1.0], [-1.0, 0.0]])
    w = np.asarray(linalg.eig(a)[0])
    close(np.sort_complex(w), [-1j, 1j])
    assert linalg.eig(a.astype(np.float32))[0].dtype == np.complex64


@pytest.mark.parametrize(
    "prim, params, shape, dtype",
    [
        (linalg.eigh_p, dict(lower=True), (2, 3, 3), np.complex64),
        (linalg.svd_p, dict(full_matrices=True, compute_uv=True), (2, 4, 3), np.float64),
        (linalg.svd_p, dict(full_matrices=False, compute_uv=True), (4, 3), np.complex128),
        (linalg.svd_p, dict(full_matrices=False, compute_uv=False), (3, 5), np.float32),
        (linalg.qr_p, dict(full_matrices=True), (2, 4, 3), np.float64),
        (linalg.qr_p, dict(full_matrices=False), (3, 5), np.complex128),
        (linalg.eig_p, dict(compute_right_eigenvectors=True), (2, 3, 3), np.float32),
        (linalg.eig_p, dict(compute_right_eigenvectors=False), (3, 3), np.complex128),
    ],
)
def test_abstract_eval_matches_impl(prim, params, shape, dtype):
    x = rand(shape, dtype=dtype)
    avals = abstract_eval_rules[prim](ShapedArray(shape, np.dtype(dtype)), **params)
    outs = prim.bind(fnp.asarray(x), **params)
    assert [ShapedArray(tuple(o.shape), o.dtype) for o in outs] == avals


# --------------------------------------------------------------------------------------------
# Derivatives (float64 and complex128), to second order, of sign/phase-invariant functions


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(3, 3), (2, 2, 2)])
def test_eigh_grads(shape, dtype):
    a = hermitian(shape, dtype=dtype)

    def pieces(x):
        v, w = linalg.eigh(x)
        return w, abs2(v), v[..., :, :1] @ fnp.conj(v[..., :, :1]).swapaxes(-1, -2)

    check_grads(pieces, (a,), order=2)


@pytest.mark.parametrize("lower", [True, False])
def test_eigh_grads_one_triangle(lower):
    a = separated((3, 3), seed=3)

    def f(x):
        v, w = linalg.eigh(x, lower=lower, symmetrize_input=False)
        return w, abs2(v)

    check_grads(f, (a,), order=2)
    # Only the triangle that is read gets a gradient.
    g = np.asarray(fg.grad(lambda x: fnp.sum(f(x)[1] * np.arange(9.0).reshape(3, 3)))(a))
    assert np.all((np.triu(g, 1) if lower else np.tril(g, -1)) == 0)


def test_eigh_gradient_at_repeated_eigenvalues_is_finite():
    # sum(w) = trace: the gradient is the identity, also where eigenvalues coincide (JAX: NaN).
    g = fg.grad(lambda x: fnp.sum(linalg.eigh(x)[1]))(np.eye(3))
    close(g, np.eye(3))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(3, 3), (4, 2), (2, 4), (2, 3, 2)])
def test_svd_grads(shape, dtype):
    a = separated(shape, dtype=dtype)

    def pieces(x):
        u, s, vh = linalg.svd(x, full_matrices=False)
        return s, abs2(u), abs2(vh), u @ vh

    check_grads(pieces, (a,), order=2)
    check_grads(lambda x: linalg.svd(x, compute_uv=False), (a,), order=2)


def test_svd_grads_full_matrices_square():
    a = separated((3, 3), seed=4)
    check_grads(lambda x: (lambda u, s, vh: (abs2(u), s, u @ vh))(*linalg.svd(x)), (a,), order=2)


def test_svd_gradient_at_zero_singular_values_is_finite():
    a = np.zeros((3, 2))
    a[0, 0] = 2.0
    g = fg.grad(lambda x: fnp.sum(linalg.svd(x, compute_uv=False)))(a)
    assert np.all(np.isfinite(np.asarray(g)))
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    close(g, u @ vh)  # the nuclear norm's gradient (one subgradient at a rank-deficient a)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(3, 3), (4, 2), (2, 4), (2, 3, 2), (2, 2, 3)])
def test_qr_grads(shape, dtype):
    a = separated(shape, dtype=dtype)
    check_grads(lambda x: linalg.qr(x, full_matrices=False), (a,), order=2)
    if shape[-2] <= shape[-1]:  # complete == reduced
        check_grads(lambda x: linalg.qr(x, full_matrices=True), (a,), order=2)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(3, 3), (2, 3, 3)])
def test_eig_grads(shape, dtype):
    a = separated(shape, seed=5, dtype=dtype)

    def values(x):
        (w,) = linalg.eig(x, compute_left_eigenvectors=False, compute_right_eigenvectors=False)
        return w

    def vectors(x):
        w, v = linalg.eig(x, compute_left_eigenvectors=False)
        return w, v * fnp.conj(v)

    check_grads(values, (a,), order=2)
    check_grads(vectors, (a,), order=2)
    check_grads(lambda x: (lambda w, vl, vr: vl * fnp.conj(vl))(*linalg.eig(x)), (a,), order=1)


def test_eig_grads_complex_eigenvalues_of_a_real_matrix():
    # A rotation-like block: a conjugate pair; the power sums are real-analytic in a.
    a = np.array([[0.3, 2.0, 0.1], [-2.0, 0.2, 0.3], [0.1, 0.4, 5.0]])

    def f(x):
        w, v = linalg.eig(x, compute_left_eigenvectors=False)
        return fnp.stack([fnp.sum(w**k) for k in (1, 2, 3)]), v * fnp.conj(v) * w[None, :]

    check_grads(f, (a,), order=2)


def test_real_eigenvectors_match_finite_differences_directly():
    # Real symmetric input: LAPACK's eigenvector signs are locally constant, so v itself agrees.
    a = hermitian((3, 3), seed=6)
    check_grads(lambda x: linalg.eigh(x)[0], (a,), order=2)
    b = separated((3, 3), seed=6)
    check_grads(lambda x: linalg.eig(x, compute_left_eigenvectors=False)[1], (b,), order=2)


def test_hessian_vector_products_agree():
    a = hermitian((3, 3), seed=7)
    t = hermitian((3, 3), seed=8)

    def f(x):
        v, w = linalg.eigh(x)
        return fnp.sum(w**3) + fnp.sum(abs2(v) * np.arange(9.0).reshape(3, 3))

    fwd_rev = fg.jvp(fg.grad(f), (a,), (t,))[1]
    rev_rev = fg.grad(lambda x: fnp.sum(fg.grad(f)(x) * t))(a)
    close(fwd_rev, rev_rev, 1e-8)


# --------------------------------------------------------------------------------------------
# vmap


@pytest.mark.parametrize("axis", [0, 1, 2, -1])
@pytest.mark.parametrize(
    "f, make",
    [
        (lambda x: linalg.eigh(x), hermitian),
        (lambda x: linalg.svd(x, full_matrices=False), separated),
        (lambda x: linalg.svd(x, compute_uv=False), separated),
        (lambda x: linalg.qr(x), separated),
        (lambda x: linalg.eig(x), separated),
    ],
)
def test_vmap_matches_a_loop(f, make, axis):
    x = np.moveaxis(make((4, 3, 3), seed=9), 0, axis)
    check_vmap(f, [x], [axis], atol=1e-10, rtol=1e-10)


def test_vmap_of_grad_and_grad_of_vmap():
    x = separated((4, 3, 2), seed=10)

    def f(a):
        u, s, vh = linalg.svd(a, full_matrices=False)
        return fnp.sum(s**3) + fnp.sum(abs2(u @ vh) * 0.5)

    g1 = fg.vmap(fg.grad(f))(x)
    g2 = fg.grad(lambda a: fnp.sum(fg.vmap(f)(a)))(x)
    close(g1, g2)
    close(g1, np.stack([np.asarray(fg.grad(f)(xi)) for xi in x]))


# --------------------------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize("fn, name", [(linalg.eigh, "eigh"), (linalg.eig, "eig")])
def test_non_square_errors_name_op_and_shape(fn, name):
    with pytest.raises(ValueError, match=rf"{name}: .*square.*\(2, 3\)"):
        fn(np.ones((2, 3)))
    with pytest.raises(ValueError, match=rf"{name}: .*\(3,\)"):
        fn(np.ones(3))


@pytest.mark.parametrize("fn, name", [(linalg.svd, "svd"), (linalg.qr, "qr")])
def test_vectors_error(fn, name):
    with pytest.raises(ValueError, match=rf"{name}: argument a must be a matrix.*\(3,\)"):
        fn(np.ones(3))


def test_integer_inputs_promote_and_abstract_eval_rejects_them():
    close(linalg.svd(np.array([[3, 0], [0, 4]]), compute_uv=False), [4.0, 3.0])
    with pytest.raises(TypeError, match="svd: .*float or complex.*int64"):
        abstract_eval_rules[linalg.svd_p](
            ShapedArray((2, 2), np.dtype(np.int64)), full_matrices=True, compute_uv=True
        )


def test_undefined_derivatives_say_what_to_use():
    a = separated((3, 2))
    with pytest.raises(NotImplementedError, match=r"svd: .*full_matrices=True.*\(3, 2\).*False"):
        fg.grad(lambda x: fnp.sum(linalg.svd(x)[0]))(a)
    with pytest.raises(NotImplementedError, match=r"qr: .*complete.*\(3, 2\).*reduced"):
        fg.jvp(lambda x: linalg.qr(x)[0], (a,), (a,))
    # Only the singular values of a non-square matrix: fine with full_matrices=True.
    check_grads(lambda x: linalg.svd(x, compute_uv=False), (a,), order=1)


def test_lax_namespace():
    assert lax.linalg.eigh is linalg.eigh and lax.linalg.eig_p.name == "eig"
