"""Shared test helpers: numerical gradient checks (check_grads) and conversions."""

from __future__ import annotations

import numpy as np

import funcgrad as fg
from funcgrad.core.tree import tree_flatten, tree_map, tree_unflatten

EPS = 1e-4


def to_np(tree):
    """A pytree of funcgrad arrays as float64-preserving NumPy arrays."""
    return tree_map(lambda x: np.asarray(x), tree)


def _inner(a, b):
    la, lb = tree_flatten(a)[0], tree_flatten(b)[0]
    # No conjugation: funcgrad's vjp is the transpose of the jvp (JAX's convention).
    return sum(float(np.real(np.sum(np.asarray(x) * np.asarray(y)))) for x, y in zip(la, lb))


def _add(a, b, s):
    return tree_map(lambda x, y: fg.numpy.asarray(np.asarray(x) + s * np.asarray(y)), a, b)


def _rand_like(rng, tree):
    leaves, td = tree_flatten(tree)
    out = []
    for x in leaves:
        x = np.asarray(x)
        v = rng.standard_normal(x.shape)
        if x.dtype.kind == "c":
            v = v + 1j * rng.standard_normal(x.shape)
        out.append(v.astype(x.dtype))
    return tree_unflatten(td, out)


def numerical_jvp(f, args, tangents, eps=EPS):
    """Central difference of f along ``tangents``."""
    plus = f(*[_add(a, t, eps) for a, t in zip(args, tangents)])
    minus = f(*[_add(a, t, -eps) for a, t in zip(args, tangents)])
    return tree_map(lambda p, m: (np.asarray(p) - np.asarray(m)) / (2 * eps), plus, minus)


def check_close(a, b, atol=1e-5, rtol=1e-5, err_msg=""):
    la, ta = tree_flatten(a)
    lb, tb = tree_flatten(b)
    assert ta == tb, f"structures differ: {ta} vs {tb} {err_msg}"
    for x, y in zip(la, lb):
        np.testing.assert_allclose(
            np.asarray(x), np.asarray(y), atol=atol, rtol=rtol, err_msg=err_msg
        )


def check_jvp(f, args, atol=1e-5, rtol=1e-5, eps=EPS, rng=None):
    rng = rng or np.random.default_rng(0)
    tangents = [_rand_like(rng, a) for a in args]
    _, t_out = fg.jvp(f, tuple(args), tuple(tangents))
    t_num = numerical_jvp(f, args, tangents, eps)
    check_close(t_out, t_num, atol, rtol, err_msg="jvp vs central differences")


def check_vjp(f, args, atol=1e-5, rtol=1e-5, eps=EPS, rng=None):
    """Checks <v, J u> (forward, numerically) against <J^T v, u> (reverse)."""
    rng = rng or np.random.default_rng(1)
    out, f_vjp = fg.vjp(f, *args)
    u = [_rand_like(rng, a) for a in args]
    v = _rand_like(rng, out)
    ju = numerical_jvp(f, args, u, eps)
    jtv = f_vjp(v)
    lhs = _inner(v, ju)
    rhs = _inner(jtv, u)
    assert np.isclose(lhs, rhs, atol=atol, rtol=rtol), (
        f"vjp check failed: <v, J u> = {lhs} but <J^T v, u> = {rhs}"
    )


def check_grads(f, args, order=2, modes=("fwd", "rev"), atol=1e-5, rtol=1e-5, eps=EPS):
    """Checks f's derivatives to ``order`` against central differences (use float64 inputs).

    Forward mode compares jvp with a directional difference; reverse mode checks the
    inner-product identity ``<v, J u> = <J^T v, u>``. Higher orders check the derivative
    functions themselves (the jvp, or the vjp along a fixed cotangent).
    """
    args = tuple(fg.numpy.asarray(a) for a in args)
    rng = np.random.default_rng(order)
    tol = dict(atol=atol, rtol=rtol, eps=eps)
    if "fwd" in modes:
        check_jvp(f, args, **tol)
        if order > 1:
            tangents = tuple(fg.numpy.asarray(_rand_like(rng, a)) for a in args)

            def f_jvp(*primals):
                return fg.jvp(f, primals, tangents)[1]

            check_grads(f_jvp, args, order - 1, ("fwd",), atol, rtol, eps)
    if "rev" in modes:
        check_vjp(f, args, **tol)
        if order > 1:
            out = f(*args)
            v = tree_map(fg.numpy.asarray, _rand_like(rng, out))

            def f_vjp(*primals):
                return fg.vjp(f, *primals)[1](v)

            check_grads(f_vjp, args, order - 1, ("rev",), atol, rtol, eps)


def check_vmap(f, args, in_axes, atol=1e-6, rtol=1e-6):
    """``vmap(f, in_axes)(*args)`` equals a Python loop of ``f`` over the mapped axis, stacked.

    ``in_axes`` has one entry per argument (an int, negative allowed, or None).
    """
    args = [np.asarray(a) for a in args]
    sizes = {a.shape[ax] for a, ax in zip(args, in_axes) if ax is not None}
    assert len(sizes) == 1, "check_vmap: mapped arguments need one size"
    (n,) = sizes
    out = fg.vmap(f, in_axes=tuple(in_axes))(*[fg.numpy.asarray(a) for a in args])
    rows = []
    for i in range(n):
        sliced = [a if ax is None else np.take(a, i, axis=ax) for a, ax in zip(args, in_axes)]
        rows.append(f(*[fg.numpy.asarray(s) for s in sliced]))
    if n == 0:
        leaves = tree_flatten(out)[0]
        assert all(np.asarray(leaf).shape[0] == 0 for leaf in leaves)
        return
    expected = tree_map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *rows)
    check_close(out, expected, atol, rtol, err_msg=f"vmap with in_axes={in_axes} vs a loop")
    for o, e in zip(tree_flatten(out)[0], tree_flatten(expected)[0]):
        assert np.asarray(o).dtype == np.asarray(e).dtype, (o.dtype, e.dtype)
