"""Property tests driven by the op table: forward vs NumPy, jvp/vjp vs finite differences."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import funcgrad.numpy as fnp
from tests.helpers import check_grads
from tests.op_table import OPS
from tests.strategies import shapes_for, values

GRAD_OPS = [op for op in OPS if op.grad]


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
        rtol=op.rtol * (100 if dtype == np.float32 else 1),
        atol=op.atol * (100 if dtype == np.float32 else 1),
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
    args = values(op, shapes, np.float64, seed)
    check_grads(op.fn, args, order=2, atol=op.grad_tol, rtol=op.grad_tol)
