"""funcgrad.scipy.special against scipy.special: values, stability, weights, axes, gradients."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special as sc

import funcgrad as fg
import funcgrad.numpy as fnp
import funcgrad.scipy.special as fsp
from tests.helpers import check_grads

rng = np.random.default_rng(0)
X = rng.standard_normal((3, 4))


@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 1)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_logsumexp_axes(axis, keepdims):
    got = fsp.logsumexp(X, axis=axis, keepdims=keepdims)
    want = sc.logsumexp(X, axis=axis, keepdims=keepdims)
    assert got.shape == np.shape(want)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-13)


def test_logsumexp_is_stable_for_huge_and_tiny_inputs():
    a = np.array([[1e4, 1e4 - 1.0, -1e4], [-1e4, -1e4 - 3.0, -1e4 + 1.0]])
    np.testing.assert_allclose(np.asarray(fsp.logsumexp(a, axis=1)), sc.logsumexp(a, axis=1))
    f32 = fsp.logsumexp(fnp.asarray(np.float32([3e3, 3e3])))
    assert f32.dtype == np.float32
    np.testing.assert_allclose(float(f32), 3e3 + np.log(2), rtol=1e-6)


def test_logsumexp_infinities():
    a = np.array([[0.0, -np.inf, 1.0], [-np.inf, -np.inf, -np.inf], [np.inf, 0.0, -np.inf]])
    with np.errstate(divide="ignore"):
        want = sc.logsumexp(a, axis=1)
        got = np.asarray(fsp.logsumexp(a, axis=1))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
    np.testing.assert_allclose(got, want)
    g = fg.grad(lambda v: fsp.logsumexp(v))(fnp.asarray(np.array([0.0, -np.inf, 1.0])))
    np.testing.assert_allclose(np.asarray(g), sc.softmax([0.0, -np.inf, 1.0]))


def test_logsumexp_weights():
    b = rng.uniform(0.5, 2.0, (3, 4))
    b[0, 3] = 0.0
    a = X.copy()
    a[0, 3] = np.inf  # ignored: its weight is 0
    for axis in (None, 0, 1):
        np.testing.assert_allclose(
            np.asarray(fsp.logsumexp(a, axis=axis, b=b)), sc.logsumexp(a, axis=axis, b=b)
        )


def test_logsumexp_negative_weights_with_sign():
    b = np.array([[1.0, -2.0, 0.5, -0.1]])
    out, sign = fsp.logsumexp(X, axis=1, b=b, return_sign=True)
    want, want_sign = sc.logsumexp(X, axis=1, b=b, return_sign=True)
    np.testing.assert_allclose(np.asarray(out), want, rtol=1e-13)
    np.testing.assert_array_equal(np.asarray(sign), want_sign)
    with np.errstate(divide="ignore"):
        out, sign = fsp.logsumexp(np.ones(3), b=np.array([1.0, -1.0, 0.0]), return_sign=True)
    assert float(out) == -np.inf and float(sign) == 0.0
    # Weights that are all zero: an empty sum, log 0 = -inf (as JAX).
    with np.errstate(divide="ignore"):
        assert float(fsp.logsumexp(np.ones(2), b=np.zeros(2))) == -np.inf


def test_logsumexp_grads():
    b = rng.uniform(0.5, 2.0, (3, 4))
    check_grads(lambda a: fsp.logsumexp(a, axis=1), (X,))
    check_grads(lambda a, w: fsp.logsumexp(a, axis=0, b=w), (X, b))
    check_grads(lambda a: fsp.logsumexp(a * 1e3, axis=1) / 1e3, (X,), atol=1e-4, rtol=1e-4)
    check_grads(
        lambda a, w: fsp.logsumexp(a, axis=1, b=w - 1.2, return_sign=True)[0], (X, b), order=1
    )


@pytest.mark.parametrize("axis", [None, 0, -1])
def test_softmax_and_log_softmax(axis):
    np.testing.assert_allclose(np.asarray(fsp.softmax(X, axis=axis)), sc.softmax(X, axis=axis))
    np.testing.assert_allclose(
        np.asarray(fsp.log_softmax(X, axis=axis)), sc.log_softmax(X, axis=axis), atol=1e-14
    )
    big = np.array([1e4, 0.0, -1e4])
    np.testing.assert_allclose(np.asarray(fsp.log_softmax(big)), sc.log_softmax(big))
    check_grads(lambda a: fsp.softmax(a, axis=axis), (X,))
    check_grads(lambda a: fsp.log_softmax(a, axis=axis), (X,))


POS = rng.uniform(0.2, 3.0, 5)
UNIT = rng.uniform(0.05, 0.95, 5)
REAL = rng.uniform(-2.0, 2.0, 5)

# name: (funcgrad function, scipy reference, interior domain)
UNARY = {
    "erf": (fsp.erf, sc.erf, REAL),
    "erfc": (fsp.erfc, sc.erfc, REAL),
    "erfinv": (fsp.erfinv, sc.erfinv, UNIT * 2 - 1),
    "ndtr": (fsp.ndtr, sc.ndtr, REAL),
    "expit": (fsp.expit, sc.expit, REAL * 10),
    "logit": (fsp.logit, sc.logit, UNIT),
    "gammaln": (fsp.gammaln, sc.gammaln, POS),
    "digamma": (fsp.digamma, sc.digamma, POS),
    "psi": (fsp.psi, sc.psi, POS),
    "polygamma1": (lambda x: fsp.polygamma(1, x), lambda x: sc.polygamma(1, x), POS),
}


@pytest.mark.parametrize("name", UNARY)
def test_unary_values_and_grads(name):
    fn, ref, x = UNARY[name]
    np.testing.assert_allclose(np.asarray(fn(x)), ref(x), rtol=1e-12)
    check_grads(fn, (x,), order=2)


def test_integer_inputs_promote():
    assert fsp.gammaln(np.array([1, 2, 3])).dtype == np.float64
    assert fsp.erf(fnp.asarray([0, 1], dtype=np.int8)).dtype == np.float32
    assert fsp.expit(fnp.asarray([0.0], dtype=np.float32)).dtype == np.float32


def test_logit_and_expit_limits():
    with np.errstate(divide="ignore"):
        np.testing.assert_array_equal(
            np.asarray(fsp.logit(np.array([0.0, 1.0]))), [-np.inf, np.inf]
        )
    np.testing.assert_allclose(np.asarray(fsp.expit(np.array([-800.0, 800.0]))), [0.0, 1.0])


@pytest.mark.parametrize("fn,ref", [(fsp.xlogy, sc.xlogy), (fsp.xlog1py, sc.xlog1py)])
def test_xlogy_family(fn, ref):
    x = np.array([0.0, 0.0, 0.0, 1.5, 0.0, 2.0, 0.0])
    y = np.array([0.0, -1.0, 2.0, 3.0, np.inf, 0.5, np.nan])
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(np.asarray(fn(x, y)), ref(x, y))
    check_grads(fn, (np.array([0.3, 1.2, 2.0]), np.array([0.4, 1.5, 3.0])))


def test_xlogy_gradients_at_zero():
    gx, gy = fg.grad(lambda x, y: fsp.xlogy(x, y), argnums=(0, 1))(0.0, 0.0)
    assert float(gy) == 0.0 and np.isfinite(float(gx))
    gx, gy = fg.grad(lambda x, y: fsp.xlogy(x, y), argnums=(0, 1))(0.0, 2.0)
    np.testing.assert_allclose([float(gx), float(gy)], [np.log(2.0), 0.0], rtol=1e-6)
    gx, gy = fg.grad(lambda x, y: fsp.xlog1py(x, y), argnums=(0, 1))(0.0, -1.0)
    assert float(gy) == 0.0 and np.isfinite(float(gx))


def test_entropy_style_use():
    # -sum p log p, with zero probabilities, differentiates without NaNs.
    p = fnp.asarray(np.array([0.0, 0.25, 0.75]))
    h = fg.grad(lambda q: -fsp.xlogy(q, q).sum())(p)
    assert np.isfinite(np.asarray(h)[1:]).all()
