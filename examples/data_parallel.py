"""The CNN example trained data-parallel with ``pmap`` over several (virtual CPU) devices.

Each step splits the global batch over the devices; every device computes the gradient of its
shard, the gradients are averaged with ``lax.pmean`` (the mean over the shards' means is the
global batch's mean), and every device applies the same update to its copy of the parameters.
The result equals single-device training on the same global batch and seed, within float
rounding: ``--compare`` runs both and prints the largest parameter difference.

Run: ``python examples/data_parallel.py [--devices N] [--epochs N] [--compare] [--smoke]``.
On the CPU, ``--devices N`` sets ``fg.config.num_cpu_devices`` (like
``FUNCGRAD_NUM_CPU_DEVICES=N``); each device's shard runs in its own thread.

Across processes: ``mpiexec -n 2 python examples/data_parallel.py --mpi`` (the ``mpi`` extra).
Every process loads the same data in the same order; the global batch is split over all
processes' devices (``--devices`` per process), and the collectives span the processes, so
each process ends with the same parameters as a single-device run.
"""

import argparse
import os
import sys
import time

import numpy as np

import funcgrad as fg
from funcgrad import lax, optim

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cnn import accuracy, load_data, loss_and_grad, model  # noqa: E402  (the same model)


def make_steps(opt):
    def step(state, xb, yb):
        """One single-device SGD step on the global batch."""
        loss, grads = loss_and_grad(state.params, xb, yb)
        return loss, opt.update(state, grads)

    def shard_step(state, xb, yb):
        """One device's part of a data-parallel step: its shard's gradient, averaged over the
        devices, and the same update everywhere."""
        loss, grads = loss_and_grad(state.params, xb, yb)
        loss, grads = lax.pmean((loss, grads), "batch")
        return loss, opt.update(state, grads)

    # The state is given to every device (in_axes None) and comes back from device 0
    # (out_axes None): after pmean every device holds the same state.
    dp_step = fg.pmap(shard_step, "batch", in_axes=(None, 0, 0), out_axes=None)
    return fg.jit(step), dp_step


def train(args, data_parallel):
    # drop_last: every global batch splits evenly over the devices
    loader, x_test, y_test, key_init = load_data(args.seed, args.batch_size, drop_last=True)
    params = fg.distributed.broadcast_from_root(model.init(key_init))  # the same start everywhere
    epochs, max_steps = (1, args.steps) if args.smoke else (args.epochs, len(loader))
    lr = optim.cosine_annealing(args.lr, epochs * len(loader))
    opt = optim.sgd(lr, momentum=args.momentum, weight_decay=args.weight_decay)
    state = opt.init(params)
    step, dp_step = make_steps(opt)
    n, rank, nproc = args.devices, fg.process_index(), fg.process_count()
    mine = slice(rank * n, (rank + 1) * n)  # this process's devices on the global axis
    for epoch in range(1, epochs + 1):
        total, steps = 0.0, 0
        for xb, yb in loader:
            if data_parallel:  # (global batch, ...) -> (devices, global batch / devices, ...)
                xb = xb.reshape((n * nproc, -1) + tuple(xb.shape[1:]))[mine]
                yb = yb.reshape((n * nproc, -1))[mine]
                loss, state = dp_step(state, xb, yb)
            else:
                loss, state = step(state, xb, yb)
            total, steps = total + float(loss), steps + 1
            if steps == max_steps:
                break
        print(f"epoch {epoch:3d}/{epochs}  loss {total / steps:.4f}", flush=True)
    return state.params, accuracy(state.params, x_test, y_test), len(x_test)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=2, help="virtual CPU devices (default 2)")
    parser.add_argument("--epochs", type=int, default=40, help="epochs (default 40)")
    parser.add_argument("--batch-size", type=int, default=32, help="global batch (default 32)")
    parser.add_argument("--lr", type=float, default=0.02, help="peak learning rate (default 0.02)")
    parser.add_argument("--momentum", type=float, default=0.9, help="momentum (default 0.9)")
    parser.add_argument("--weight-decay", type=float, default=5e-4, help="L2 (default 5e-4)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--compare", action="store_true", help="also train on one device")
    parser.add_argument("--smoke", action="store_true", help="one epoch of --steps steps")
    parser.add_argument("--steps", type=int, default=5, help="steps with --smoke (default 5)")
    parser.add_argument("--mpi", action="store_true", help="run under mpiexec, one per process")
    args = parser.parse_args(argv)
    if args.mpi:
        fg.distributed.initialize()
    if args.batch_size % (args.devices * fg.process_count()):
        parser.error(f"--batch-size {args.batch_size} must be a multiple of the device count")
    fg.config.update("num_cpu_devices", args.devices)
    start = time.perf_counter()
    params, acc, n_test = train(args, data_parallel=True)
    elapsed = time.perf_counter() - start
    where = f"process {fg.process_index()} of {fg.process_count()}, " if args.mpi else ""
    print(f"{where}devices {fg.devices()}")
    print(f"{where}test accuracy {acc:.4f} ({round(acc * n_test)}/{n_test})  {elapsed:.1f} s")
    checksum = sum(
        float(np.sum(np.asarray(p, np.float64))) for p in fg.tree_util.tree_leaves(params)
    )
    print(f"{where}parameter checksum {checksum!r}")
    if args.compare:
        single, acc1, _ = train(args, data_parallel=False)
        diff = max(
            float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
            for a, b in zip(fg.tree_util.tree_leaves(params), fg.tree_util.tree_leaves(single))
        )
        print(f"{where}single-device test accuracy {acc1:.4f}")
        print(f"{where}max |param difference| {diff:.3g}")
    if not args.smoke and acc < 0.98:
        print(f"error: test accuracy {acc:.4f} is below 0.98", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
