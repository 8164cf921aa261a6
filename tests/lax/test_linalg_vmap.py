"""vmap of the lax.linalg primitives: one batched call equals a Python loop, any in_axes."""

from __future__ import annotations

import numpy as np
import pytest

import funcgrad as fg
from funcgrad import lax
from tests.helpers import check_close, check_vmap

fnp = fg.numpy
linalg = lax.linalg


def _rng(seed=0):
    return np.random.default_rng(seed)


def well_conditioned(shape, seed=0, dtype=np.float64):
    rng = _rng(seed)
    n = shape[-1]
    a = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        a = a + 1j * rng.standard_normal(shape)
    return (a / np.sqrt(n) + 2.0 * np.eye(n)).astype(dtype)


def spd(shape, seed=0):
    a = _rng(seed).standard_normal(shape)
    return a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1])


def batched(core, axis, size, seed=0, make=well_conditioned, **kw):
    """A batch of ``size`` operands of shape ``core``, the batch along ``axis`` (None: one)."""
    if axis is None:
        return make(core, seed, **kw)
    x = make((size,) + core, seed, **kw)
    return np.moveaxis(x, 0, axis)


def rhs(shape, seed=1, dtype=np.float64):
    x = _rng(seed).standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        x = x + 1j * _rng(seed + 7).standard_normal(shape)
    return x.astype(dtype)


def batched_rhs(core, axis, size, seed=1, dtype=np.float64):
    if axis is None:
        return rhs(core, seed, dtype)
    return np.moveaxis(rhs((size,) + core, seed, dtype), 0, axis)


# --------------------------------------------------------------------------------------------
# One-operand primitives: inv, det, slogdet, cholesky


