"""Property tests driven by the op table: forward vs NumPy, jvp/vjp vs finite differences."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

import funcgrad as fg
import funcgrad.numpy as fnp
from tests.backends import platform
from tests.helpers import check_close, check_grads, check_vmap
from tests.op_table import OPS
from tests.strategies import shapes_for, values

GRAD_OPS = [op for op in OPS if op.grad]


def _f64_dtypes(op):
    """float64, and complex128 for rows that list a complex dtype (derivatives and vmap)."""
    kinds = {np.dtype(d).kind for d in op.dtypes}
    return [d for k, d in (("f", np.float64), ("c", np.complex128)) if k in kinds] or [np.float64]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
@given(data=st.data())
def test_forward_matches_numpy(op, data):
    shapes = data.draw(shapes_for(op), label="shapes")
    dtype = data.draw(st.sampled_from(op.dtypes), label="dtype")
    seed = data.draw(st.integers(0, 2**16), label="seed")
    args = values(op, shapes, dtype, seed)
    try:
        expected = op.ref(*args)
    except ValueError:  # e.g. a reduction over an empty axis: funcgrad must refuse too
        with pytest.raises(ValueError, match=r"\S"):
            op.fn(*[fnp.asarray(a) for a in args])
        return
    out = op.fn(*[fnp.asarray(a) for a in args])
    np.testing.assert_allclose(
        np.asarray(out),
        expected,
        rtol=op.rtol * (100 if dtype in (np.float32, np.complex64) else 1),
        atol=op.atol * (100 if dtype in (np.float32, np.complex64) else 1),
    )
    assert np.asarray(out).shape == np.shape(expected)
    if np.asarray(expected).dtype.kind in "fc":
        assert np.asarray(out).dtype == np.asarray(expected).dtype, (
            out.dtype,
            np.asarray(expected).dtype,
        )


@pytest.mark.parametrize("op", GRAD_OPS, ids=lambda op: op.name)
@settings(max_examples=8)
@given(data=st.data())
def test_grads_match_finite_differences(op, data):
    shapes = data.draw(shapes_for(op, min_side=1, max_side=3), label="shapes")
    seed = data.draw(st.integers(0, 2**16), label="seed")
    dtype = data.draw(st.sampled_from(_f64_dtypes(op)), label="dtype")
    args = values(op, shapes, dtype, seed)
    check_grads(op.fn, args, order=2, atol=op.grad_tol, rtol=op.grad_tol)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
@settings(max_examples=10)
@given(data=st.data())
def test_vmap_matches_a_loop(op, data):
    shapes = data.draw(shapes_for(op, max_side=3), label="shapes")
    seed = data.draw(st.integers(0, 2**16), label="seed")
    size = data.draw(st.integers(0, 3), label="batch size")
    axes = []
    batched_shapes = []
    for shape in shapes:
        choices = [None, 0, -1] + list(range(1, len(shape) + 1))
        ax = data.draw(st.sampled_from(choices), label="axis")
        if ax is None:
            batched_shapes.append(shape)
        else:
            pos = ax % (len(shape) + 1)
            batched_shapes.append(shape[:pos] + (size,) + shape[pos:])
        axes.append(ax)
    if all(a is None for a in axes):
        axes[0] = 0
        batched_shapes[0] = (size,) + shapes[0]
    dtype = data.draw(st.sampled_from(_f64_dtypes(op)), label="dtype")
    try:
        op.ref(*values(op, shapes, dtype, seed))
    except ValueError:
        return  # the unbatched operation itself is invalid here (e.g. an empty reduction)
    args = values(op, batched_shapes, dtype, seed)
    check_vmap(op.fn, args, axes, atol=op.atol * 10, rtol=op.rtol * 10)


# Primitives tested by their own files rather than by op-table rows.
NOT_IN_TABLE = {
    "custom_vjp_call": "tape keys for custom_vjp/custom_jvp, tests/transforms/test_custom.py",
    "custom_jvp_call": "tape keys for custom_vjp/custom_jvp, tests/transforms/test_custom.py",
    "threefry2x32": "bit-exact test vectors in tests/test_random.py",
    "searchsorted": "no derivative, tests/lax/test_sort.py",
    "jit": "a call of a traced program, tests/transforms/test_jit.py (every row runs under jit)",
    "pmap": "an SPMD call of a traced program, tests/transforms/test_pmap.py (rows vs vmap)",
    "debug_callback": "an effect with no outputs, tests/transforms/test_jit.py",
    **{
        name: "a control-flow primitive (takes functions): tests/lax/test_control.py"
        for name in ("scan", "cond", "while")
    },
    **{
        name: "a named-axis collective runs only under vmap/pmap: tests/lax/test_parallel.py"
        for name in ("psum", "pmax", "pmin", "all_gather", "ppermute", "axis_index")
    },
}


def test_op_table_covers_every_primitive(monkeypatch):
    """Each primitive is exercised by some row (forward and reverse), or listed above with why."""
    from funcgrad.core.primitive import all_primitives

    seen = set()
    for prim in all_primitives:
        if prim.impl is not None:

            def recording(xp, *args, _impl=prim.impl, _name=prim.name, **params):
                seen.add(_name)
                return _impl(xp, *args, **params)

            monkeypatch.setattr(prim, "impl", recording)
    rng = np.random.default_rng(0)
    for op in OPS:
        strategy = shapes_for(op, min_side=2, max_side=3)
        try:  # the simplest example with no 0-d arguments (those skip some primitives)
            shapes = find(strategy, lambda s: all(len(x) >= 1 for x in s))
        except NoSuchExample:
            shapes = find(strategy, lambda s: True)
        args = values(op, shapes, np.float64, int(rng.integers(1000)))
        op.fn(*[fnp.asarray(a) for a in args])
        if op.grad:
            check_grads(op.fn, args, order=1, atol=1e-4, rtol=1e-4)
    missing = {p.name for p in all_primitives} - seen - set(NOT_IN_TABLE)
    assert not missing, f"primitives without an op-table row: {sorted(missing)}"


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
@settings(max_examples=5)
@given(data=st.data())
def test_jit_matches_eager(op, data):
    """``jit(f)`` gives ``f``'s values and dtypes (the replay runs the same NumPy calls)."""
    shapes = data.draw(shapes_for(op, max_side=3), label="shapes")
    dtype = data.draw(st.sampled_from(op.dtypes), label="dtype")
    args = [fnp.asarray(a) for a in values(op, shapes, dtype, data.draw(st.integers(0, 2**16)))]
    try:
        expected = op.fn(*args)
    except ValueError:
        with pytest.raises(ValueError, match=r"\S"):
            fg.jit(op.fn)(*args)
        return
    out = fg.jit(op.fn)(*args)
    check_close(out, expected, atol=op.atol, rtol=op.rtol)
    for o, e in zip(fg.tree_util.tree_leaves(out), fg.tree_util.tree_leaves(expected)):
        assert o.dtype == e.dtype and o.shape == e.shape, (o.dtype, e.dtype, o.shape, e.shape)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("op", GRAD_OPS, ids=lambda op: op.name)
