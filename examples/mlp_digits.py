"""An MLP on handwritten digits: the PyTorch tutorial's ``Net`` pattern, written functionally.

``class Net(nn.Module)`` declares ``fc1``/``fc2``/``fc3`` in ``__init__`` and chains them with ReLU
in ``forward``, as in the tutorial; ``params = model.init(key)`` holds the arrays and
``model.apply(params, x)`` runs it. It is trained on ``datasets.digits()`` (8x8 images, 10
classes) with ``nn.cross_entropy``, ``optim.sgd`` with momentum (and a cosine learning-rate
schedule) and a ``DataLoader`` that shuffles by key and standardises each batch, then evaluated
on a held-out test split (target: at least 97% accuracy).
Run: ``python examples/mlp_digits.py [--epochs N] [--smoke]``.
"""

import argparse
import sys

import numpy as np

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import nn, optim
from funcgrad.data import ArrayDataset, DataLoader, datasets, transforms

try:
    from tqdm import tqdm
except ImportError:  # a plain line per epoch instead of a bar
    tqdm = None

TARGET = 0.97  # test accuracy to reach


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(8 * 8, 256)
        self.fc2 = nn.Linear(256, 128)
        self.fc3 = nn.Linear(128, 10)

    def forward(self, x):
        x = x.reshape(x.shape[0], -1)  # (N, 1, 8, 8) -> (N, 64)
        x = nn.relu(self.fc1(x))
        x = nn.relu(self.fc2(x))
        return self.fc3(x)


def evaluate(model, params, x, y):
    """Accuracy of ``model`` on the arrays ``x``, ``y`` (one batched forward pass)."""
    logits = model.apply(params, fnp.asarray(x))
    return float(np.mean(np.asarray(fnp.argmax(logits, axis=1)) == y))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30, help="passes over the data (default 30)")
    parser.add_argument("--lr", type=float, default=0.05, help="learning rate (default 0.05)")
    parser.add_argument("--batch", type=int, default=32, help="batch size (default 32)")
    parser.add_argument("--seed", type=int, default=0, help="seed for init and shuffling")
    parser.add_argument("--smoke", action="store_true", help="a few steps, no accuracy check")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error("--epochs must be at least 1")
    epochs = 1 if args.smoke else args.epochs

    images, labels = datasets.digits()  # float32[1797, 1, 8, 8] in [0, 1], int64[1797]
    x_train, x_test, y_train, y_test = datasets.train_test_split(
        images, labels, test_size=0.25, key=fg.random.key(0)
    )
    print(f"digits: {len(y_train)} train, {len(y_test)} test images")

    # Standardise with the training set's statistics: on every batch, and on the test set.
    normalize = transforms.Normalize(float(x_train.mean()), float(x_train.std()))
    x_test = normalize(x_test)

    key = fg.random.key(args.seed)
    init_key, data_key = fg.random.split(key)
    loader = DataLoader(
        ArrayDataset(x_train, y_train), args.batch, shuffle=True, key=data_key, transform=normalize
    )

    model = Net()
    params = model.init(init_key)
    print(f"Net: {nn.num_params(params)} parameters")
    schedule = optim.cosine_annealing(args.lr, T_max=epochs * len(loader))  # decays to 0
    opt = optim.sgd(schedule, momentum=0.9)
    opt_state = opt.init(params)

    def loss_fn(params, x, y):
        return nn.cross_entropy(model.apply(params, x), y)

    loss_and_grad = fg.value_and_grad(loss_fn)

    bar = tqdm(range(epochs), desc="train", unit="epoch") if tqdm else range(epochs)
    for epoch in bar:
        total, count = 0.0, 0
        for step, (xb, yb) in enumerate(loader):
            loss, grads = loss_and_grad(opt_state.params, xb, yb)
            opt_state = opt.update(opt_state, grads)
            total, count = total + float(loss) * len(yb), count + len(yb)
            if args.smoke and step == 4:
                break
        train_loss = total / count
        if tqdm:
            bar.set_postfix(loss=f"{train_loss:.4f}")
        else:
            acc = evaluate(model, opt_state.params, x_test, y_test)
            print(f"epoch {epoch + 1:3d}/{epochs}  loss {train_loss:.4f}  test acc {acc:.4f}")

    test_acc = evaluate(model, opt_state.params, x_test, y_test)
    print(f"final test accuracy {test_acc:.4f}  (target {TARGET:.2f})")
    if not args.smoke and test_acc < TARGET:
        print(f"error: test accuracy {test_acc:.4f} is below {TARGET}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
