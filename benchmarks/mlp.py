"""mlp: one SGD step of a 784-256-256-10 ReLU MLP with softmax cross-entropy, batch 128.

Variants: ``funcgrad`` (fnp ops on a params dict, one-hot labels, a tree_map update), ``nn`` (the
same step as a user writes it with ``nn.Module``, ``nn.cross_entropy`` on integer labels and
``optim.sgd``) and the hand-written NumPy baseline.
"""

import numpy as np

import funcgrad as fg
import funcgrad.numpy as fnp
from benchmarks import Variant, assert_close
from funcgrad import nn, optim

NAME = "mlp"
DESCRIPTION = "one SGD step, 784-256-256-10 ReLU MLP, softmax cross-entropy, batch 128, float32"
SIZES, BATCH, LR = (784, 256, 256, 10), 128, 0.01


def init_params(rng):
    params = {}
    for i, (m, n) in enumerate(zip(SIZES[:-1], SIZES[1:])):
        params[f"w{i}"] = (rng.standard_normal((m, n)) * np.sqrt(2.0 / m)).astype(np.float32)
        params[f"b{i}"] = np.zeros(n, np.float32)
    return params


def loss_fn(params, x, y):
    h = fnp.maximum(x @ params["w0"] + params["b0"], 0)
    h = fnp.maximum(h @ params["w1"] + params["b1"], 0)
    logits = h @ params["w2"] + params["b2"]
    m = fg.stop_gradient(fnp.max(logits, axis=1, keepdims=True))  # for stability; cancels out
    log_probs = logits - m - fnp.log(fnp.sum(fnp.exp(logits - m), axis=1, keepdims=True))
    return -fnp.mean(fnp.sum(log_probs * y, axis=1))  # y: one-hot labels


_loss_and_grad = fg.value_and_grad(loss_fn)


def funcgrad_step(params, x, y):
    loss, grads = _loss_and_grad(params, x, y)
    return loss, fg.tree_util.tree_map(lambda p, g: p - LR * g, params, grads)


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc0 = nn.Linear(SIZES[0], SIZES[1])
        self.fc1 = nn.Linear(SIZES[1], SIZES[2])
        self.fc2 = nn.Linear(SIZES[2], SIZES[3])

    def forward(self, x):
        x = nn.relu(self.fc0(x))
        x = nn.relu(self.fc1(x))
        return self.fc2(x)


mlp = MLP()
opt = optim.sgd(LR)


def nn_loss(params, x, labels):
    return nn.cross_entropy(mlp.apply(params, x), labels)


_nn_loss_and_grad = fg.value_and_grad(nn_loss)


def nn_step(state, x, labels):
    loss, grads = _nn_loss_and_grad(state.params, x, labels)
    return loss, opt.update(state, grads)


def to_nn_params(params):
    """The ``w{i}``/``b{i}`` dict as the MLP's params; nn.Linear's weight is (out, in)."""
    return {
        f"fc{i}": {
            "weight": fnp.asarray(params[f"w{i}"].T.copy()),
            "bias": fnp.asarray(params[f"b{i}"]),
        }
        for i in range(len(SIZES) - 1)
    }


def from_nn_params(params):
    out = {}
    for i in range(len(SIZES) - 1):
        out[f"w{i}"] = np.asarray(params[f"fc{i}"]["weight"]).T
        out[f"b{i}"] = np.asarray(params[f"fc{i}"]["bias"])
    return out


def numpy_step(p, x, y):
    """Forward, hand-written backward and an in-place SGD update of ``p``; returns the loss."""
    n = x.shape[0]
    h1 = x @ p["w0"]
    h1 += p["b0"]
    np.maximum(h1, 0, out=h1)
    h2 = h1 @ p["w1"]
    h2 += p["b1"]
    np.maximum(h2, 0, out=h2)
    z = h2 @ p["w2"]
    z += p["b2"]
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    s = e.sum(axis=1, keepdims=True)
    loss = -np.vdot(z - np.log(s), y) / n
    # d loss / d logits = (softmax - y) / n, since each row of y sums to 1
    d = e
    d /= s
    d -= y
    d *= np.float32(1.0 / n)
    g = {"w2": h2.T @ d, "b2": d.sum(axis=0)}
    d = d @ p["w2"].T
    d *= h2 > 0
    g["w1"], g["b1"] = h1.T @ d, d.sum(axis=0)
    d = d @ p["w1"].T
    d *= h1 > 0
    g["w0"], g["b0"] = x.T @ d, d.sum(axis=0)
    for k, v in g.items():
        v *= np.float32(LR)
        p[k] -= v
    return loss


def setup():
    rng = np.random.default_rng(0)
    params = init_params(rng)
    x = rng.standard_normal((BATCH, SIZES[0])).astype(np.float32)
    y = np.eye(SIZES[-1], dtype=np.float32)[rng.integers(0, SIZES[-1], BATCH)]

    labels = y.argmax(axis=1)
    np_params = {k: v.copy() for k, v in params.items()}
    fg_params = fg.tree_util.tree_map(fnp.asarray, params)
    fx, fy = fnp.asarray(x), fnp.asarray(y)
    loss, new_params = funcgrad_step(fg_params, fx, fy)
    np_loss = numpy_step(np_params, x, y)
    assert np_loss.dtype == np.float32 and all(v.dtype == np.float32 for v in np_params.values())
    assert_close((loss, new_params), (np_loss, np_params), NAME, rtol=1e-4, atol=1e-5)
    state = opt.init(to_nn_params(params))
    flabels = fnp.asarray(labels)
    nn_loss_, nn_state = nn_step(state, fx, flabels)
    got = (nn_loss_, from_nn_params(nn_state.params))
    assert_close(got, (np_loss, np_params), f"{NAME} (nn)", rtol=1e-4, atol=1e-5)
    jitted_step = fg.jit(funcgrad_step)
    jitted_nn_step = fg.jit(nn_step)
    assert_close(jitted_step(fg_params, fx, fy), (loss, new_params), f"{NAME} (jit)", rtol=1e-5)
    assert_close(jitted_nn_step(state, fx, flabels), (nn_loss_, nn_state), f"{NAME} (nn jit)")
    return {
        "numpy": Variant(lambda: numpy_step(np_params, x, y)),
        "funcgrad": Variant(lambda: funcgrad_step(fg_params, fx, fy), target_ratio=1.15),
        "nn": Variant(lambda: nn_step(state, fx, flabels), target_ratio=1.15),
        "funcgrad jit": Variant(lambda: jitted_step(fg_params, fx, fy), target_ratio=1.05),
        "nn jit": Variant(lambda: jitted_nn_step(state, fx, flabels), target_ratio=1.05),
    }
