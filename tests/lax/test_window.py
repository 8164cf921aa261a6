"""lax.reduce_window (max/min/sum), max_pool, avg_pool: values against a loop reference,
derivatives to second order, first-arg-max tie routing, vmap against a loop, errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import lax
from tests.helpers import check_grads, check_vmap

OPS = {"max": np.maximum, "min": np.minimum, "add": np.add}
COMPUTATIONS = {"max": lax.max, "min": lax.min, "add": lax.add}


def same_pads(shape, span, strides, lower=False):
    pads = []
    for n, w, s in zip(shape, span, strides):
        total = max((-(-n // s) - 1) * s + w - n, 0)
        lo = total - total // 2 if lower else total // 2
        pads.append((lo, total - lo))
    return pads


def reference(x, init, op, window, strides, pads, base_dilation, window_dilation):
    """XLA's ReduceWindow, element by element: pad and dilate with init, fold from init."""
    padded = [
        lo + hi + ((n - 1) * b + 1 if n else 0)
        for n, (lo, hi), b in zip(x.shape, pads, base_dilation)
    ]
    p = np.full(padded, init, x.dtype)
    for idx in np.ndindex(*x.shape):
        p[tuple(lo + i * b for i, (lo, _), b in zip(idx, pads, base_dilation))] = x[idx]
    span = [(w - 1) * r + 1 for w, r in zip(window, window_dilation)]
    out_shape = [(n - s) // st + 1 for n, s, st in zip(padded, span, strides)]
    out = np.empty(out_shape, x.dtype)
    for o in np.ndindex(*out_shape):
        acc = x.dtype.type(init)
        for k in np.ndindex(*window):
            acc = op(
                acc, p[tuple(i * st + j * r for i, st, j, r in zip(o, strides, k, window_dilation))]
            )
        out[o] = acc
    return out


@st.composite
def configs(draw, max_rank=3):
    rank = draw(st.integers(1, max_rank))
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=rank, max_size=rank)))
    dims = st.lists(st.integers(1, 3), min_size=rank, max_size=rank)
    window, strides = tuple(draw(dims)), tuple(draw(dims))
    ones = (1,) * rank
    small = st.lists(st.integers(1, 2), min_size=rank, max_size=rank).map(tuple)
    base_dilation = draw(st.one_of(st.just(ones), small))
    window_dilation = draw(st.one_of(st.just(ones), small))
    padding = draw(
        st.one_of(
            st.sampled_from(["VALID", "SAME", "SAME_LOWER"]),
            st.lists(
                st.tuples(st.integers(0, 2), st.integers(0, 2)), min_size=rank, max_size=rank
            ).map(tuple),
        )
    )
    return shape, window, strides, padding, base_dilation, window_dilation


def explicit_pads(shape, window, strides, padding, window_dilation):
    if not isinstance(padding, str):
        return list(padding)
    if padding == "VALID":
        return [(0, 0)] * len(shape)
    span = [(w - 1) * r + 1 for w, r in zip(window, window_dilation)]
    return same_pads(shape, span, strides, lower=padding == "SAME_LOWER")


def fits(shape, window, pads, base_dilation, window_dilation):
    return all(
        lo + hi + (n - 1) * b + 1 >= (w - 1) * r + 1
        for n, w, (lo, hi), b, r in zip(shape, window, pads, base_dilation, window_dilation)
    )


