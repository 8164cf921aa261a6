"""fnp.linalg, the matrix helpers of fnp (trace, diag, triu, kron, ...) and complex functions."""

from __future__ import annotations

import numpy as np
import pytest

import funcgrad as fg
from tests.helpers import check_grads

fnp = fg.numpy


def _rng(seed=0):
    return np.random.default_rng(seed)


def well_conditioned(shape, seed=0):
    n = shape[-1]
    return _rng(seed).standard_normal(shape) / np.sqrt(n) + 2.0 * np.eye(n)


def spd(shape, seed=0):
    a = _rng(seed).standard_normal(shape)
    return a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1])


def arr(x):
    return fnp.asarray(x)


def close(a, b, rtol=1e-10, atol=1e-12):
    np.testing.assert_allclose(np.asarray(a), b, rtol=rtol, atol=atol)
    assert np.shape(a) == np.shape(b)


# --------------------------------------------------------------------------------------------
# norm

_X = _rng(1).standard_normal((3, 4))


@pytest.mark.parametrize("ord", [None, 2, 1, np.inf, -np.inf, 0, 3, 0.5])
@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("keepdims", [False, True])
def test_vector_norms(ord, axis, keepdims):
    close(fnp.linalg.norm(arr(_X), ord, axis, keepdims), np.linalg.norm(_X, ord, axis, keepdims))


@pytest.mark.parametrize("ord", [None, "fro", 1, -1, np.inf, -np.inf])
@pytest.mark.parametrize("axis", [None, (0, 1), (1, 0)])
def test_matrix_norms(ord, axis):
    close(fnp.linalg.norm(arr(_X), ord, axis), np.linalg.norm(_X, ord, axis))
    close(
        fnp.linalg.norm(arr(_X), ord, axis, keepdims=True),
        np.linalg.norm(_X, ord, axis, keepdims=True),
    )


def test_norm_whole_array_and_batches():
    x = _rng(2).standard_normal((2, 3, 4))
    close(fnp.linalg.norm(arr(x)), np.linalg.norm(x))
    close(fnp.linalg.norm(arr(x), keepdims=True), np.linalg.norm(x, keepdims=True))
    close(fnp.linalg.norm(arr(x), 1, axis=(1, 2)), np.linalg.norm(x, 1, axis=(1, 2)))
    close(fnp.linalg.norm(arr(x), "fro", axis=(2, 0)), np.linalg.norm(x, "fro", axis=(2, 0)))
    close(fnp.linalg.norm(arr(x[0, 0])), np.linalg.norm(x[0, 0]))
    close(fnp.linalg.norm([3.0, 4.0]), np.float32(5.0))
    assert fnp.linalg.norm(arr(x.astype(np.float32))).dtype == np.float32
    z = x + 1j * _rng(3).standard_normal(x.shape)
    close(fnp.linalg.norm(arr(z), axis=-1), np.linalg.norm(z, axis=-1))


def test_vector_and_matrix_norm_array_api():
    x = _rng(2).standard_normal((2, 3, 4))
    close(fnp.linalg.vector_norm(arr(x)), np.linalg.vector_norm(x))
    close(
        fnp.linalg.vector_norm(arr(x), axis=(0, 2), ord=1),
        np.linalg.vector_norm(x, axis=(0, 2), ord=1),
    )
    close(
        fnp.linalg.vector_norm(arr(x), axis=1, keepdims=True),
        np.linalg.vector_norm(x, axis=1, keepdims=True),
    )
    close(fnp.linalg.matrix_norm(arr(x)), np.linalg.matrix_norm(x))
    close(fnp.linalg.matrix_norm(arr(x), ord=np.inf), np.linalg.matrix_norm(x, ord=np.inf))


@pytest.mark.parametrize(
    "ord, axis",
    [
        (None, None),
        (None, 1),
        (1, 1),
        (np.inf, 0),
        (3, 1),
        ("fro", None),
        (1, None),
        (np.inf, None),
    ],
)
def test_norm_grads(ord, axis):
    check_grads(lambda x: fnp.linalg.norm(x, ord, axis), (_X,), order=2)


def test_two_norm_gradient_at_zero_is_zero():
    for f in (
        fnp.linalg.norm,
        lambda x: fnp.linalg.norm(x, axis=-1).sum(),
        lambda x: fnp.linalg.norm(x, "fro"),
    ):
        g = fg.grad(f)(arr(np.zeros((2, 3))))
        np.testing.assert_array_equal(np.asarray(g), 0.0)
    h = fg.grad(lambda x: fg.grad(fnp.linalg.norm)(x).sum())(arr(np.zeros(3)))
    assert np.all(np.isfinite(np.asarray(h)))
    # Rows that are zero get a zero gradient; the others the usual x / |x|.
    x = np.array([[0.0, 0.0], [3.0, 4.0]])
    g = fg.grad(lambda x: fnp.linalg.norm(x, axis=1).sum())(arr(x))
    np.testing.assert_allclose(np.asarray(g), [[0, 0], [0.6, 0.8]])


