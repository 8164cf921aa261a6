"""lax.gather / lax.scatter / dynamic_slice / dynamic_update_slice: values, derivatives, errors."""

from __future__ import annotations

import types

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import lax
from funcgrad.lax import indexing as lx
from funcgrad.transforms.grad import jvp_rules, vjp_rules
from tests.helpers import check_grads

# --------------------------------------------------------------------------------------------
# Strategies: random NumPy indices for a given shape


def _slice(draw, n):
    bound = st.one_of(st.none(), st.integers(-n - 2, n + 2))
    step = st.sampled_from([None, 1, 2, 3, -1, -2])
    return slice(draw(bound), draw(bound), draw(step))


@st.composite
def basic_indices(draw, shape):
    k = draw(st.integers(0, len(shape)))
    items = []
    for d in range(k):
        n = shape[d]
        if n and draw(st.booleans()):
            items.append(draw(st.integers(-n, n - 1)))
        else:
            items.append(_slice(draw, n))
    for _ in range(draw(st.integers(0, 2))):
        items.insert(draw(st.integers(0, len(items))), None)
    if draw(st.booleans()):
        items.insert(draw(st.integers(0, len(items))), Ellipsis)
        # An ellipsis in front means the items index the trailing axes: redraw ints in range.
        items = [_clip_int(it, shape, items) for it in items]
    return tuple(items)


def _clip_int(it, shape, items):
    if not isinstance(it, int) or isinstance(it, bool):
        return it
    return 0 if min(shape, default=0) == 0 else it % min(shape)


@st.composite
def advanced_indices(draw, shape):
    """A mix of integer arrays (common shape, repeats allowed), ints, slices and None."""
    nd = len(shape)
    k = draw(st.integers(1, nd))
    arr_shape = draw(st.sampled_from([(), (1,), (3,), (2, 2)]))
    items, n_arrays = [], 0
    for d in range(k):
        n = shape[d]
        kind = draw(st.sampled_from(["array", "array", "int", "slice"]))
        if kind == "array" and n:
            items.append(draw(hnp.arrays(np.int64, arr_shape, elements=st.integers(-n, n - 1))))
            n_arrays += 1
        elif kind == "int" and n:
            items.append(draw(st.integers(-n, n - 1)))
        else:
            items.append(_slice(draw, n))
    if n_arrays == 0:
        items[0] = np.zeros((2,), np.int64) if shape[0] else np.zeros((0,), np.int64)
    if draw(st.booleans()):
        items.insert(draw(st.integers(0, len(items))), None)
    return tuple(items)


shapes = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4)
nonempty_shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)


def _arange(shape, dtype=np.float64):
    return np.arange(int(np.prod(shape)), dtype=dtype).reshape(shape)


# --------------------------------------------------------------------------------------------
# gather values


@given(st.data())
def test_gather_basic_matches_numpy(data):
    shape = data.draw(shapes)
    idx = data.draw(basic_indices(shape))
    x = _arange(shape)
    try:
        want = x[idx]
    except IndexError:
        with pytest.raises(IndexError):
            lax.gather(fnp.asarray(x), idx)
        return
    got = lax.gather(fnp.asarray(x), idx)
    np.testing.assert_array_equal(np.asarray(got), want)
    spec, arrays = lx.normalize_index(shape, idx)
    assert lx.indexed_shape(shape, spec, [a.shape for a in arrays]) == want.shape


@given(st.data())
def test_gather_advanced_matches_numpy(data):
    shape = data.draw(nonempty_shapes)
    idx = data.draw(advanced_indices(shape))
    x = _arange(shape)
    want = x[idx]
    got = lax.gather(fnp.asarray(x), idx)
    np.testing.assert_array_equal(np.asarray(got), want)
    spec, arrays = lx.normalize_index(shape, idx)
    assert lx.indexed_shape(shape, spec, [a.shape for a in arrays]) == want.shape
    aval = lx._gather_abstract_eval(fg.core.primitive.shaped_array(x), *arrays, spec=spec)
    assert aval.shape == want.shape and aval.dtype == x.dtype