UNARY = {
    "inv": linalg.inv,
    "det": linalg.det,
    "slogdet": lambda a: linalg.slogdet(a),
    "cholesky": linalg.cholesky,
    "cholesky_lower_only": lambda a: linalg.cholesky(a, symmetrize_input=False),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@pytest.mark.parametrize("axis", [0, 1, 2, -1])
@pytest.mark.parametrize("size", [0, 1, 3])
def test_unary_matches_loop(name, axis, size):
    make = spd if name.startswith("cholesky") else well_conditioned
    a = batched((3, 3), axis, size, make=make)
    check_vmap(UNARY[name], [a], [axis], atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("name", ["inv", "det", "slogdet"])
@pytest.mark.parametrize("axis", [0, -1])
def test_unary_complex_matches_loop(name, axis):
    a = batched((3, 3), axis, 4, dtype=np.complex128)
    check_vmap(UNARY[name], [a], [axis], atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_with_inner_batch_axes(name):
    # The operand already carries its own batch axes: (size, 2, n, n), mapped over axis 1.
    make = spd if name.startswith("cholesky") else well_conditioned
    a = make((2, 4, 3, 3), 5)
    check_vmap(UNARY[name], [a], [1], atol=1e-10, rtol=1e-10)


def test_slogdet_of_singular_members():
    a = well_conditioned((3, 3, 3))
    a[1] = 0.0
    check_vmap(lambda x: linalg.slogdet(x), [a], [0])


def test_det_float32_keeps_dtype():
    a = well_conditioned((4, 3, 3)).astype(np.float32)
    out = fg.vmap(linalg.det)(fnp.asarray(a))
    assert out.dtype == np.float32
    check_vmap(linalg.det, [a], [0], atol=1e-5, rtol=1e-5)


# --------------------------------------------------------------------------------------------
# solve


AXES_2 = [(0, 0), (None, 0), (0, None), (-1, 0), (1, -1), (None, -1), (2, None), (-1, 1)]


@pytest.mark.parametrize("a_axis,b_axis", AXES_2)
@pytest.mark.parametrize("size", [0, 1, 4])
@pytest.mark.parametrize("b_core", [(3, 2), (3,), (3, 1)])
def test_solve_matches_loop(a_axis, b_axis, size, b_core):
    if b_axis is not None and not -len(b_core) - 1 <= b_axis <= len(b_core):
        pytest.skip("axis out of range for a vector b")
    a = batched((3, 3), a_axis, size)
    b = batched_rhs(b_core, b_axis, size)
    check_vmap(linalg.solve, [a, b], [a_axis, b_axis], atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("a_axis,b_axis", [(0, 0), (None, 0), (0, None), (None, 2)])
def test_solve_with_inner_batch_axes(a_axis, b_axis):
    a = batched((2, 3, 3), a_axis, 4)
    b = batched_rhs((2, 3, 5), b_axis, 4)
    check_vmap(linalg.solve, [a, b], [a_axis, b_axis], atol=1e-10, rtol=1e-10)


def test_solve_broadcasts_inner_batch_axes():
    # a has an inner batch axis, b does not (NumPy 2 broadcasting inside each member).
    a = well_conditioned((2, 3, 3))
    b = rhs((4, 3, 2))
    check_vmap(linalg.solve, [a, b], [None, 0], atol=1e-10, rtol=1e-10)
    b = rhs((4, 1, 3, 2))
    check_vmap(linalg.solve, [a, b], [None, 0], atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("a_axis,b_axis", [(0, 0), (None, 0), (0, None)])
def test_solve_complex_and_mixed_dtypes(a_axis, b_axis):
    a = batched((3, 3), a_axis, 3, dtype=np.complex128)
    b = batched_rhs((3, 2), b_axis, 3)
    check_vmap(linalg.solve, [a, b], [a_axis, b_axis], atol=1e-10, rtol=1e-10)
    a32 = batched((3, 3), a_axis, 3).astype(np.float32)
    check_vmap(linalg.solve, [a32, b], [a_axis, b_axis], atol=1e-5, rtol=1e-5)


def test_solve_with_only_b_batched_factors_a_once(monkeypatch):
    """The batch folds into b's columns: one solve with the unbroadcast a, no loop."""
    calls = []
    real_solve = np.linalg.solve

    def spy(a, b):
        calls.append((a.shape, b.shape))
        return real_solve(a, b)

    a = well_conditioned((3, 3))
    b = rhs((6, 3, 2))
    expected = np.stack([real_solve(a, bi) for bi in b])
    monkeypatch.setattr(np.linalg, "solve", spy)
    out = fg.vmap(linalg.solve, in_axes=(None, 0))(fnp.asarray(a), fnp.asarray(b))
    assert calls == [((3, 3), (3, 12))]
    check_close(out, expected, atol=1e-10, rtol=1e-10)
    calls.clear()
    x = fg.vmap(linalg.solve, in_axes=(None, 0))(fnp.asarray(a), fnp.asarray(b[:, :, 0]))
    assert calls == [((3, 3), (3, 6))]
    check_close(x, expected[:, :, 0], atol=1e-10, rtol=1e-10)


def test_solve_singular_member_raises():
    a = well_conditioned((3, 3, 3))
    a[2] = 0.0
    with pytest.raises(np.linalg.LinAlgError, match="solve"):
        fg.vmap(linalg.solve)(fnp.asarray(a), fnp.asarray(rhs((3, 3, 1))))


# --------------------------------------------------------------------------------------------
# triangular_solve


TRI_OPTIONS = [
    dict(left_side=True, lower=True),
    dict(left_side=True, lower=False, transpose_a=True),
    dict(left_side=False, lower=True),
    dict(left_side=False, lower=False, transpose_a=True, unit_diagonal=True),
    dict(left_side=True, lower=True, unit_diagonal=True),
]


@pytest.mark.parametrize("opts", TRI_OPTIONS, ids=lambda o: "-".join(k for k in o if o[k]))
@pytest.mark.parametrize("a_axis,b_axis", AXES_2)
@pytest.mark.parametrize("size", [0, 3])
def test_triangular_solve_matches_loop(opts, a_axis, b_axis, size):
    a = batched((3, 3), a_axis, size)
    b_core = (3, 2) if opts["left_side"] else (2, 3)
    b = batched_rhs(b_core, b_axis, size)

    def f(a, b):
        return linalg.triangular_solve(a, b, **opts)

    check_vmap(f, [a, b], [a_axis, b_axis], atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("left_side", [True, False])
@pytest.mark.parametrize("a_axis,b_axis", [(0, 0), (None, 0), (0, None), (None, -1)])
def test_triangular_solve_with_inner_batch_axes(left_side, a_axis, b_axis):
    a = batched((2, 3, 3), a_axis, 4)
    b = batched_rhs((2, 3, 5) if left_side else (2, 5, 3), b_axis, 4)

    def f(a, b):
        return linalg.triangular_solve(a, b, left_side=left_side, lower=True)

    check_vmap(f, [a, b], [a_axis, b_axis], atol=1e-10, rtol=1e-10)


def test_triangular_solve_complex():
    a = well_conditioned((3, 3, 3), dtype=np.complex128)
    b = rhs((3, 3, 2), dtype=np.complex128)

    def f(a, b):
        return linalg.triangular_solve(a, b, left_side=True, lower=True, conjugate_a=True)

    for axes in [(0, 0), (None, 0), (0, None)]:
        a_in = a if axes[0] is not None else a[0]
        b_in = b if axes[1] is not None else b[0]
        check_vmap(f, [a_in, b_in], list(axes), atol=1e-10, rtol=1e-10)


# --------------------------------------------------------------------------------------------
# Composition: vmap of grad (per-example gradients through the linalg rules), nested vmap


def _gaussian_nll(a, b):
    """-log N(b; 0, a a^T + I) up to constants: cholesky, triangular_solve, slogdet."""
    cov = a @ fnp.swapaxes(a, -1, -2) + fnp.eye(a.shape[-1])
    L = linalg.cholesky(cov)
    z = linalg.triangular_solve(L, b[:, None], left_side=True, lower=True)
    _, logdet = linalg.slogdet(cov)
    return 0.5 * fnp.sum(z * z) + 0.5 * logdet


def _solve_loss(a, b):
    x = linalg.solve(a, b)
    return fnp.sum(x * x) + linalg.det(a) + fnp.sum(linalg.inv(a))


@pytest.mark.parametrize("f", [_gaussian_nll, _solve_loss], ids=["nll", "solve"])
@pytest.mark.parametrize("in_axes", [(0, 0), (None, 0), (0, None), (-1, 0)])
@pytest.mark.parametrize("argnums", [0, 1, (0, 1)])
def test_vmap_of_grad_matches_loop_of_grad(f, in_axes, argnums):
    a = batched((3, 3), in_axes[0], 4, seed=3)
    b = batched_rhs((3,), in_axes[1], 4, seed=4)
    check_vmap(fg.grad(f, argnums=argnums), [a, b], list(in_axes), atol=1e-9, rtol=1e-9)


def test_vmap_of_grad_slogdet_and_cholesky():
    def f(a):
        sign, logdet = linalg.slogdet(a)
        L = linalg.cholesky(a @ fnp.swapaxes(a, -1, -2))
        return logdet * sign + fnp.sum(L)

    a = well_conditioned((5, 3, 3), seed=8)
    check_vmap(fg.grad(f), [a], [0], atol=1e-9, rtol=1e-9)
    check_vmap(fg.grad(f), [np.moveaxis(a, 0, 2)], [2], atol=1e-9, rtol=1e-9)


def test_grad_of_vmap_matches_sum_of_grads():
    a = well_conditioned((3, 3), seed=2)
    bs = rhs((5, 3), seed=6)

    def total(a, bs):
        return fnp.sum(fg.vmap(_solve_loss, in_axes=(None, 0))(a, bs))

    g = fg.grad(total)(fnp.asarray(a), fnp.asarray(bs))
    expected = sum(np.asarray(fg.grad(_solve_loss)(fnp.asarray(a), fnp.asarray(b))) for b in bs)
    check_close(g, expected, atol=1e-9, rtol=1e-9)


def test_jvp_under_vmap():
    a = well_conditioned((4, 3, 3), seed=1)
    t = rhs((4, 3, 3), seed=2)
    b = rhs((3, 2), seed=3)

    def f(a, t):
        return fg.jvp(lambda a: linalg.solve(a, fnp.asarray(b)), (a,), (t,))[1]

    check_vmap(f, [a, t], [0, 0], atol=1e-9, rtol=1e-9)
    check_vmap(f, [a[0], t], [None, 0], atol=1e-9, rtol=1e-9)


def test_nested_vmap():
    a = well_conditioned((2, 3, 4, 4), seed=1)
    b = rhs((3, 4, 2), seed=2)
    inner = fg.vmap(linalg.solve, in_axes=(0, 0))
    out = fg.vmap(inner, in_axes=(0, None))(fnp.asarray(a), fnp.asarray(b))
    check_close(out, np.linalg.solve(a, b), atol=1e-10, rtol=1e-10)
    out = fg.vmap(fg.vmap(linalg.slogdet))(fnp.asarray(a))
    check_close(out, tuple(np.linalg.slogdet(a)), atol=1e-10, rtol=1e-10)
