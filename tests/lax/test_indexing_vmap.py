"""vmap of gather / scatter / dynamic_slice / dynamic_update_slice: every mix of batched and
unbatched operands, index arrays, updates and start indices equals a Python loop."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import lax
from funcgrad.lax import indexing as lx
from funcgrad.transforms.vmap import batch_rules
from tests.helpers import check_close, check_vmap

# --------------------------------------------------------------------------------------------
# Strategies: an index template (its arrays become function arguments, so that vmap can batch
# them), batch sizes and in_axes


class Arr:
    """Placeholder for the k-th index array in a template; ``n`` is the size of its axis."""

    def __init__(self, k, n):
        self.k, self.n = k, n

    def __repr__(self):
        return f"Arr({self.k}, n={self.n})"


def build(template, arrays):
    return tuple(arrays[it.k] if isinstance(it, Arr) else it for it in template)


shape_st = st.lists(st.integers(0, 4), min_size=0, max_size=4).map(tuple)
nonempty_shape_st = st.lists(st.integers(1, 4), min_size=1, max_size=4).map(tuple)


@st.composite
def index_templates(draw, shape, advanced=True):
    """``(template, array_shapes)``: items for the axes of ``shape`` (some under an ellipsis),
    with None inserted; with ``advanced``, at least one index array when an axis allows."""
    nd = len(shape)
    use_ellipsis = draw(st.booleans())
    if use_ellipsis:
        e_start = draw(st.integers(0, nd))
        e_len = draw(st.integers(0, nd - e_start))
        axes_before, axes_after = list(range(e_start)), list(range(e_start + e_len, nd))
    else:
        k = draw(st.integers(0, nd))
        axes_before, axes_after = list(range(k)), []
    kinds = ["array", "array", "int", "slice"] if advanced else ["int", "slice"]
    adv_shape = draw(st.sampled_from([(), (1,), (3,), (2, 2), (2, 1)]))

    def item(axis, n_arrays):
        n = shape[axis]
        kind = draw(st.sampled_from(kinds))
        if kind == "array" and n:
            # some arrays broadcast against the others from a smaller shape
            s = adv_shape[draw(st.integers(0, len(adv_shape))) :]
            return Arr(n_arrays, n), s
        if kind in ("array", "int") and n:
            return draw(st.integers(-n, n - 1)), None
        start = draw(st.one_of(st.none(), st.integers(-n - 1, n + 1)))
        stop = draw(st.one_of(st.none(), st.integers(-n - 1, n + 1)))
        step = draw(st.sampled_from([None, 1, 2, -1, -2]))
        return slice(start, stop, step), None

    items, array_shapes, item_axes = [], [], []
    for axis in axes_before + ([None] if use_ellipsis else []) + axes_after:
        if axis is None:
            items.append(Ellipsis)
            item_axes.append(None)
            continue
        it, s = item(axis, len(array_shapes))
        items.append(it)
        item_axes.append(axis)
        if s is not None:
            array_shapes.append(s)
    if advanced and not array_shapes:  # force one array, on the first indexable axis
        for pos, axis in enumerate(item_axes):
            if axis is not None and shape[axis]:
                items[pos] = Arr(0, shape[axis])
                array_shapes.append(adv_shape)
                break
    for _ in range(draw(st.integers(0, 2))):
        items.insert(draw(st.integers(0, len(items))), None)
    return tuple(items), array_shapes


def axis_for(draw, rank, allow_none=True):
    """An in_axes entry for an operand of (per-member) ``rank``: None, or an axis, negative too."""
    choices = list(range(-(rank + 1), rank + 1))
    if allow_none:
        choices = [None, None] + choices
    return draw(st.sampled_from(choices))


def batched_shape(shape, ax, size):
    if ax is None:
        return tuple(shape)
    pos = ax % (len(shape) + 1)
    return tuple(shape[:pos]) + (size,) + tuple(shape[pos:])


def ensure_one_batched(axes):
    if all(a is None for a in axes):
        axes[0] = 0
    return axes


def rand(rng, shape, dtype=np.float64):
    return rng.standard_normal(shape).astype(dtype)


def rand_index(rng, shape, n):
    return rng.integers(-n, n, size=shape).astype(np.int64)


def index_case(data, shape, advanced=True):
    """Draws a template, a batch size and in_axes for x and the index arrays."""
    template, array_shapes = data.draw(index_templates(shape, advanced), label="index")
    size = data.draw(st.integers(0, 3), label="batch size")
    ax_x = axis_for(data.draw, len(shape))
    ax_arrays = [axis_for(data.draw, len(s)) for s in array_shapes]
    return template, array_shapes, size, ax_x, ax_arrays


def index_args(rng, template, array_shapes, size, ax_arrays):
    ns = {it.k: it.n for it in template if isinstance(it, Arr)}
    return [
        rand_index(rng, batched_shape(s, ax, size), ns[k])
        for k, (s, ax) in enumerate(zip(array_shapes, ax_arrays))
    ]


def np_indexed_shape(shape, template, array_shapes):
    arrays = [np.zeros(s, np.int64) for s in array_shapes]
    return np.empty(shape)[build(template, arrays)].shape


# --------------------------------------------------------------------------------------------
# gather: x[idx]


@settings(max_examples=60)
@given(st.data())
def test_getitem_basic(data):
    shape = data.draw(shape_st, label="shape")
    template, _, size, ax_x, _ = index_case(data, shape, advanced=False)
    ax_x = 0 if ax_x is None else ax_x
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16), label="seed"))
    x = rand(rng, batched_shape(shape, ax_x, size))
    check_vmap(lambda x: x[template], [x], [ax_x])


@settings(max_examples=100)
@given(st.data())
def test_getitem_advanced(data):
    """Batched x, batched index arrays, or both; separated advanced indices included."""
    shape = data.draw(nonempty_shape_st, label="shape")
    template, array_shapes, size, ax_x, ax_arrays = index_case(data, shape)
    axes = ensure_one_batched([ax_x] + ax_arrays)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16), label="seed"))
    x = rand(rng, batched_shape(shape, axes[0], size))
    arrays = index_args(rng, template, array_shapes, size, axes[1:])
    check_vmap(lambda x, *a: x[build(template, a)], [x, *arrays], axes)


NUMPY_LAYOUT_CASES = [
    # (per-member x shape, template with Arr placeholders, per-member index array shapes)
    ((3, 4, 5), (slice(None), Arr(0, 4)), [(2,)]),  # advanced after a slice
    ((3, 4, 5), (Arr(0, 3), slice(None), Arr(1, 5)), [(2,), (2,)]),  # separated: to the front
    ((3, 4, 5), (0, slice(None), Arr(0, 5)), [(2,)]),  # an int separated from an array
    ((3, 4, 5), (slice(None), 1, Arr(0, 5)), [(2, 1)]),  # an int next to an array: adjacent
    ((3, 4, 5), (Arr(0, 3), None, Arr(1, 4)), [(2,), (1,)]),  # None separates
    ((3, 4, 5), (slice(None), Arr(0, 4), ..., Arr(1, 5)), [(2,), (2,)]),  # empty ellipsis
    ((3, 4, 5), (..., Arr(0, 5)), [(2, 3)]),
    ((3, 4, 5), (None, slice(1, None), Arr(0, 4), Arr(1, 5), None), [(3, 1), (2,)]),
    ((4,), (Arr(0, 4),), [()]),  # a 0-d traced index
]


@pytest.mark.parametrize("case", NUMPY_LAYOUT_CASES, ids=lambda c: repr(c[1]))
@pytest.mark.parametrize("axes", [(0, None), (None, 0), (0, 0), (-1, -1), (1, None), (None, -1)])
@pytest.mark.parametrize("size", [0, 3])
def test_getitem_numpy_layout_rules(case, axes, size):
    shape, template, array_shapes = case
    rng = np.random.default_rng(0)
    ax_x, ax_i = axes
    x = rand(rng, batched_shape(shape, ax_x, size))
    ax_arrays = [
        ax_i if (ax_i is None or len(s) or ax_i in (0, -1)) else None for s in array_shapes
    ]
    arrays = index_args(rng, template, array_shapes, size, ax_arrays)
    check_vmap(lambda x, *a: x[build(template, a)], [x, *arrays], [ax_x, *ax_arrays])
    # the gradient (gather_transpose) too
    check_vmap(
        fg.grad(lambda x, *a: fnp.sum(fnp.sin(x[build(template, a)]))),
        [x, *arrays],
        [ax_x, *ax_arrays],
    )


def test_per_example_index_arrays_into_an_unbatched_table():
    rng = np.random.default_rng(1)
    table = fnp.asarray(rand(rng, (10, 3)))
    idx = rng.integers(0, 10, (5, 4))
    out = fg.vmap(lambda i: table[i], in_axes=0)(fnp.asarray(idx))
    check_close(out, np.asarray(table)[idx])
    # the batched gather keeps the table unbatched: the batch rule does not broadcast it
    rule_out = batch_rules[lx.gather_p]([table, fnp.asarray(idx)], [None, 0], spec=(("array", 0),))
    assert rule_out[1] == 0 and rule_out[0].shape == (5, 4, 3)


# --------------------------------------------------------------------------------------------
# scatter: x.at[idx].set/add/multiply/min/max


MODES = {
    "set": lambda r, y: r.set(y),
    "add": lambda r, y: r.add(y),
    "multiply": lambda r, y: r.multiply(y),
    "min": lambda r, y: r.min(y),
    "max": lambda r, y: r.max(y),
}


@st.composite
def update_shapes(draw, idx_shape):
    """A shape that broadcasts to ``idx_shape``: leading dims dropped, some dims set to 1."""
    s = list(idx_shape[draw(st.integers(0, len(idx_shape))) :])
    for i in range(len(s)):
        if draw(st.integers(0, 3)) == 0:
            s[i] = 1
    return tuple(s)


@settings(max_examples=100)
@given(st.data())
def test_at_updates(data):
    """Batched x, updates and/or index arrays (repeats included), every mode."""
    shape = data.draw(nonempty_shape_st, label="shape")
    advanced = data.draw(st.booleans(), label="advanced")
    template, array_shapes, size, ax_x, ax_arrays = index_case(data, shape, advanced)
    mode = data.draw(st.sampled_from(sorted(MODES)), label="mode")
    idx_shape = np_indexed_shape(shape, template, array_shapes)
    y_shape = data.draw(update_shapes(idx_shape), label="update shape")
    ax_y = axis_for(data.draw, len(y_shape))
    axes = ensure_one_batched([ax_x, ax_y] + ax_arrays)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16), label="seed"))
    x = rand(rng, batched_shape(shape, axes[0], size))
    y = rand(rng, batched_shape(y_shape, axes[1], size))
    arrays = index_args(rng, template, array_shapes, size, axes[2:])
    update = MODES[mode]
    check_vmap(lambda x, y, *a: update(x.at[build(template, a)], y), [x, y, *arrays], axes)


@pytest.mark.parametrize("mode", sorted(MODES))
def test_at_updates_with_repeated_batched_indices(mode):
    rng = np.random.default_rng(2)
    x = rand(rng, (4, 5, 3))
    idx = np.array([[0, 0, 2], [1, 3, 1], [4, 4, 4], [2, 0, 2]])
    y = rand(rng, (4, 3, 3))
    update = MODES[mode]
    if mode == "set":
        idx = np.array([[0, 1, 2], [1, 3, 0], [4, 2, 0], [2, 0, 3]])
    f = lambda x, i, y: update(x.at[i], y)  # noqa: E731
    for axes in [(0, 0, 0), (None, 0, 0), (0, None, 0), (0, 0, None), (None, 0, None)]:
        args = [x[0] if axes[0] is None else x, idx[0] if axes[1] is None else idx]
        args.append(y[0] if axes[2] is None else y)
        check_vmap(f, args, axes)
    # separated advanced indices with a batched index array
    f2 = lambda x, i, y: update(x.at[i, :, 0], y)  # noqa: E731
    check_vmap(f2, [x[..., None], idx, rand(rng, (4, 3, 3))], (0, 0, 0))


def test_scatter_python_scalar_update_and_batched_indices():
    x = np.arange(12.0).reshape(3, 4)
    idx = np.array([[0, 1], [2, 2], [3, 0]])
    check_vmap(lambda x, i: x.at[:, i].add(1.0), [x, idx], (None, 0))
    check_vmap(lambda x, i: x.at[1:, i].set(-1.0), [x, idx], (None, 0))


# --------------------------------------------------------------------------------------------
# take_along_axis


@settings(max_examples=60)
@given(st.data())
def test_take_along_axis(data):
    shape = data.draw(nonempty_shape_st, label="shape")
    nd = len(shape)
    axis = data.draw(st.integers(-nd, nd - 1), label="axis")
    m = data.draw(st.integers(0, 4), label="indices along axis")
    idx_shape = tuple(
        m if d == axis % nd else data.draw(st.sampled_from([1, n])) for d, n in enumerate(shape)
    )
    size = data.draw(st.integers(0, 3), label="batch size")
    axes = ensure_one_batched([axis_for(data.draw, nd), axis_for(data.draw, nd)])
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16), label="seed"))
    x = rand(rng, batched_shape(shape, axes[0], size))
    idx = rand_index(rng, batched_shape(idx_shape, axes[1], size), shape[axis])
    check_vmap(lambda x, i: fnp.take_along_axis(x, i, axis), [x, idx], axes)


# --------------------------------------------------------------------------------------------
# dynamic_slice / dynamic_update_slice with batched starts (clamped, as in JAX)


@st.composite
def window_case(draw):
    shape = draw(shape_st)
    sizes = tuple(draw(st.integers(0, n)) for n in shape)
    size = draw(st.integers(0, 3))
    ax_x = axis_for(draw, len(shape))
    ax_starts = [draw(st.sampled_from([None, 0, -1])) for _ in shape]
    return shape, sizes, size, ax_x, ax_starts


def start_args(rng, shape, size, ax_starts):
    return [
        rng.integers(-3, n + 3, size=() if ax is None else (size,)).astype(
            rng.choice([np.int64, np.int32])
        )
        for n, ax in zip(shape, ax_starts)
    ]


@settings(max_examples=80)
@given(window_case(), st.integers(0, 2**16))
def test_dynamic_slice_batched_starts(case, seed):
    shape, sizes, size, ax_x, ax_starts = case
    axes = ensure_one_batched([ax_x] + ax_starts)
    rng = np.random.default_rng(seed)
    x = rand(rng, batched_shape(shape, axes[0], size))
    starts = start_args(rng, shape, size, axes[1:])
    check_vmap(lambda x, *s: lax.dynamic_slice(x, s, sizes), [x, *starts], axes)


@settings(max_examples=80)
@given(window_case(), st.data())
def test_dynamic_update_slice_batched_starts(case, data):
    shape, sizes, size, ax_x, ax_starts = case
    ax_u = axis_for(data.draw, len(shape))
    axes = ensure_one_batched([ax_x, ax_u] + ax_starts)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16), label="seed"))
    x = rand(rng, batched_shape(shape, axes[0], size))
    u = rand(rng, batched_shape(sizes, axes[1], size))
    starts = start_args(rng, shape, size, axes[2:])
    check_vmap(lambda x, u, *s: lax.dynamic_update_slice(x, u, s), [x, u, *starts], axes)


def test_dynamic_index_in_dim_per_example():
    x = np.arange(20.0).reshape(4, 5)
    i = np.array([0, 4, 9, -2])
    out = fg.vmap(lambda r, i: lax.dynamic_index_in_dim(r, i, 0, keepdims=False))(x, i)
    check_close(out, x[np.arange(4), np.clip(i, 0, 4)])


# --------------------------------------------------------------------------------------------
# composition: vmap(grad), grad(vmap), nested vmap


def _f(x, idx, start):
    g = x[idx] * 2.0 + x[::-1][idx]
    h = x.at[idx].add(fnp.sin(g)).at[idx[:1]].max(g[:1])
    w = lax.dynamic_slice(h, (start,), (3,))
    w = lax.dynamic_update_slice(h, w * w, (start + 1,))
    return fnp.sum(w * fnp.sort(h)) + fnp.sum(fnp.take_along_axis(w, fnp.argsort(-h)[:2], 0))


def _loop(fn, *args_axes):
    n = {a.shape[ax] for a, ax in args_axes if ax is not None}.pop()
    rows = [fn(*[a if ax is None else np.take(a, i, ax) for a, ax in args_axes]) for i in range(n)]
    return rows


@pytest.mark.parametrize("x_axis", [0, None])
def test_vmap_of_grad_and_grad_of_vmap(x_axis):
    rng = np.random.default_rng(3)
    B = 4
    xs = rand(rng, (B, 7)) if x_axis is not None else rand(rng, (7,))
    idx = rng.integers(0, 7, (B, 5))
    starts = rng.integers(-1, 7, (B,))
    gfun = fg.grad(_f)
    loop = _loop(
        lambda x, i, s: np.asarray(gfun(fnp.asarray(x), i, s)), (xs, x_axis), (idx, 0), (starts, 0)
    )
    expected = np.stack(loop)
    per_example = fg.vmap(gfun, in_axes=(x_axis, 0, 0))(xs, idx, starts)
    check_close(per_example, expected, 1e-10, 1e-10)
    total = fg.grad(lambda x: fnp.sum(fg.vmap(_f, in_axes=(x_axis, 0, 0))(x, idx, starts)))(xs)
    check_close(total, expected if x_axis is not None else expected.sum(0), 1e-10, 1e-10)


def test_jvp_of_vmap_and_nested_vmap():
    rng = np.random.default_rng(4)
    x = rand(rng, (3, 2, 7))
    idx = rng.integers(0, 7, (2, 3, 5))
    starts = rng.integers(0, 7, (3, 2))
    inner = fg.vmap(_f, in_axes=(0, 0, 0))  # over the second member axis
    out = fg.vmap(inner, in_axes=(0, 1, 0))(x, idx, starts)
    want = [
        [float(_f(fnp.asarray(x[i, j]), idx[j, i], starts[i, j])) for j in range(2)]
        for i in range(3)
    ]
    check_close(out, np.array(want), 1e-10, 1e-10)
    t = rand(rng, x.shape)
    _, tan = fg.jvp(lambda x: fg.vmap(inner, in_axes=(0, 1, 0))(x, idx, starts), (x,), (t,))
    want_t = [
        [
            float(
                fg.jvp(
                    lambda v, i=i, j=j: _f(v, idx[j, i], starts[i, j]),
                    (fnp.asarray(x[i, j]),),
                    (fnp.asarray(t[i, j]),),
                )[1]
            )
            for j in range(2)
        ]
        for i in range(3)
    ]
    check_close(tan, np.array(want_t), 1e-10, 1e-10)


def test_rules_are_registered():
    for prim in (
        lx.gather_p,
        lx.gather_transpose_p,
        lx.scatter_p,
        lx.dynamic_slice_p,
        lx.dynamic_update_slice_p,
    ):
        assert prim in batch_rules, prim.name