def test_norm_errors():
    # (ord=2, -2 and 'nuc' for matrices: tests/numpy/test_linalg_decomp.py)
    with pytest.raises(ValueError, match="invalid norm order 'fro' for vectors"):
        fnp.linalg.norm(arr(_X), "fro", axis=0)
    with pytest.raises(ValueError, match="invalid norm order 3 for matrices"):
        fnp.linalg.norm(arr(_X), 3)
    with pytest.raises(ValueError, match=r"1-d or 2-d.*\(2, 3, 4\)"):
        fnp.linalg.norm(arr(np.ones((2, 3, 4))), 1)
    with pytest.raises(ValueError, match="out of bounds"):
        fnp.linalg.norm(arr(_X), axis=2)
    with pytest.raises(ValueError, match="1 or 2 axes"):
        fnp.linalg.norm(arr(np.ones((2, 3, 4))), axis=(0, 1, 2))


# --------------------------------------------------------------------------------------------
# inv, solve, det, slogdet, cholesky, matrix_power, multi_dot


@pytest.mark.parametrize("shape", [(3, 3), (2, 3, 3)])
def test_inv_det_slogdet(shape):
    a = well_conditioned(shape)
    close(fnp.linalg.inv(arr(a)), np.linalg.inv(a))
    close(fnp.linalg.det(arr(a)), np.linalg.det(a))
    res = fnp.linalg.slogdet(arr(a))
    assert isinstance(res, fnp.linalg.SlogdetResult)
    ref = np.linalg.slogdet(a)
    close(res.sign, ref.sign)
    close(res.logabsdet, ref.logabsdet)
    sign, logabsdet = res
    close(logabsdet, ref.logabsdet)
    check_grads(fnp.linalg.inv, (a,), order=2)
    check_grads(fnp.linalg.det, (a,), order=2)
    check_grads(lambda a: fnp.linalg.slogdet(a).logabsdet, (a,), order=2)


def test_slogdet_result_is_a_pytree():
    a = well_conditioned((3, 3))
    g = fg.grad(lambda a: fnp.linalg.slogdet(a).logabsdet)(arr(a))
    close(g, np.linalg.inv(a).T)
    out, f_vjp = fg.vjp(fnp.linalg.slogdet, arr(a))
    assert isinstance(out, fnp.linalg.SlogdetResult)
    (ct,) = f_vjp(fnp.linalg.SlogdetResult(arr(np.float64(0)), arr(np.float64(1))))
    close(ct, np.linalg.inv(a).T)


@pytest.mark.parametrize(
    "a_shape, b_shape",
    [
        ((3, 3), (3,)),
        ((3, 3), (3, 2)),
        ((2, 3, 3), (3,)),
        ((2, 3, 3), (2, 3, 4)),
        ((3, 3), (2, 3, 1)),
    ],
)
def test_solve(a_shape, b_shape):
    a = well_conditioned(a_shape)
    b = _rng(1).standard_normal(b_shape)
    close(fnp.linalg.solve(arr(a), arr(b)), np.linalg.solve(a, b))


def test_solve_grads():
    a = well_conditioned((2, 3, 3))
    check_grads(fnp.linalg.solve, (a, _rng(1).standard_normal(3)), order=2)
    check_grads(fnp.linalg.solve, (a[0], _rng(1).standard_normal((3, 2))), order=2)


def test_singular_errors_name_the_function():
    s = np.array([[1.0, 2.0], [2.0, 4.0]])
    with pytest.raises(np.linalg.LinAlgError, match="inv"):
        fnp.linalg.inv(s)
    with pytest.raises(np.linalg.LinAlgError, match="solve"):
        fnp.linalg.solve(s, np.ones(2))
    with pytest.raises(np.linalg.LinAlgError, match="cholesky"):
        fnp.linalg.cholesky(-np.eye(2))
    assert fnp.linalg.LinAlgError is np.linalg.LinAlgError


def test_lists_and_integers():
    close(fnp.linalg.inv([[2, 0], [0, 4]]), np.linalg.inv([[2, 0], [0, 4]]))
    close(fnp.linalg.det([[1, 2], [3, 4]]), np.linalg.det([[1, 2], [3, 4]]))


@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4)])
def test_cholesky(shape):
    a = spd(shape)
    L = fnp.linalg.cholesky(arr(a))
    close(L, np.linalg.cholesky(a))
    close(L @ fnp.swapaxes(L, -1, -2), a)
    close(fnp.linalg.cholesky(arr(a), upper=True), np.linalg.cholesky(a, upper=True))
    check_grads(fnp.linalg.cholesky, (a,), order=2)


