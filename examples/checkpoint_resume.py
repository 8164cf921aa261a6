"""Checkpoint and resume: a run stopped halfway and resumed ends bit for bit like an unbroken one.

A digits MLP with ``BatchNorm1d`` (running statistics in ``state``) and ``Dropout`` (randomness from
a key folded with the step) is trained with Adam on shuffled mini-batches. The whole training state
is one pytree: params, BatchNorm state, optimizer state (moments and step counts), the step, the
dropout key, and the data loader's key, epoch and position in the epoch. Run A trains N steps in
one go. Run B trains N/2 steps, saves that pytree with ``fg.save``, throws everything away, rebuilds
the model, loads the checkpoint with ``fg.load(path, like=template)`` (which checks every shape and
dtype), and trains the remaining N/2 steps. The largest difference between the two runs' final
params, BatchNorm and optimizer state is printed; it must be exactly 0.0.
Run: ``python examples/checkpoint_resume.py [--steps N] [--ckpt PATH] [--smoke]``.
"""

import argparse
import os
import sys
import tempfile

import numpy as np

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import nn, optim
from funcgrad.data import ArrayDataset, DataLoader, datasets

try:
    from tqdm import tqdm
except ImportError:  # a plain line per epoch instead of a bar
    tqdm = None

BATCH = 32
TARGET = 0.95  # test accuracy of the final model (a sanity check that it really trained)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(64, 128)
        self.bn1 = nn.BatchNorm1d(128)
        self.drop = nn.Dropout(0.1)
        self.fc2 = nn.Linear(128, 64)
        self.fc3 = nn.Linear(64, 10)

    def forward(self, x):
        x = x.reshape(x.shape[0], -1)
        x = self.drop(nn.relu(self.bn1(self.fc1(x))))
        x = nn.relu(self.fc2(x))
        return self.fc3(x)


MODEL = Net()
OPT = optim.adam(1e-3)


def load_data():
    images, labels = datasets.digits()
    return datasets.train_test_split(images, labels, test_size=0.25, key=fg.random.key(0))


def init_train_state(seed=0):
    """A fresh training state: everything a run needs to continue, as one pytree."""
    init_key, dropout_key, data_key = fg.random.split(fg.random.key(seed), 3)
    return {
        "model_state": MODEL.init_state(),  # BatchNorm running statistics
        "opt": OPT.init(MODEL.init(init_key)),  # opt.params are the params
        "step": 0,
        "dropout_key": dropout_key,
        "loader": {"key": data_key, "epoch": 0, "batch": 0},  # the next batch to visit
    }


def loss_fn(params, model_state, x, y, rng):
    logits, model_state = MODEL.apply(params, x, state=model_state, rng=rng, train=True)
    return nn.cross_entropy(logits, y), model_state


loss_and_grad = fg.value_and_grad(loss_fn, has_aux=True)


def train(ts, dataset, until, desc="train"):
    """Trains from ``ts["step"]`` up to step ``until``; returns the new training state.

    The loader is rebuilt from the saved key and restarted at the saved epoch and batch, so the
    batches (and the dropout masks, keyed by the step) are those an unbroken run would see.
    """
    loader = DataLoader(dataset, BATCH, shuffle=True, key=ts["loader"]["key"])
    model_state, opt_state, step = ts["model_state"], ts["opt"], ts["step"]
    epoch, batch = ts["loader"]["epoch"], ts["loader"]["batch"]
    bar = tqdm(total=until, initial=step, desc=desc, unit="step") if tqdm else None
    while step < until:
        total, count = 0.0, 0
        for xb, yb in loader.epoch_iter(epoch, start_step=batch):
            rng = fg.random.fold_in(ts["dropout_key"], step)
            (loss, model_state), grads = loss_and_grad(opt_state.params, model_state, xb, yb, rng)
            opt_state = OPT.update(opt_state, grads)
            step, batch = step + 1, batch + 1
            total, count = total + float(loss), count + 1
            if bar:
                bar.update(1)
            if step == until:
                break
        if bar:
            bar.set_postfix(epoch=epoch, loss=f"{total / count:.4f}")
        else:
            print(f"{desc}: epoch {epoch:3d}  step {step:5d}  loss {total / count:.4f}")
        if batch == len(loader):
            epoch, batch = epoch + 1, 0
    if bar:
        bar.close()
    return {
        "model_state": model_state,
        "opt": opt_state,
        "step": step,
        "dropout_key": ts["dropout_key"],
        "loader": {"key": ts["loader"]["key"], "epoch": epoch, "batch": batch},
    }


def run_uninterrupted(dataset, steps, seed=0):
    return train(init_train_state(seed), dataset, steps, desc="run A")


def run_resumed(dataset, steps, ckpt_path, seed=0):
    """Trains steps // 2 steps, checkpoints, forgets everything, reloads and finishes."""
    half = train(init_train_state(seed), dataset, steps // 2, desc="run B, part 1")
    fg.save(ckpt_path, half)
    print(f"saved the training state at step {half['step']} to {ckpt_path}")
    del half
    template = init_train_state(seed=12345)  # any state of the right structure, shapes, dtypes
    resumed = fg.load(ckpt_path, like=template)
    epoch, batch = resumed["loader"]["epoch"], resumed["loader"]["batch"]
    print(f"loaded it: step {resumed['step']}, loader at epoch {epoch} batch {batch}")
    return train(resumed, dataset, steps, desc="run B, part 2")


def max_difference(a, b):
    """Largest |a - b| over every array of two training states (params, BatchNorm and optimizer
    state, keys, counters)."""
    leaves_a, treedef_a = fg.tree_util.tree_flatten(a)
    leaves_b, treedef_b = fg.tree_util.tree_flatten(b)
    if treedef_a != treedef_b:
        return float("inf")
    return max(
        float(np.max(np.abs(np.asarray(x, np.float64) - np.asarray(y, np.float64))))
        for x, y in zip(leaves_a, leaves_b)
    )


def accuracy(ts, x, y):
    logits = MODEL.apply(ts["opt"].params, fnp.asarray(x), state=ts["model_state"])[0]
    return float(np.mean(np.asarray(fnp.argmax(logits, axis=1)) == y))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400, help="training steps N (default 400)")
    parser.add_argument("--ckpt", default=None, help="checkpoint file (default: a temporary one)")
    parser.add_argument("--smoke", action="store_true", help="a few steps, no accuracy check")
    args = parser.parse_args(argv)
    if args.steps < 2:
        parser.error("--steps must be at least 2")
    steps = 10 if args.smoke else args.steps

    x_train, x_test, y_train, y_test = load_data()
    dataset = ArrayDataset(x_train, y_train)
    print(
        f"{steps} steps of batch {BATCH} ({len(dataset)} training images); resume at {steps // 2}"
    )

    a = run_uninterrupted(dataset, steps)
    with tempfile.TemporaryDirectory() as tmp:
        b = run_resumed(dataset, steps, args.ckpt or os.path.join(tmp, "ckpt.npz"))

    diff = max_difference(a, b)
    acc = accuracy(b, x_test, y_test)
    print(f"max |resumed - uninterrupted| = {diff}  (params, BatchNorm and optimizer state)")
    print(f"final test accuracy {acc:.4f}")
    if diff != 0.0:
        print(
            f"error: the resumed run differs from the uninterrupted one by {diff}", file=sys.stderr
        )
        return 1
    if not args.smoke and acc < TARGET:
        print(f"error: test accuracy {acc:.4f} is below {TARGET}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
