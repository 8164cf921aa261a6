"""lax.linalg and lax.complex primitives: values against NumPy/SciPy, batching, derivatives."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
from hypothesis import given, settings
from hypothesis import strategies as st

import funcgrad as fg
from funcgrad import lax
from funcgrad.core.primitive import ShapedArray, abstract_eval_rules
from funcgrad.lax import linalg
from tests.helpers import check_grads, numerical_jvp

fnp = fg.numpy


def _rng(seed=0):
    return np.random.default_rng(seed)


def well_conditioned(shape, seed=0):
    """A random matrix batch with eigenvalues bounded away from 0."""
    rng = _rng(seed)
    n = shape[-1]
    return rng.standard_normal(shape) / np.sqrt(n) + 2.0 * np.eye(n)


def spd(shape, seed=0):
    a = _rng(seed).standard_normal(shape)
    return a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1])


def arr(x):
    return fnp.asarray(x)


# --------------------------------------------------------------------------------------------
# cholesky


@pytest.mark.parametrize("shape", [(1, 1), (3, 3), (2, 4, 4), (2, 1, 3, 3)])
def test_cholesky_values_and_reconstruction(shape):
    a = spd(shape)
    L = np.asarray(linalg.cholesky(arr(a)))
    np.testing.assert_allclose(L, np.linalg.cholesky(a), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(L @ np.swapaxes(L, -1, -2), a, rtol=1e-10, atol=1e-12)
    assert np.all(np.triu(L, 1) == 0)


def test_cholesky_float32_keeps_dtype():
    assert linalg.cholesky(arr(spd((3, 3)).astype(np.float32))).dtype == np.float32


def test_cholesky_grads():
    # Symmetrized input (the default): the derivative is that of chol((a + a.T) / 2).
    check_grads(linalg.cholesky, (spd((3, 3)),), order=2)
    check_grads(linalg.cholesky, (spd((2, 2, 2), seed=1),), order=2)


def test_cholesky_lower_triangle_only():
    # Without symmetrization only the lower triangle is read (NumPy/LAPACK), derivatives too.
    a = spd((3, 3)) + np.triu(_rng(3).standard_normal((3, 3)), 1)
    f = lambda x: linalg.cholesky(x, symmetrize_input=False)
    np.testing.assert_allclose(np.asarray(f(arr(a))), np.linalg.cholesky(a), rtol=1e-10)
    check_grads(f, (a,), order=2)


def test_cholesky_not_positive_definite():
    with pytest.raises(np.linalg.LinAlgError, match="cholesky"):
        linalg.cholesky(arr(-np.eye(3)))


# --------------------------------------------------------------------------------------------
# triangular_solve

_TRI_CASES = [
    dict(left_side=l, lower=lo, transpose_a=t, unit_diagonal=u)
    for l in (True, False)
    for lo in (True, False)
    for t in (True, False)
    for u in (False, True)
]


def _tri_reference(a, b, left_side, lower, transpose_a, unit_diagonal):
    kw = dict(lower=lower, unit_diagonal=unit_diagonal)
    if left_side:
        return scipy.linalg.solve_triangular(a, b, trans=int(transpose_a), **kw)
    return scipy.linalg.solve_triangular(a, b.T, trans=int(not transpose_a), **kw).T


@pytest.mark.parametrize("p", _TRI_CASES, ids=lambda p: "-".join(k for k, v in p.items() if v))
def test_triangular_solve(p):
    a = well_conditioned((3, 3))  # both triangles non-zero: the other one must be ignored
    b = _rng(1).standard_normal((3, 2) if p["left_side"] else (2, 3))
    out = linalg.triangular_solve(arr(a), arr(b), **p)
    np.testing.assert_allclose(np.asarray(out), _tri_reference(a, b, **p), rtol=1e-10, atol=1e-12)
    check_grads(lambda a, b: linalg.triangular_solve(a, b, **p), (a, b), order=2)


def test_triangular_solve_batched_broadcast():
    a = well_conditioned((2, 1, 3, 3))
    b = _rng(2).standard_normal((4, 3, 2))
    out = np.asarray(linalg.triangular_solve(arr(a), arr(b), left_side=True, lower=True))
    assert out.shape == (2, 4, 3, 2)
    np.testing.assert_allclose(np.tril(a) @ out, np.broadcast_to(b, out.shape), atol=1e-12)


def test_triangular_solve_errors():
    with pytest.raises(
        ValueError, match=r"triangular_solve: a of shape \(3, 3\) and b of shape \(2, 2\)"
    ):
        linalg.triangular_solve(arr(np.eye(3)), arr(np.ones((2, 2))), left_side=True)
    with pytest.raises(ValueError, match="triangular_solve"):
        linalg.triangular_solve(arr(np.eye(3)), arr(np.ones(3)))
    with pytest.raises(np.linalg.LinAlgError, match="triangular_solve"):
        linalg.triangular_solve(arr(np.zeros((2, 2))), arr(np.ones((2, 2))), left_side=True)


# --------------------------------------------------------------------------------------------
# solve, inv


@pytest.mark.parametrize(
    "a_shape, b_shape",
    [
        ((3, 3), (3,)),
        ((3, 3), (3, 2)),
        ((2, 3, 3), (3,)),
        ((2, 3, 3), (2, 3, 1)),
        ((2, 1, 3, 3), (4, 3, 2)),
    ],
)
def test_solve_values(a_shape, b_shape):
    a = well_conditioned(a_shape)
    b = _rng(1).standard_normal(b_shape)
    out = linalg.solve(arr(a), arr(b))
    np.testing.assert_allclose(np.asarray(out), np.linalg.solve(a, b), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("a_shape, b_shape", [((3, 3), (3,)), ((2, 3, 3), (2, 3, 2))])
def test_solve_grads(a_shape, b_shape):
    a = well_conditioned(a_shape)
    b = _rng(1).standard_normal(b_shape)
    check_grads(linalg.solve, (a, b), order=2)


@settings(max_examples=10, deadline=None)
@given(
    n=st.integers(1, 4),
    k=st.integers(1, 3),
    batch=st.sampled_from([(), (2,), (1, 2)]),
    seed=st.integers(0, 1000),
)
def test_solve_inv_property(n, k, batch, seed):
    a = well_conditioned(batch + (n, n), seed)
    b = _rng(seed + 1).standard_normal(batch + (n, k))
    np.testing.assert_allclose(
        np.asarray(linalg.solve(arr(a), arr(b))), np.linalg.solve(a, b), rtol=1e-9, atol=1e-10
    )
    np.testing.assert_allclose(
        np.asarray(linalg.inv(arr(a))), np.linalg.inv(a), rtol=1e-9, atol=1e-10
    )


def test_singular_matrices_raise_linalg_error():
    s = np.array([[1.0, 2.0], [2.0, 4.0]])
    with pytest.raises(np.linalg.LinAlgError, match="inv: .*singular"):
        linalg.inv(arr(s))
    with pytest.raises(np.linalg.LinAlgError, match="solve: .*singular"):
        linalg.solve(arr(s), arr(np.ones(2)))


@pytest.mark.parametrize("shape", [(1, 1), (3, 3), (2, 3, 3)])
def test_inv(shape):
    a = well_conditioned(shape)
    np.testing.assert_allclose(
        np.asarray(linalg.inv(arr(a))), np.linalg.inv(a), rtol=1e-10, atol=1e-12
    )
    check_grads(linalg.inv, (a,), order=2)


def test_integer_inputs_promote():
    out = linalg.inv(arr(np.array([[2, 0], [0, 4]])))
    assert out.dtype == np.float64
    np.testing.assert_allclose(np.asarray(out), [[0.5, 0], [0, 0.25]])


# --------------------------------------------------------------------------------------------
# det, slogdet


@pytest.mark.parametrize("shape", [(1, 1), (3, 3), (2, 2, 3, 3)])
def test_det(shape):
    a = well_conditioned(shape)
    np.testing.assert_allclose(np.asarray(linalg.det(arr(a))), np.linalg.det(a), rtol=1e-10)
    check_grads(linalg.det, (a,), order=2)


@pytest.mark.parametrize("shape", [(3, 3), (2, 3, 3)])
def test_slogdet(shape):
    a = well_conditioned(shape)
    a = a * np.where(np.arange(shape[-1]) == 0, -1.0, 1.0)  # a negative determinant
    sign, logabsdet = linalg.slogdet(arr(a))
    ref = np.linalg.slogdet(a)
    np.testing.assert_allclose(np.asarray(sign), ref.sign)
    np.testing.assert_allclose(np.asarray(logabsdet), ref.logabsdet, rtol=1e-10)
    check_grads(lambda x: linalg.slogdet(x)[1], (a,), order=2)
    check_grads(lambda x: linalg.slogdet(x)[0] * linalg.slogdet(x)[1], (a,), order=1)


def test_slogdet_singular():
    sign, logabsdet = linalg.slogdet(arr(np.zeros((2, 2))))
    assert float(sign) == 0.0 and float(logabsdet) == -np.inf


def test_logdet_gradient_is_inverse_transpose():
    a = well_conditioned((3, 3))
    g = fg.grad(lambda x: linalg.slogdet(x)[1])(arr(a))
    np.testing.assert_allclose(np.asarray(g), np.linalg.inv(a).T, rtol=1e-10)
    g = fg.grad(linalg.det)(arr(a))
    np.testing.assert_allclose(np.asarray(g), np.linalg.det(a) * np.linalg.inv(a).T, rtol=1e-10)


# --------------------------------------------------------------------------------------------
# shape errors, abstract evaluation


@pytest.mark.parametrize("fn", [linalg.cholesky, linalg.inv, linalg.det, linalg.slogdet])
def test_non_square_errors_name_op_and_shape(fn):
    with pytest.raises(ValueError, match=r"square.*\(2, 3\)"):
        fn(arr(np.ones((2, 3))))
    with pytest.raises(ValueError, match=r"\(3,\)"):
        fn(arr(np.ones(3)))


def test_solve_shape_mismatch():
    with pytest.raises(ValueError, match=r"solve: .*\(3, 3\).*\(2,\)"):
        linalg.solve(arr(np.eye(3)), arr(np.ones(2)))


def test_abstract_eval_rules():
    f64 = np.dtype(np.float64)
    a = ShapedArray((2, 3, 3), f64)
    b = ShapedArray((2, 3, 4), f64)
    assert abstract_eval_rules[linalg.cholesky_p](a) == a
    assert abstract_eval_rules[linalg.inv_p](a) == a
    assert abstract_eval_rules[linalg.solve_p](a, b) == b
    assert abstract_eval_rules[linalg.det_p](a) == ShapedArray((2,), f64)
    c = ShapedArray((2, 2), np.dtype(np.complex64))
    assert abstract_eval_rules[linalg.slogdet_p](c) == [
        ShapedArray((), np.dtype(np.complex64)),
        ShapedArray((), np.dtype(np.float32)),
    ]
    p = dict(left_side=False, lower=True, transpose_a=False, unit_diagonal=False)
    assert abstract_eval_rules[linalg.triangular_solve_p](a, ShapedArray((2, 4, 3), f64), **p)
    with pytest.raises(ValueError, match="triangular_solve"):
        abstract_eval_rules[linalg.triangular_solve_p](a, b, **p)
    with pytest.raises(TypeError, match="inv: argument a .*int64"):
        abstract_eval_rules[linalg.inv_p](ShapedArray((2, 2), np.dtype(np.int64)))


# --------------------------------------------------------------------------------------------
# complex primitives (JAX's convention: cotangents pair with tangents by Re(sum(g * t)))


def check_complex_vjp(f, args, rng=None, eps=1e-6):
    """<v, J u> == <J^T v, u> under the bilinear pairing Re(sum(a * b)) (JAX's convention)."""
    rng = rng or _rng(5)

    def rand(x):
        x = np.asarray(x)
        v = rng.standard_normal(x.shape)
        return v + 1j * rng.standard_normal(x.shape) if x.dtype.kind == "c" else v

    args = [arr(a) for a in args]
    out, f_vjp = fg.vjp(f, *args)
    u = [rand(a) for a in args]
    v = rand(out)
    ju = numerical_jvp(f, args, u, eps)
    jtv = f_vjp(arr(v))
    lhs = np.real(np.sum(v * np.asarray(ju)))
    rhs = sum(np.real(np.sum(np.asarray(c) * w)) for c, w in zip(jtv, u))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-6, atol=1e-8)
    _, t = fg.jvp(f, tuple(args), tuple(arr(w) for w in u))
    np.testing.assert_allclose(np.asarray(t), np.asarray(ju), rtol=1e-6, atol=1e-8)