def test_gather_index_kinds():
    x = _arange((3, 4, 5))
    fx = fnp.asarray(x)
    cases = [
        (1, slice(None, None, -1)),
        (Ellipsis, 2),
        (None, 0, Ellipsis, None),
        ([0, 2, 2], slice(1, 3), [1, 1, 0]),  # arrays separated by a slice: broadcast dims first
        (slice(None), [0, 1], [[1], [2]]),
        (np.array([True, False, True]),),
        (np.array([[True, False, True, False]] * 3),),
        (fnp.asarray([2, 0]), None, np.int64(-1)),
        (fnp.asarray(1), [0, 0]),  # a 0-d Array is a static int
        ([],),
        (slice(4, -10, -1), slice(None, None, 2), -1),
    ]
    for idx in cases:
        np.testing.assert_array_equal(np.asarray(lax.gather(fx, idx)), x[_np_index(idx)])


def _np_index(idx):
    return tuple(np.asarray(i) if isinstance(i, fg.Array) else i for i in idx)


def test_gather_of_scalar_and_none():
    x = fnp.asarray(np.float64(3.0))
    assert lax.gather(x, ()).shape == ()
    assert lax.gather(x, None).shape == (1,)
    assert lax.gather(x, Ellipsis).shape == ()


# --------------------------------------------------------------------------------------------
# gather derivatives


@pytest.mark.parametrize(
    "idx",
    [
        (1,),
        (slice(None, None, -1), 2),
        (None, Ellipsis, slice(1, 3)),
        ([0, 0, 2],),
        (slice(None), [3, 3, 0, 3]),
        ([[0, 1], [1, 1]], [2, 2]),
        (np.array([True, False, True]),),
    ],
)
def test_gather_grads(idx):
    x = np.random.default_rng(0).standard_normal((3, 4))
    check_grads(lambda x: lax.gather(x, idx) ** 2, (x,), order=2)


def test_gather_repeated_index_gradient_accumulates():
    g = fg.grad(lambda x: lax.gather(x, ([0, 0, 2, 0],)).sum())(fnp.zeros(4, dtype=np.float64))
    np.testing.assert_array_equal(np.asarray(g), [3.0, 0.0, 1.0, 0.0])


def test_gather_unique_indices_promise_gives_same_gradient():
    x = fnp.asarray(np.arange(5.0))
    idx = ([4, 1, 3],)
    g1 = fg.grad(lambda x: (lax.gather(x, idx) ** 2).sum())(x)
    g2 = fg.grad(lambda x: (lax.gather(x, idx, unique_indices=True) ** 2).sum())(x)
    np.testing.assert_array_equal(np.asarray(g1), np.asarray(g2))


def _no_add_at_xp():
    """An array module whose add.at fails: proves a code path never uses it."""

    class NoAt:
        def at(self, *args):
            raise AssertionError("add.at used for an index that cannot repeat")

    return types.SimpleNamespace(zeros=np.zeros, add=NoAt())


def test_basic_index_backward_writes_in_place_not_add_at():
    spec, arrays = lx.normalize_index((4, 5), (slice(1, 3), 2))
    g = np.ones((2,))
    z = lx._gather_transpose_impl(_no_add_at_xp(), g, *arrays, spec=spec, shape=(4, 5))
    assert z[1:3, 2].tolist() == [1.0, 1.0] and z.sum() == 2.0
    spec, arrays = lx.normalize_index((4,), ([0, 2],))
    z = lx._gather_transpose_impl(
        _no_add_at_xp(),
        np.ones(2),
        *[np.asarray(a) for a in arrays],
        spec=spec,
        shape=(4,),
        unique_indices=True,
    )
    assert z.tolist() == [1.0, 0.0, 1.0, 0.0]


# --------------------------------------------------------------------------------------------
# scatter values


