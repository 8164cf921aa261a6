"""custom_vjp, custom_jvp and checkpoint: rules used, composition, pytrees, errors."""

from __future__ import annotations

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad.transforms import grad as grad_module
from tests.helpers import check_close, check_grads


@fg.custom_vjp
def clip_gradient(x, lo, hi):
    return x


clip_gradient.defvjp(
    lambda x, lo, hi: (x, (lo, hi)),
    lambda res, g: (fnp.clip(g, res[0], res[1]), None, None),
)


def test_custom_vjp_rule_is_used():
    f = lambda x: fnp.sum(clip_gradient(x, -1.0, 1.0) * 5.0)
    check_close(fg.grad(f)(np.array([1.0, 2.0])), np.array([1.0, 1.0]))
    assert float(f(np.array([1.0, 2.0]))) == 15.0  # the primal is the function's own


def test_custom_vjp_with_pytrees_and_nondiff_argnums():
    def scale(power, tree):
        return {"a": tree["a"] ** power, "b": tree["b"] * 2.0}

    f = fg.custom_vjp(scale, nondiff_argnums=(0,))

    def fwd(power, tree):
        return scale(power, tree), tree

    def bwd(power, tree, g):
        return ({"a": g["a"] * power * tree["a"] ** (power - 1), "b": g["b"] * 2.0},)

    f.defvjp(fwd, bwd)
    tree = {"a": np.array([1.0, 2.0]), "b": np.float64(3.0)}
    loss = lambda t: fnp.sum(f(3, t)["a"]) + f(3, t)["b"]
    ref = lambda t: fnp.sum(scale(3, t)["a"]) + scale(3, t)["b"]
    check_close(fg.grad(loss)(tree), fg.grad(ref)(tree), 1e-12, 1e-12)


def test_custom_vjp_second_order_through_differentiable_rules():
    @fg.custom_vjp
    def square(x):
        return x * x

    square.defvjp(lambda x: (x * x, x), lambda x, g: (2.0 * x * g,))
    assert float(fg.grad(fg.grad(square))(3.0)) == 2.0
    _, hvp = fg.jvp(fg.grad(square), (np.float64(3.0),), (np.float64(1.0),))
    assert float(hvp) == 2.0


def test_custom_vjp_under_jvp_is_refused():
    with pytest.raises(TypeError, match="custom_vjp.*custom_jvp"):
        fg.jvp(lambda x: clip_gradient(x, -1.0, 1.0), (1.0,), (1.0,))


def test_custom_vjp_missing_rule():
    f = fg.custom_vjp(lambda x: x)
    with pytest.raises(AttributeError, match="defvjp"):
        fg.grad(f)(1.0)


@fg.custom_jvp
def log1pexp(x):
    return fnp.log1p(fnp.exp(x))


@log1pexp.defjvp
def _log1pexp_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return log1pexp(x), t * fg.scipy.special.expit(x)


def test_custom_jvp_stable_rule_in_both_modes():
    x = np.float32(100.0)
    with np.errstate(over="ignore", invalid="ignore"):
        naive = fg.grad(lambda x: fnp.log1p(fnp.exp(x)))(x)
    assert np.isnan(naive)  # the naive derivative overflows in float32 ...
    with np.errstate(over="ignore"):
        g = fg.grad(log1pexp)(x)
    assert float(g) == 1.0  # ... the rule, transposed for reverse mode, not
    assert float(fg.jvp(log1pexp, (x,), (np.float32(2.0),))[1]) == 2.0
    check_grads(log1pexp, (np.array([-1.0, 0.5, 2.0]),), order=2)


def test_custom_jvp_defjvps_and_nondiff_argnums():
    f = fg.custom_jvp(lambda n, x: x**n, nondiff_argnums=(0,))

    @f.defjvp
    def _(n, primals, tangents):
        (x,), (t,) = primals, tangents
        return x**n, n * x ** (n - 1) * t

    assert float(fg.grad(lambda x: f(3, x))(2.0)) == 12.0
    g = fg.custom_jvp(lambda x, y: x * y)
    g.defjvps(lambda t, ans, x, y: t * y, lambda t, ans, x, y: x * t)
    check_close(fg.grad(g, argnums=(0, 1))(2.0, 5.0), (5.0, 2.0))


def test_custom_jvp_rule_with_wrong_tangent_shape():
    f = fg.custom_jvp(lambda x: fnp.sum(x))
    f.defjvp(lambda p, t: (fnp.sum(p[0]), t[0]))
    with pytest.raises(ValueError, match="tangent output shape"):
        fg.jvp(f, (np.ones(3),), (np.ones(3),))


def test_checkpoint_same_derivatives_fewer_residuals():
    rng = np.random.default_rng(0)
    w, x = rng.standard_normal((4, 4)), rng.standard_normal((3, 4))

    def block(w, x):
        for _ in range(5):
            x = fnp.tanh(x @ w)
        return x

    loss = lambda w: fnp.sum(block(w, x) ** 2)
    loss_ckpt = lambda w: fnp.sum(fg.checkpoint(block)(w, x) ** 2)
    check_close(fg.grad(loss_ckpt)(w), fg.grad(loss)(w), 1e-12, 1e-12)
    hess = lambda f: fg.grad(lambda w: fnp.sum(fg.grad(f)(w) ** 2))(w)
    check_close(hess(loss_ckpt), hess(loss), 1e-10, 1e-10)

    tapes = []
    original = grad_module.VJPTrace.__init__

    def spy(self, level):
        original(self, level)
        tapes.append(self.tape)

    grad_module.VJPTrace.__init__ = spy
    try:
        fg.vjp(loss, w)
        fg.vjp(loss_ckpt, w)
    finally:
        grad_module.VJPTrace.__init__ = original
    # The checkpointed forward pass records one entry for the whole block, not ten.
    assert len(tapes[1]) < len(tapes[0]) - 5
