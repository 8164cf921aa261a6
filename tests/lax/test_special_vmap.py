"""vmap of the special-function and complex-number primitives against a Python loop."""

from __future__ import annotations

import numpy as np
import pytest

import funcgrad as fg
from funcgrad import lax
from tests.helpers import check_close, check_vmap

fnp = fg.numpy


def _rng(seed=0):
    return np.random.default_rng(seed)


def positive(shape, seed=0):
    return _rng(seed).uniform(0.2, 6.0, shape)


def unit(shape, seed=0):
    return _rng(seed).uniform(-0.95, 0.95, shape)


def real(shape, seed=0):
    return _rng(seed).standard_normal(shape)


def cplx(shape, seed=0):
    return real(shape, seed) + 1j * real(shape, seed + 11)


SPECIAL = {
    "erf": (lax.erf, real),
    "erfc": (lax.erfc, real),
    "erf_inv": (lax.erf_inv, unit),
    "lgamma": (lax.lgamma, positive),
    "lgamma_negative": (lax.lgamma, lambda s, seed=0: -positive(s, seed) - 0.5),
    "digamma": (lax.digamma, positive),
    "polygamma0": (lambda x: lax.polygamma(0, x), positive),
    "polygamma1": (lambda x: lax.polygamma(1, x), positive),
    "polygamma3": (lambda x: lax.polygamma(3, x), positive),
}


def _batched(make, core, axis, size, seed=0):
    if axis is None:
        return make(core, seed)
    return np.moveaxis(make((size,) + core, seed), 0, axis)


@pytest.mark.parametrize("name", sorted(SPECIAL))
@pytest.mark.parametrize("core,axis", [((), 0), ((3,), 0), ((3,), -1), ((2, 3), 1), ((2, 3), -1)])
@pytest.mark.parametrize("size", [0, 1, 4])
def test_special_matches_loop(name, core, axis, size):
    fn, make = SPECIAL[name]
    x = _batched(make, core, axis, size)
    check_vmap(fn, [x], [axis], atol=1e-12, rtol=1e-12)


@pytest.mark.parametrize("name", sorted(SPECIAL))
def test_special_float32_keeps_dtype(name):
    fn, make = SPECIAL[name]
    x = make((4, 3)).astype(np.float32)
    out = fg.vmap(fn)(fnp.asarray(x))
    assert out.dtype == np.float32
    check_vmap(fn, [x], [0], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", ["erf", "erfc", "lgamma", "digamma", "polygamma1", "erf_inv"])
@pytest.mark.parametrize("in_axes", [(0, 0), (None, 0), (0, None), (1, -1)])
def test_special_in_a_binary_expression(name, in_axes):
    fn, make = SPECIAL[name]

    def f(x, y):
        return fn(x) * y

    x = _batched(make, (3,), in_axes[0], 4)
    y = _batched(real, (2, 3), in_axes[1], 4, seed=1)
    check_vmap(f, [x, y], list(in_axes), atol=1e-12, rtol=1e-12)


@pytest.mark.parametrize("name", ["erf", "erfc", "erf_inv", "lgamma", "digamma", "polygamma1"])
def test_vmap_of_grad(name):
    fn, make = SPECIAL[name]
    x = make((5,))
    check_vmap(fg.grad(fn), [x], [0], atol=1e-10, rtol=1e-10)
    check_vmap(fg.grad(fg.grad(fn)), [x], [0], atol=1e-10, rtol=1e-10)


def test_jvp_under_vmap():
    x, t = positive((4, 3)), real((4, 3), 2)

    def f(x, t):
        return fg.jvp(lax.lgamma, (x,), (t,))[1]

    check_vmap(f, [x, t], [0, 0], atol=1e-12, rtol=1e-12)
    check_vmap(f, [x[0], t], [None, 0], atol=1e-12, rtol=1e-12)


# --------------------------------------------------------------------------------------------
# complex: real, imag, conj, complex


UNARY_COMPLEX = {
    "real": lax.real,
    "imag": lax.imag,
    "conj": lax.conj,
    "abs_conj": lambda z: lax.real(lax.conj(z) * z),
}


@pytest.mark.parametrize("name", sorted(UNARY_COMPLEX))
@pytest.mark.parametrize("core,axis", [((), 0), ((3,), 0), ((3,), -1), ((2, 3), 1)])
@pytest.mark.parametrize("size", [0, 3])
@pytest.mark.parametrize("dtype", [np.complex128, np.complex64])
def test_complex_parts_match_loop(name, core, axis, size, dtype):
    z = _batched(cplx, core, axis, size).astype(dtype)
    check_vmap(UNARY_COMPLEX[name], [z], [axis], atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize(
    "x_core,y_core",
    [((3,), (3,)), ((), ()), ((2, 3), (3,)), ((3,), ()), ((), (2, 3)), ((2, 1), (1, 3))],
)
@pytest.mark.parametrize("in_axes", [(0, 0), (None, 0), (0, None), (-1, 0), (0, -1)])
@pytest.mark.parametrize("size", [0, 1, 3])
def test_complex_matches_loop(x_core, y_core, in_axes, size):
    x = _batched(real, x_core, in_axes[0], size, seed=1)
    y = _batched(real, y_core, in_axes[1], size, seed=2)
    check_vmap(lax.complex, [x, y], list(in_axes))


def test_complex_float32_and_mixed():
    x = real((4, 3)).astype(np.float32)
    y = real((4, 3), 1).astype(np.float32)
    out = fg.vmap(lax.complex)(fnp.asarray(x), fnp.asarray(y))
    assert out.dtype == np.complex64
    check_vmap(lax.complex, [x, y], [0, 0])
    check_vmap(lax.complex, [x, y[0].astype(np.float64)], [0, None])


def test_complex_with_python_scalar():
    x = real((4, 3))
    check_vmap(lambda x: lax.complex(x, 0.5), [x], [0])
    check_vmap(lambda y: lax.complex(2.0, y), [x], [1])


def test_vmap_of_grad_through_complex():
    def f(x, y):
        z = lax.complex(x, y)
        w = lax.conj(z) * z * lax.complex(y, x)
        return fnp.sum(lax.real(w) + 2.0 * lax.imag(w))

    x, y = real((4, 3), 1), real((4, 3), 2)
    for argnums in (0, 1, (0, 1)):
        g = fg.grad(f, argnums=argnums)
        check_vmap(g, [x, y], [0, 0], atol=1e-12, rtol=1e-12)
        check_vmap(g, [x, y[0]], [0, None], atol=1e-12, rtol=1e-12)
        check_vmap(g, [x[0], y.T], [None, 1], atol=1e-12, rtol=1e-12)


def test_nested_vmap_complex():
    x, y = real((2, 3, 4), 1), real((3, 4), 2)
    out = fg.vmap(fg.vmap(lax.complex), in_axes=(0, None))(fnp.asarray(x), fnp.asarray(y))
    check_close(out, x + 1j * y)
    check_close(fg.vmap(fg.vmap(lax.imag))(out), np.broadcast_to(y, x.shape))
