"""A convolutional network on handwritten digits: the PyTorch tutorial's CNN, written functionally.

Two 3x3 convolutions with ReLU and 2x2 max pooling, then two linear layers, trained with SGD
(momentum, weight decay, a cosine learning-rate schedule) on scikit-learn's 8x8 digits, with small
random rotations as augmentation. The model is an ``nn.Module`` whose parameters live in a plain
dict; the optimizer is a pair of pure functions.

Run: ``python examples/cnn.py [--epochs N] [--seed S] [--smoke]``.
"""

import argparse
import sys
import time

import numpy as np

import funcgrad as fg
from funcgrad import nn, optim
from funcgrad.data import ArrayDataset, DataLoader, datasets, transforms

try:
    from tqdm import tqdm
except ImportError:  # a plain line per epoch instead of a bar
    tqdm = None


class Net(nn.Module):
    """conv 1->16, pool (8x8 -> 4x4), conv 16->32, pool (-> 2x2), fc 128->64, fc 64->10."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, kernel_size=3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(32 * 2 * 2, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        x = self.pool(nn.relu(self.conv1(x)))
        x = self.pool(nn.relu(self.conv2(x)))
        x = x.reshape(x.shape[0], -1)
        x = nn.relu(self.fc1(x))
        return self.fc2(x)


model = Net()


def loss_fn(params, x, y):
    """Mean cross-entropy of the model's logits against the integer labels."""
    return nn.cross_entropy(model.apply(params, x), y)


loss_and_grad = fg.value_and_grad(loss_fn)


# Pixel mean and spread of the digits; applied to the training batches and the test set alike.
normalize = transforms.Normalize(0.3, 0.4)


def accuracy(params, x, y, batch_size=512):
    """The fraction of images ``x`` (NumPy, in [0, 1]) whose arg-max logit is the label ``y``."""
    correct = 0
    for i in range(0, len(x), batch_size):
        logits = np.asarray(model.apply(params, normalize(x[i : i + batch_size])))
        correct += int((logits.argmax(axis=1) == y[i : i + batch_size]).sum())
    return correct / len(x)


def load_data(seed, batch_size, drop_last=False):
    """The digits split 80/20 by ``seed``, and a shuffling, augmenting loader over the training
    part. Returns ``(loader, x_test, y_test, key_init)``, ``key_init`` for the parameters."""
    images, labels = datasets.digits()  # float32 (1797, 1, 8, 8) in [0, 1], int64 labels
    x_train, x_test, y_train, y_test = datasets.train_test_split(
        images, labels, test_size=0.2, key=fg.random.key(seed)
    )
    key_init, key_data = fg.random.split(fg.random.key(seed + 1))
    # Rotations of up to 10 degrees (bilinear, zero fill). On 8x8 digits, which fill their frame,
    # RandomCrop(8, padding=1) cuts off strokes and costs about 2 points of test accuracy here.
    augment = transforms.Compose([transforms.RandomRotation(10), normalize])
    loader = DataLoader(
        ArrayDataset(x_train, y_train),
        batch_size,
        shuffle=True,
        key=key_data,
        transform=augment,
        drop_last=drop_last,
    )
    return loader, x_test, y_test, key_init


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=40, help="epochs (default 40)")
    parser.add_argument("--batch-size", type=int, default=32, help="batch size (default 32)")
    parser.add_argument("--lr", type=float, default=0.02, help="peak learning rate (default 0.02)")
    parser.add_argument("--momentum", type=float, default=0.9, help="momentum (default 0.9)")
    parser.add_argument("--weight-decay", type=float, default=5e-4, help="L2 (default 5e-4)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--smoke", action="store_true", help="a few steps, no accuracy check")
    args = parser.parse_args(argv)
    start = time.perf_counter()

    loader, x_test, y_test, key_init = load_data(args.seed, args.batch_size)
    params = model.init(key_init)
    epochs, max_steps = (1, 5) if args.smoke else (args.epochs, len(loader))
    lr = optim.cosine_annealing(args.lr, epochs * len(loader))  # decays to 0 over the run
    opt = optim.sgd(lr, momentum=args.momentum, weight_decay=args.weight_decay)
    state = opt.init(params)
    n_train, n_test = len(loader.dataset), len(x_test)
    print(f"{nn.num_params(params)} parameters; {n_train} training, {n_test} test images")

    for epoch in range(1, epochs + 1):
        batches = loader if tqdm is None else tqdm(loader, desc=f"epoch {epoch}", leave=False)
        total, steps = 0.0, 0
        for xb, yb in batches:
            loss, grads = loss_and_grad(state.params, xb, yb)
            state = opt.update(state, grads)
            total, steps = total + float(loss), steps + 1
            if steps == max_steps:
                break
        if tqdm is None or epoch == epochs:
            print(f"epoch {epoch:3d}/{epochs}  loss {total / steps:.4f}", flush=True)

    acc = accuracy(state.params, x_test, y_test)
    elapsed = time.perf_counter() - start
    print(f"test accuracy {acc:.4f} ({round(acc * len(x_test))}/{len(x_test)})  {elapsed:.1f} s")
    if not args.smoke and acc < 0.98:
        print(f"error: test accuracy {acc:.4f} is below 0.98", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
