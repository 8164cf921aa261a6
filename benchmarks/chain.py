"""chain: value_and_grad of 300 cheap scalar primitives, measuring per-primitive overhead."""

import numpy as np

import funcgrad as fg
import funcgrad.numpy as fnp
from benchmarks import Variant, assert_close

NAME = "chain"
DESCRIPTION = "value_and_grad of 100 x (x = sin(x) * 1.01 + 0.1) on a float32 scalar"
REPS = 100
PRIMITIVES = 3 * REPS  # sin, multiply, add


def f(x):
    for _ in range(REPS):
        x = fnp.sin(x) * 1.01 + 0.1
    return x


def numpy_value_and_grad(x):
    cos = []
    for _ in range(REPS):
        cos.append(np.cos(x))  # d sin(x) / dx, saved for the backward pass
        x = np.sin(x) * 1.01 + 0.1
    g = np.float32(1.0)
    for c in reversed(cos):
        g = g * 1.01 * c
    return x, g


def setup():
    x = np.float32(0.5)
    funcgrad_value_and_grad = fg.value_and_grad(f)
    jitted = fg.jit(fg.value_and_grad(f))
    assert_close(funcgrad_value_and_grad(x), numpy_value_and_grad(x), NAME, atol=0)
    assert_close(jitted(x), numpy_value_and_grad(x), NAME, rtol=1e-6)
    unit = dict(unit="us/primitive", scale=1e6 / PRIMITIVES)
    return {
        "numpy": Variant(lambda: numpy_value_and_grad(x), **unit),
        "funcgrad": Variant(lambda: funcgrad_value_and_grad(x), target=3.0, **unit),
        "funcgrad jit": Variant(lambda: jitted(x), target_ratio=1.5, **unit),
    }
