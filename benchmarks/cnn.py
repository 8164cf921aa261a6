"""cnn: one SGD step of the seed CNN (two conv + ReLU + max-pool blocks, two linear layers).

The funcgrad variant is what a user writes: an ``nn.Module``, ``nn.cross_entropy`` on integer
labels, ``fg.value_and_grad`` and ``optim.sgd``. The NumPy variant is written by hand: im2col
(``as_strided`` + one matmul) per convolution, ``np.maximum`` over the four pooling views, a
hand-written backward with a 9-step col2im, and an in-place SGD update.
"""

import statistics
import time
import tracemalloc

import numpy as np

import funcgrad as fg
import funcgrad.numpy as fnp
from benchmarks import Variant, assert_close
from benchmarks.conv import _conv_bwd, _conv_fwd
from funcgrad import nn, optim

NAME = "cnn"
DESCRIPTION = (
    "one SGD step of the seed CNN, batch 64, (3, 32, 32) float32: conv 3->32, ReLU, maxpool 2, "
    "conv 32->64, ReLU, maxpool 2, fc 4096->128, ReLU, fc 128->10, cross-entropy; nn + optim "
    "vs hand-written NumPy"
)
BATCH, SIZE, CLASSES, LR = 64, 32, 10, 0.01


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(64 * 8 * 8, 128)
        self.fc2 = nn.Linear(128, CLASSES)

    def forward(self, x):
        x = self.pool(nn.relu(self.conv1(x)))
        x = self.pool(nn.relu(self.conv2(x)))
        x = nn.relu(self.fc1(x.reshape(x.shape[0], -1)))
        return self.fc2(x)


model = CNN()
opt = optim.sgd(LR)


def loss_fn(params, x, y):
    return nn.cross_entropy(model.apply(params, x), y)


_loss_and_grad = fg.value_and_grad(loss_fn)


def funcgrad_step(state, x, y):
    loss, grads = _loss_and_grad(state.params, x, y)
    return loss, opt.update(state, grads)


# ----------------------------------------------------------------------------- NumPy by hand

_OFFSETS = ((0, 0), (0, 1), (1, 0), (1, 1))


def _pool_fwd(x):
    """2x2/stride-2 max pooling of ``x`` (N, C, H, W): np.maximum over the four window views."""
    views = [x[:, :, i::2, j::2] for i, j in _OFFSETS]
    out = np.maximum(views[0], views[1])
    np.maximum(out, views[2], out=out)
    np.maximum(out, views[3], out=out)
    return out, views


def _pool_bwd(g, out, views, shape, dtype):
    """The gradient of ``_pool_fwd``: each window's first arg-max gets ``g``, the rest 0."""
    dx = np.empty(shape, dtype)
    taken = None
    for k, ((i, j), v) in enumerate(zip(_OFFSETS, views)):
        if k == 3:
            mask = np.logical_not(taken, out=taken)
        else:
            mask = v == out
            if taken is None:
                taken = mask.copy()
            else:
                np.greater(mask, taken, out=mask)  # mask & ~taken: a tie goes to the first view
                taken |= mask
        np.multiply(g, mask, out=dx[:, :, i::2, j::2])
    return dx


