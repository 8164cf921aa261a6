"""Complex differentiation (JAX's convention), grad(holomorphic=True), gradient dtypes, and the
conventions at non-differentiable points (abs'(0) = 0, relu'(0) = 0, sqrt'(0) = inf, x**0)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.nn as nn
import funcgrad.numpy as fnp
from funcgrad import lax
from funcgrad.core.primitive import ShapedArray, abstract_eval_rules, all_primitives
from tests.helpers import check_close, check_grads

RNG = np.random.default_rng(0)
Z = np.array([0.3 + 1.2j, -0.7 + 0.4j, 1.1 - 0.9j])


def _partials(f, z, eps=1e-6):
    """(df/dx, df/dy) of a real-valued f at each element of z = x + iy, by central differences."""
    dx, dy = np.zeros(z.shape), np.zeros(z.shape)
    for i in np.ndindex(z.shape):
        e = np.zeros(z.shape)
        e[i] = eps
        dx[i] = (float(f(fnp.asarray(z + e))) - float(f(fnp.asarray(z - e)))) / (2 * eps)
        dy[i] = (float(f(fnp.asarray(z + 1j * e))) - float(f(fnp.asarray(z - 1j * e)))) / (2 * eps)
    return dx, dy


# --------------------------------------------------------------------------------------------
# JAX's convention for real-valued functions of complex inputs: grad = df/dx - i df/dy


def test_grad_of_abs_squared_is_twice_the_conjugate():
    # The example of JAX's autodiff cookbook: f(z) = x**2 + y**2 at 3 + 4j gives 6 - 8j.
    z = np.complex128(3 + 4j)
    check_close(fg.grad(lambda z: fnp.abs(z) ** 2)(z), 6 - 8j, 1e-12, 1e-12)
    check_close(fg.grad(lambda z: fnp.real(z) ** 2 + fnp.imag(z) ** 2)(z), 6 - 8j, 1e-12, 1e-12)
    check_close(fg.grad(lambda z: fnp.real(z * fnp.conj(z)))(z), 6 - 8j, 1e-12, 1e-12)


@pytest.mark.parametrize(
    "f",
    [
        lambda z: fnp.sum(fnp.abs(z)),
        lambda z: fnp.sum(fnp.real(fnp.sin(z)) * fnp.imag(z)),
        lambda z: fnp.sum(fnp.angle(z) ** 2),
        lambda z: fnp.real(fnp.vdot(z, fnp.exp(z))),
        lambda z: fnp.sum(fnp.abs(fnp.log(z) * z) ** 2) + fnp.var(z),
        lambda z: fnp.linalg.norm(z * (1 - 2j)),
    ],
    ids=["abs", "re_sin_times_im", "angle", "vdot", "log_var", "norm"],
)
def test_grad_of_real_valued_function_is_dx_minus_i_dy(f):
    g = fg.grad(f)(Z)
    dx, dy = _partials(f, Z)
    assert g.dtype == np.complex128
    check_close(g, dx - 1j * dy, 1e-6, 1e-6)


def test_vjp_is_the_transpose_of_the_jvp_without_conjugation():
    # JAX's cookbook: f = u + iv with u = a x + b y, v = c x + d y; a cotangent p + iq pulls
    # back to (p u_x - q v_x) - i (p u_y - q v_y).
    a, b, c, d = RNG.uniform(size=4)

    def f(z):
        x, y = fnp.real(z), fnp.imag(z)
        return lax.complex(a * x + b * y, c * x + d * y)

    z = np.complex128(0.4 - 0.3j)
    p, q = 0.7, -1.3
    _, f_vjp = fg.vjp(f, z)
    (ct,) = f_vjp(np.complex128(p + 1j * q))
    check_close(ct, (p * a - q * c) - 1j * (p * b - q * d), 1e-12, 1e-12)
    _, t = fg.jvp(f, (z,), (np.complex128(0.5 + 2j),))
    check_close(t, (a * 0.5 + b * 2) + 1j * (c * 0.5 + d * 2), 1e-12, 1e-12)


def test_jvp_and_vjp_take_complex_tangents_of_the_primal_dtype():
    f = lambda z: fnp.sin(z) * fnp.conj(z)  # noqa: E731 - not holomorphic
    check_grads(f, (Z,), order=2)
    for dtype in (np.complex64, np.complex128):
        z = Z.astype(dtype)
        y, t = fg.jvp(f, (z,), (np.ones_like(z),))
        assert y.dtype == t.dtype == dtype
        y, f_vjp = fg.vjp(f, z)
        (ct,) = f_vjp(np.ones_like(z))
        assert ct.dtype == dtype


def test_vjp_of_a_complex_output_accepts_a_real_cotangent():
    _, f_vjp = fg.vjp(lambda z: z * 2.0, Z)
    (ct,) = f_vjp(np.ones(3))
    assert ct.dtype == np.complex128
    check_close(ct, 2 * np.ones(3), 0, 0)


def test_vjp_of_a_real_output_refuses_a_complex_cotangent():
    _, f_vjp = fg.vjp(fnp.abs, Z)
    with pytest.raises(TypeError, match=r"vjp of abs.*cotangent 0 is complex.*output is real"):
        f_vjp(np.ones(3, np.complex128))


def test_jvp_python_scalar_tangents_take_the_primal_dtype():
    y, t = fg.jvp(fnp.sin, (np.complex128(1 + 1j),), (1j,))
    assert t.dtype == np.complex128
    check_close(t, 1j * np.cos(1 + 1j), 1e-12, 1e-12)
    assert fg.jvp(fnp.sin, (np.float64(1.0),), (1.0,))[1].dtype == np.float64
    with pytest.raises(TypeError, match=r"primal 0 has dtype float64 but its tangent.*complex"):
        fg.jvp(fnp.sin, (np.float64(1.0),), (1j,))  # would drop the imaginary part


def test_jvp_refuses_a_real_tangent_for_a_complex_primal():
    with pytest.raises(TypeError, match=r"jvp: primal 0 has dtype complex128.*float64"):
        fg.jvp(fnp.sin, (Z,), (np.ones(3),))


# --------------------------------------------------------------------------------------------
# holomorphic=True


@pytest.mark.parametrize(
    "f, df",
    [
        (fnp.sin, np.cos),
        (lambda z: z**3, lambda z: 3 * z**2),
        (
            lambda z: fnp.exp(z) / (z + 2.0),
            lambda z: np.exp(z) / (z + 2) - np.exp(z) / (z + 2) ** 2,
        ),
        (
            lambda z: fnp.log(z) * fnp.sqrt(z),
            lambda z: np.sqrt(z) / z + np.log(z) / (2 * np.sqrt(z)),
        ),
        (fnp.arccosh, lambda z: 1 / (np.sqrt(z - 1) * np.sqrt(z + 1))),
        (lax.logistic, lambda z: np.exp(-z) / (1 + np.exp(-z)) ** 2),
    ],
    ids=["sin", "cube", "exp_ratio", "log_sqrt", "arccosh", "logistic"],
)
def test_holomorphic_grad_is_the_complex_derivative(f, df):
    for z in Z:
        check_close(fg.grad(f, holomorphic=True)(z), df(z), 1e-10, 1e-10)


def test_holomorphic_grad_nests_and_keeps_dtype():
    cube = lambda z: z**3  # noqa: E731
    z = np.complex64(1 + 2j)
    g2 = fg.grad(fg.grad(cube, holomorphic=True), holomorphic=True)(z)
    assert g2.dtype == np.complex64
    check_close(g2, 6 * z, 1e-5, 1e-5)
    assert fg.grad(cube, holomorphic=True)(1 + 2j).dtype == np.complex64  # Python complex
    value, g = fg.value_and_grad(cube, holomorphic=True)(z)
    check_close((value, g), (z**3, 3 * z**2), 1e-5, 1e-5)


def test_holomorphic_grad_with_argnums_and_has_aux():
    def f(z, w):
        return fnp.sum(z * w), "aux"

    z, w = Z, Z[::-1].copy()
    (gz, gw), aux = fg.grad(f, argnums=(0, 1), has_aux=True, holomorphic=True)(z, w)
    assert aux == "aux"
    check_close((gz, gw), (w, z), 1e-12, 1e-12)


def test_holomorphic_grad_of_conj_keeps_the_real_part_derivative():
    # As JAX documents: for a non-holomorphic f it differentiates Re(f); d Re(conj z)/dz = 1.
    check_close(fg.grad(fnp.conj, holomorphic=True)(np.complex128(3 + 4j)), 1.0 + 0j, 0, 0)


def test_holomorphic_grad_refuses_real_inputs():
    with pytest.raises(TypeError, match=r"holomorphic=True: the inputs must be complex.*float32"):
        fg.grad(fnp.sin, holomorphic=True)(1.0)
    with pytest.raises(TypeError, match=r"argument 1 has dtype float64"):
        fg.grad(lambda z, x: z * x, argnums=(0, 1), holomorphic=True)(Z[0], np.float64(2.0))


def test_holomorphic_grad_refuses_a_real_output():
    with pytest.raises(TypeError, match=r"holomorphic=True: the output must be complex"):
        fg.grad(fnp.abs, holomorphic=True)(Z[0])


def test_grad_of_complex_output_points_to_holomorphic():
    with pytest.raises(TypeError, match=r"output is complex \(complex128\).*holomorphic=True"):
        fg.grad(fnp.sin)(Z[0])


# --------------------------------------------------------------------------------------------
# gradient dtypes


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64, np.complex128])
def test_grad_has_the_input_dtype(dtype):
    x = np.array([0.5, 1.5], dtype)
    g = fg.grad(lambda x: fnp.sum(fnp.abs(fnp.sin(x) * 2.0 + x**2)))(x)
    assert g.dtype == dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_real_input_through_complex_ops_has_a_real_gradient_and_no_warning(dtype):
    x = np.array([0.5, -1.5], dtype)

    def f(x):
        z = fnp.exp(1j * x) * (2 - 1j) + x.astype(np.result_type(x.dtype, np.complex64))
        return fnp.sum(fnp.abs(z) + fnp.imag(z * z) + fnp.real(lax.complex(x, x * x)))

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # ComplexWarning would mean a silent cast in a rule
        g = fg.grad(f)(x)
        check_grads(f, (x.astype(np.float64),), order=2)
    assert g.dtype == dtype


def test_python_complex_scalars_follow_the_default_float():
    assert fg.grad(lambda z: fnp.abs(z))(3 + 4j).dtype == np.complex64
    y, t = fg.jvp(fnp.sin, (1 + 1j,), (1j,))
    assert y.dtype == t.dtype == np.complex64


def test_complex_scalar_times_float64_scalar_stays_a_numpy_value():
    x = fnp.asarray(np.float64(0.3))
    y = 1j * x  # Python's complex.__mul__ would run on the raw np.float64
    assert y.dtype == np.complex128 and isinstance(np.asarray(y), np.ndarray)
    check_grads(lambda x: fnp.real(1j * x * (1j * x)), (np.float64(0.3),), order=2)


# --------------------------------------------------------------------------------------------
# conventions at non-differentiable points (PyTorch's, where it has one)


def test_abs_derivative_at_zero_is_zero():
    assert float(fg.grad(fnp.abs)(0.0)) == 0.0
    assert complex(fg.grad(fnp.abs)(np.complex128(0))) == 0
    _, t = fg.jvp(fnp.abs, (np.complex128(0),), (np.complex128(1 + 1j),))
    assert float(t) == 0.0 and t.dtype == np.float64
    assert float(fg.grad(fg.grad(fnp.abs))(0.0)) == 0.0


def test_relu_derivative_at_zero_is_zero():
    assert float(fg.grad(nn.relu)(0.0)) == 0.0
    assert float(fg.grad(nn.relu)(1.0)) == 1.0


def test_sqrt_derivative_at_zero_is_inf_like_numpy():
    with np.errstate(divide="ignore"):
        assert float(fg.grad(fnp.sqrt)(0.0)) == np.inf


@pytest.mark.parametrize(
    "f",
    [
        lambda x: x**0,
        lambda x: x**0.0,
        lambda x: fnp.power(x, 0),
        lambda x: fnp.power(x, np.float64(0.0)),
        lambda x: lax.integer_pow(x, 0),
        lambda x: lax.pow(x, fnp.zeros_like(x)),
    ],
    ids=["int", "float", "power_int", "power_float", "integer_pow", "pow_array"],
)
def test_x_to_the_zero_has_zero_derivative_everywhere(f):
    x = np.array([0.0, -1.5, 2.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no 0 * inf on the way
        g1 = fg.grad(lambda x: fnp.sum(f(x)))(x)
        g2 = fg.grad(lambda x: fnp.sum(fg.grad(lambda x: fnp.sum(f(x)))(x)))(x)
    check_close((g1, g2), (np.zeros(3), np.zeros(3)), 0, 0)


# --------------------------------------------------------------------------------------------
# shapes and dtypes of complex inputs (what jit traces with)


def _unary_elementwise():
    from funcgrad.lax import elementwise as ew

    prims = [getattr(ew, n) for n in dir(ew) if n.endswith("_p")]
    return [p for p in prims if p in all_primitives and p.impl is not None]


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
def test_abstract_eval_of_elementwise_ops_matches_impl_for_complex(dtype):
    x = np.array([0.5 + 0.25j, -1 + 2j], dtype)
    checked = 0
    for prim in _unary_elementwise():
        try:
            with np.errstate(all="ignore"):
                out = prim.impl(np, x)
        except TypeError:
            continue  # an operation with parameters, two operands, or no complex version
        aval = abstract_eval_rules[prim](ShapedArray(x.shape, x.dtype))
        assert (aval.shape, aval.dtype) == (out.shape, out.dtype), prim.name
        checked += 1
    assert checked >= 20


def test_casting_complex_to_real_warns_like_numpy_but_real_does_not():
    z = fnp.asarray(Z)
    with pytest.warns(np.exceptions.ComplexWarning):
        x = z.astype(np.float64)
    check_close(x, Z.real, 0, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_close(fnp.real(z), Z.real, 0, 0)
