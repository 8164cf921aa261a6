"""Named-axis collectives under vmap: values against NumPy, derivatives against loops, errors."""

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import lax
from funcgrad.core.primitive import ShapedArray, abstract_eval_rules
from funcgrad.lax.parallel import all_gather_p, axis_index_p, psum_p
from tests.helpers import check_close, check_grads

RNG = np.random.default_rng(0)
X = RNG.standard_normal((4, 3, 2))  # 4 members of shape (3, 2) along axis 0


def vmap_i(f, **kw):
    return fg.vmap(f, axis_name="i", **kw)


# ----------------------------------------------------------------------------- values


@pytest.mark.parametrize(
    "coll, ref",
    [
        (lax.psum, lambda x: x.sum(0)),
        (lax.pmean, lambda x: x.mean(0)),
        (lax.pmax, lambda x: x.max(0)),
        (lax.pmin, lambda x: x.min(0)),
    ],
)
@pytest.mark.parametrize("in_axis", [0, 1, -1])
def test_reductions_match_numpy(coll, ref, in_axis):
    x = np.moveaxis(X, 0, in_axis)
    out = vmap_i(lambda v: coll(v, "i"), in_axes=in_axis)(x)
    check_close(out, np.broadcast_to(ref(X), X.shape), atol=1e-12)
    # the result is one value for all members: out_axes=None is allowed
    out = vmap_i(lambda v: coll(v, "i"), in_axes=in_axis, out_axes=None)(x)
    check_close(out, ref(X), atol=1e-12)


def test_normalize_by_psum():
    x = np.array([1.0, 3.0], np.float32)
    out = vmap_i(lambda v: v / lax.psum(v, "i"))(x)
    assert out.dtype == np.float32
    check_close(out, np.array([0.25, 0.75]))


@pytest.mark.parametrize("axis", [0, 1, 2, -1, -3])
def test_all_gather(axis):
    out = vmap_i(lambda v: lax.all_gather(v, "i", axis=axis))(X)
    expected = np.moveaxis(X, 0, axis % 3)
    check_close(out, np.broadcast_to(expected, (4,) + expected.shape))


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_all_gather_tiled(axis):
    out = vmap_i(lambda v: lax.all_gather(v, "i", axis=axis, tiled=True), in_axes=1)(
        np.moveaxis(X, 0, 1)
    )
    expected = np.concatenate(list(X), axis=axis)
    check_close(out, np.broadcast_to(expected, (4,) + expected.shape))


def test_ppermute_cyclic_and_partial():
    shift = [(k, (k + 1) % 4) for k in range(4)]
    out = vmap_i(lambda v: lax.ppermute(v, "i", shift))(X)
    check_close(out, np.roll(X, 1, axis=0))
    partial = [(0, 2), (3, 0)]  # members 1 and 3 receive nothing: zeros
    out = vmap_i(lambda v: lax.ppermute(v, "i", partial), in_axes=2, out_axes=1)(
        np.moveaxis(X, 0, 2)
    )
    expected = np.zeros_like(X)
    expected[2], expected[0] = X[0], X[3]
    check_close(out, np.moveaxis(expected, 0, 1))


def test_axis_index():
    out = vmap_i(lambda v: v * lax.axis_index("i"))(X)
    check_close(out, X * np.arange(4)[:, None, None])
    idx = vmap_i(lambda v: lax.axis_index("i"))(X)
    assert idx.dtype == np.int32 and list(np.asarray(idx)) == [0, 1, 2, 3]


def test_unbatched_operands_still_run_over_the_axis():
    c = fnp.asarray(np.array([1.0, 2.0]))
    f = vmap_i(lambda v: (lax.psum(1.0, "i"), lax.psum(c, "i"), lax.pmax(c, "i"), v))
    n, s, m, _ = f(np.zeros(5))
    check_close(n, np.full(5, 5.0))
    check_close(s, np.tile([5.0, 10.0], (5, 1)))
    check_close(m, np.tile([1.0, 2.0], (5, 1)))
    g = vmap_i(lambda v: lax.all_gather(c, "i"), axis_size=3, in_axes=None)(0.0)
    check_close(g, np.broadcast_to(np.asarray(c), (3, 3, 2)))
    p = vmap_i(lambda v: lax.ppermute(c, "i", [(0, 1)]), axis_size=3, in_axes=None)(0.0)
    check_close(p, np.array([[0.0, 0.0], [1.0, 2.0], [0.0, 0.0]]))


