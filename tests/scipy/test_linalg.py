"""funcgrad.scipy.linalg against scipy.linalg: triangular and Cholesky solves (vector and matrix
right-hand sides, batches, both triangles), expm (norms needing many squarings, batches under
vmap, Fréchet derivative, complex input), and errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.linalg as sl

import funcgrad as fg
import funcgrad.numpy as fnp
import funcgrad.scipy.linalg as fsl
from tests.helpers import check_grads, check_vmap

rng = np.random.default_rng(0)
A = rng.standard_normal((4, 4)) + 4 * np.eye(4)
SPD = A @ A.T + np.eye(4)
B = rng.standard_normal((4, 3))


@pytest.mark.parametrize(
    "trans, lower, unit", itertools.product([0, 1, 2, "N", "T", "C"], [False, True], [False, True])
)
def test_solve_triangular_matches_scipy(trans, lower, unit):
    for a, b in [(A, B), (A, B[:, 0]), (A + 1j * A.T, B + 1j)]:
        want = sl.solve_triangular(a, b, trans=trans, lower=lower, unit_diagonal=unit)
        got = fsl.solve_triangular(a, b, trans=trans, lower=lower, unit_diagonal=unit)
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12, atol=1e-12)


def test_solve_triangular_batches_and_grads():
    a = rng.standard_normal((2, 3, 3)) + 3 * np.eye(3)
    b = rng.standard_normal((2, 3))
    want = np.stack([sl.solve_triangular(a[i], b[i], lower=True) for i in range(2)])
    np.testing.assert_allclose(np.asarray(fsl.solve_triangular(a, b, lower=True)), want)
    check_grads(lambda a, b: fsl.solve_triangular(a, b, trans=1), (a, b))
    check_vmap(lambda a, b: fsl.solve_triangular(a, b, lower=True), (a, b), [0, 0])
    assert fsl.solve_triangular(np.float32(a[0]), np.float32(b[0])).dtype == np.float32


@pytest.mark.parametrize("lower", [False, True])
def test_cho_factor_and_solve_match_scipy(lower):
    c, low = fsl.cho_factor(SPD, lower=lower)
    c_ref, low_ref = sl.cho_factor(SPD, lower=lower)
    assert low is low_ref or low == low_ref
    tri = np.tril if lower else np.triu
    np.testing.assert_allclose(tri(np.asarray(c)), tri(c_ref), rtol=1e-12)
    np.testing.assert_array_equal(np.asarray(c), tri(np.asarray(c)))  # zeros elsewhere (JAX)
    for b in (B, B[:, 0]):
        want = sl.cho_solve((c_ref, low_ref), b)
        np.testing.assert_allclose(np.asarray(fsl.cho_solve((c, low), b)), want, rtol=1e-12)
        # SciPy's factor, with arbitrary values in the unused triangle, works too.
        np.testing.assert_allclose(np.asarray(fsl.cho_solve((c_ref, low), b)), want, rtol=1e-12)
    np.testing.assert_allclose(
        np.asarray(fsl.cholesky(SPD, lower=lower)), sl.cholesky(SPD, lower=lower), rtol=1e-12
    )


def test_cho_solve_grads_and_vmap():
    def f(m, b):
        a = m @ fnp.swapaxes(m, -1, -2) + 3 * fnp.eye(3, dtype=m.dtype)
        return fsl.cho_solve(fsl.cho_factor(a, lower=False), b)

    m, b = rng.standard_normal((2, 3, 3)), rng.standard_normal((2, 3, 2))
    check_grads(f, (m, b))
    check_vmap(f, (m, b), [0, 0])
    check_vmap(f, (m[0], b), [None, 0])


def test_expm_matches_scipy_across_norms():
    for scale in [0.0, 1e-3, 0.5, 3.0, 20.0, 300.0]:
        a = rng.standard_normal((5, 5)) * scale / 5
        want = sl.expm(a)
        np.testing.assert_allclose(np.asarray(fsl.expm(a)), want, rtol=1e-11, atol=1e-13)
    z = rng.standard_normal((3, 3)) + 1j * rng.standard_normal((3, 3))
    np.testing.assert_allclose(np.asarray(fsl.expm(z)), sl.expm(z), rtol=1e-12)
    out = fsl.expm(np.float32(a / 100))
    assert out.dtype == np.float32
    np.testing.assert_allclose(np.asarray(out), sl.expm(a / 100), rtol=1e-4)


def test_expm_closed_forms():
    d = np.diag([0.5, -1.0, 2.0])
    np.testing.assert_allclose(np.asarray(fsl.expm(d)), np.diag(np.exp([0.5, -1.0, 2.0])))
    n = np.array([[0.0, 1.0], [0.0, 0.0]])  # nilpotent: exp = I + N
    np.testing.assert_allclose(np.asarray(fsl.expm(n)), np.eye(2) + n, atol=1e-15)
    t = 40.0  # a rotation by 40 rad: norm 40, six squarings
    r = np.asarray(fsl.expm(np.array([[0.0, -t], [t, 0.0]])))
    np.testing.assert_allclose(r, [[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]], atol=1e-12)
    assert fsl.expm(np.zeros((0, 0))).shape == (0, 0)


def test_expm_batches_under_vmap_use_per_matrix_squarings():
    a = rng.standard_normal((3, 4, 4)) * np.array([0.01, 2.0, 40.0])[:, None, None]
    want = sl.expm(a)
    for got in (fsl.expm(a), fg.vmap(fsl.expm)(a)):
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-10, atol=1e-12 * abs(want).max())


def test_expm_derivatives():
    a = rng.standard_normal((3, 3)) * 1.5
    e = rng.standard_normal((3, 3))
    _, t = fg.jvp(fsl.expm, (a,), (e,))
    np.testing.assert_allclose(
        np.asarray(t), sl.expm_frechet(a, e, compute_expm=False), rtol=1e-11, atol=1e-12
    )
    # d/dt trace(expm(t A)) at t = 1 is trace(A expm(A)).
    g = fg.grad(lambda s: fnp.trace(fsl.expm(s * a)))(np.float64(1.0))
    np.testing.assert_allclose(float(g), np.trace(a @ sl.expm(a)), rtol=1e-11)
    check_grads(fsl.expm, (a,), atol=1e-5, rtol=1e-5)
    check_grads(fsl.expm, (a * 5,), order=1, atol=1e-4, rtol=1e-4)
    batch = rng.standard_normal((2, 3, 3)) * np.array([0.1, 8.0])[:, None, None]
    g_loop = np.stack([np.asarray(fg.grad(lambda m: fnp.sum(fsl.expm(m)))(m)) for m in batch])
    g_vmap = fg.vmap(fg.grad(lambda m: fnp.sum(fsl.expm(m))))(batch)
    np.testing.assert_allclose(np.asarray(g_vmap), g_loop, rtol=1e-10)


# ---------------------------------------------------------------------------- errors


def test_errors_name_the_function_and_shapes():
    with pytest.raises(
        ValueError, match=r"solve_triangular: argument a must be a square.*\(3, 4\)"
    ):
        fsl.solve_triangular(np.ones((3, 4)), np.ones(3))
    with pytest.raises(ValueError, match=r"solve_triangular: a of shape \(4, 4\) and b of shape"):
        fsl.solve_triangular(A, np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"solve_triangular: trans must be 0, 1, 2"):
        fsl.solve_triangular(A, B, trans=3)
    with pytest.raises(ValueError, match=r"expm: argument A must be a square.*\(2, 3\)"):
        fsl.expm(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"cholesky: argument a must be a square"):
        fsl.cho_factor(np.ones(3))
    with pytest.raises(TypeError, match=r"cho_solve: the first argument must be the pair"):
        fsl.cho_solve(SPD, B)
    with pytest.raises(ValueError, match=r"cho_solve: a of shape \(4, 4\) and b of shape \(2,"):
        fsl.cho_solve((SPD, True), np.ones(2))
    with pytest.raises(np.linalg.LinAlgError, match=r"cholesky"):
        fsl.cho_factor(-SPD)


@pytest.mark.skipif(not hasattr(fg, "jit"), reason="jit not available")
def test_expm_under_jit_uses_the_fixed_bound():
    a = rng.standard_normal((3, 3)) * 4
    g = lambda m: fnp.sum(fsl.expm(m) ** 2)
    np.testing.assert_allclose(np.asarray(fg.jit(fsl.expm)(a)), sl.expm(a), rtol=1e-11)
    np.testing.assert_allclose(np.asarray(fg.jit(fg.grad(g))(a)), np.asarray(fg.grad(g)(a)))
