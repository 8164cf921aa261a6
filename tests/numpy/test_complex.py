"""fnp's complex functions and complex inputs through fnp: values and dtypes as NumPy gives
them, complex-aware derivatives of non-holomorphic functions, and integer promotion."""

from __future__ import annotations

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import lax
from tests.helpers import check_close, check_grads

Z = np.array([1.0 + 2.0j, -0.5 - 1.5j, -2.0 + 0.5j, 0.25j, 1.5 + 0.0j])


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
@pytest.mark.parametrize(
    "name", ["real", "imag", "conj", "conjugate", "angle", "abs", "sign", "iscomplex", "isreal"]
)
def test_complex_functions_match_numpy_values_and_dtypes(name, dtype):
    z = Z.astype(dtype)
    out = getattr(fnp, name)(fnp.asarray(z))
    expected = getattr(np, name)(z)
    assert out.dtype == expected.dtype
    check_close(out, expected, 1e-6, 1e-6)


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64, np.float32, np.float64])
def test_complex_functions_of_real_inputs_match_numpy(dtype):
    x = np.array([2, -3, 0, 1], dtype)
    for name in ("real", "imag", "conj", "angle", "iscomplex", "isreal"):
        out = getattr(fnp, name)(fnp.asarray(x))
        expected = getattr(np, name)(x)
        assert out.dtype == expected.dtype, (name, out.dtype, expected.dtype)
        check_close(out, expected, 1e-3, 1e-3)
    assert fnp.isrealobj(x) and not fnp.iscomplexobj(x)
    assert fnp.iscomplexobj(fnp.asarray(Z)) and fnp.iscomplexobj(1j) and fnp.isrealobj([1.0])


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.uint8, np.bool_])
@pytest.mark.parametrize("name", ["sin", "sqrt", "exp", "deg2rad", "rad2deg", "sinc", "angle"])
def test_integer_inputs_promote_like_numpy(name, dtype):
    x = np.array([1, 2, 0, 1], dtype)
    out = getattr(fnp, name)(fnp.asarray(x))
    expected = getattr(np, name)(x)
    assert out.dtype == expected.dtype
    check_close(out, expected, 1e-3, 1e-3)


@pytest.mark.parametrize("pair", [(np.int8, np.int8), (np.uint8, np.int8), (np.int32, np.int16)])
def test_hypot_of_integers_promotes_like_numpy(pair):
    x, y = np.array([3, 5], pair[0]), np.array([4, 12], pair[1])
    out = fnp.hypot(fnp.asarray(x), fnp.asarray(y))
    assert out.dtype == np.hypot(x, y).dtype
    check_close(out, np.array([5.0, 13.0]), 1e-3, 1e-3)


def test_integer_reciprocal_keeps_integer_semantics():
    x = np.array([1, -1, 2, -3, 7], np.int32)
    out = fnp.reciprocal(fnp.asarray(x))
    assert out.dtype == np.int32
    check_close(out, np.reciprocal(x), 0, 0)


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
def test_mixed_real_and_complex_operands_promote_like_numpy(dtype):
    z = Z.astype(dtype)
    for x in (np.arange(1, 6), np.arange(1, 6, dtype=np.float32), np.linspace(1, 2, 5), 2.0, 3):
        for name in ("add", "multiply", "divide", "subtract"):
            out = getattr(fnp, name)(fnp.asarray(z), x)
            expected = getattr(np, name)(z, x)
            assert out.dtype == expected.dtype, (name, np.asarray(x).dtype)
            check_close(out, expected, 1e-5, 1e-5)


def test_reductions_of_complex_inputs_match_numpy():
    for dtype in (np.complex64, np.complex128):
        z = Z.astype(dtype)
        for name in ("sum", "mean", "prod", "var", "std", "cumsum"):
            out = getattr(fnp, name)(fnp.asarray(z))
            expected = getattr(np, name)(z)
            assert out.dtype == expected.dtype, name
            check_close(out, expected, 1e-5, 1e-5)
    check_close(fnp.linalg.norm(fnp.asarray(Z)), np.linalg.norm(Z), 1e-12, 1e-12)


def test_logistic_of_complex_input():
    z = Z[:3]
    check_close(lax.logistic(fnp.asarray(z)), 1 / (1 + np.exp(-z)), 1e-12, 1e-12)


def test_arccosh_derivative_follows_the_branch_cut():
    # Left of the imaginary axis 1/sqrt(z*z - 1) has the wrong sign; the rule must not.
    z = np.array([-2.0 + 0.5j, -0.3 - 1.2j, 0.4 + 2.0j])
    g = fg.vmap(fg.grad(fnp.arccosh, holomorphic=True))(z)
    check_close(g, 1 / (np.sqrt(z - 1) * np.sqrt(z + 1)), 1e-12, 1e-12)
    check_grads(fnp.arccosh, (z,), order=2)


@pytest.mark.parametrize(
    "f",
    [
        fnp.abs,
        fnp.angle,
        lambda z: fnp.angle(z, deg=True),
        fnp.real,
        fnp.imag,
        fnp.conj,
        lambda z: fnp.abs(z) * z,
        lambda z: fnp.sign(z) * fnp.abs(z) ** 3,
    ],
    ids=["abs", "angle", "angle_deg", "real", "imag", "conj", "abs_times_z", "sign_abs3"],
)
def test_non_holomorphic_functions_have_checked_derivatives(f):
    check_grads(f, (Z[:4],), order=2)


def test_array_methods_on_complex_values_under_grad():
    def f(z):
        return fnp.sum(z.real * z.imag + fnp.abs(z.conj() * z))

    z = Z[:3]
    x, y = z.real, z.imag
    check_close(fg.grad(f)(z), (y + 2 * x) - 1j * (x + 2 * y), 1e-12, 1e-12)


def test_lax_complex_refuses_complex_parts():
    with pytest.raises(TypeError, match=r"complex: argument x must be real, got dtype complex128"):
        lax.complex(fnp.asarray(Z), 1.0)
