"""vmap of sort (one or several operands), argsort, top_k and searchsorted equals a loop."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import lax
from funcgrad.lax.sort import searchsorted_p, sort_p, top_k_p
from funcgrad.transforms.vmap import batch_rules
from tests.helpers import check_close, check_vmap

shape_st = st.lists(st.integers(0, 4), min_size=1, max_size=3).map(tuple)


def axis_for(draw, rank, allow_none=True):
    choices = list(range(-(rank + 1), rank + 1))
    return draw(st.sampled_from(([None, None] if allow_none else []) + choices))


def batched_shape(shape, ax, size):
    if ax is None:
        return tuple(shape)
    pos = ax % (len(shape) + 1)
    return tuple(shape[:pos]) + (size,) + tuple(shape[pos:])


def values(rng, shape, ties):
    if ties:  # few distinct values: exercises stability and tie-breaking
        return rng.integers(0, 3, shape).astype(np.float64)
    return rng.standard_normal(shape)


@st.composite
def case(draw):
    shape = draw(shape_st)
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    size = draw(st.integers(0, 3))
    ax = axis_for(draw, len(shape), allow_none=False)
    seed = draw(st.integers(0, 2**16))
    ties = draw(st.booleans())
    return shape, axis, size, ax, np.random.default_rng(seed), ties


@settings(max_examples=60)
@given(case(), st.booleans())
def test_sort_and_argsort(c, descending):
    shape, axis, size, ax, rng, ties = c
    x = values(rng, batched_shape(shape, ax, size), ties)
    check_vmap(lambda x: fnp.sort(x, axis=axis, descending=descending), [x], [ax])
    check_vmap(lambda x: fnp.argsort(x, axis=axis, descending=descending), [x], [ax])
    check_vmap(lambda x: fnp.sort(x, axis=None), [x], [ax])


@settings(max_examples=60)
@given(case(), st.data())
def test_multi_operand_sort_batched_and_unbatched_operands(c, data):
    """Keys and values batched along different axes, or not at all; one or two keys."""
    shape, axis, size, _, rng, ties = c
    n = data.draw(st.integers(2, 3), label="operands")
    num_keys = data.draw(st.integers(1, n), label="num_keys")
    axes = [axis_for(data.draw, len(shape)) for _ in range(n)]
    if all(a is None for a in axes):
        axes[0] = 0
    ops = [values(rng, batched_shape(shape, a, size), ties) for a in axes]
    check_vmap(
        lambda *o: lax.sort(tuple(o), dimension=axis, num_keys=num_keys),
        ops,
        axes,
    )


@settings(max_examples=60)
@given(case(), st.data())
def test_top_k(c, data):
    shape, _, size, ax, rng, ties = c
    k = data.draw(st.integers(0, shape[-1]), label="k")
    x = values(rng, batched_shape(shape, ax, size), ties)
    check_vmap(lambda x: lax.top_k(x, k), [x], [ax])


@settings(max_examples=60)
@given(st.data())
def test_searchsorted(data):
    n = data.draw(st.integers(0, 5), label="n")
    v_shape = data.draw(st.lists(st.integers(0, 3), max_size=2).map(tuple), label="v shape")
    size = data.draw(st.integers(0, 3), label="batch size")
    side = data.draw(st.sampled_from(["left", "right"]), label="side")
    axes = [axis_for(data.draw, 1), axis_for(data.draw, len(v_shape))]
    if all(a is None for a in axes):
        axes[0] = 0
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16), label="seed"))
    a = rng.integers(0, 4, batched_shape((n,), axes[0], size)).astype(float)
    a = np.sort(a, axis=0 if axes[0] is None else 1 - axes[0] % 2)  # each member's row sorted
    v = rng.integers(-1, 5, batched_shape(v_shape, axes[1], size)).astype(float)
    if data.draw(st.booleans(), label="nans") and v.size:
        v.flat[0] = np.nan
        if a.size:
            a = np.where(np.isclose(a, a.max()), np.nan, a)  # NaNs last in each sorted row
    check_vmap(lambda a, v: fnp.searchsorted(a, v, side=side), [a, v], axes)


# --------------------------------------------------------------------------------------------
# composition with grad


def _f(x):
    s = fnp.sort(x * x, axis=-1)
    vals, _ = lax.top_k(fnp.sin(x), 2)
    keys, perm = lax.sort((fnp.round(x), x), dimension=0, num_keys=1)
    return fnp.sum(s[..., :3] * fnp.arange(3.0)) + fnp.sum(vals**2) + fnp.sum(perm * keys)


@pytest.mark.parametrize("in_axis", [0, 1, -1])
def test_vmap_of_grad_and_grad_of_vmap(in_axis):
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((4, 3, 5))
    g = fg.grad(_f)
    loop = np.stack(
        [np.asarray(g(fnp.asarray(np.take(xs, i, in_axis)))) for i in range(xs.shape[in_axis])]
    )
    per_example = fg.vmap(g, in_axes=in_axis)(xs)
    check_close(per_example, loop, 1e-10, 1e-10)
    total = fg.grad(lambda x: fnp.sum(fg.vmap(_f, in_axes=in_axis)(x)))(xs)
    check_close(total, np.moveaxis(loop, 0, in_axis % 3), 1e-10, 1e-10)


def test_per_example_grad_through_argsort_of_an_unbatched_array():
    """Batched weights, unbatched data sorted per example by a batched key."""
    rng = np.random.default_rng(1)
    data = fnp.asarray(rng.standard_normal(6))
    ws = rng.standard_normal((3, 6))

    def f(w):
        order = fnp.argsort(w * data)
        return fnp.sum(fnp.take_along_axis(data * w, order, 0) * fnp.arange(6.0))

    out = fg.vmap(fg.grad(f))(ws)
    check_close(out, np.stack([np.asarray(fg.grad(f)(fnp.asarray(w))) for w in ws]), 1e-10, 1e-10)


def test_nested_vmap_of_sort_and_top_k():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 5, 3))
    out = fg.vmap(fg.vmap(lambda r: lax.top_k(r, 2)[0], in_axes=1), in_axes=0)(x)
    want = np.stack([np.stack([-np.sort(-x[i, :, j])[:2] for j in range(3)]) for i in range(2)])
    check_close(out, want)
    out = fg.vmap(fg.vmap(lambda r: fnp.sort(r), in_axes=0), in_axes=2)(x)
    check_close(out, np.sort(np.transpose(x, (2, 0, 1)), axis=-1))


def test_rules_are_registered():
    for prim in (sort_p, top_k_p, searchsorted_p):
        assert prim in batch_rules, prim.name
