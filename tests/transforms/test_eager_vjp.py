"""The eager backward pass (NumPy rules, grad.eager_vjp_rules) against the funcgrad rules."""

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
import funcgrad.transforms.grad as grad_module
from funcgrad import lax, nn
from tests.helpers import check_close


@pytest.fixture
def funcgrad_rules(monkeypatch):
    """Runs the backward passes inside the test with the funcgrad rules only."""

    def run(f, *args):
        monkeypatch.setattr(grad_module, "use_eager_vjp_rules", False)
        try:
            return f(*args)
        finally:
            monkeypatch.setattr(grad_module, "use_eager_vjp_rules", True)

    return run


def _mlp_loss(params, x, labels):
    h = fnp.maximum(x @ params["w0"] + params["b0"], 0)
    h = fnp.minimum(h, 3.0) * 0.5 - h / 4 + (h**2) * 0.1
    logits = h @ params["w1"].T + params["b1"]
    loss = nn.cross_entropy(logits, labels)
    return loss + fnp.mean(fnp.exp(-(logits**2))) - fnp.sum(lax.softmax(logits, 0)[:, 0]) / 3


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mlp_gradients_agree_with_the_funcgrad_rules(dtype, funcgrad_rules):
    rng = np.random.default_rng(0)
    params = {
        "w0": fnp.asarray(rng.standard_normal((5, 4)).astype(dtype)),
        "b0": fnp.asarray(rng.standard_normal(4).astype(dtype)),
        "w1": fnp.asarray(rng.standard_normal((3, 4)).astype(dtype)),
        "b1": fnp.asarray(rng.standard_normal(3).astype(dtype)),
    }
    x = fnp.asarray(rng.standard_normal((6, 5)).astype(dtype))
    labels = fnp.asarray(rng.integers(0, 3, 6))
    vg = fg.value_and_grad(_mlp_loss)
    fast = vg(params, x, labels)
    slow = funcgrad_rules(vg, params, x, labels)
    for a, b in zip(fg.tree_util.tree_leaves(fast), fg.tree_util.tree_leaves(slow)):
        assert a.dtype == b.dtype == dtype
        assert a.shape == b.shape
    check_close(fast, slow, rtol=1e-6 if dtype == np.float32 else 1e-12, atol=1e-7)


def test_broadcasting_weak_scalars_and_dtypes(funcgrad_rules):
    def f(a, b, c):
        y = (a * 2 + b) / (c + 3.0) - fnp.log(c + 4.0) * b.astype(fnp.float64)
        return fnp.sum(y.reshape(-1) ** 3) + fnp.max(a) * 1.5

    a = fnp.asarray(np.arange(6.0, dtype=np.float32).reshape(2, 3))
    b = fnp.asarray(np.float32([[0.5], [1.5]]))
    c = fnp.asarray(np.float32([1.0, 2.0, 3.0]))
    g = fg.grad(f, argnums=(0, 1, 2))
    fast, slow = g(a, b, c), funcgrad_rules(g, a, b, c)
    assert [x.dtype for x in fast] == [x.dtype for x in slow] == [np.float32] * 3
    assert [x.shape for x in fast] == [(2, 3), (2, 1), (3,)]
    check_close(fast, slow, rtol=1e-6)


def test_unary_where_and_transpose_agree(funcgrad_rules):
    def f(x, y):
        z = fnp.where(x > 0.2, fnp.sin(x) * fnp.tanh(y), fnp.sqrt(y) / (1 + fnp.abs(x)))
        return fnp.sum(fnp.transpose(z, (1, 0, 2))[0] ** 2) + fnp.sum(fnp.log1p(y).T)

    rng = np.random.default_rng(3)
    x = fnp.asarray(rng.standard_normal((2, 3, 4)))
    y = fnp.asarray(rng.uniform(0.5, 2.0, (3, 1)))
    g = fg.grad(f, argnums=(0, 1))
    fast, slow = g(x, y), funcgrad_rules(g, x, y)
    assert [a.shape for a in fast] == [(2, 3, 4), (3, 1)]
    check_close(fast, slow, rtol=1e-12)


def test_complex_vjp_agrees(funcgrad_rules):
    def f(z):
        return z * (1 + 2j) / (z + 3) - fnp.exp(z)

    z = fnp.asarray(np.array([0.5 + 1j, -1 - 0.25j]))
    ct = fnp.asarray(np.array([1 - 1j, 2 + 0.5j]))
    fast = fg.vjp(f, z)[1](ct)
    slow = funcgrad_rules(lambda: fg.vjp(f, z)[1](ct))
    check_close(fast, slow, rtol=1e-12)


def test_the_eager_pass_runs_numpy_rules_only(monkeypatch):
    """A function of primitives that all have eager rules never reaches the funcgrad rules."""

    funcgrad_entry = grad_module._vjp_entry

    def refuse(*args, raw=False):
        if raw:  # the eager pass falling back to a funcgrad rule
            raise AssertionError("a funcgrad vjp rule ran in the eager backward pass")
        return funcgrad_entry(*args)  # traced passes (jit's below) use them, as they should

    monkeypatch.setattr(grad_module, "_vjp_entry", refuse)
    x = fnp.asarray(np.float32([[1.0, -2.0], [3.0, 0.5]]))
    g = fg.grad(lambda x: fnp.sum(fnp.maximum(x @ x + 1, 0) * x))(x)
    expected = fg.jit(fg.grad(lambda x: fnp.sum(fnp.maximum(x @ x + 1, 0) * x)))(x)
    check_close(g, expected, rtol=1e-6)


def test_higher_order_and_traced_passes_use_the_funcgrad_rules():
    # grad of grad: the inner backward pass runs on tracers, so it needs the funcgrad rules.
    f = lambda x: fnp.sum(fnp.exp(x) * x)  # noqa: E731
    x = fnp.asarray(np.float64([0.3, -0.2]))
    hess_diag = fg.vmap(lambda v: fg.jvp(fg.grad(f), (x,), (v,))[1])(fnp.eye(2, dtype=fnp.float64))
    expected = np.diag(np.exp(np.float64([0.3, -0.2])) * (np.float64([0.3, -0.2]) + 2))
    check_close(hess_diag, expected, rtol=1e-12)
    check_close(fg.grad(lambda x: fg.grad(f)(x).sum())(x), np.diag(expected), rtol=1e-12)
