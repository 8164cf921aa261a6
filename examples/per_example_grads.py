"""Per-example gradients with ``vmap(grad(...))``, and DP-SGD built on them.

A small 8-16-1 tanh MLP fits a synthetic regression target. ``fg.vmap(fg.grad(loss),
in_axes=(None, 0, 0))`` gives every example's gradient in one batched call (checked against a
Python loop of ``fg.grad``); DP-SGD then clips each example's gradient to norm C, averages, adds
Gaussian noise and steps. Run: ``python examples/per_example_grads.py [--steps N] [--smoke]``.
"""

import argparse
import sys

import numpy as np

import funcgrad as fg
import funcgrad.numpy as fnp

SIZES = (8, 16, 1)


def make_data(n=256, seed=0):
    """Inputs x ~ N(0, 1) in R^8 and targets y = sin(x . w_true) + noise (NumPy's RNG)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, SIZES[0])).astype(np.float32)
    w_true = rng.standard_normal(SIZES[0]).astype(np.float32) / np.sqrt(SIZES[0])
    y = (np.sin(x @ w_true) + 0.05 * rng.standard_normal(n)).astype(np.float32)
    return fnp.asarray(x), fnp.asarray(y)


def init_params(key):
    k1, k2 = fg.random.split(key)
    return {
        "w1": fg.random.normal(k1, SIZES[:2]) / SIZES[0] ** 0.5,
        "b1": fnp.zeros(SIZES[1]),
        "w2": fg.random.normal(k2, SIZES[1:]) / SIZES[1] ** 0.5,
        "b2": fnp.zeros(SIZES[2]),
    }


def predict(params, x):
    """The MLP on one example ``x`` of shape (8,): a scalar."""
    h = fnp.tanh(x @ params["w1"] + params["b1"])
    return (h @ params["w2"] + params["b2"])[0]


def loss(params, x, y):
    """Squared error on one example."""
    return (predict(params, x) - y) ** 2


def batch_loss(params, xs, ys):
    return fnp.mean(fg.vmap(loss, in_axes=(None, 0, 0))(params, xs, ys))


per_example_grads = fg.vmap(fg.grad(loss), in_axes=(None, 0, 0))


def global_norms(grads):
    """Each example's gradient norm over all parameters: shape (batch,)."""
    squares = [
        fnp.sum(g.reshape(g.shape[0], -1) ** 2, axis=1) for g in fg.tree_util.tree_leaves(grads)
    ]
    return fnp.sqrt(sum(squares))


def dp_sgd_step(params, xs, ys, key, lr, clip, noise_multiplier):
    """One DP-SGD step (Abadi et al., 2016): clip per-example gradients, average, add noise."""
    grads = per_example_grads(params, xs, ys)
    norms = global_norms(grads)
    scale = 1.0 / fnp.maximum(1.0, norms / clip)  # each example's gradient norm is at most clip
    n = xs.shape[0]
    leaves, treedef = fg.tree_util.tree_flatten(grads)
    keys = fg.random.split(key, len(leaves))
    noisy = []
    for k, g in zip(keys, leaves):
        clipped = fnp.sum(g * scale.reshape((n,) + (1,) * (g.ndim - 1)), axis=0)
        noise = fg.random.normal(k, clipped.shape) * (noise_multiplier * clip)
        noisy.append((clipped + noise) / n)
    update = fg.tree_util.tree_unflatten(treedef, noisy)
    return fg.tree_util.tree_map(lambda p, u: p - lr * u, params, update)


def check_against_loop(params, xs, ys):
    """Max |vmap(grad) - loop of grad| over all parameters and examples."""
    batched = per_example_grads(params, xs, ys)
    grad_fn = fg.grad(loss)
    worst = 0.0
    for i in range(xs.shape[0]):
        one = grad_fn(params, xs[i], ys[i])
        for b, g in zip(fg.tree_util.tree_leaves(batched), fg.tree_util.tree_leaves(one)):
            worst = max(worst, float(np.max(np.abs(np.asarray(b[i]) - np.asarray(g)))))
    return worst


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="DP-SGD steps (default 300)")
    parser.add_argument("--lr", type=float, default=0.5, help="learning rate (default 0.5)")
    parser.add_argument("--clip", type=float, default=1.0, help="per-example norm bound C")
    parser.add_argument("--noise", type=float, default=0.5, help="noise multiplier sigma")
    parser.add_argument("--batch", type=int, default=64, help="examples per step (default 64)")
    parser.add_argument("--smoke", action="store_true", help="a few steps, no convergence check")
    args = parser.parse_args(argv)
    steps = 20 if args.smoke else args.steps

    xs, ys = make_data()
    key = fg.random.key(0)
    key, init_key = fg.random.split(key)
    params = init_params(init_key)

    diff = check_against_loop(params, xs[:32], ys[:32])
    norms = global_norms(per_example_grads(params, xs[:8], ys[:8]))
    print(f"per-example gradients: max |vmap(grad) - loop of grad| = {diff:.2e}")
    print("per-example gradient norms (first 8):", np.round(np.asarray(norms), 4))
    if diff > 1e-5:
        print(f"error: vmap(grad) differs from the loop by {diff:.2e} > 1e-5", file=sys.stderr)
        return 1

    rng = np.random.default_rng(1)
    first = float(batch_loss(params, xs, ys))
    print(f"step     0  loss {first:.6f}")
    for step in range(1, steps + 1):
        idx = rng.choice(xs.shape[0], args.batch, replace=False)
        key, sub = fg.random.split(key)
        params = dp_sgd_step(params, xs[idx], ys[idx], sub, args.lr, args.clip, args.noise)
        if step % max(1, steps // 10) == 0:
            print(f"step {step:5d}  loss {float(batch_loss(params, xs, ys)):.6f}")
    final = float(batch_loss(params, xs, ys))
    print(f"final loss {final:.6f}  (initial {first:.6f})")
    if not args.smoke and final > 0.5 * first:
        print(f"error: DP-SGD did not halve the loss ({first:.4f} -> {final:.4f})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