@given(
    configs(),
    st.sampled_from(["max", "min", "add"]),
    st.sampled_from(["float64", "int32"]),
    st.booleans(),
    st.integers(0, 2**16),
)
def test_reduce_window_matches_loop_reference(config, name, dtype, identity_init, seed):
    shape, window, strides, padding, bd, wdil = config
    rng = np.random.default_rng(seed)
    x = rng.integers(-9, 10, shape).astype(dtype)
    if identity_init:
        init = {"max": -np.inf, "min": np.inf, "add": 0}[name]
        if dtype == "int32" and name != "add":
            init = np.iinfo(np.int32).min if name == "max" else np.iinfo(np.int32).max
    else:
        init = {"max": 2, "min": -3, "add": 1}[name]
    pads = explicit_pads(shape, window, strides, padding, wdil)
    computation = COMPUTATIONS[name] if seed % 2 else name
    args = (computation, window, strides, padding, bd, wdil)
    if not fits(shape, window, pads, bd, wdil):
        with pytest.raises(ValueError, match="larger than the operand of shape"):
            lax.reduce_window(fnp.asarray(x), init, *args)
        return
    got = lax.reduce_window(fnp.asarray(x), init, *args)
    expected = reference(x, init, OPS[name], window, strides, pads, bd, wdil)
    assert np.asarray(got).dtype == np.dtype(dtype)
    np.testing.assert_array_equal(np.asarray(got), expected)