def test_cholesky_gradient_is_symmetric():
    a = spd((3, 3))
    g = np.asarray(fg.grad(lambda a: fnp.sum(fnp.linalg.cholesky(a) ** 3))(arr(a)))
    np.testing.assert_allclose(g, g.T, atol=1e-12)


@pytest.mark.parametrize("n", [-2, -1, 0, 1, 2, 3, 5])
def test_matrix_power(n):
    a = well_conditioned((2, 3, 3))
    close(fnp.linalg.matrix_power(arr(a), n), np.linalg.matrix_power(a, n), rtol=1e-9)
    if n != 0:
        check_grads(lambda a: fnp.linalg.matrix_power(a, n), (a[0],), order=2)


def test_matrix_power_errors():
    with pytest.raises(ValueError, match="square"):
        fnp.linalg.matrix_power(arr(np.ones((2, 3))), 2)
    with pytest.raises(TypeError, match="int"):
        fnp.linalg.matrix_power(arr(np.eye(2)), 1.5)


def test_multi_dot():
    rng = _rng(4)
    a, b, c, v = (
        rng.standard_normal((2, 3)),
        rng.standard_normal((3, 4)),
        rng.standard_normal((4, 2)),
        rng.standard_normal(2),
    )
    close(fnp.linalg.multi_dot([a, b, c]), np.linalg.multi_dot([a, b, c]))
    close(fnp.linalg.multi_dot([v, a, b, c, v]), np.linalg.multi_dot([v, a, b, c, v]))
    check_grads(lambda a, b, c: fnp.linalg.multi_dot([a, b, c]), (a, b, c), order=2)
    with pytest.raises(ValueError, match="array 1"):
        fnp.linalg.multi_dot([a, np.ones(3), b])


# --------------------------------------------------------------------------------------------
# tensordot, trace, diagonal, diag, diagflat, triu, tril, kron, cross

_A = _rng(5).standard_normal((3, 4))
_B = _rng(6).standard_normal((2, 3, 4, 5))


@pytest.mark.parametrize(
    "a_shape, b_shape, axes",
    [
        ((3, 4), (4, 5), 1),
        ((2, 3, 4), (3, 4, 5), 2),
        ((2, 3), (4,), 0),
        ((3, 4, 5), (4, 3), ([1, 0], [0, 1])),
        ((3, 4), (5, 4), (1, 1)),
        ((3, 4), (3, 4), ([-1, -2], [1, 0])),
    ],
)
def test_tensordot(a_shape, b_shape, axes):
    rng = _rng(7)
    a, b = rng.standard_normal(a_shape), rng.standard_normal(b_shape)
    close(fnp.tensordot(arr(a), arr(b), axes), np.tensordot(a, b, axes))
    check_grads(lambda a, b: fnp.tensordot(a, b, axes), (a, b), order=2)


def test_tensordot_errors():
    with pytest.raises(ValueError, match="not aligned"):
        fnp.tensordot(arr(np.ones((2, 3))), arr(np.ones((2, 3))), 1)
    with pytest.raises(ValueError, match="same length"):
        fnp.tensordot(arr(np.ones((2, 3))), arr(np.ones((2, 3))), ([0, 1], [0]))
    with pytest.raises(ValueError, match="does not fit"):
        fnp.tensordot(arr(np.ones(2)), arr(np.ones(2)), 2)


@pytest.mark.parametrize("k", [-2, -1, 0, 1, 3, 5])
def test_trace_diagonal_diag_tri(k):
    close(fnp.trace(arr(_A), k), np.trace(_A, k))
    close(fnp.diagonal(arr(_A), k), np.diagonal(_A, k))
    close(fnp.diag(arr(_A), k), np.diag(_A, k))
    close(fnp.diag(arr(_A[0]), k), np.diag(_A[0], k))
    close(fnp.diagflat(arr(_A[:2, :2]), k), np.diagflat(_A[:2, :2], k))
    close(fnp.triu(arr(_B), k), np.triu(_B, k))
    close(fnp.tril(arr(_B), k), np.tril(_B, k))
    close(fnp.tril(arr(_A[0]), k), np.tril(_A[0], k))


def test_trace_diagonal_axes():
    close(fnp.trace(arr(_B), 1, 1, 3), np.trace(_B, 1, 1, 3))
    close(fnp.diagonal(arr(_B), -1, 3, 0), np.diagonal(_B, -1, 3, 0))
    close(fnp.trace(np.arange(9).reshape(3, 3)), np.trace(np.arange(9).reshape(3, 3)))
    assert fnp.trace(np.eye(3, dtype=np.int32)).dtype == np.trace(np.eye(3, dtype=np.int32)).dtype
    close(fnp.tril(np.ones((2, 2), bool)), np.tril(np.ones((2, 2), bool)))


