"""lax.softmax / lax.log_softmax: the fused primitives against their compositions, edge rows,
second derivatives and the errors."""

import numpy as np
import pytest
import scipy.special as sps

import funcgrad as fg
import funcgrad.lax as lax
import funcgrad.numpy as fnp
from funcgrad import nn


def _composed_log_softmax(x, axis):
    m = fg.stop_gradient(fnp.max(x, axis=axis, keepdims=True))
    s = x - m
    return s - fnp.log(fnp.sum(fnp.exp(s), axis=axis, keepdims=True))


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_log_softmax_equals_composition_with_gradients(axis):
    x = fnp.asarray(np.random.default_rng(0).standard_normal((3, 4, 5)))
    w = fnp.asarray(np.random.default_rng(1).standard_normal((3, 4, 5)))

    def loss(f):
        return lambda x: fnp.sum(f(x, axis) ** 2 * w)

    np.testing.assert_allclose(lax.log_softmax(x, axis), _composed_log_softmax(x, axis), 1e-12)
    np.testing.assert_allclose(
        fg.grad(loss(lax.log_softmax))(x), fg.grad(loss(_composed_log_softmax))(x), 1e-10
    )
    np.testing.assert_allclose(  # second order: a Hessian-vector product
        fg.jvp(fg.grad(loss(lax.log_softmax)), (x,), (w,))[1],
        fg.jvp(fg.grad(loss(_composed_log_softmax)), (x,), (w,))[1],
        rtol=1e-9,
        atol=1e-12,
    )


def test_softmax_rows_sum_to_one_and_match_scipy():
    x = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32) * 30
    got = lax.softmax(fnp.asarray(x), axis=1)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, sps.softmax(x, axis=1), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(np.asarray(got).sum(axis=1), 1.0, rtol=1e-6)


def test_large_and_infinite_values():
    x = fnp.asarray([[1000.0, 1000.0], [-np.inf, 0.0], [-np.inf, -np.inf]])
    got = np.asarray(lax.log_softmax(x, axis=1))
    np.testing.assert_allclose(got[0], [-np.log(2)] * 2, rtol=1e-6)
    np.testing.assert_array_equal(got[1], [-np.inf, 0.0])
    assert np.isnan(got[2]).all()  # a row of -inf: nan, as in PyTorch


@pytest.mark.parametrize("f", [lax.softmax, lax.log_softmax])
def test_vmap_and_jit_match_eager(f):
    x = fnp.asarray(np.random.default_rng(2).standard_normal((5, 3, 4)).astype(np.float32))
    eager = f(x, axis=1)
    by_columns = fg.vmap(lambda r: f(r, axis=1), in_axes=2, out_axes=2)(x)
    np.testing.assert_allclose(by_columns, eager, rtol=1e-6)
    np.testing.assert_allclose(fg.vmap(lambda r: f(r, axis=0))(x), eager, rtol=1e-6)
    np.testing.assert_allclose(fg.jit(lambda x: f(x, axis=1))(x), eager, rtol=1e-6)


def test_nn_functions_use_the_primitives():
    x = fnp.asarray([[1.0, 2.0, 3.0]])
    program = fg.make_ir(lambda x: nn.log_softmax(x, dim=1) + nn.softmax(x, dim=1))(x)
    names = [e.prim.name for e in program.eqns]
    assert names.count("log_softmax") == 1 and names.count("softmax") == 1


def test_integer_input_is_computed_in_the_default_float():
    got = lax.softmax(fnp.asarray([0, 0]), axis=0)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, [0.5, 0.5])


def test_errors_name_the_operation_and_the_shape():
    with pytest.raises(ValueError, match=r"log_softmax: axis 2 is out of range .*\(2, 3\)"):
        lax.log_softmax(fnp.ones((2, 3)), axis=2)
    with pytest.raises(ValueError, match=r"softmax: axis -1 is out of range .*\(\)"):
        lax.softmax(fnp.asarray(1.0), axis=-1)
    with pytest.raises(TypeError, match="softmax: complex input"):
        lax.softmax(fnp.ones(2) * 1j, axis=0)