def _np_scatter(x, idx, y, mode):
    out = x.copy()
    if mode == "set":
        out[idx] = y
    else:
        ufunc = {"add": np.add, "mul": np.multiply, "min": np.minimum, "max": np.maximum}[mode]
        ufunc.at(out, idx, np.broadcast_to(y, x[idx].shape))  # NumPy 2.4 mis-broadcasts y
    return out


@given(st.data())
def test_scatter_matches_numpy(data):
    shape = data.draw(nonempty_shapes)
    adv = data.draw(st.booleans())
    idx = data.draw(advanced_indices(shape) if adv else basic_indices(shape))
    mode = data.draw(st.sampled_from(lx.SCATTER_MODES))
    x = np.random.default_rng(0).standard_normal(shape)
    sub_shape = x[idx].shape
    y_shape = data.draw(st.sampled_from([sub_shape, sub_shape[1:], ()]))
    y = np.random.default_rng(1).standard_normal(y_shape)
    got = lax.scatter(fnp.asarray(x), idx, fnp.asarray(y), mode)
    np.testing.assert_allclose(np.asarray(got), _np_scatter(x, idx, y, mode), rtol=1e-12)


def test_scatter_repeated_indices_accumulate():
    x = np.arange(1.0, 5.0)
    idx = ([0, 0, 2, 0],)
    y = np.array([1.0, 2.0, 3.0, 4.0])
    for mode in ("add", "mul", "min", "max"):
        got = lax.scatter(fnp.asarray(x), idx, fnp.asarray(y), mode)
        np.testing.assert_array_equal(np.asarray(got), _np_scatter(x, idx, y, mode))
    got = lax.scatter(fnp.asarray(x), idx, fnp.asarray(y), "add")
    np.testing.assert_array_equal(np.asarray(got), [8.0, 2.0, 6.0, 4.0])


def test_scatter_casts_updates_and_keeps_dtype():
    x = fnp.zeros(3, dtype=np.int32)
    out = lax.scatter(x, 1, 7, "set")
    assert out.dtype == np.int32 and np.asarray(out).tolist() == [0, 7, 0]
    out = lax.scatter(fnp.zeros(3, dtype=np.float32), [0], fnp.ones(1, dtype=np.float64), "add")
    assert out.dtype == np.float32


def test_scatter_leaves_operand_unchanged():
    x = fnp.asarray(np.zeros(3))
    lax.scatter(x, 0, 1.0, "set")
    lax.scatter(x, [0, 0], 1.0, "add")
    np.testing.assert_array_equal(np.asarray(x), np.zeros(3))


def test_scatter_scalar_operand():
    x = fnp.asarray(np.float64(2.0))
    np.testing.assert_array_equal(np.asarray(lax.scatter(x, (), 5.0, "add")), 7.0)


# --------------------------------------------------------------------------------------------
# scatter derivatives


SCATTER_CASES = [
    ((1, slice(None)), (4,)),  # basic
    ((slice(None, None, -1), 2), (3,)),
    ((Ellipsis, slice(0, 4, 2)), (1, 2)),  # y broadcast over a leading axis
    (([0, 2, 0], slice(1, 3)), (3, 2)),  # advanced with a repeated row
    (([1, 1], [3, 3]), ()),  # the same element twice, scalar update
    (([0, 2],), (2, 4)),
]


@pytest.mark.parametrize("mode", ["set", "add", "mul", "min", "max"])
@pytest.mark.parametrize("idx,y_shape", SCATTER_CASES)
def test_scatter_grads(mode, idx, y_shape):
    rng = np.random.default_rng(0)
    # Distinct magnitudes keep min/max away from ties; values away from 0 keep mul's division safe.
    x = rng.permutation(12).reshape(3, 4) * 0.5 + 1.0
    y = (
        rng.permutation(int(np.prod(y_shape)) or 1)[: int(np.prod(y_shape))].reshape(y_shape) * 0.37
        + 1.13
    )
    if np.prod(y_shape) == 1 and y_shape == ():
        y = np.asarray(4.13)
    check_grads(lambda x, y: lax.scatter(x, idx, y, mode), (x, y), order=2)


