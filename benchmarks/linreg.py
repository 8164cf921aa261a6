"""linreg: 1000 full-batch SGD steps of linear regression (examples/linear_regression.py)."""

import numpy as np

import funcgrad as fg
import funcgrad.numpy as fnp
from benchmarks import Variant, assert_close

NAME = "linreg"
DESCRIPTION = "linear regression, 1000 full-batch SGD steps on 1000 points (value_and_grad)"
STEPS, N, LR = 1000, 1000, 0.01


def _data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(N).astype(np.float32)
    y = (2.0 * x + 0.1 * rng.standard_normal(N)).astype(np.float32)
    return x, y


def loss_fn(params, x, y):
    return fnp.mean((params["w"] * x + params["b"] - y) ** 2)


def sgd_step(params, x, y, lr=LR):
    loss, grads = fg.value_and_grad(loss_fn)(params, x, y)
    return loss, fg.tree_util.tree_map(lambda p, g: p - lr * g, params, grads)


jitted_step = fg.jit(sgd_step)


def funcgrad_train(x, y, steps=STEPS, step=sgd_step):
    params = {"w": fnp.zeros(()), "b": fnp.zeros(())}
    for _ in range(steps):
        loss, params = step(params, x, y)
    return loss, params


def numpy_train(x, y, steps=STEPS, lr=LR):
    w = b = np.float32(0.0)
    for _ in range(steps):
        r = w * x + b - y
        loss = np.mean(r * r)
        gw, gb = 2.0 * np.mean(r * x), 2.0 * np.mean(r)  # d loss / dw, d loss / db
        w, b = w - lr * gw, b - lr * gb
    return loss, {"w": w, "b": b}


def setup():
    x, y = _data()
    fx, fy = fnp.asarray(x), fnp.asarray(y)
    expected = numpy_train(x, y, 50)
    assert_close(funcgrad_train(fx, fy, 50), expected, NAME, rtol=1e-5)
    assert_close(funcgrad_train(fx, fy, 50, jitted_step), expected, NAME, rtol=1e-5)
    return {
        "numpy": Variant(lambda: numpy_train(x, y)),
        "funcgrad": Variant(lambda: funcgrad_train(fx, fy), target_ratio=3.0),
        "funcgrad jit": Variant(lambda: funcgrad_train(fx, fy, step=jitted_step), target_ratio=1.2),
    }
