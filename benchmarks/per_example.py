"""per_example: per-example gradients of a 64-32-1 tanh MLP's squared loss over 256 examples."""

import numpy as np

import funcgrad as fg
import funcgrad.numpy as fnp
from benchmarks import Variant, assert_close

NAME = "per_example"
DESCRIPTION = (
    "per-example gradients, 64-32-1 tanh MLP, squared loss, 256 examples, float32: "
    "vmap(grad) vs closed-form einsum NumPy vs a Python loop of grad (aim: loop >= 30x funcgrad)"
)
SIZES, BATCH = (64, 32, 1), 256


def init_params(rng):
    params = {}
    for i, (m, n) in enumerate(zip(SIZES[:-1], SIZES[1:]), start=1):
        params[f"w{i}"] = (rng.standard_normal((m, n)) / np.sqrt(m)).astype(np.float32)
        params[f"b{i}"] = (0.1 * rng.standard_normal(n)).astype(np.float32)
    return params


def loss(params, x, y):
    """Squared error of the MLP on one example ``x`` (shape (64,)) with target ``y``."""
    h = fnp.tanh(x @ params["w1"] + params["b1"])
    return ((h @ params["w2"] + params["b2"])[0] - y) ** 2


per_example_grads = fg.vmap(fg.grad(loss), in_axes=(None, 0, 0))
jitted_per_example_grads = fg.jit(per_example_grads)
_grad = fg.grad(loss)


def loop_grads(params, examples):
    return [_grad(params, x, y) for x, y in examples]


def numpy_grads(p, x, y):
    """Closed-form per-example gradients: the backward pass with a batch axis kept throughout."""
    h = np.tanh(x @ p["w1"] + p["b1"])  # (B, 32)
    r = 2 * ((h @ p["w2"] + p["b2"])[:, 0] - y)  # d loss / d out, (B,)
    dz = r[:, None] * p["w2"][:, 0] * (1 - h * h)  # (B, 32)
    return {
        "w1": np.einsum("bi,bj->bij", x, dz),
        "b1": dz,
        "w2": np.einsum("bi,b->bi", h, r)[:, :, None],
        "b2": r[:, None],
    }


def setup():
    rng = np.random.default_rng(0)
    params = init_params(rng)
    x = rng.standard_normal((BATCH, SIZES[0])).astype(np.float32)
    y = rng.standard_normal(BATCH).astype(np.float32)

    fg_params = fg.tree_util.tree_map(fnp.asarray, params)
    fx, fy = fnp.asarray(x), fnp.asarray(y)
    examples = [(fnp.asarray(x[i]), fnp.asarray(y[i])) for i in range(BATCH)]
    expected = numpy_grads(params, x, y)
    assert all(v.dtype == np.float32 for v in expected.values())
    batched = per_example_grads(fg_params, fx, fy)
    assert all(v.dtype == np.float32 for v in batched.values())
    assert_close(batched, expected, NAME, rtol=1e-4, atol=1e-5)
    jitted = jitted_per_example_grads(fg_params, fx, fy)
    assert_close(jitted, expected, f"{NAME} (jit)", rtol=1e-4, atol=1e-5)
    looped = fg.tree_util.tree_map(lambda *gs: np.stack(gs), *loop_grads(fg_params, examples))
    assert_close(looped, expected, f"{NAME} (loop)", rtol=1e-4, atol=1e-5)
    return {
        "numpy": Variant(lambda: numpy_grads(params, x, y)),
        "funcgrad": Variant(lambda: per_example_grads(fg_params, fx, fy), target_ratio=2.0),
        "funcgrad jit": Variant(
            lambda: jitted_per_example_grads(fg_params, fx, fy), target_ratio=1.3
        ),
        "loop": Variant(lambda: loop_grads(fg_params, examples)),
    }
