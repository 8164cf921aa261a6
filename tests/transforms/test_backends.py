"""grad, vmap, jit and control flow on each backend: the same values as on the CPU, results on
the backend's device."""

import numpy as np

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import lax
from funcgrad.scipy.special import logsumexp
from tests.backends import platform


def _loss(w, x, y):
    h = fnp.tanh(x @ w["a"] + w["b"])
    return fnp.mean((h.sum(axis=1) - y) ** 2)


def _data():
    rng = np.random.default_rng(0)
    w = {"a": rng.standard_normal((3, 4)), "b": rng.standard_normal(4)}
    return w, rng.standard_normal((5, 3)), rng.standard_normal(5)


def _on_backend(tree):
    return fg.tree_util.tree_map(fnp.asarray, tree)


def _check(got, expected, backend, rtol=1e-10):
    want = "cpu" if backend == "cpu" else "gpu"
    for g, e in zip(fg.tree_util.tree_leaves(got), fg.tree_util.tree_leaves(expected)):
        assert g.device.platform == want, (g.device, want)
        np.testing.assert_allclose(np.asarray(g), e, rtol=rtol, atol=1e-12)


def _many_ways(w, x, y):
    per_example = fg.vmap(fg.grad(lambda w, xi, yi: _loss(w, xi[None], yi[None])), (None, 0, 0))
    return {
        "value": _loss(w, x, y),
        "grad": fg.grad(_loss)(w, x, y),
        "jit_grad": fg.jit(fg.grad(_loss))(w, x, y),
        "grad_jit": fg.grad(fg.jit(_loss))(w, x, y),
        "per_example": per_example(w, x, y),
        "jvp": fg.jvp(lambda a: _loss({"a": a, "b": w["b"]}, x, y), (w["a"],), (w["a"],))[1],
        "hessian_diag": fnp.diag(fg.hessian(lambda b: _loss({"a": w["a"], "b": b}, x, y))(w["b"])),
        # a NumPy scalar seed cotangent reaching a jitted vjp (reshaped there) stays on the GPU
        "grad_jit_lse": fg.grad(fg.jit(lambda b: fnp.sum(logsumexp(b[:1], axis=-1))))(w["b"]),
    }


def test_grad_vmap_jit_match_the_cpu(backend):
    data = _data()
    with platform("cpu"):
        expected = fg.device_get(_many_ways(*_on_backend(data)))
    _check(_many_ways(*_on_backend(data)), expected, backend)


def _control_flow(x):
    def body(carry, xi):
        carry = lax.cond(xi.sum() > 0, lambda c: c * 0.9 + xi, lambda c: c - xi, carry)
        return carry, fnp.sin(carry)

    last, ys = lax.scan(body, fnp.zeros(x.shape[1], x.dtype), x)
    n = lax.fori_loop(0, 5, lambda i, c: c * 1.1 + i, last)
    return ys.sum() + n.sum()


def _while(x):
    return lax.while_loop(lambda c: c[0] < 5, lambda c: (c[0] + 1, c[1] * 1.1), (0, x))[1]


def test_control_flow_and_its_gradient_match_the_cpu(backend):
    x = np.random.default_rng(1).standard_normal((6, 3))
    ways = lambda x: {  # noqa: E731
        "value": _control_flow(x),
        "jit": fg.jit(_control_flow)(x),
        "grad": fg.grad(_control_flow)(x),
        "jit_grad": fg.jit(fg.grad(_control_flow))(x),
        "while": fg.jit(_while)(x),
        "while_jvp": fg.jvp(_while, (x,), (x,))[1],
    }
    with platform("cpu"):
        expected = fg.device_get(ways(fnp.asarray(x)))
    _check(ways(fnp.asarray(x)), expected, backend)


def test_jit_on_numpy_arguments_runs_on_the_default_device(backend):
    f = fg.jit(lambda a, b: a * b + 1.0)
    out = f(np.arange(3.0), np.float64(2.0))
    assert out.device == fg.devices()[0]
    np.testing.assert_array_equal(np.asarray(out), [1.0, 3.0, 5.0])
    assert f(np.arange(3.0), 2.0).dtype == np.float64  # a weak Python scalar keeps float64


def test_multi_key_sort_and_top_k_match_the_cpu(backend):
    """CuPy's lexsort has no axis and its sorts take no kind: the GPU path sorts key by key."""
    rng = np.random.default_rng(0)
    a, b = (rng.integers(0, 3, (6, 4)).astype(np.float32) for _ in range(2))
    c = rng.standard_normal((6, 4))

    def ways(a, b, c):
        return {
            "sort": lax.sort((a, b, c), dimension=0, num_keys=2),
            "stable": lax.sort((a, c), dimension=1, is_stable=True, num_keys=1),
            "top_k": lax.top_k(a, 2),
            "argsort": fnp.argsort(b, axis=0),
        }

    with platform("cpu"):
        expected = fg.device_get(ways(*map(fnp.asarray, (a, b, c))))
    got = ways(*map(fnp.asarray, (a, b, c)))
    _check(got, expected, backend, rtol=0)
