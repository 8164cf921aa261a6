"""fnp.einsum against np.einsum: a table of subscripts, values and derivatives, and errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import funcgrad as fg
from tests.helpers import check_grads

fnp = fg.numpy

# (subscripts, operand shapes)
CASES = [
    ("ii->i", [(3, 3)]),
    ("ii", [(3, 3)]),
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("...ij,...jk->...ik", [(2, 1, 3, 4), (5, 4, 2)]),
    ("i,i", [(3,), (3,)]),
    ("ij->ji", [(2, 3)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("ijk,k->ij", [(2, 3, 4), (4,)]),
    ("ij", [(2, 3)]),
    ("ji", [(2, 3)]),
    ("ij->", [(2, 3)]),
    ("ij->j", [(2, 3)]),
    ("i,j->ij", [(2,), (3,)]),
    ("i,j", [(2,), (3,)]),
    ("ij,ij->ij", [(2, 3), (2, 3)]),
    ("ij,ij->", [(2, 3), (2, 3)]),
    ("ij,jk", [(2, 3), (3, 4)]),
    ("ij,kj->ik", [(2, 3), (4, 3)]),
    ("iij->ij", [(3, 3, 2)]),
    ("iii->i", [(2, 2, 2)]),
    ("ijji->ij", [(2, 3, 3, 2)]),
    ("ii,i->i", [(3, 3), (3,)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]),
    ("abc,cd,de,ea->b", [(2, 3, 4), (4, 5), (5, 6), (6, 2)]),
    ("i,i,i->", [(3,), (3,), (3,)]),
    ("...i->...", [(2, 3, 4)]),
    ("i...->...", [(2, 3)]),
    ("...", [(2, 3)]),
    ("...ij->...ji", [(2, 3, 4)]),
    ("ij...,jk...->ik...", [(2, 3, 5), (3, 4, 5)]),
    ("ij,j", [(2, 1), (3,)]),  # size-1 axes broadcast
    ("i,i", [(1,), (3,)]),
    (",i->i", [(), (3,)]),
    ("Ab,bc", [(2, 3), (3, 4)]),  # upper case sorts first in implicit outputs
    ("ba", [(2, 3)]),
    ("bn,anm,bm->ba", [(2, 3), (4, 3, 5), (2, 5)]),
    (" ij , jk -> ik ", [(2, 3), (3, 4)]),
]


def _operands(shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) for s in shapes]


@pytest.mark.parametrize("subscripts, shapes", CASES, ids=[c[0] for c in CASES])
def test_einsum_matches_numpy(subscripts, shapes):
    ops = _operands(shapes)
    out = fnp.einsum(subscripts, *[fnp.asarray(o) for o in ops])
    ref = np.einsum(subscripts, *ops)
    assert out.shape == ref.shape
    np.testing.assert_allclose(np.asarray(out), ref, rtol=1e-10, atol=1e-12)


GRAD_CASES = [c for c in CASES if c[0] not in ("ba", "ij", "...")]


@pytest.mark.parametrize("subscripts, shapes", GRAD_CASES, ids=[c[0] for c in GRAD_CASES])
def test_einsum_grads(subscripts, shapes):
    check_grads(lambda *xs: fnp.einsum(subscripts, *xs), _operands(shapes, 1), order=2)


def test_einsum_dtypes_and_inputs():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert fnp.einsum("ij,jk", a, a.T).dtype == np.float32
    assert fnp.einsum("ij,jk", a, a.T.astype(np.float64)).dtype == np.float64
    np.testing.assert_array_equal(
        np.asarray(fnp.einsum("ii", np.eye(3, dtype=np.int64))),
        np.einsum("ii", np.eye(3, dtype=np.int64)),
    )
    np.testing.assert_allclose(np.asarray(fnp.einsum("ij->i", a.tolist())), a.sum(1))
    out = fnp.einsum("ij,jk", a, a.T, optimize=True, preferred_element_type=np.float64)
    assert out.dtype == np.float64


def test_einsum_interleaved():
    a, b = _operands([(2, 3), (3, 4)])
    np.testing.assert_allclose(np.asarray(fnp.einsum(a, [0, 1], b, [1, 2], [0, 2])), a @ b)
    np.testing.assert_allclose(
        np.asarray(fnp.einsum(a, [0, 1], b, [1, 2])), np.einsum(a, [0, 1], b, [1, 2])
    )
    np.testing.assert_allclose(np.asarray(fnp.einsum(a, [Ellipsis, 1], [Ellipsis])), a.sum(1))


def test_einsum_under_transforms():
    a, b = _operands([(2, 3), (3, 4)])
    g = fg.grad(lambda a: fnp.sum(fnp.einsum("ij,jk->ik", a, b) ** 2))(fnp.asarray(a))
    np.testing.assert_allclose(np.asarray(g), 2 * (a @ b) @ b.T, rtol=1e-10)


@settings(max_examples=15, deadline=None)
@given(
    m=st.integers(0, 3),
    k=st.integers(1, 3),
    n=st.integers(1, 3),
    batch=st.sampled_from([(), (2,), (1, 2)]),
    seed=st.integers(0, 100),
)
def test_einsum_batched_matmul_property(m, k, n, batch, seed):
    a, b = _operands([batch + (m, k), (k, n)], seed)
    for spec in ("...ij,jk->...ik", "...ij,jk", "...ij,jk->...ki"):
        out = fnp.einsum(spec, fnp.asarray(a), fnp.asarray(b))
        np.testing.assert_allclose(np.asarray(out), np.einsum(spec, a, b), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    "subscripts, shapes, match",
    [
        ("ij,jk->ik", [(2, 3)], "2 operand terms but 1 operands"),
        ("ij,jk->ik", [(2, 3), (4, 5)], "label 'j' has sizes 3 and 4"),
        ("ijk", [(2, 3)], "3 axes but the operand has 2"),
        ("ij->ii", [(2, 2)], "repeat a label"),
        ("ij->k", [(2, 2)], "'k' does not occur"),
        ("i1", [(2, 2)], "invalid subscript '1'"),
        ("...i->i", [(2, 3)], r"needs '\.\.\.'"),
        ("ii", [(2, 3)], "'i' has sizes 2 and 3"),
        ("i....", [(2, 3)], "at most one"),
    ],
)
def test_einsum_errors(subscripts, shapes, match):
    with pytest.raises(ValueError, match=match):
        fnp.einsum(subscripts, *_operands(shapes))
