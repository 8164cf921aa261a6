"""Logistic regression with funcgrad: telling handwritten 3s from 8s.

A single ``nn.Linear(64, 1)`` gives one logit per 8x8 image from ``datasets.digits()`` (only the
3s and the 8s, a pair that is easy to confuse); ``nn.binary_cross_entropy_with_logits`` is the
loss and ``optim.sgd`` with momentum trains it on shuffled mini-batches from a ``DataLoader``. The
test accuracy is printed at the end (target: at least 95%).
Run: ``python examples/logistic_regression.py [--epochs N] [--smoke]``.
"""

import argparse
import sys

import numpy as np

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import nn, optim
from funcgrad.data import ArrayDataset, DataLoader, datasets

try:
    from tqdm import tqdm
except ImportError:  # a plain line per epoch instead of a bar
    tqdm = None

TARGET = 0.95  # test accuracy to reach


def load_threes_and_eights():
    """(x_train, x_test, y_train, y_test): flattened images and float labels (1.0 for an 8)."""
    images, labels = datasets.digits()
    keep = (labels == 3) | (labels == 8)
    x = images[keep].reshape(-1, 64)  # float32 in [0, 1]
    y = (labels[keep] == 8).astype(np.float32)
    return datasets.train_test_split(x, y, test_size=0.25, key=fg.random.key(0))


class LogisticRegression(nn.Module):
    def __init__(self, in_features):
        super().__init__()
        self.linear = nn.Linear(in_features, 1)

    def forward(self, x):
        return self.linear(x)[:, 0]  # one logit per example


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20, help="passes over the data (default 20)")
    parser.add_argument("--lr", type=float, default=0.1, help="learning rate (default 0.1)")
    parser.add_argument("--batch", type=int, default=32, help="batch size (default 32)")
    parser.add_argument("--smoke", action="store_true", help="a few steps, no accuracy check")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error("--epochs must be at least 1")
    epochs = 1 if args.smoke else args.epochs

    x_train, x_test, y_train, y_test = load_threes_and_eights()
    print(f"task: digit 3 vs digit 8 ({len(y_train)} train, {len(y_test)} test images)")
    loader = DataLoader(ArrayDataset(x_train, y_train), args.batch, shuffle=True, key=1)

    model = LogisticRegression(64)
    params = model.init(fg.random.key(0))
    opt = optim.sgd(args.lr, momentum=0.9)
    opt_state = opt.init(params)

    def loss_fn(params, x, y):
        return nn.binary_cross_entropy_with_logits(model.apply(params, x), y)

    loss_and_grad = fg.value_and_grad(loss_fn)

    def accuracy(params, x, y):
        predicted = np.asarray(model.apply(params, fnp.asarray(x))) > 0  # logit > 0: an 8
        return float(np.mean(predicted == (y > 0.5)))

    bar = tqdm(range(epochs), desc="train", unit="epoch") if tqdm else range(epochs)
    for epoch in bar:
        total, count = 0.0, 0
        for step, (xb, yb) in enumerate(loader):
            loss, grads = loss_and_grad(opt_state.params, xb, yb)
            opt_state = opt.update(opt_state, grads)
            total, count = total + float(loss) * len(yb), count + len(yb)
            if args.smoke and step == 2:
                break
        acc = accuracy(opt_state.params, x_train, y_train)
        if tqdm:
            bar.set_postfix(loss=f"{total / count:.4f}", train_acc=f"{acc:.3f}")
        else:
            print(f"epoch {epoch + 1:3d}/{epochs}  loss {total / count:.4f}  train acc {acc:.4f}")

    test_acc = accuracy(opt_state.params, x_test, y_test)
    print(f"final test accuracy {test_acc:.4f}  (3 vs 8, target {TARGET:.2f})")
    if not args.smoke and test_acc < TARGET:
        print(f"error: test accuracy {test_acc:.4f} is below {TARGET}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