def test_scatter_add_grad_wrt_updates_accumulates_from_repeats():
    def f(y):
        return lax.scatter(fnp.zeros(3, dtype=np.float64), ([0, 0, 2],), y, "add")[0]

    g = fg.grad(f)(fnp.asarray(np.array([1.0, 2.0, 3.0])))
    np.testing.assert_array_equal(np.asarray(g), [1.0, 1.0, 0.0])


def test_scatter_set_grad_goes_to_the_last_write():
    def f(y):
        return lax.scatter(fnp.zeros(2, dtype=np.float64), ([1, 1, 0],), y, "set").sum()

    g = fg.grad(f)(fnp.asarray(np.array([1.0, 2.0, 3.0])))
    np.testing.assert_array_equal(np.asarray(g), [0.0, 1.0, 1.0])


def test_scatter_max_ties_split_the_derivative():
    x = np.array([1.0, 5.0])
    y = np.array([5.0, 5.0])
    gx, gy = fg.grad(lambda x, y: lax.scatter(x, ([1, 1],), y, "max")[1], argnums=(0, 1))(x, y)
    np.testing.assert_allclose(np.asarray(gx), [0.0, 1 / 3])
    np.testing.assert_allclose(np.asarray(gy), [1 / 3, 1 / 3])


def test_scatter_unique_indices_promise_matches():
    x = np.arange(6.0).reshape(2, 3) + 1.0
    y = np.array([2.0, 3.0])
    for mode in lx.SCATTER_MODES:
        a = lax.scatter(fnp.asarray(x), (slice(None), [2, 0]), y, mode)
        b = lax.scatter(fnp.asarray(x), (slice(None), [2, 0]), y, mode, unique_indices=True)
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        check_grads(
            lambda x, y, m=mode: lax.scatter(x, (slice(None), [2, 0]), y, m, unique_indices=True),
            (x, y),
            order=1,
        )


def test_index_arrays_are_not_differentiated():
    # An index array computed from a traced value carries no derivative.
    def f(x):
        i = lax.convert_element_type(x[0], np.int64)
        return lax.gather(x, (fnp.stack([i, i]),)).sum()

    g = fg.grad(f)(fnp.asarray(np.array([1.0, 5.0, 7.0])))
    np.testing.assert_array_equal(np.asarray(g), [0.0, 2.0, 0.0])


def test_rules_are_registered():
    for p in (
        lx.gather_p,
        lx.gather_transpose_p,
        lx.scatter_p,
        lx.dynamic_slice_p,
        lx.dynamic_update_slice_p,
    ):
        assert p in jvp_rules and p in vjp_rules, p


# --------------------------------------------------------------------------------------------
# dynamic_slice / dynamic_update_slice


@given(st.data())
def test_dynamic_slice_clamps_like_jax(data):
    shape = data.draw(nonempty_shapes)
    sizes = [data.draw(st.integers(0, n)) for n in shape]
    starts = [data.draw(st.integers(-3, n + 3)) for n in shape]
    x = _arange(shape)
    got = lax.dynamic_slice(fnp.asarray(x), starts, sizes)
    clamped = [min(max(s, 0), n - k) for s, n, k in zip(starts, shape, sizes)]
    want = x[tuple(slice(s, s + k) for s, k in zip(clamped, sizes))]
    np.testing.assert_array_equal(np.asarray(got), want)
    upd = -np.ones(sizes)
    got = lax.dynamic_update_slice(fnp.asarray(x), fnp.asarray(upd), starts)
    want = x.copy()
    want[tuple(slice(s, s + k) for s, k in zip(clamped, sizes))] = upd
    np.testing.assert_array_equal(np.asarray(got), want)


def test_dynamic_slice_traced_start_indices():
    x = fnp.asarray(np.arange(10.0))
    i = fnp.asarray(np.int64(8))
    np.testing.assert_array_equal(np.asarray(lax.dynamic_slice(x, (i,), (3,))), [7.0, 8.0, 9.0])
    np.testing.assert_array_equal(
        np.asarray(lax.dynamic_slice_in_dim(x, fnp.asarray(np.int32(2)), 2)), [2.0, 3.0]
    )
    assert lax.dynamic_index_in_dim(x, 4, keepdims=False).shape == ()