_Z = np.array([1.0 + 2.0j, -0.5 - 1.5j, 2.0 - 0.25j])


def test_complex_values():
    z = arr(_Z)
    np.testing.assert_array_equal(np.asarray(lax.real(z)), _Z.real)
    np.testing.assert_array_equal(np.asarray(lax.imag(z)), _Z.imag)
    np.testing.assert_array_equal(np.asarray(lax.conj(z)), _Z.conj())
    np.testing.assert_array_equal(np.asarray(lax.complex(arr(_Z.real), arr(_Z.imag))), _Z)
    assert lax.complex(arr(np.float32(1)), arr(np.float32(2))).dtype == np.complex64
    w = np.asarray(lax.complex(arr(np.array([np.inf])), arr(np.array([0.0]))))
    assert w[0] == complex(np.inf, 0)  # not nan


def test_complex_real_inputs():
    x = arr(np.array([1.0, -2.0]))
    assert lax.real(x) is x and lax.conj(x) is x
    np.testing.assert_array_equal(np.asarray(lax.imag(x)), [0.0, 0.0])


@pytest.mark.parametrize(
    "f",
    [lax.real, lax.imag, lax.conj, lambda z: lax.real(z) * lax.imag(z), lambda z: z * lax.conj(z)],
)
def test_complex_derivatives(f):
    check_complex_vjp(f, (_Z,))
    check_complex_vjp(lambda z: f(z * z), (_Z,))  # through a holomorphic op