@pytest.mark.parametrize(
    "f",
    [
        lambda x: fnp.trace(x, 1),
        lambda x: fnp.diagonal(x, -1),
        lambda x: fnp.diag(x, 1),
        lambda x: fnp.diag(x[0], -2),
        lambda x: fnp.diagflat(x[:2, :2], 1),
        lambda x: fnp.triu(x, 1),
        lambda x: fnp.tril(x, -1),
        lambda x: fnp.kron(x, x[:2, :2]),
        lambda x: fnp.cross(x[:, :3], x[:, 1:]),
    ],
)
def test_matrix_helper_grads(f):
    check_grads(f, (_A,), order=2)


def test_diag_errors():
    with pytest.raises(ValueError, match="1-d or 2-d"):
        fnp.diag(arr(_B))
    with pytest.raises(ValueError, match="same axis"):
        fnp.diagonal(arr(_A), 0, 1, -1)
    with pytest.raises(ValueError, match="scalar"):
        fnp.triu(arr(np.float64(1.0)))


@pytest.mark.parametrize(
    "sa, sb", [((2, 3), (4, 5)), ((3,), (2, 2)), ((2, 2), (3,)), ((), (3,)), ((2, 1, 3), (2, 2))]
)
def test_kron(sa, sb):
    rng = _rng(8)
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    close(fnp.kron(arr(a), arr(b)), np.kron(a, b))


def test_cross():
    rng = _rng(9)
    a, b = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    close(fnp.cross(arr(a), arr(b)), np.cross(a, b))
    close(fnp.cross(arr(a.T), arr(b), axisa=0), np.cross(a.T, b, axisa=0))
    close(fnp.cross(arr(a.T), arr(b.T), axis=0), np.cross(a.T, b.T, axis=0))
    close(fnp.cross(arr(a), arr(b[0])), np.cross(a, b[0]))
    with pytest.raises(ValueError, match="3 components"):
        fnp.cross(arr(np.ones(2)), arr(np.ones(2)))


def test_existing_products_still_work():
    rng = _rng(10)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal(4)
    close(fnp.matmul(arr(a), arr(b)), a @ b)
    close(fnp.dot(arr(a), arr(b)), a.dot(b))
    close(fnp.vdot(arr(a), arr(a)), np.vdot(a, a))
    close(fnp.inner(arr(b), arr(b)), np.inner(b, b))
    close(fnp.outer(arr(b), arr(b)), np.outer(b, b))
    z = a + 1j * a[::-1]
    close(fnp.vdot(arr(z), arr(z)), np.vdot(z, z))


# --------------------------------------------------------------------------------------------
# complex functions

_Z = np.array([1.0 + 2.0j, -0.5 - 1.5j, -2.0 + 0.0j, 0.25j])


def test_complex_functions():
    z = arr(_Z)
    close(fnp.real(z), _Z.real)
    close(fnp.imag(z), _Z.imag)
    close(fnp.conj(z), _Z.conj())
    close(fnp.conjugate(z), _Z.conj())
    close(fnp.angle(z), np.angle(_Z))
    close(fnp.angle(z, deg=True), np.angle(_Z, deg=True))
    close(z.real, _Z.real)
    close(z.imag, _Z.imag)
    close(z.conj(), _Z.conj())
    close(fnp.var(z), np.var(_Z))


def test_complex_functions_on_real_inputs():
    x = np.array([1.5, -2.0, 0.0])
    close(fnp.real(x), x)
    close(fnp.imag(x), np.zeros(3))
    close(fnp.conj(x), x)
    close(fnp.angle(x), np.angle(x))
    close(fnp.angle([1, -1]), np.angle([1, -1]))
    assert fnp.imag(arr(x.astype(np.float32))).dtype == np.float32


def test_complex_gradients():
    # JAX's convention: grad(f)(z) = df/dx - i df/dy for real-valued f.
    z = arr(_Z[:2])
    g = fg.grad(lambda z: fnp.sum(fnp.real(z) ** 2 + 3 * fnp.imag(z)))(z)
    close(g, 2 * _Z[:2].real - 3j)
    g = fg.grad(lambda z: fnp.sum(fnp.angle(z)))(z)
    x, y = _Z[:2].real, _Z[:2].imag
    close(g, -y / (x * x + y * y) - 1j * x / (x * x + y * y))
    check_grads(fnp.angle, (np.array([-1.5, 2.0]),), order=2)
    check_grads(lambda x: fnp.real(x) * fnp.conj(x), (np.array([-1.5, 2.0]),), order=2)
