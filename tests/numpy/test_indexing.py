"""fnp indexing (x[idx], x.at[idx]), take, nonzero, diagonal, and sorting: against NumPy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad.numpy import _indexing
from tests.helpers import check_grads
from tests.lax.test_indexing import advanced_indices, basic_indices

shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)


def _rand(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# --------------------------------------------------------------------------------------------
# x[idx]


@given(st.data())
def test_getitem_matches_numpy(data):
    shape = data.draw(shapes)
    idx = data.draw(st.one_of(basic_indices(shape), advanced_indices(shape)))
    x = _rand(shape)
    np.testing.assert_array_equal(np.asarray(fnp.asarray(x)[idx]), x[idx])


def test_getitem_under_transforms():
    x = _rand((3, 4))
    out, t = fg.jvp(lambda x: x[1:, ::-2], (fnp.asarray(x),), (fnp.asarray(np.ones((3, 4))),))
    np.testing.assert_array_equal(np.asarray(out), x[1:, ::-2])
    np.testing.assert_array_equal(np.asarray(t), np.ones((2, 2)))
    check_grads(lambda x: x[None, ..., [0, 0, 2]] * x[1, 1:], (x,), order=2)
    check_grads(lambda x: x[x > 0] ** 2, (x,), order=2)  # mask with a concrete value under grad


def test_getitem_list_gradient_accumulates():
    g = fg.grad(lambda x: x[[0, 0, 2]].sum())(fnp.asarray(np.zeros(4)))
    np.testing.assert_array_equal(np.asarray(g), [2.0, 0.0, 1.0, 0.0])
    g = fg.grad(lambda x: (x[[1, 1], [0, 0]] * fnp.asarray([2.0, 3.0])).sum())(fnp.zeros((2, 2)))
    np.testing.assert_array_equal(np.asarray(g), [[0.0, 0.0], [5.0, 0.0]])


def test_getitem_mask_and_traced_list():
    x = fnp.asarray(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(np.asarray(x[np.asarray(x) > 2]), [3.0, 4.0, 5.0])
    np.testing.assert_array_equal(np.asarray(x[fnp.asarray([True, False])]), [[0.0, 1.0, 2.0]])
    i = fnp.argmax(fnp.asarray([0.0, 5.0, 1.0]))
    np.testing.assert_array_equal(np.asarray(x[:, [i, 0]]), [[1.0, 0.0], [4.0, 3.0]])


def test_getitem_errors():
    x = fnp.zeros((3, 4))
    with pytest.raises(
        IndexError, match=r"getitem: index 3 is out of bounds for axis 0 with size 3"
    ):
        x[3]
    with pytest.raises(
        IndexError, match=r"getitem: index 4 is out of bounds for axis 1 with size 4"
    ):
        x[:, [0, 4]]
    with pytest.raises(IndexError, match=r"getitem: too many indices"):
        x[0, 0, 0]
    with pytest.raises(TypeError, match=r"getitem: only integers, slices"):
        x["a"]
    with pytest.raises(
        TypeError, match=r"getitem: index arrays must have an integer or boolean dtype"
    ):
        x[fnp.asarray([0.0])]


# --------------------------------------------------------------------------------------------
# x.at[idx]


def test_immutability():
    x = fnp.asarray(np.zeros(3))
    y = x.at[0].set(1.0)
    np.testing.assert_array_equal(np.asarray(x), np.zeros(3))
    np.testing.assert_array_equal(np.asarray(y), [1.0, 0.0, 0.0])
    with pytest.raises(TypeError, match=r"\.at\["):
        x[0] = 1.0

    def f(x):
        x[0] = 1.0
        return x.sum()

    with pytest.raises(TypeError, match=r"\.at\["):
        fg.grad(f)(fnp.zeros(2))


AT_CASES = [
    (1, 5.0),
    ((slice(None), 0), np.array([1.0, 2.0, 3.0])),
    (([0, 0, 2],), np.array([[1.0], [2.0], [3.0]])),
    (([2, 2], [1, 1]), np.array([2.0, 4.0])),
    ((np.array([True, False, True]), slice(1, None)), 2.5),
    ((Ellipsis, -1), -1.0),
]


@pytest.mark.parametrize("idx,v", AT_CASES)
def test_at_methods_match_numpy(idx, v):
    x = np.arange(12.0).reshape(3, 4) + 1.0
    fx = fnp.asarray(x)
    np_idx = idx
    for name, ufunc in [
        ("add", np.add),
        ("multiply", np.multiply),
        ("min", np.minimum),
        ("max", np.maximum),
    ]:
        want = x.copy()
        ufunc.at(want, np_idx, np.broadcast_to(v, x[np_idx].shape))
        got = getattr(fx.at[idx], name)(v)
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12, err_msg=name)
    want = x.copy()
    want[np_idx] = v
    np.testing.assert_array_equal(np.asarray(fx.at[idx].set(v)), want)
    np.testing.assert_array_equal(np.asarray(fx.at[idx].get()), x[np_idx])
    want = x.copy()
    np.divide.at(want, np_idx, np.broadcast_to(v, x[np_idx].shape))
    np.testing.assert_allclose(np.asarray(fx.at[idx].divide(v)), want, rtol=1e-12)
    np.testing.assert_array_equal(np.asarray(fx), x)


def test_at_add_repeated_indices_accumulate():
    x = fnp.zeros(3)
    np.testing.assert_array_equal(np.asarray(x.at[[0, 0, 2]].add(1.0)), [2.0, 0.0, 1.0])
    np.testing.assert_array_equal(
        np.asarray(x.at[fnp.asarray([1, 1, 1])].add(fnp.asarray([1.0, 2.0, 3.0]))), [0.0, 6.0, 0.0]
    )


def test_at_apply_power_and_hints():
    x = fnp.asarray(np.arange(4.0))
    np.testing.assert_array_equal(
        np.asarray(x.at[1:3].apply(lambda v: v * 10)), [0.0, 10.0, 20.0, 3.0]
    )
    np.testing.assert_array_equal(np.asarray(x.at[3].power(2)), [0.0, 1.0, 2.0, 9.0])
    out = x.at[[3, 1]].add(1.0, indices_are_sorted=False, unique_indices=True)
    np.testing.assert_array_equal(np.asarray(out), [0.0, 2.0, 2.0, 4.0])
    assert x.at[0].get(mode="promise_in_bounds").shape == ()


A = fnp.asarray


def test_at_grads():
    x = np.arange(12.0).reshape(3, 4) * 0.37 + 1.0
    v = np.array([[0.5], [2.5], [4.5]])
    for name in ("set", "add", "multiply", "divide", "min", "max"):
        # (numerical differences call f with NumPy arrays, which have no .at)
        check_grads(lambda x, v, n=name: getattr(A(x).at[[0, 0, 2]], n)(v), (x, v), order=2)
        check_grads(lambda x, v, n=name: getattr(A(x).at[:, 1:2], n)(v), (x, v), order=2)
    check_grads(lambda x: A(x).at[1].apply(fnp.sin) * A(x).at[1:].get()[0], (x,), order=2)


def test_at_errors():
    x = fnp.zeros((3, 4))
    with pytest.raises(
        ValueError, match=r"x.at\[...\].set: updates of shape \(3,\) .* indexed shape \(4,\)"
    ):
        x.at[0].set(fnp.zeros(3))
    with pytest.raises(IndexError, match=r"x.at\[...\].add: index 5 is out of bounds for axis 0"):
        x.at[5].add(1.0)
    with pytest.raises(NotImplementedError, match="mode='clip'"):
        x.at[5].get(mode="clip")
    with pytest.raises(TypeError, match="divide: the array has integer dtype"):
        fnp.zeros(3, dtype=np.int32).at[0].divide(2)


# --------------------------------------------------------------------------------------------
# take, take_along_axis, diagonal


@given(st.data())
def test_take_matches_numpy(data):
    shape = data.draw(shapes)
    axis = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
    n = int(np.prod(shape)) if axis is None else shape[axis]
    mode = data.draw(st.sampled_from([None, "wrap", "clip"]))
    lo, hi = (-n, n - 1) if mode is None else (-2 * n, 2 * n)
    idx = data.draw(
        st.one_of(
            st.integers(lo, hi),
            hnp.arrays(
                np.int64, st.sampled_from([(0,), (3,), (2, 2)]), elements=st.integers(lo, hi)
            ),
        )
    )
    x = _rand(shape)
    want = np.take(x, idx, axis=axis, mode=mode or "raise")
    np.testing.assert_array_equal(
        np.asarray(fnp.take(fnp.asarray(x), idx, axis=axis, mode=mode)), want
    )
    got = fnp.take(fnp.asarray(x), fnp.asarray(idx), axis=axis, mode=mode)
    np.testing.assert_array_equal(np.asarray(got), want)


def test_take_grads_and_errors():
    x = _rand((3, 4))
    check_grads(lambda x: fnp.take(x, [3, 3, 0], axis=1) ** 2, (x,), order=2)
    with pytest.raises(
        IndexError, match=r"fnp.take: index 4 is out of bounds for axis 1 with size 4"
    ):
        fnp.take(fnp.asarray(x), [4], axis=1)
    with pytest.raises(ValueError, match="fnp.take: axis 2 is out of bounds"):
        fnp.take(fnp.asarray(x), [0], axis=2)


@given(st.data())
def test_take_along_axis_matches_numpy(data):
    shape = data.draw(shapes)
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    ishape = list(shape)
    ishape[axis] = data.draw(st.integers(0, 4))
    ishape = [
        1 if data.draw(st.booleans()) and i != axis % len(shape) else d
        for i, d in enumerate(ishape)
    ]
    n = shape[axis]
    idx = data.draw(hnp.arrays(np.int64, tuple(ishape), elements=st.integers(-n, n - 1)))
    x = _rand(shape)
    np.testing.assert_array_equal(
        np.asarray(fnp.take_along_axis(fnp.asarray(x), idx, axis)), np.take_along_axis(x, idx, axis)
    )


def test_take_along_axis_grads_and_errors():
    x = _rand((3, 4))
    idx = np.array([[0, 0, 3], [1, 1, 1], [2, 3, 0]])
    check_grads(lambda x: fnp.take_along_axis(x, idx, axis=1) ** 2, (x,), order=2)
    flat = fnp.take_along_axis(fnp.asarray(x), np.array([11, 0]), axis=None)
    np.testing.assert_array_equal(np.asarray(flat), x.ravel()[[11, 0]])
    with pytest.raises(
        ValueError, match=r"take_along_axis: indices of shape \(3,\) must have the rank"
    ):
        fnp.take_along_axis(fnp.asarray(x), np.array([0, 1, 2]), axis=1)
    with pytest.raises(IndexError, match="take_along_axis: an index is out of bounds for axis 1"):
        fnp.take_along_axis(fnp.asarray(x), np.array([[4]]), axis=1)


@pytest.mark.parametrize("shape", [(3, 4), (4, 3), (2, 3, 4), (0, 3)])
@pytest.mark.parametrize("offset", [0, 1, -1, 2, -3, 5])
def test_diagonal_matches_numpy(shape, offset):
    x = _rand(shape)
    for a1, a2 in [(0, 1), (1, 0), (-1, 0)]:
        got = _indexing.diagonal(fnp.asarray(x), offset, a1, a2)
        np.testing.assert_array_equal(np.asarray(got), np.diagonal(x, offset, a1, a2))


def test_diagonal_grads_and_errors():
    check_grads(lambda x: _indexing.diagonal(x, 1, 2, 0) ** 2, (_rand((3, 2, 4)),), order=2)
    with pytest.raises(ValueError, match=r"fnp.diagonal: needs an array of at least 2 dimensions"):
        _indexing.diagonal(fnp.zeros(3))
    with pytest.raises(ValueError, match="axis1 and axis2 must differ"):
        _indexing.diagonal(fnp.zeros((2, 2)), 0, 1, -1)


# --------------------------------------------------------------------------------------------
# nonzero and friends


@given(hnp.arrays(np.int64, shapes, elements=st.integers(0, 2)))
def test_nonzero_family_matches_numpy(x):
    for got, want in zip(fnp.nonzero(fnp.asarray(x)), np.nonzero(x)):
        np.testing.assert_array_equal(np.asarray(got), want)
    np.testing.assert_array_equal(np.asarray(fnp.argwhere(x)), np.argwhere(x))
    np.testing.assert_array_equal(np.asarray(fnp.flatnonzero(x)), np.flatnonzero(x))
    for got, want in zip(fnp.where(fnp.asarray(x)), np.where(x)):
        np.testing.assert_array_equal(np.asarray(got), want)


def test_nonzero_size_and_errors():
    x = fnp.asarray([0, 3, 0, 5, 6])
    (i,) = fnp.nonzero(x, size=5, fill_value=-1)
    np.testing.assert_array_equal(np.asarray(i), [1, 3, 4, -1, -1])
    (i,) = fnp.nonzero(x, size=2)
    np.testing.assert_array_equal(np.asarray(i), [1, 3])
    assert fnp.argwhere(x, size=4).shape == (4, 1)
    np.testing.assert_array_equal(np.asarray(fnp.flatnonzero(x, size=4)), [1, 3, 4, 0])
    with pytest.raises(ValueError, match="fnp.nonzero: called on a 0-d array"):
        fnp.nonzero(fnp.asarray(1))


# --------------------------------------------------------------------------------------------
# sorting


@given(hnp.arrays(np.float64, shapes, elements=st.integers(-3, 3).map(float)), st.data())
def test_sort_argsort_match_numpy(x, data):
    axis = data.draw(st.one_of(st.none(), st.integers(-x.ndim, x.ndim - 1)))
    np.testing.assert_array_equal(np.asarray(fnp.sort(fnp.asarray(x), axis)), np.sort(x, axis))
    np.testing.assert_array_equal(
        np.asarray(fnp.argsort(fnp.asarray(x), axis)), np.argsort(x, axis, kind="stable")
    )
    desc = np.asarray(fnp.argsort(fnp.asarray(x), axis, descending=True))
    ref = np.argsort(-x, axis, kind="stable")  # descending, ties in index order
    np.testing.assert_array_equal(desc, ref)
    np.testing.assert_array_equal(
        np.asarray(fnp.sort(fnp.asarray(x), axis, descending=True)),
        -np.sort(-x, axis),
    )


def test_sort_grads():
    x = np.random.default_rng(0).permutation(12).reshape(3, 4) * 0.5
    check_grads(lambda x: fnp.sort(x, axis=0) ** 2, (x,), order=2)
    check_grads(lambda x: fnp.sort(x, axis=None, descending=True)[:3] ** 2, (x,), order=2)
    check_grads(
        lambda x: fnp.take_along_axis(x, fnp.argsort(x, axis=1), axis=1) ** 2, (x,), order=2
    )


def test_searchsorted():
    a = np.array([1.0, 2.0, 2.0, 3.0])
    v = np.array([[0.5, 2.0], [2.5, 9.0]])
    for side in ("left", "right"):
        got = fnp.searchsorted(fnp.asarray(a), fnp.asarray(v), side=side)
        np.testing.assert_array_equal(np.asarray(got), np.searchsorted(a, v, side=side))
    assert int(fnp.searchsorted(fnp.asarray(a), 2.0)) == 1
    sorter = np.array([3, 0, 2, 1])
    b = np.array([3.0, 1.0, 2.5, 2.0])
    np.testing.assert_array_equal(
        np.asarray(fnp.searchsorted(fnp.asarray(b), 2.2, sorter=sorter)),
        np.searchsorted(b, 2.2, sorter=sorter),
    )
    g = fg.grad(lambda v: fnp.searchsorted(fnp.asarray(a), v) * v)(2.5)
    assert float(g) == 3.0  # the index is a constant
    with pytest.raises(ValueError, match=r"fnp.searchsorted: a must be 1-d, got shape \(2, 2\)"):
        fnp.searchsorted(fnp.zeros((2, 2)), 1.0)
    with pytest.raises(ValueError, match="side must be"):
        fnp.searchsorted(fnp.asarray(a), 1.0, side="middle")


def test_unique():
    x = np.array([3, 1, 3, 2, 1, 1])
    np.testing.assert_array_equal(np.asarray(fnp.unique(fnp.asarray(x))), np.unique(x))
    got = fnp.unique(fnp.asarray(x), return_index=True, return_inverse=True, return_counts=True)
    for g, w in zip(got, np.unique(x, return_index=True, return_inverse=True, return_counts=True)):
        np.testing.assert_array_equal(np.asarray(g), w)
    m = np.array([[1, 2], [1, 2], [0, 5]])
    np.testing.assert_array_equal(np.asarray(fnp.unique(m, axis=0)), np.unique(m, axis=0))
    vals, counts = fnp.unique(fnp.asarray(x), return_counts=True, size=5)
    np.testing.assert_array_equal(np.asarray(vals), [1, 2, 3, 1, 1])
    np.testing.assert_array_equal(np.asarray(counts), [3, 1, 2, 0, 0])
    np.testing.assert_array_equal(
        np.asarray(fnp.unique(fnp.asarray(x), size=2, fill_value=-1)), [1, 2]
    )


def test_sort_errors():
    with pytest.raises(
        ValueError, match=r"fnp.sort: axis 1 is out of bounds for an array of shape \(3,\)"
    ):
        fnp.sort(fnp.zeros(3), axis=1)
    with pytest.raises(ValueError, match="fnp.argsort: unknown kind"):
        fnp.argsort(fnp.zeros(3), kind="bogo")


# --------------------------------------------------------------------------------------------
# Mixed-mode second derivatives (forward-over-reverse and reverse-over-forward)

MIXED = {
    "getitem": lambda x, y: (x[[0, 0, 2], 1:] ** 3).sum() + (y**2).sum(),
    "sort": lambda x, y: (fnp.sort(x, axis=1) ** 3 * fnp.arange(4.0)).sum() + (y**2).sum(),
    "top_k": lambda x, y: (fg.lax.top_k(x, 2)[0] ** 3).sum() + (y**2).sum(),
    "dynamic_update_slice": lambda x, y: (fg.lax.dynamic_update_slice(x, y**2, (0, 2)) ** 3).sum(),
    "dynamic_slice": lambda x, y: (fg.lax.dynamic_slice(x, (1, 1), (2, 2)) ** 3).sum() + y.sum(),
}
for _m in ("set", "add", "multiply", "divide", "min", "max"):
    MIXED[f"at.{_m}"] = lambda x, y, m=_m: (getattr(x.at[[0, 0, 2], 1:2], m)(y) ** 3).sum()


@pytest.mark.parametrize("name", sorted(MIXED))
def test_mixed_mode_second_derivatives(name):
    from tests.helpers import check_jvp, check_vjp

    f = MIXED[name]
    rng = np.random.default_rng(0)
    x = rng.permutation(12).reshape(3, 4) * 0.3 + 1.0
    y = np.array([[0.55], [2.15], [3.35]])
    t = (A(rng.standard_normal((3, 4))), A(rng.standard_normal((3, 1))))
    check_jvp(lambda x, y: fg.grad(f, argnums=(0, 1))(A(x), A(y)), (A(x), A(y)))
    check_vjp(lambda x, y: fg.jvp(f, (A(x), A(y)), t)[1], (A(x), A(y)))