@settings(max_examples=3)
@given(data=st.data())
def test_jit_composes_with_grad_and_vmap(op, data):
    """One gradient computed many ways: grad, jit(grad), grad(jit), vmap(jit(grad)) vs a loop,
    and jvp(jit) vs jvp (JAX's stress-test style)."""
    shapes = data.draw(shapes_for(op, min_side=1, max_side=3), label="shapes")
    seed = data.draw(st.integers(0, 2**16), label="seed")
    args = [fnp.asarray(a) for a in values(op, shapes, np.float64, seed)]

    def scalar(*a):
        return sum(fnp.sum(fnp.real(o)) for o in fg.tree_util.tree_leaves(op.fn(*a)))

    tol = dict(atol=1e-8, rtol=1e-8)
    expected = fg.grad(scalar)(*args)
    check_close(fg.jit(fg.grad(scalar))(*args), expected, **tol)
    check_close(fg.grad(fg.jit(scalar))(*args), expected, **tol)
    tangents = [fnp.ones_like(a) for a in args]
    check_close(fg.jvp(fg.jit(op.fn), args, tangents), fg.jvp(op.fn, args, tangents), **tol)
    batch = [fnp.stack([a, a]) for a in args]  # the same point twice: values stay in the domain
    vmapped = fg.vmap(fg.jit(fg.grad(scalar)))(*batch)
    check_close(vmapped, fg.tree_util.tree_map(lambda g: fnp.stack([g, g]), expected), **tol)


# One fixed example per shape kind (what ``shapes_for`` could draw), for the backend test.
_EXAMPLE_SHAPES = {
    "broadcast": [((2, 3),), ((2, 3), (3,)), ((2, 3), (3,), (2, 1))],
    "square": [((3, 3),)],
    "vecs": [((3,),), ((3,), (4,))],
    "matrix_mn": [((3, 2),)],
    "solve": [None, ((3, 3), (3, 2))],
    "solve2d": [None, ((3, 3), (3, 2))],
    "matmul": [None, ((2, 2, 3), (3, 2))],
    "matmul2d": [None, ((2, 3), (3, 2))],
    "conv1d": [None, ((2, 2, 5), (2, 2, 2))],
    "obs2d": [((2, 4),), ((2, 4), (2, 4))],
    "even_last": [((2, 4),)],
}


def _one_example(op) -> list:
    """One fixed example of ``op``'s arguments: no hypothesis search, so it costs nothing."""
    shapes = _EXAMPLE_SHAPES.get(op.shapes, [((2, 3),) * op.nargs] * op.nargs)[op.nargs - 1]
    if op.shapes in ("rows3", "rows3_same"):
        shapes = ((3, 2),) * op.nargs
    return values(op, shapes, op.dtypes[0], 7)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_forward_on_each_backend_matches_the_cpu(backend):
    """Every row's forward pass, one example each, on the backend: results live on the
    backend's device and equal the CPU's."""
    failures = []
    for op in OPS:
        args = _one_example(op)
        with platform("cpu"):
            try:
                expected = fg.device_get(op.fn(*[fnp.asarray(a) for a in args]))
            except (ValueError, TypeError, IndexError):
                continue  # invalid on the CPU too (tested by test_forward_matches_numpy)
        try:
            out = op.fn(*[fnp.asarray(a) for a in args])
            for o, e in zip(fg.tree_util.tree_leaves(out), fg.tree_util.tree_leaves(expected)):
                want = "gpu" if backend != "cpu" else "cpu"
                if o.device.platform != want and o.size > 1:
                    raise AssertionError(f"result on {o.device}, expected a {want} device")
                got = fg.device_get(o)
                assert got.dtype == e.dtype and got.shape == e.shape, (got.dtype, e.dtype)
                tol = 100 if e.dtype in (np.float32, np.complex64) else 1
                np.testing.assert_allclose(got, e, rtol=op.rtol * tol, atol=op.atol * tol)
        except Exception as e:  # noqa: BLE001 - every row's failure is reported together
            failures.append(f"{op.name}: {type(e).__name__}: {str(e)[:300]}")
    assert not failures, f"{len(failures)} rows fail on {backend}:\n" + "\n".join(failures)
