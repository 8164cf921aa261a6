"""jacfwd, jacrev and hessian: against each other, stacked vjp rows, and closed forms."""

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from tests.helpers import check_close

RNG = np.random.default_rng(0)
A = RNG.standard_normal((3, 4))
X = RNG.standard_normal(4)


def _stacked_vjp_rows(f, x):
    """The Jacobian of an array function of one array, one vjp per output element."""
    out, pullback = fg.vjp(f, x)
    out = np.asarray(out)
    rows = []
    for k in range(out.size):
        e = np.zeros(out.size, out.dtype)
        e[k] = 1.0
        rows.append(np.asarray(pullback(e.reshape(out.shape))[0]))
    return np.stack(rows).reshape(out.shape + np.shape(x))


FUNCTIONS = {
    "matvec": (lambda x: fnp.asarray(A) @ x, X),
    "elementwise": (lambda x: fnp.sin(x) * fnp.exp(x), X),
    "softmax": (lambda x: fnp.exp(x) / fnp.sum(fnp.exp(x)), X),
    "scalar_out": (lambda x: fnp.sum(x**3) * fnp.tanh(x[0]), X),
    "scalar_in": (lambda x: fnp.stack([x, x**2, fnp.sin(x)]), np.float64(0.7)),
    "matrix_in_out": (lambda m: m @ m.T + fnp.log1p(m**2)[:, :3], A),
    "broadcast": (lambda m: fnp.sum(m, axis=0)[None, :] * m, A),
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_jacfwd_equals_jacrev_equals_vjp_rows(name):
    f, x = FUNCTIONS[name]
    x = fnp.asarray(x)
    expected = _stacked_vjp_rows(f, x)
    fwd, rev = fg.jacfwd(f)(x), fg.jacrev(f)(x)
    assert fwd.shape == rev.shape == expected.shape == tuple(f(x).shape) + tuple(x.shape)
    check_close(fwd, expected, atol=1e-10)
    check_close(rev, expected, atol=1e-10)
    check_close(fg.jacobian(f)(x), expected, atol=1e-10)


def test_closed_forms():
    x = fnp.asarray(X)
    check_close(fg.jacfwd(lambda v: fnp.asarray(A) @ v)(x), A)
    check_close(fg.jacrev(lambda v: v**2)(x), np.diag(2 * X), atol=1e-12)
    s = np.exp(X) / np.exp(X).sum()
    check_close(
        fg.jacrev(lambda v: fnp.exp(v) / fnp.sum(fnp.exp(v)))(x), np.diag(s) - np.outer(s, s)
    )


def test_pytree_inputs_and_outputs_layout():
    def f(p, scale):
        return {"y": fnp.tanh(p["w"] @ p["b"]) * scale, "z": (fnp.sum(p["w"] ** 2), p["b"] * 2.0)}

    p = {"w": fnp.asarray(A), "b": fnp.asarray(X)}
    fwd, rev = fg.jacfwd(f)(p, 3.0), fg.jacrev(f)(p, 3.0)
    shapes = fg.tree_util.tree_map(lambda a: a.shape, fwd)
    assert shapes == {
        "y": {"b": (3, 4), "w": (3, 3, 4)},
        "z": ({"b": (4,), "w": (3, 4)}, {"b": (4, 4), "w": (4, 3, 4)}),
    }
    check_close(fwd, rev, atol=1e-10)
    check_close(fwd["z"][0]["w"], 2 * A, atol=1e-12)
    check_close(fwd["z"][1]["b"], 2 * np.eye(4))
    check_close(fwd["z"][1]["w"], np.zeros((4, 3, 4)))
    # one leaf of the result against the stacked vjp rows of that output and input
    check_close(
        fwd["y"]["w"], _stacked_vjp_rows(lambda w: f({"w": w, "b": p["b"]}, 3.0)["y"], p["w"])
    )


@pytest.mark.parametrize("jac", [fg.jacfwd, fg.jacrev])
def test_argnums(jac):
    def f(a, b, c):
        return a * fnp.sin(b) + c

    a, b, c = (fnp.asarray(RNG.standard_normal(3)) for _ in range(3))
    j = jac(f, argnums=(0, 2))(a, b, c)
    assert isinstance(j, tuple) and len(j) == 2
    check_close(j[0], np.diag(np.sin(np.asarray(b))))
    check_close(j[1], np.eye(3))
    check_close(jac(f, argnums=1)(a, b, c), np.diag(np.asarray(a) * np.cos(np.asarray(b))))
    check_close(jac(f, argnums=-1)(a, b, c), np.eye(3))
    check_close(jac(f, argnums=(1,))(a, b, c)[0], jac(f, argnums=1)(a, b, c))
    with pytest.raises(TypeError, match="argnums=3 is out of range"):
        jac(f, argnums=3)(a, b, c)


@pytest.mark.parametrize("jac", [fg.jacfwd, fg.jacrev])
def test_has_aux(jac):
    def f(x):
        y = fnp.sin(x)
        return y * 2.0, {"y": y, "n": 3}

    x = fnp.asarray(X)
    j, aux = jac(f, has_aux=True)(x)
    check_close(j, np.diag(2 * np.cos(X)), atol=1e-12)
    check_close(aux["y"], np.sin(X))
    assert aux["n"] == 3 and isinstance(aux["y"], fg.Array)


def test_hessian_closed_forms():
    x = fnp.asarray(X)
    check_close(fg.hessian(lambda v: fnp.sum(v**3))(x), np.diag(6 * X), atol=1e-12)
    q = A.T @ A
    check_close(fg.hessian(lambda v: v @ fnp.asarray(q) @ v / 2)(x), q, atol=1e-12)
    # log-sum-exp: diag(s) - s s^T
    s = np.exp(X) / np.exp(X).sum()
    check_close(
        fg.hessian(lambda v: fnp.log(fnp.sum(fnp.exp(v))))(x),
        np.diag(s) - np.outer(s, s),
        atol=1e-12,
    )


def test_hessian_many_ways():
    def f(m, v):
        return fnp.sum(fnp.tanh(m @ v) ** 2) + fnp.sum(m**2 * v[None, :])

    m, v = fnp.asarray(A), fnp.asarray(X)
    h = fg.hessian(f)(m, v)
    assert h.shape == (3, 4, 3, 4)
    check_close(h, fg.jacfwd(fg.jacrev(f))(m, v), atol=1e-10)
    check_close(h, fg.jacrev(fg.jacrev(f))(m, v), atol=1e-10)
    check_close(h, fg.jacfwd(fg.jacfwd(f))(m, v), atol=1e-10)
    check_close(h, fg.jacrev(fg.jacfwd(f))(m, v), atol=1e-10)
    check_close(h, fg.jacfwd(fg.grad(f))(m, v), atol=1e-10)
    # hessian-vector product: jvp of grad
    t = RNG.standard_normal(A.shape)
    hvp = fg.jvp(lambda mm: fg.grad(f)(mm, v), (m,), (fnp.asarray(t),))[1]
    check_close(np.tensordot(np.asarray(h), t, axes=2), hvp, atol=1e-10)
    # symmetric
    hm = np.asarray(h).reshape(12, 12)
    check_close(hm, hm.T, atol=1e-10)


def test_hessian_pytree_and_argnums():
    def f(p, c):
        return fnp.sum(p["a"] ** 2 * p["b"]) * c**2

    p = {"a": fnp.asarray(X[:2]), "b": fnp.asarray(X[2:])}
    h = fg.hessian(f)(p, 1.5)
    shapes = fg.tree_util.tree_map(lambda a: a.shape, h)
    assert shapes == {"a": {"a": (2, 2), "b": (2, 2)}, "b": {"a": (2, 2), "b": (2, 2)}}
    a, b = X[:2], X[2:]
    check_close(h["a"]["a"], 2.25 * np.diag(2 * b), atol=1e-12)
    check_close(h["a"]["b"], 2.25 * np.diag(2 * a), atol=1e-12)
    check_close(h["b"]["b"], np.zeros((2, 2)))
    h2 = fg.hessian(f, argnums=(0, 1))(p, fnp.asarray(1.5))
    check_close(h2[1][1], 2 * np.sum(a**2 * b), atol=1e-12)
    # JAX's layout: output tree of the first jacobian, each leaf a tuple over the arguments
    check_close(h2[0]["a"][0], h["a"])
    check_close(h2[0]["b"][0], h["b"])
    check_close(h2[0]["a"][1], 2 * 2 * 1.5 * a * b, atol=1e-12)
    check_close(h2[1][0]["a"], h2[0]["a"][1], atol=1e-12)  # symmetric
    check_close(h2[1][0]["b"], 3.0 * a**2, atol=1e-12)


def test_hessian_has_aux():
    h, aux = fg.hessian(lambda v: (fnp.sum(v**4), fnp.sum(v)), has_aux=True)(fnp.asarray(X))
    check_close(h, np.diag(12 * X**2), atol=1e-12)
    check_close(aux, X.sum())


def test_composes_with_vmap_and_jacobian_of_batched_function():
    f = lambda v: fnp.sin(v) * fnp.sum(v)  # noqa: E731
    xs = RNG.standard_normal((5, 4))
    batched = fg.vmap(fg.jacrev(f))(fnp.asarray(xs))
    for i in range(5):
        check_close(batched[i], fg.jacfwd(f)(fnp.asarray(xs[i])), atol=1e-10)
    per_example_hessians = fg.vmap(fg.hessian(lambda v: fnp.sum(v**3)))(fnp.asarray(xs))
    check_close(per_example_hessians, np.stack([np.diag(6 * x) for x in xs]), atol=1e-10)


def test_dtypes_and_errors():
    x32 = fnp.asarray(X.astype(np.float32))
    assert fg.jacfwd(fnp.sin)(x32).dtype == np.float32
    assert fg.jacrev(fnp.sin)(x32).dtype == np.float32
    with pytest.raises(TypeError, match="jacfwd of .*int"):
        fg.jacfwd(lambda v: v * 2)(np.arange(3))
    with pytest.raises(TypeError, match="jacrev of .*int"):
        fg.jacrev(lambda v: v * 2)(np.arange(3))
    with pytest.raises(TypeError, match="jacrev of .*output has dtype int"):
        fg.jacrev(lambda v: fnp.argmax(v))(x32)


def test_empty_and_constant():
    e = fnp.zeros((0,))
    assert fg.jacfwd(lambda v: v * 2.0)(e).shape == (0, 0)
    assert fg.jacrev(lambda v: v * 2.0)(e).shape == (0, 0)
    check_close(fg.jacrev(lambda v: fnp.ones(2))(fnp.asarray(X)), np.zeros((2, 4)))
    check_close(fg.jacfwd(lambda v: fnp.ones(2))(fnp.asarray(X)), np.zeros((2, 4)))