def test_pytrees():
    tree = {"a": X, "b": (X[:, 0], X[:, :, 1])}
    out = vmap_i(lambda t: lax.psum(t, "i"))(tree)
    expected = fg.tree_util.tree_map(lambda x: np.broadcast_to(x.sum(0), x.shape), tree)
    check_close(out, expected)
    out = vmap_i(lambda t: lax.all_gather(t, "i"))(tree)
    check_close(out["b"][0], np.broadcast_to(X[:, 0], (4,) + X[:, 0].shape))
    out = vmap_i(lambda t: lax.pmean(lax.ppermute(t, "i", [(0, 1), (1, 0)]), "i"))(tree)
    check_close(out["a"], np.broadcast_to((X[0] + X[1]) / 4, X.shape))


# ----------------------------------------------------------------------------- nested vmap


Y = RNG.standard_normal((2, 3, 4))  # axis "i" (size 2), then axis "j" (size 3)


def vmap_ij(f):
    return fg.vmap(fg.vmap(f, axis_name="j"), axis_name="i")


def test_nested_reductions():
    def f(v):
        return lax.psum(v, "i"), lax.psum(v, "j"), lax.psum(v, ("i", "j")), lax.pmax(v, "j")

    si, sj, sij, mj = vmap_ij(f)(Y)
    check_close(si, np.broadcast_to(Y.sum(0, keepdims=True), Y.shape))
    check_close(sj, np.broadcast_to(Y.sum(1, keepdims=True), Y.shape))
    check_close(sij, np.broadcast_to(Y.sum((0, 1), keepdims=True), Y.shape))
    check_close(mj, np.broadcast_to(Y.max(1, keepdims=True), Y.shape))
    check_close(
        vmap_ij(lambda v: lax.pmean(v, ("i", "j")))(Y), np.broadcast_to(Y.mean((0, 1)), Y.shape)
    )


def test_nested_axis_index_and_gather():
    idx = vmap_ij(lambda v: (lax.axis_index("i"), lax.axis_index("j"), lax.axis_index(("i", "j"))))(
        Y
    )
    check_close(idx[0], np.repeat(np.arange(2)[:, None], 3, 1))
    check_close(idx[1], np.repeat(np.arange(3)[None], 2, 0))
    check_close(idx[2], np.arange(6).reshape(2, 3))
    for axis in (0, 1, -1):
        gi = vmap_ij(lambda v, ax=axis: lax.all_gather(v, "i", axis=ax))(Y)  # outer name, inside
        gj = vmap_ij(lambda v, ax=axis: lax.all_gather(v, "j", axis=ax))(Y)
        for a in range(2):
            for b in range(3):
                check_close(gi[a, b], np.moveaxis(Y[:, b], 0, axis % 2))
                check_close(gj[a, b], np.moveaxis(Y[a], 0, axis % 2))
    gt = vmap_ij(lambda v: lax.all_gather(v, "i", tiled=True))(Y)
    check_close(gt[1, 2], np.concatenate([Y[0, 2], Y[1, 2]]))


def test_nested_ppermute():
    out = vmap_ij(
        lambda v: lax.ppermute(v, "i", [(0, 1), (1, 0)]) + lax.ppermute(v, "j", [(0, 2)])
    )(Y)
    expected = Y[::-1].copy()
    expected[:, 2] += Y[:, 0]
    check_close(out, expected)


def test_inner_name_shadows_outer():
    out = fg.vmap(fg.vmap(lambda v: lax.psum(v, "i"), axis_name="i"), axis_name="i")(Y)
    check_close(out, np.broadcast_to(Y.sum(1, keepdims=True), Y.shape))


# ----------------------------------------------------------------------------- derivatives

# Each case: a per-member function f(v) using collectives over "i", and the total loss of all
# members written as a Python loop over the members with no collectives. JAX's semantics make
# vmap(grad(f)) (the transpose of psum is psum) and grad(sum of vmap(f)) both equal grad(total).
N = 4
XS = RNG.standard_normal((N, 3))
SHIFT = [(k, (k + 1) % N) for k in range(N)]


def _loop_total(member):
    def total(xs):
        members = [xs[k] for k in range(N)]
        return sum(member(k, members) for k in range(N))

    return total


