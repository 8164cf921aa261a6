"""lax.sort (multi-operand, num_keys), lax.top_k: values against NumPy, derivatives, errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import lax
from funcgrad.lax.sort import searchsorted_p, sort_p, top_k_p
from funcgrad.transforms.grad import jvp_rules, nondiff_primitives, vjp_rules
from tests.helpers import check_grads

shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=5)


@given(st.data())
def test_sort_matches_numpy(data):
    shape = data.draw(shapes)
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = data.draw(hnp.arrays(np.float64, shape, elements=st.integers(-3, 3).map(float)))
    stable = data.draw(st.booleans())
    got = lax.sort(fnp.asarray(x), dim, is_stable=stable)
    np.testing.assert_array_equal(np.asarray(got), np.sort(x, axis=dim))


@given(st.data())
def test_sort_with_values_and_two_keys_matches_lexsort(data):
    shape = data.draw(shapes)
    dim = data.draw(st.integers(0, len(shape) - 1))
    small = st.integers(0, 2)
    k1 = data.draw(hnp.arrays(np.int64, shape, elements=small))
    k2 = data.draw(hnp.arrays(np.float64, shape, elements=small.map(float)))
    v = np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape)
    a, b, c = lax.sort((fnp.asarray(k1), fnp.asarray(k2), fnp.asarray(v)), dim, num_keys=2)
    perm = np.lexsort((k2, k1), axis=dim)
    for got, ref in ((a, k1), (b, k2), (c, v)):
        np.testing.assert_array_equal(np.asarray(got), np.take_along_axis(ref, perm, dim))
    # One key: a stable sort keeps equal keys in their original order.
    _, c = lax.sort((fnp.asarray(k1), fnp.asarray(v)), dim)
    perm = np.argsort(k1, axis=dim, kind="stable")
    np.testing.assert_array_equal(np.asarray(c), np.take_along_axis(v, perm, dim))


def test_sort_key_val_and_nans_last():
    keys = fnp.asarray(np.array([2.0, np.nan, 0.0, 1.0]))
    k, v = lax.sort_key_val(keys, fnp.asarray(np.array([0, 1, 2, 3])))
    np.testing.assert_array_equal(np.asarray(k), [0.0, 1.0, 2.0, np.nan])
    np.testing.assert_array_equal(np.asarray(v), [2, 3, 0, 1])


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_sort_grads(dim):
    x = np.random.default_rng(0).permutation(12).reshape(3, 4) * 0.3 + 0.1
    check_grads(lambda x: lax.sort(x, dim) ** 2, (x,), order=2)


def test_sort_grads_multi_operand():
    rng = np.random.default_rng(1)
    k = rng.permutation(10).reshape(2, 5) * 1.0
    v = rng.standard_normal((2, 5))

    def f(k, v):
        sk, sv = lax.sort((k, v), 1)
        return sk * sv

    check_grads(f, (k, v), order=2)

    def g(v):  # integer keys: only the values are differentiated
        return lax.sort((fnp.asarray(np.array([[3, 1, 2, 0, 4]] * 2)), v), 1)[1] ** 3

    check_grads(g, (v,), order=2)


def test_sort_gradient_is_the_inverse_permutation():
    x = fnp.asarray(np.array([3.0, 1.0, 2.0]))
    w = fnp.asarray(np.array([10.0, 20.0, 30.0]))
    g = fg.grad(lambda x: (lax.sort(x) * w).sum())(x)
    np.testing.assert_array_equal(np.asarray(g), [30.0, 10.0, 20.0])


def test_top_k_matches_numpy_and_breaks_ties_by_index():
    x = np.array([[1.0, 3.0, 3.0, 2.0, 3.0], [5.0, 4.0, 3.0, 2.0, 1.0]])
    vals, idx = lax.top_k(fnp.asarray(x), 3)
    np.testing.assert_array_equal(np.asarray(idx), [[1, 2, 4], [0, 1, 2]])
    np.testing.assert_array_equal(np.asarray(vals), [[3.0, 3.0, 3.0], [5.0, 4.0, 3.0]])
    assert idx.dtype == np.int64
    u = np.array([3, 0, 255, 7], dtype=np.uint8)
    vals, idx = lax.top_k(fnp.asarray(u), 2)
    np.testing.assert_array_equal(np.asarray(vals), [255, 7])
    assert lax.top_k(fnp.asarray(x), 0)[0].shape == (2, 0)


@given(
    hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=6),
        elements=st.integers(-4, 4).map(float),
    ),
    st.data(),
)
def test_top_k_values_match_sort(x, data):
    k = data.draw(st.integers(0, x.shape[-1]))
    vals, idx = lax.top_k(fnp.asarray(x), k)
    np.testing.assert_array_equal(np.asarray(vals), -np.sort(-x, axis=-1)[..., :k])
    np.testing.assert_array_equal(np.take_along_axis(x, np.asarray(idx), -1), np.asarray(vals))


def test_top_k_grads():
    x = np.random.default_rng(2).permutation(15).reshape(3, 5) * 0.25
    check_grads(lambda x: lax.top_k(x, 2)[0] ** 2, (x,), order=2)


def test_rules_are_registered():
    for p in (sort_p, top_k_p):
        assert p in jvp_rules and p in vjp_rules
    assert searchsorted_p in nondiff_primitives


def test_sort_errors():
    with pytest.raises(
        ValueError, match=r"sort: operands must all have the same shape, got \[\(3,\), \(2,\)\]"
    ):
        lax.sort((fnp.zeros(3), fnp.zeros(2)))
    with pytest.raises(ValueError, match=r"sort: dimension 2 is out of range for shape \(3,\)"):
        lax.sort(fnp.zeros(3), 2)
    with pytest.raises(ValueError, match="sort: num_keys=3"):
        lax.sort((fnp.zeros(3), fnp.zeros(3)), num_keys=3)
    with pytest.raises(ValueError, match=r"sort: operands must have at least one dimension"):
        lax.sort(fnp.asarray(1.0))
    with pytest.raises(
        ValueError, match=r"top_k: k=4 must be in \[0, 3\] for operand shape \(2, 3\)"
    ):
        lax.top_k(fnp.zeros((2, 3)), 4)
    with pytest.raises(ValueError, match="top_k: the operand must have at least one dimension"):
        lax.top_k(fnp.asarray(1.0), 1)
