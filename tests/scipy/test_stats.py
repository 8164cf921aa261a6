"""funcgrad.scipy.stats.norm and the special functions behind it (ndtr, ndtri, log_ndtr, betaln)
against SciPy: tails, edge values, dtypes, closed-form derivatives, vmap."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special as sc
import scipy.stats as ss

import funcgrad as fg
import funcgrad.numpy as fnp
import funcgrad.scipy.special as fsp
from funcgrad.scipy.stats import norm
from tests.helpers import check_grads, check_vmap

NAMES = ["pdf", "logpdf", "cdf", "logcdf", "sf", "logsf", "ppf", "isf"]
rng = np.random.default_rng(0)


@pytest.mark.parametrize("name", NAMES)
def test_norm_matches_scipy_with_broadcast_loc_scale(name):
    x = rng.uniform(0.01, 0.99, (3, 4)) if name in ("ppf", "isf") else rng.normal(size=(3, 4))
    loc, scale = rng.normal(size=(4,)), rng.uniform(0.5, 2.0, (3, 1))
    want = getattr(ss.norm, name)(x, loc, scale)
    np.testing.assert_allclose(np.asarray(getattr(norm, name)(x, loc, scale)), want, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(getattr(norm, name)(x)), getattr(ss.norm, name)(x))


@pytest.mark.parametrize("name", NAMES)
def test_norm_keeps_float32_with_python_scalars(name):
    x = np.float32([0.2, 0.7])
    out = getattr(norm, name)(x, 1.0, 2.0)
    assert out.dtype == np.float32
    np.testing.assert_allclose(np.asarray(out), getattr(ss.norm, name)(x, 1.0, 2.0), rtol=2e-6)
    assert getattr(norm, name)(np.array([1, 0]), 0, 1).dtype == np.float64  # ints: as NumPy


def test_norm_tails():
    x = np.array([-1e3, -200.0, -40.0, -38.0, -10.0, 0.0, 10.0, 38.0, 40.0, 200.0])
    np.testing.assert_allclose(np.asarray(norm.logcdf(x)), ss.norm.logcdf(x), rtol=1e-13)
    np.testing.assert_allclose(np.asarray(norm.logsf(x)), ss.norm.logsf(x), rtol=1e-13)
    np.testing.assert_allclose(np.asarray(norm.sf(x)), ss.norm.sf(x), rtol=1e-13, atol=0)
    q = np.array([1e-300, 1e-100, 1e-20, 1e-5, 0.3, 0.5, 0.7, 1 - 1e-5, 1 - 1e-15])
    np.testing.assert_allclose(np.asarray(norm.ppf(q)), ss.norm.ppf(q), rtol=1e-14)
    np.testing.assert_allclose(np.asarray(norm.isf(q)), ss.norm.isf(q), rtol=1e-14)


def test_ndtri_edges_and_float32():
    p = np.array([0.0, 1.0, -0.5, 1.5, np.nan, 0.5])
    np.testing.assert_array_equal(np.asarray(fsp.ndtri(p)), sc.ndtri(p))
    p32 = np.float32([1e-30, 1e-7, 0.02425, 0.3, 0.975, 1 - 2**-20])
    out = fsp.ndtri(p32)
    assert out.dtype == np.float32
    np.testing.assert_allclose(np.asarray(out), sc.ndtri(p32.astype(np.float64)), rtol=2e-7)


def test_log_ndtr_everywhere():
    x = np.concatenate([np.linspace(-1e4, -40, 50), np.linspace(-40, 40, 801)])
    np.testing.assert_allclose(np.asarray(fsp.log_ndtr(x)), sc.log_ndtr(x), rtol=1e-12)
    x32 = np.linspace(-40, 15, 551).astype(np.float32)
    out = fsp.log_ndtr(x32)
    assert out.dtype == np.float32
    want = sc.log_ndtr(x32.astype(np.float64))
    np.testing.assert_allclose(np.asarray(out), want, rtol=2e-5, atol=1e-37)  # subnormals


def test_closed_form_derivatives():
    x = np.array([-1e3, -60.0, -35.0, -25.0, -3.0, 0.0, 3.0, 25.0])
    # d/dx log ndtr(x) = pdf(x) / ndtr(x): finite far into the lower tail (about -x there).
    g = np.asarray(fg.vmap(fg.grad(fsp.log_ndtr))(x))
    want = np.exp(ss.norm.logpdf(x) - ss.norm.logcdf(x))
    np.testing.assert_allclose(g, want, rtol=1e-10)
    q = np.array([1e-12, 0.01, 0.5, 0.9])
    g = np.asarray(fg.vmap(fg.grad(fsp.ndtri))(q))
    np.testing.assert_allclose(g, 1 / ss.norm.pdf(ss.norm.ppf(q)), rtol=1e-12)
    # Second derivative of ndtri: x / pdf(x)^2.
    g2 = np.asarray(fg.vmap(fg.grad(fg.grad(fsp.ndtri)))(q))
    xq = ss.norm.ppf(q)
    np.testing.assert_allclose(g2, xq / ss.norm.pdf(xq) ** 2, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_norm_grads_and_vmap(name):
    x = rng.uniform(0.05, 0.95, (2, 3)) if name in ("ppf", "isf") else rng.normal(size=(2, 3))
    loc, scale = rng.normal(size=(3,)), rng.uniform(0.5, 2.0, (2, 1))
    check_grads(getattr(norm, name), (x, loc, scale), atol=1e-4, rtol=1e-4)
    check_vmap(getattr(norm, name), (x, loc, scale[:, 0]), [0, None, 0])


def test_betaln():
    a, b = rng.uniform(0.1, 30, 20), rng.uniform(0.1, 30, 20)
    np.testing.assert_allclose(np.asarray(fsp.betaln(a, b)), sc.betaln(a, b), rtol=1e-11)
    check_grads(fsp.betaln, (a[:4], b[:4]))
    # d/da betaln = digamma(a) - digamma(a + b)
    g = fg.grad(lambda u: fnp.sum(fsp.betaln(u, b)))(a)
    np.testing.assert_allclose(np.asarray(g), sc.digamma(a) - sc.digamma(a + b), rtol=1e-10)
    assert fsp.betaln(np.float32(2.0), 3).dtype == np.float32


def test_import_funcgrad_does_not_import_scipy():
    import subprocess
    import sys

    code = "import sys, funcgrad; funcgrad.scipy.stats.norm; funcgrad.scipy.linalg.expm; "
    code += "print(any(m == 'scipy' or m.startswith('scipy.') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.skipif(not hasattr(fg, "jit"), reason="jit not available")
def test_norm_under_jit():
    q = np.array([1e-10, 0.2, 0.9])
    np.testing.assert_allclose(np.asarray(fg.jit(norm.ppf)(q)), ss.norm.ppf(q), rtol=1e-14)
    g = fg.grad(lambda v: fnp.sum(norm.ppf(v) + norm.logcdf(v * 50 - 40)))
    np.testing.assert_allclose(np.asarray(fg.jit(g)(q)), np.asarray(g(q)), rtol=1e-12)
