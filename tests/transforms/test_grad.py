"""grad/vjp/jvp/linearize: composition (one quantity many ways), higher order, errors."""

from __future__ import annotations

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad.core.primitive import Primitive, all_primitives
from funcgrad.transforms.grad import defjvp, defvjp, jvp_rules, nondiff_primitives, vjp_rules
from tests.helpers import check_close, check_grads


def f_scalar(x):
    return fnp.sum(fnp.tanh(x) * fnp.sin(x) ** 2 + fnp.exp(-x * x))


def test_gradient_four_ways():
    x = np.random.default_rng(0).standard_normal(5)
    g_grad = fg.grad(f_scalar)(x)
    _, f_vjp = fg.vjp(f_scalar, x)
    (g_vjp,) = f_vjp(np.float64(1.0))
    basis = np.eye(5)
    g_jvp = np.array([float(fg.jvp(f_scalar, (x,), (basis[i],))[1]) for i in range(5)])
    _, f_lin = fg.linearize(f_scalar, x)
    g_lin = np.array([float(f_lin(basis[i])) for i in range(5)])
    check_close(g_grad, g_vjp, 1e-12, 1e-12)
    check_close(g_grad, g_jvp, 1e-12, 1e-12)
    check_close(g_grad, g_lin, 1e-12, 1e-12)
    assert np.asarray(g_grad).dtype == np.float64


def test_third_derivatives_closed_form():
    x = 0.7
    assert np.isclose(fg.grad(fg.grad(fg.grad(fnp.sin)))(x), -np.cos(x), atol=1e-6)
    assert np.isclose(fg.grad(fg.grad(fg.grad(lambda x: x**5)))(1.5), 60 * 1.5**2, rtol=1e-6)
    assert np.isclose(fg.grad(fg.grad(fg.grad(fnp.exp)))(np.float64(0.3)), np.exp(0.3), rtol=1e-12)
    assert np.isclose(fg.grad(fg.grad(fg.grad(fnp.log)))(np.float64(2.0)), 2 / 8, rtol=1e-12)


def test_hessian_vector_product_via_jvp_of_grad():
    rng = np.random.default_rng(1)
    A = rng.standard_normal((4, 4))
    A = A + A.T
    x, v = rng.standard_normal(4), rng.standard_normal(4)
    f = lambda x: 0.5 * x @ (fnp.asarray(A) @ x) + fnp.sum(x**3)
    _, hvp = fg.jvp(fg.grad(f), (x,), (v,))
    expected = A @ v + 6 * x * v
    check_close(hvp, expected, 1e-10, 1e-10)
    # Forward-over-reverse equals reverse-over-reverse.
    hvp2 = fg.grad(lambda x: fnp.sum(fg.grad(f)(x) * v))(x)
    check_close(hvp, hvp2, 1e-10, 1e-10)


def test_python_control_flow_under_grad():
    def f(x, n):
        y = x
        for _ in range(n):
            if fnp.sum(y) > 0:
                y = y * x
            else:
                y = y - x
        return fnp.sum(y)

    x = np.array([0.5, 1.5])
    assert np.allclose(fg.grad(f)(x, 3), 4 * x**3)
    assert np.allclose(fg.grad(f)(-x, 1), [0.0, 0.0])


def test_pytrees_in_and_out():
    params = {"w": np.ones((2, 2)), "b": (np.zeros(2), [np.float64(1.0)])}

    def loss(p, x):
        return fnp.sum((x @ p["w"] + p["b"][0]) ** 2) * p["b"][1][0]

    g = fg.grad(loss)(params, np.arange(2.0))
    assert set(g) == {"w", "b"} and isinstance(g["b"], tuple) and isinstance(g["b"][1], list)
    check_grads(
        lambda w, b: loss({"w": w, "b": (b, [1.0])}, np.arange(2.0)), (np.ones((2, 2)), np.zeros(2))
    )
    (v, aux), g2 = fg.value_and_grad(lambda p: (loss(p, np.ones(2)), {"n": 3}), has_aux=True)(
        params
    )
    assert aux == {"n": 3}


def test_argnums_tuple_and_negative():
    f = lambda a, b, c: a * b**2 + c
    ga, gb = fg.grad(f, argnums=(0, 1))(2.0, 3.0, 1.0)
    assert float(ga) == 9.0 and float(gb) == 12.0
    assert float(fg.grad(f, argnums=-1)(2.0, 3.0, 1.0)) == 1.0


def test_float32_in_float32_out():
    x = np.float32(0.3)
    assert fg.grad(lambda x: fnp.sin(x) * 1.5)(x).dtype == np.float32
    assert fg.grad(lambda x: fnp.sum(x * 2.0))(np.ones(3, np.float32)).dtype == np.float32
    # A float64 constant promotes the output, but the gradient keeps the input's dtype.
    assert fg.grad(lambda x: fnp.sum(x * np.ones(3)))(np.ones(3, np.float32)).dtype == np.float32


def test_stop_gradient():
    assert float(fg.grad(lambda x: x * fg.stop_gradient(x))(3.0)) == 3.0
    assert float(fg.jvp(lambda x: x * fg.stop_gradient(x), (3.0,), (1.0,))[1]) == 3.0


def test_check_grads_catches_a_wrong_rule():
    wrong_p = Primitive("wrong_sin")
    wrong_p.def_impl(lambda xp, x: xp.sin(x))
    defjvp(wrong_p, lambda t, ans, x: t * fnp.cos(x) * 1.01)  # 1% off
    defvjp(wrong_p, lambda g, ans, x: g * fnp.sin(x))  # plainly wrong
    try:
        x = np.array([0.3, 0.8])
        with pytest.raises(AssertionError):
            check_grads(wrong_p.bind, (x,), order=1, modes=("fwd",))
        with pytest.raises(AssertionError):
            check_grads(wrong_p.bind, (x,), order=1, modes=("rev",))
    finally:
        all_primitives.remove(wrong_p)
        del jvp_rules[wrong_p], vjp_rules[wrong_p]


def test_every_primitive_has_derivative_rules():
    missing = [
        p.name
        for p in all_primitives
        if p not in nondiff_primitives
        and (p not in jvp_rules or p not in vjp_rules)
        and p.name not in ("custom_vjp_call", "custom_jvp_call")
    ]
    assert not missing, f"primitives without a jvp or vjp rule (and not exempt): {missing}"
    missing_impl = [
        p.name
        for p in all_primitives
        if p.impl is None and p.name not in ("custom_vjp_call", "custom_jvp_call")
    ]
    assert not missing_impl, missing_impl


def test_vjp_fn_reusable_and_checks_cotangent_shape():
    _, f_vjp = fg.vjp(lambda x: x * 2.0, np.ones(3))
    check_close(f_vjp(np.ones(3))[0], 2 * np.ones(3))
    check_close(f_vjp(np.arange(3.0))[0], 2 * np.arange(3.0))
    with pytest.raises(ValueError, match=r"shape \(2,\).*\(3,\)"):
        f_vjp(np.ones(2))


def test_jvp_checks_tangents():
    with pytest.raises(ValueError, match="shape"):
        fg.jvp(fnp.sin, (np.ones(3),), (np.ones(2),))
    with pytest.raises(TypeError, match="dtype"):
        fg.jvp(fnp.sin, (np.ones(3),), (np.ones(3, np.float32),))
    with pytest.raises(TypeError, match="structure"):
        fg.jvp(lambda a, b: a + b, (1.0, 2.0), (1.0,))