@given(configs(max_rank=2), st.booleans(), st.integers(0, 2**16))
def test_avg_pool_matches_loop_reference(config, count_include_pad, seed):
    shape, window, strides, padding, _, _ = config
    ones = (1,) * len(shape)
    if not isinstance(padding, str):  # PyTorch's rule: padding at most half the window
        padding = tuple((min(lo, w // 2), min(hi, w // 2)) for (lo, hi), w in zip(padding, window))
    pads = explicit_pads(shape, window, strides, padding, ones)
    if not fits(shape, window, pads, ones, ones):
        return
    x = np.random.default_rng(seed).standard_normal((2,) + shape)  # a leading unpooled axis
    got = lax.avg_pool(fnp.asarray(x), window, strides, padding, count_include_pad)
    args = ((1,) + window, (1,) + strides, [(0, 0)] + pads, (1,) + ones, (1,) + ones)
    total = reference(x, 0.0, np.add, *args)
    if count_include_pad:
        count = np.prod(window)
    else:
        count = reference(np.ones(x.shape), 0.0, np.add, *args)
    np.testing.assert_allclose(np.asarray(got), total / count, rtol=1e-12, atol=1e-12)


def test_known_values_and_wrappers():
    x = fnp.asarray(np.arange(1.0, 6.0))
    # SAME with stride 2 pads one on the high side: windows [1,2], [3,4], [5,-inf].
    np.testing.assert_array_equal(
        lax.reduce_window(x, -np.inf, lax.max, (2,), (2,), "SAME"), [2, 4, 5]
    )
    np.testing.assert_array_equal(lax.reduce_window(x, 0.0, "sum", (3,), (1,), "VALID"), [6, 9, 12])
    np.testing.assert_array_equal(
        lax.reduce_window(x, np.inf, "min", (2,), (1,), ((1, 0),), window_dilation=(2,)),
        [2, 1, 2, 3],  # windows (pad, 2), (1, 3), (2, 4), (3, 5)
    )
    img = np.random.default_rng(0).standard_normal((2, 3, 4, 6)).astype(np.float32)
    pooled = lax.max_pool(fnp.asarray(img), (2, 2))
    assert pooled.dtype == np.float32 and pooled.shape == (2, 3, 2, 3)
    np.testing.assert_array_equal(pooled, img.reshape(2, 3, 2, 2, 3, 2).max(axis=(3, 5)))
    avg = lax.avg_pool(fnp.asarray(img), (2, 2))
    np.testing.assert_allclose(avg, img.reshape(2, 3, 2, 2, 3, 2).mean(axis=(3, 5)), rtol=1e-6)
    # count_include_pad=False at a corner: only the one real element counts.
    one = lax.avg_pool(fnp.asarray(np.ones((1, 3, 3))), (2, 2), (2, 2), ((1, 0), (1, 0)), False)
    np.testing.assert_array_equal(one, np.ones((1, 2, 2)))
    part = lax.avg_pool(fnp.asarray(np.ones((1, 3, 3))), (2, 2), (2, 2), ((1, 0), (1, 0)), True)
    np.testing.assert_array_equal(part, [[[0.25, 0.5], [0.5, 1.0]]])
    empty = lax.reduce_window(
        fnp.asarray(np.zeros((0, 3))), -np.inf, "max", (1, 2), (1, 1), "VALID"
    )
    assert empty.shape == (0, 2)


GRAD_CASES = [
    # name, shape, window, strides, padding, base_dilation, window_dilation
    ("max", (7,), (3,), (2,), ((1, 1),), (1,), (1,)),
    ("max", (4, 5), (2, 2), (1, 1), "SAME", (1, 1), (1, 1)),
    ("min", (4, 5), (2, 3), (2, 1), ((1, 0), (0, 2)), (1, 1), (2, 1)),
    ("max", (3, 4), (2, 2), (1, 2), ((1, 1), (0, 1)), (2, 1), (1, 1)),
    ("add", (4, 5), (2, 3), (2, 1), ((1, 0), (2, 1)), (2, 1), (1, 2)),
    ("max", (2, 3, 4), (1, 2, 2), (1, 2, 2), "VALID", (1, 1, 1), (1, 1, 1)),
    ("add", (2, 3, 4), (2, 2, 3), (1, 1, 2), "SAME", (1, 1, 1), (1, 1, 1)),
]


def _distinct(shape, seed=0):
    # A permutation of well-separated values: no ties within central differences.
    n = int(np.prod(shape))
    return (np.random.default_rng(seed).permutation(n).reshape(shape) - n / 2) * 0.1


@pytest.mark.parametrize("case", GRAD_CASES, ids=lambda c: f"{c[0]}{len(c[1])}d")
def test_grads_second_order(case):
    name, shape, window, strides, padding, bd, wdil = case
    init = {"max": -np.inf, "min": np.inf, "add": 0.0}[name]

    def f(x):
        return fnp.sin(
            lax.reduce_window(x, init, COMPUTATIONS[name], window, strides, padding, bd, wdil)
        )

    x = _distinct(shape)
    assert np.isfinite(np.asarray(f(fnp.asarray(x)))).all()  # no all-padding windows
    check_grads(f, (x,), order=2)


def test_avg_pool_grads():
    x = _distinct((2, 4, 5))
    for include in (True, False):
        f = lambda x, c=include: lax.avg_pool(x, (2, 3), (1, 2), "SAME", c) ** 2  # noqa: E731
        check_grads(f, (x,), order=2)


def test_ties_go_to_the_first_element():
    pool = lambda x: lax.max_pool(x, (2, 2))  # noqa: E731
    g = fg.grad(lambda x: fnp.sum(pool(x) * fnp.asarray([[5.0, 7.0]])))(
        fnp.asarray(np.ones((2, 4)))
    )
    np.testing.assert_array_equal(g, [[5, 0, 7, 0], [0, 0, 0, 0]])
    # Overlapping windows [0, 1] and [1, 2] of a constant: each picks its own first element.
    rw = lambda x: lax.reduce_window(x, -np.inf, "max", (2,), (1,), "VALID")  # noqa: E731
    (g,) = fg.vjp(rw, fnp.asarray(np.ones(3)))[1](fnp.asarray(np.array([1.0, 10.0])))
    np.testing.assert_array_equal(g, [1, 10, 0])
    # The later maximum wins only when it is strictly larger; jvp picks the same element.
    x = np.array([[3.0, 1.0, 2.0, 2.0], [3.0, 0.0, 2.0, 2.0]])
    g = fg.grad(lambda x: fnp.sum(pool(x)))(fnp.asarray(x))
    np.testing.assert_array_equal(g, [[1, 0, 1, 0], [0, 0, 0, 0]])
    _, t = fg.jvp(pool, (fnp.asarray(x),), (fnp.asarray(np.arange(8.0).reshape(2, 4)),))
    np.testing.assert_array_equal(t, [[0.0, 2.0]])
    mn = lambda x: lax.reduce_window(x, np.inf, lax.min, (2, 2), (2, 2), "VALID")  # noqa: E731
    np.testing.assert_array_equal(fg.grad(lambda x: fnp.sum(mn(x)))(fnp.asarray(-x)), g)


def test_nan_windows_route_to_their_nan():
    x = np.array([[1.0, np.nan, 3.0, 2.0], [0.0, 5.0, 1.0, 1.0]])
    g = fg.grad(lambda x: fnp.sum(lax.max_pool(x, (2, 2))))(fnp.asarray(x))
    np.testing.assert_array_equal(g, [[0, 1, 1, 0], [0, 0, 0, 0]])


def _rw(name, window, strides, padding):
    init = {"max": -np.inf, "min": np.inf, "add": 0.0}[name]
    return lambda x: lax.reduce_window(x, init, name, window, strides, padding)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_vmap_matches_a_loop(axis):
    rng = np.random.default_rng(0)
    x = np.moveaxis(rng.standard_normal((3, 4, 5)), 0, axis)
    for name in ("max", "min", "add"):
        f = _rw(name, (2, 2), (1, 2), ((1, 0), (0, 1)))
        check_vmap(f, (x,), (axis,))
        check_vmap(fg.grad(lambda x, f=f: fnp.sum(fnp.sin(f(x)))), (x,), (axis,))
    check_vmap(
        lambda x: lax.avg_pool(x, (2, 2), padding="SAME", count_include_pad=False), (x,), (axis,)
    )
    # A batched tangent of an unbatched primal, and a batched cotangent (select_* batch rules).
    x0 = _distinct((4, 5))
    pool = _rw("max", (2, 3), (2, 1), "SAME")
    t = np.moveaxis(rng.standard_normal((3, 4, 5)), 0, axis)
    check_vmap(lambda t: fg.jvp(pool, (fnp.asarray(x0),), (t,))[1], (t,), (axis,))
    gs = rng.standard_normal((3,) + tuple(pool(fnp.asarray(x0)).shape))
    check_vmap(lambda g: fg.vjp(pool, fnp.asarray(x0))[1](g)[0], (gs,), (0,))
    check_vmap(lambda x, g: fg.vjp(pool, x)[1](g)[0], (x, gs), (axis, 0))


def test_grad_of_vmap_and_per_example_grads():
    x = _distinct((3, 4, 4))
    pool = _rw("max", (2, 2), (2, 2), "VALID")
    loss = lambda x: fnp.sum(fnp.sin(pool(x)))  # noqa: E731
    g1 = fg.grad(lambda x: fnp.sum(fg.vmap(loss)(x)))(x)
    g2 = fg.vmap(fg.grad(loss))(x)
    np.testing.assert_allclose(g1, g2, rtol=1e-12)
    check_grads(lambda x: fg.vmap(pool)(x) ** 2, (x,), order=2)


def test_bad_inputs_raise_with_shapes():
    x = fnp.asarray(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"shape \(2, 3\) has rank 2 but window_dimensions \(2,\)"):
        lax.reduce_window(x, -np.inf, lax.max, (2,), (1,), "VALID")
    with pytest.raises(ValueError, match=r"window \(3, 1\).*shape \(2, 3\) padded to \(2, 3\)"):
        lax.reduce_window(x, -np.inf, lax.max, (3, 1), (1, 1), "VALID")
    with pytest.raises(ValueError, match="window_strides"):
        lax.reduce_window(x, 0.0, lax.add, (1, 1), (0, 1), "VALID")
    with pytest.raises(ValueError, match="non-negative"):
        lax.reduce_window(x, 0.0, lax.add, (1, 1), (1, 1), ((-1, 0), (0, 0)))
    with pytest.raises(ValueError, match="'VALID', 'SAME'"):
        lax.reduce_window(x, 0.0, lax.add, (1, 1), (1, 1), "FULL")
    with pytest.raises(TypeError, match="computation .* is not supported"):
        lax.reduce_window(x, 1.0, lax.mul, (1, 1), (1, 1), "VALID")
    with pytest.raises(TypeError, match="avg_pool: needs a floating-point"):
        lax.avg_pool(fnp.asarray(np.zeros((2, 4), np.int32)), (2,))
    with pytest.raises(ValueError, match="more axes than the operand"):
        lax.max_pool(x, (1, 1, 1))