def test_complex_from_parts_derivatives():
    x, y = _Z.real, _Z.imag
    check_complex_vjp(lax.complex, (x, y))
    check_complex_vjp(lambda x: lax.complex(x, x[:1] * 0 + 2.0), (x,))  # broadcasting


def test_complex_grad_convention_matches_jax():
    # JAX: grad(|z|^2)(z) = 2 * conj(z).
    g = fg.grad(lambda z: fnp.sum(lax.real(z * lax.conj(z))))(arr(_Z))
    np.testing.assert_allclose(np.asarray(g), 2 * _Z.conj())
    g = fg.grad(lambda z: fnp.sum(lax.imag(z)))(arr(_Z))
    np.testing.assert_allclose(np.asarray(g), -1j * np.ones(3))


def test_complex_linalg_derivatives():
    rng = _rng(7)
    a = well_conditioned((3, 3)) + 0.3j * rng.standard_normal((3, 3))
    b = rng.standard_normal((3, 2)) + 1j * rng.standard_normal((3, 2))
    np.testing.assert_allclose(np.asarray(linalg.inv(arr(a))), np.linalg.inv(a), rtol=1e-10)
    check_complex_vjp(linalg.inv, (a,))
    check_complex_vjp(linalg.det, (a,))
    check_complex_vjp(linalg.solve, (a, b))
    check_complex_vjp(lambda a: linalg.slogdet(a)[1], (a,))
    check_complex_vjp(lambda a: linalg.slogdet(a)[0], (a,))


@pytest.mark.parametrize(
    "f, make",
    [
        (lambda a: linalg.slogdet(a)[1], well_conditioned),
        (lambda a: fnp.sum(linalg.inv(a) ** 2), well_conditioned),
        (lambda a: fnp.sum(linalg.cholesky(a) ** 3), spd),
        (lambda a: fnp.sum(linalg.solve(a, fnp.ones(3)) ** 2), well_conditioned),
    ],
)
def test_forward_over_reverse_hvp(f, make):
    # A Hessian-vector product two ways: jvp of grad, and a central difference of grad.
    a = make((3, 3))
    t = _rng(11).standard_normal((3, 3))
    _, hvp = fg.jvp(fg.grad(f), (arr(a),), (arr(t),))
    eps = 1e-5
    g = fg.grad(f)
    num = (np.asarray(g(arr(a + eps * t))) - np.asarray(g(arr(a - eps * t)))) / (2 * eps)
    np.testing.assert_allclose(np.asarray(hvp), num, rtol=1e-6, atol=1e-7)
