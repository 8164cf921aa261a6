"""lax special functions: values against scipy.special (both the scipy and the pure NumPy
paths), edge values, dtypes, and derivatives to second order."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special as sc

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import lax
from funcgrad.lax import special
from tests.helpers import check_grads

rng = np.random.default_rng(0)


def _sample(lo, hi, n=2000):
    return rng.uniform(lo, hi, n)


def _poly(n):
    return (lambda x: lax.polygamma(n, x)), (lambda x: sc.polygamma(n, x))


REAL = np.r_[_sample(-7, 7), 1e-3 * rng.standard_normal(50), 0.0, 0.46875, 4.0]
TAIL = np.r_[_sample(-7, 27.5), 0.46875, 4.0, 26.0]
UNIT = np.r_[_sample(-1, 1), 1 - 10.0 ** -_sample(1, 15, 300), -0.999999]
WIDE = np.r_[_sample(-30, 40), 10 ** _sample(-300, 300, 300)]
MODERATE = np.r_[_sample(-30, 40), 10 ** _sample(-5, 10, 300)]

# name: (lax function, scipy reference, test points, rtol, atol)
CASES = {
    "erf": (lax.erf, sc.erf, REAL, 1e-14, 0),
    "erfc": (lax.erfc, sc.erfc, TAIL, 1e-13, 1e-300),
    "erf_inv": (lax.erf_inv, sc.erfinv, UNIT, 1e-13, 0),
    "lgamma": (lax.lgamma, sc.gammaln, np.r_[WIDE, _sample(0.7, 2.3, 500)], 1e-11, 1e-15),
    "digamma": (lax.digamma, sc.psi, np.r_[WIDE, _sample(1.3, 1.6, 200)], 1e-12, 1e-14),
    "trigamma": (*_poly(1), MODERATE, 1e-12, 1e-14),
    "polygamma2": (*_poly(2), MODERATE[MODERATE > -10], 1e-11, 1e-13),
    "polygamma3": (*_poly(3), np.r_[_sample(0.01, 40), 10 ** _sample(-3, 8, 300)], 1e-12, 0),
}


@pytest.fixture(params=["scipy", "pure"])
def path(request, monkeypatch):
    """Runs a test with scipy.special and again with the pure NumPy implementations forced."""
    if request.param == "pure":
        monkeypatch.setattr(special, "_scipy_special", None)
    return request.param


@pytest.mark.parametrize("name", CASES)
def test_values_match_scipy(name, path):
    fn, ref, x, rtol, atol = CASES[name]
    x = x[np.abs(x - np.round(x)) > 1e-6] if name not in ("erf", "erfc", "erf_inv") else x
    got = np.asarray(fn(fnp.asarray(x)))
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, ref(x), rtol=rtol, atol=atol)


EDGES = {
    "erf": [0.0, -0.0, np.inf, -np.inf, np.nan, 30.0, -30.0],
    "erfc": [np.inf, -np.inf, np.nan, 30.0, -30.0, 28.0],
    "erf_inv": [0.0, 1.0, -1.0, 1.5, -2.0, np.nan, 1e-300],
    "lgamma": [0.0, 1.0, 2.0, -1.0, -2.0, np.inf, np.nan, 1e-300, 1e306],
    "digamma": [1.0, 0.0, -0.0, -1.0, -3.0, np.inf, np.nan, 1e-300],
    "trigamma": [1.0, 0.0, -1.0, -2.0, np.inf, np.nan],
    "polygamma2": [1.0, 0.0, -1.0, np.inf, np.nan],
}


@pytest.mark.parametrize("name", EDGES)
def test_edge_values_match_scipy(name, path):
    fn, ref, *_ = CASES[name]
    x = np.array(EDGES[name])
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(np.asarray(fn(fnp.asarray(x))), ref(x), rtol=1e-13)


def test_pure_path_is_forced(monkeypatch):
    # The fixture's switch really takes the pure path: its result differs from scipy's in the
    # last bits somewhere, and matches the pure function called directly.
    x = np.linspace(-3, 3, 101)
    monkeypatch.setattr(special, "_scipy_special", None)
    np.testing.assert_array_equal(np.asarray(lax.erf(fnp.asarray(x))), special._erf_pure(np, x))


@pytest.mark.parametrize("name", ["erf", "erfc", "erf_inv", "lgamma", "digamma", "trigamma"])
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_dtype_preserved(name, dtype, path):
    fn, ref, *_ = CASES[name]
    x = np.array([0.25, 0.5, 0.75], dtype)
    out = fn(fnp.asarray(x))
    assert out.dtype == dtype
    np.testing.assert_allclose(np.asarray(out, np.float64), ref(x.astype(np.float64)), rtol=2e-3)


def test_scalar_input_and_shape():
    assert lax.erf(fnp.asarray(0.5)).shape == ()
    assert lax.lgamma(fnp.zeros((2, 0, 3), np.float64)).shape == (2, 0, 3)


def test_integer_input_is_a_type_error():
    with pytest.raises(TypeError, match="erf: needs a real floating-point input.*int"):
        lax.erf(fnp.asarray([1, 2]))


@pytest.mark.parametrize("n", [-1, 1.5, True, "2"])
def test_polygamma_needs_a_static_order(n):
    with pytest.raises(TypeError, match="polygamma: the order n"):
        lax.polygamma(n, fnp.asarray(1.0))


# Interior domains where every function is smooth and well conditioned.
GRAD_CASES = {
    "erf": (lax.erf, (-2.0, 2.0)),
    "erfc": (lax.erfc, (-2.0, 2.0)),
    "erf_inv": (lax.erf_inv, (-0.9, 0.9)),
    "lgamma": (lax.lgamma, (0.5, 6.0)),
    "lgamma_negative": (lax.lgamma, (-2.7, -2.3)),
    "digamma": (lax.digamma, (0.5, 6.0)),
    "polygamma2": (lambda x: lax.polygamma(2, x), (0.5, 6.0)),
}


@pytest.mark.parametrize("name", GRAD_CASES)
def test_grads_to_second_order(name):
    fn, (lo, hi) = GRAD_CASES[name]
    x = np.random.default_rng(1).uniform(lo, hi, 4)
    check_grads(fn, (x,), order=2, atol=1e-6, rtol=1e-6)


def test_grads_on_the_pure_path(monkeypatch):
    monkeypatch.setattr(special, "_scipy_special", None)
    x = np.array([0.3, 0.9, 1.7])
    check_grads(lambda v: lax.lgamma(v) + lax.erf(v) + lax.erf_inv(v / 2), (x,), order=2)


def test_derivative_identities():
    x = fnp.asarray(np.array([0.5, 1.0, 3.5]))
    np.testing.assert_allclose(fg.grad(lambda v: lax.lgamma(v).sum())(x), sc.psi([0.5, 1, 3.5]))
    d2 = fg.grad(lambda v: fg.grad(lambda w: lax.lgamma(w).sum())(v).sum())(x)
    np.testing.assert_allclose(d2, sc.polygamma(1, [0.5, 1, 3.5]), rtol=1e-12)
    y = fnp.asarray(np.array([-0.5, 0.0, 0.7]))
    np.testing.assert_allclose(
        fg.grad(lambda v: lax.erf_inv(v).sum())(y),
        np.sqrt(np.pi) / 2 * np.exp(sc.erfinv([-0.5, 0.0, 0.7]) ** 2),
    )
    np.testing.assert_allclose(
        fg.grad(lambda v: lax.erfc(v).sum())(y), -2 / np.sqrt(np.pi) * np.exp(-np.square(y))
    )
