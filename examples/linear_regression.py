"""Linear regression with funcgrad: the PyTorch tutorial's first model, written functionally.

Fits ``y = w * x + b`` to noisy samples of ``y = 2x`` by full-batch gradient descent on the mean
squared error. Run: ``python examples/linear_regression.py [--steps N] [--smoke]``.
"""

import argparse
import sys

import numpy as np

import funcgrad as fg
import funcgrad.numpy as fnp


def make_data(n=1000, seed=0):
    """Samples of y = 2x + noise, as float32 arrays (made with NumPy's random generator)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n).astype(np.float32)
    y = (2.0 * x + 0.1 * rng.standard_normal(n)).astype(np.float32)
    return fnp.asarray(x), fnp.asarray(y)


def loss_fn(params, x, y):
    """Mean squared error of the line ``params["w"] * x + params["b"]``."""
    pred = params["w"] * x + params["b"]
    return fnp.mean((pred - y) ** 2)


def sgd(params, grads, lr):
    """One plain gradient-descent step on every leaf of the parameter pytree."""
    return fg.tree_util.tree_map(lambda p, g: p - lr * g, params, grads)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000, help="SGD steps (default 1000)")
    parser.add_argument("--lr", type=float, default=0.01, help="learning rate (default 0.01)")
    parser.add_argument("--smoke", action="store_true", help="a few steps, no convergence check")
    args = parser.parse_args(argv)
    steps = 10 if args.smoke else args.steps

    x, y = make_data()
    params = {"w": fnp.zeros(()), "b": fnp.zeros(())}  # float32 scalars
    loss_and_grad = fg.value_and_grad(loss_fn)  # (params, x, y) -> (loss, d loss / d params)

    for step in range(1, steps + 1):
        loss, grads = loss_and_grad(params, x, y)
        params = sgd(params, grads, args.lr)
        if step % 100 == 0:
            print(f"step {step:5d}  loss {float(loss):.6f}")

    w, b = float(params["w"]), float(params["b"])
    print(f"final loss {float(loss_fn(params, x, y)):.6f}  w {w:.4f}  b {b:.4f}  (true w=2, b=0)")
    if not args.smoke and abs(w - 2.0) > 0.05:
        print(f"error: learned w = {w:.4f} is not within 0.05 of 2", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