def numpy_step(p, x, y):
    """Forward, hand-written backward and an in-place SGD update of ``p``; returns the loss."""
    n = x.shape[0]
    c1w, c1b, c2w, c2b = p["conv1.weight"], p["conv1.bias"], p["conv2.weight"], p["conv2.bias"]
    f1w, f1b, f2w, f2b = p["fc1.weight"], p["fc1.bias"], p["fc2.weight"], p["fc2.bias"]
    a1, cols1 = _conv_fwd(x, c1w)
    a1 += c1b[:, None, None]
    h1 = np.maximum(a1, 0)
    p1, views1 = _pool_fwd(h1)
    a2, cols2 = _conv_fwd(p1, c2w)
    a2 += c2b[:, None, None]
    h2 = np.maximum(a2, 0)
    p2, views2 = _pool_fwd(h2)
    flat = p2.reshape(n, -1)
    z1 = flat @ f1w.T
    z1 += f1b
    h3 = np.maximum(z1, 0)
    z = h3 @ f2w.T
    z += f2b
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    s = e.sum(axis=1, keepdims=True)
    rows = np.arange(n)
    loss = np.mean(np.log(s[:, 0]) - z[rows, y])
    # d loss / d logits = (softmax - onehot(y)) / n
    d = e
    d /= s
    d[rows, y] -= 1
    d *= np.float32(1.0 / n)
    g = {"fc2.weight": d.T @ h3, "fc2.bias": d.sum(axis=0)}
    d = d @ f2w
    d *= z1 > 0
    g["fc1.weight"], g["fc1.bias"] = d.T @ flat, d.sum(axis=0)
    d = (d @ f1w).reshape(p2.shape)
    d = _pool_bwd(d, p2, views2, h2.shape, x.dtype)
    d *= a2 > 0
    g["conv2.bias"] = d.sum(axis=(0, 2, 3))
    d, g["conv2.weight"] = _conv_bwd(d, p1.shape, c2w, cols2)
    d = _pool_bwd(d, p1, views1, h1.shape, x.dtype)
    d *= a1 > 0
    g["conv1.bias"] = d.sum(axis=(0, 2, 3))
    _, g["conv1.weight"] = _conv_bwd(d, x.shape, c1w, cols1, need_dx=False)
    for k, v in g.items():
        v *= np.float32(LR)
        p[k] -= v
    return loss


def setup():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, 3, SIZE, SIZE)).astype(np.float32)
    y = rng.integers(0, CLASSES, BATCH)
    state = opt.init(model.init(fg.random.key(0)))
    np_params = {k: np.array(v) for k, v in nn.state_dict(state.params).items()}
    fx, fy = fnp.asarray(x), fnp.asarray(y)
    loss, new_state = funcgrad_step(state, fx, fy)
    np_loss = numpy_step(np_params, x, y)
    assert np_loss.dtype == np.float32 and all(v.dtype == np.float32 for v in np_params.values())
    got = (loss, nn.state_dict(new_state.params))
    assert_close(got, (np_loss, np_params), NAME, rtol=1e-4, atol=1e-6)
    jitted_step = fg.jit(funcgrad_step)
    assert_close(jitted_step(state, fx, fy), (loss, new_state), f"{NAME} (jit)", rtol=1e-4)
    _inputs[:] = [state, fx, fy]
    return {
        "numpy": Variant(lambda: numpy_step(np_params, x, y)),
        "funcgrad": Variant(lambda: funcgrad_step(state, fx, fy), target_ratio=1.1),
        "funcgrad jit": Variant(lambda: jitted_step(state, fx, fy), target_ratio=1.05),
    }


_inputs: list = []  # (state, x, y) from setup, for report()


def _seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _peak_bytes(fn) -> int:
    """Peak memory traced while ``fn`` runs, above what was allocated before it started."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        out = fn()
        peak = tracemalloc.get_traced_memory()[1] - before
        del out
    finally:
        tracemalloc.stop()
    return peak


def report(repeats: int = 5) -> list[str]:
    """Time to the first result of a newly jitted step (trace + passes + compile + one run)
    against one eager step, and the peak extra memory of one step, eager and jitted."""
    state, x, y = _inputs
    eager = statistics.median(_seconds(lambda: funcgrad_step(state, x, y)) for _ in range(repeats))
    first = statistics.median(
        _seconds(lambda: fg.jit(funcgrad_step)(state, x, y)) for _ in range(repeats)
    )
    limit = 1.5 * eager + 0.05
    jitted = fg.jit(funcgrad_step)
    jitted(state, x, y)
    mem_eager = _peak_bytes(lambda: funcgrad_step(state, x, y))
    mem_jit = _peak_bytes(lambda: jitted(state, x, y))
    return [
        f"time to first result of the jitted step: {first * 1e3:.1f} ms; one eager step "
        f"{eager * 1e3:.1f} ms; target <= 1.5 x eager + 50 ms = {limit * 1e3:.1f} ms  "
        + ("ok" if first <= limit else "MISSED"),
        f"peak extra memory of one step: eager {mem_eager / 2**20:.1f} MiB, jitted "
        f"{mem_jit / 2**20:.1f} MiB; target jitted <= eager  "
        + ("ok" if mem_jit <= mem_eager else "MISSED"),
    ]