CASES = {
    "psum": (
        lambda v: fnp.sum(fnp.sin(v) * lax.psum(v**2, "i")),
        lambda k, m: fnp.sum(fnp.sin(m[k]) * sum(x**2 for x in m)),
    ),
    "pmean": (
        lambda v: fnp.sum((v - lax.pmean(v, "i")) ** 2),
        lambda k, m: fnp.sum((m[k] - sum(m) / N) ** 2),
    ),
    "pmax": (
        lambda v: fnp.sum(v * lax.pmax(fnp.tanh(v), "i")),
        lambda k, m: fnp.sum(m[k] * fnp.max(fnp.stack([fnp.tanh(x) for x in m]), axis=0)),
    ),
    "pmin": (
        lambda v: fnp.sum(lax.pmin(v**3, "i")),
        lambda k, m: fnp.sum(fnp.min(fnp.stack([x**3 for x in m]), axis=0)),
    ),
    "all_gather": (
        lambda v: fnp.sum(fnp.cos(v)[:, None] * lax.all_gather(v, "i", axis=1) ** 2),
        lambda k, m: fnp.sum(fnp.cos(m[k])[:, None] * fnp.stack(m, axis=1) ** 2),
    ),
    "all_gather_tiled": (
        lambda v: fnp.sum(
            fnp.exp(lax.all_gather(v * v, "i", tiled=True)) * (lax.axis_index("i") + 1.0)
        ),
        lambda k, m: fnp.sum(fnp.exp(fnp.concatenate([x * x for x in m]))) * (k + 1.0),
    ),
    "ppermute": (
        lambda v: fnp.sum(fnp.sin(v) * lax.ppermute(v**2, "i", SHIFT)),
        lambda k, m: fnp.sum(fnp.sin(m[k]) * m[(k - 1) % N] ** 2),
    ),
    "ppermute_partial": (
        lambda v: fnp.sum(fnp.exp(lax.ppermute(v, "i", [(0, 3), (2, 1)])) * v),
        lambda k, m: fnp.sum(fnp.exp({3: m[0], 1: m[2]}.get(k, 0.0 * m[0])) * m[k]),
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_grad_matches_loop(case):
    f, member = CASES[case]
    total = _loop_total(member)
    xs = fnp.asarray(XS)
    expected = fg.grad(total)(xs)
    check_close(vmap_i(fg.grad(f))(xs), expected, atol=1e-10)  # vmap of grad
    check_close(fg.grad(lambda z: fnp.sum(vmap_i(f)(z)))(xs), expected, atol=1e-10)
    check_close(vmap_i(f)(xs), fnp.stack([member(k, list(XS)) for k in range(N)]), atol=1e-10)


@pytest.mark.parametrize("case", sorted(CASES))
def test_jvp_matches_loop(case):
    # vmap of jvp applies the collectives' jvp rules; jvp of vmap their batch rules.
    f, member = CASES[case]
    xs, ts = fnp.asarray(XS), fnp.asarray(RNG.standard_normal(XS.shape))
    _, t_inner = vmap_i(lambda x, t: fg.jvp(f, (x,), (t,)))(xs, ts)
    _, t_outer = fg.jvp(vmap_i(f), (xs,), (ts,))
    _, t_loop = fg.jvp(
        lambda z: fnp.stack([member(k, [z[j] for j in range(N)]) for k in range(N)]), (xs,), (ts,)
    )
    check_close(t_outer, t_loop, atol=1e-10)
    # the per-member jvp sees the other members' tangents through the collective
    check_close(t_inner, t_loop, atol=1e-10)


@pytest.mark.parametrize("case", ["psum", "all_gather", "ppermute", "pmean"])
def test_numerical_grads_of_vmapped_collectives(case):
    f, _ = CASES[case]
    check_grads(vmap_i(f), (XS,), order=2)
    check_grads(vmap_i(fg.grad(f)), (XS,), order=1)


def test_grad_psum_of_scalar_is_axis_size():
    # JAX: the cotangent 1 of every member is summed, so d psum(x) / dx is the axis size.
    check_close(
        vmap_i(fg.grad(lambda v: lax.psum(v, "i")))(np.arange(3.0)), np.array([3.0, 3.0, 3.0])
    )
    check_close(
        vmap_i(fg.grad(lambda v: lax.pmean(v, "i")))(np.arange(3.0)), np.array([1.0, 1.0, 1.0])
    )


def test_pmax_ties_share_the_gradient():
    x = np.array([1.0, 3.0, 3.0])
    g = fg.grad(lambda z: fnp.sum(vmap_i(lambda v: lax.pmax(v, "i"))(z)))(x)
    check_close(g, np.array([0.0, 1.5, 1.5]))


def test_grad_through_closed_over_parameter():
    xs = fnp.asarray(XS)
    p = fnp.asarray(np.array([0.5, -1.0, 2.0]))
    # p is the same for every member: psum(p) is N * p, and its gradient flows through that.
    loss = lambda p: fnp.sum(vmap_i(lambda x: x * lax.psum(p, "i"))(xs))  # noqa: E731
    check_close(fg.grad(loss)(p), N * XS.sum(0), atol=1e-10)
    # Per member, p is that member's copy: psum's transpose sums the members' cotangents.
    per_member = vmap_i(fg.grad(lambda p, x: fnp.sum(x * lax.psum(p * p, "i"))), in_axes=(None, 0))
    check_close(
        per_member(p, xs), np.broadcast_to(2 * np.asarray(p) * XS.sum(0), XS.shape), atol=1e-10
    )


def test_nested_grad_over_two_axes():
    def f(v):
        return fnp.sum(fnp.sin(v) * lax.psum(v, "j") * lax.pmean(v, "i"))

    def total(y):
        rows = []
        for a in range(2):
            for b in range(3):
                sj = sum(y[a, c] for c in range(3))
                mi = sum(y[c, b] for c in range(2)) / 2
                rows.append(fnp.sum(fnp.sin(y[a, b]) * sj * mi))
        return sum(rows)

    y = fnp.asarray(Y)
    check_close(vmap_ij(fg.grad(f))(y), fg.grad(total)(y), atol=1e-10)
    check_close(fg.grad(lambda z: fnp.sum(vmap_ij(f)(z)))(y), fg.grad(total)(y), atol=1e-10)


# ----------------------------------------------------------------------------- errors


def test_unbound_axis_name_error_names_the_axis_and_the_axes_in_scope():
    with pytest.raises(NameError, match=r"psum: unbound axis name 'k'.*\['i'\]"):
        vmap_i(lambda v: lax.psum(v, "k"))(X)
    with pytest.raises(NameError, match=r"unbound axis name 'k'.*\['i', 'j'\]"):
        vmap_ij(lambda v: lax.all_gather(v, "k"))(Y)
    with pytest.raises(lax.UnboundAxisError, match=r"axis_index: unbound axis name 'i'.*\[\]"):
        lax.axis_index("i")
    with pytest.raises(NameError, match=r"pmean: unbound axis name 'i'"):
        lax.pmean(1.0, "i")
    with pytest.raises(NameError, match=r"ppermute: unbound axis name 3"):
        fg.vmap(lambda v: lax.ppermute(v, 3, [(0, 1)]))(X)  # a vmap with no axis_name
    with pytest.raises(NameError, match="pmax: unbound"):
        fg.grad(lambda v: lax.pmax(v, "i"))(1.0)


def test_any_hashable_axis_name():
    name = ("data", 0)  # a tuple stands for several names; a frozenset is one hashable name
    out = fg.vmap(lambda v: lax.psum(v, frozenset(name)), axis_name=frozenset(name))(X)
    check_close(out, np.broadcast_to(X.sum(0), X.shape))
    out = fg.vmap(lambda v: lax.psum(v, 7), axis_name=7)(X)
    check_close(out, np.broadcast_to(X.sum(0), X.shape))


def test_bad_arguments():
    with pytest.raises(ValueError, match="ppermute: perm .* destination more than once"):
        lax.ppermute(X, "i", [(0, 1), (2, 1)])
    with pytest.raises(ValueError, match=r"ppermute: the pair \(0, 9\).*size 4"):
        vmap_i(lambda v: lax.ppermute(v, "i", [(0, 9)]))(X)
    with pytest.raises(ValueError, match="all_gather: axis 3 is out of range"):
        vmap_i(lambda v: lax.all_gather(v, "i", axis=3))(X)


def test_abstract_eval():
    x = ShapedArray((3, 2), np.dtype(np.float32))
    assert abstract_eval_rules[psum_p](x, axis_name="i") == x
    assert abstract_eval_rules[axis_index_p](axis_name="i").dtype == np.int32

    def shapes(v):
        untiled = abstract_eval_rules[all_gather_p](x, axis_name="i", axis=1, tiled=False)
        tiled = abstract_eval_rules[all_gather_p](x, axis_name="i", axis=-1, tiled=True)
        assert untiled.shape == (3, 4, 2) and tiled.shape == (3, 8)
        return v

    vmap_i(shapes)(X)
    with pytest.raises(NameError, match="all_gather: unbound axis name 'i'"):
        abstract_eval_rules[all_gather_p](x, axis_name="i", axis=0, tiled=False)