def test_dynamic_slice_grads():
    x = np.random.default_rng(0).standard_normal((4, 5))
    check_grads(lambda x: lax.dynamic_slice(x, (1, 3), (2, 3)) ** 2, (x,), order=2)
    u = np.random.default_rng(1).standard_normal((2, 2))
    check_grads(
        lambda x, u: lax.dynamic_update_slice(x, u * x[0, 0], (3, np.int64(1))) ** 2,
        (x, u),
        order=2,
    )
    check_grads(
        lambda u: lax.dynamic_update_slice_in_dim(fnp.zeros((4, 5), np.float64), u, 2, 1) ** 2,
        (np.ones((4, 2)),),
        order=2,
    )


def test_dynamic_slice_errors():
    x = fnp.zeros((3, 4))
    with pytest.raises(ValueError, match=r"dynamic_slice: got 1 start indices .*\(3, 4\)"):
        lax.dynamic_slice(x, (0,), (1, 1))
    with pytest.raises(ValueError, match=r"dynamic_slice: slice sizes \(4, 1\) .*\(3, 4\)"):
        lax.dynamic_slice(x, (0, 0), (4, 1))
    with pytest.raises(TypeError, match="dynamic_slice: start indices must be integer"):
        lax.dynamic_slice(x, (0.5, 0), (1, 1))
    with pytest.raises(ValueError, match=r"dynamic_update_slice: update of shape \(4,\)"):
        lax.dynamic_update_slice(x, fnp.zeros(4), (0, 0))
    with pytest.raises(TypeError, match="dynamic_update_slice: update dtype"):
        lax.dynamic_update_slice(x, fnp.zeros((1, 1), dtype=np.float64), (0, 0))


# --------------------------------------------------------------------------------------------
# errors


def test_gather_errors():
    x = fnp.zeros((3, 4))
    with pytest.raises(
        IndexError, match=r"gather: index 3 is out of bounds for axis 0 with size 3"
    ):
        lax.gather(x, 3)
    with pytest.raises(
        IndexError, match=r"gather: index -5 is out of bounds for axis 1 with size 4"
    ):
        lax.gather(x, (0, -5))
    with pytest.raises(
        IndexError, match=r"gather: index 7 is out of bounds for axis 1 with size 4"
    ):
        lax.gather(x, (slice(None), [0, 7]))
    with pytest.raises(IndexError, match=r"too many indices .*\(3, 4\)"):
        lax.gather(x, (0, 0, 0))
    with pytest.raises(IndexError, match="single ellipsis"):
        lax.gather(x, (Ellipsis, Ellipsis))
    with pytest.raises(TypeError, match="gather: only integers, slices"):
        lax.gather(x, 1.5)
    with pytest.raises(TypeError, match="index arrays must have an integer or boolean dtype"):
        lax.gather(x, np.array([0.0, 1.0]))
    with pytest.raises(TypeError, match="slice indices must be integers"):
        lax.gather(x, slice(0.5, 2))
    with pytest.raises(IndexError, match=r"boolean index of shape \(2,\)"):
        lax.gather(x, np.array([True, False]))
    with pytest.raises(IndexError, match=r"cannot be broadcast together"):
        lax.gather(x, ([0, 1], [0, 1, 2]))
    with pytest.raises(TypeError, match="scalar boolean"):
        lax.gather(x, True)


def test_scatter_errors():
    x = fnp.zeros((3, 4))
    with pytest.raises(
        ValueError, match=r"scatter: updates of shape \(3,\) .* indexed shape \(4,\)"
    ):
        lax.scatter(x, 0, fnp.zeros(3), "set")
    with pytest.raises(ValueError, match="scatter: mode must be one of"):
        lax.scatter(x, 0, 1.0, "sub")
    with pytest.raises(IndexError, match="scatter: index 9 is out of bounds"):
        lax.scatter(x, 9, 1.0, "add")
