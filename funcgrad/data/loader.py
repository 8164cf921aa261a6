"""``DataLoader``: batches of Arrays in an order that is a pure function of (key, epoch)."""

from __future__ import annotations

import math
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from funcgrad import numpy as fnp
from funcgrad import random, tree_util

__all__ = ["DataLoader", "default_collate"]


def _to_array(x: Any) -> Any:
    if isinstance(x, (np.ndarray, np.generic, bool, int, float, complex)):
        return fnp.asarray(x)
    return x


def default_collate(examples: list[Any]) -> Any:
    """Stacks a list of examples (pytrees of the same structure) into a batch of Arrays.

    Example:
      >>> default_collate([(np.zeros(3), 1), (np.ones(3), 0)])  # (f64[2, 3], i64[2])
    """
    if not examples:
        raise ValueError("default_collate: got an empty list of examples")
    return tree_util.tree_map(
        lambda *xs: fnp.asarray(np.stack([np.asarray(x) for x in xs])), *examples
    )


_ITEM, _END, _ERROR = object(), object(), object()


class DataLoader:
    """Iterates over a dataset in batches, PyTorch-style, with functional shuffling.

    The order of epoch ``e`` is ``random.permutation(fold_in(k_shuffle, e), len(dataset))``
    (with ``k_shuffle, k_transform = random.split(key)``): a pure function of the key and the
    epoch, so a resumed run sees the same batches. Iterating with ``for batch in loader`` runs
    epoch ``loader.epoch`` and advances the counter; save ``loader.epoch`` in a checkpoint and
    restore it with ``set_epoch``, or call ``epoch_iter(e, start_step=s)`` directly.

    Batches are pytrees of Arrays. A dataset with ``get_batch(indices)`` (such as
    ``ArrayDataset``) is gathered with one fancy-index per array; any other dataset is indexed
    example by example and the list is given to ``collate_fn`` (default: ``default_collate``,
    which stacks the leaves).

    Args:
      dataset: a ``Dataset`` (``__len__`` and ``__getitem__``).
      batch_size: examples per batch.
      shuffle: shuffle every epoch (needs ``key``).
      key: a PRNG key (or an int seed) for shuffling and for ``transform``.
      drop_last: drop the last, incomplete batch.
      transform: ``(inputs, key) -> inputs`` applied to whole batches: to the first element of a
        tuple or list batch (the inputs, as with torchvision's ``transform``), else to the batch.
        Step ``s`` of epoch ``e`` gets ``fold_in(k_transform, e * len(loader) + s)`` (None without
        ``key``).
      collate_fn: ``list of examples -> batch``; given, it is used for every dataset.
      prefetch: number of batches a background thread prepares ahead (0: none).

    Example:
      >>> loader = DataLoader(ArrayDataset(x, y), 64, shuffle=True, key=fg.random.key(0))
      >>> for epoch in range(3):
      ...     for xb, yb in loader:
      ...         params = step(params, xb, yb)
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int,
        shuffle: bool = False,
        key: Any = None,
        drop_last: bool = False,
        transform: Callable[[Any, Any], Any] | None = None,
        collate_fn: Callable[[list[Any]], Any] | None = None,
        prefetch: int = 0,
    ):
        if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            raise TypeError(
                f"DataLoader: the dataset must have __len__ and __getitem__, got "
                f"{type(dataset).__name__}"
            )
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
            raise TypeError(f"DataLoader: batch_size must be an int, got {batch_size!r}")
        if batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be positive, got {batch_size}")
        if isinstance(prefetch, bool) or not isinstance(prefetch, int) or prefetch < 0:
            raise ValueError(f"DataLoader: prefetch must be an int >= 0, got {prefetch!r}")
        if shuffle and key is None:
            raise ValueError("DataLoader: shuffle=True needs a key, e.g. key=fg.random.key(0)")
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            key = random.key(int(key))
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.key = key
        self.drop_last = drop_last
        self.transform = transform
        self.collate_fn = collate_fn
        self.prefetch = prefetch
        self.epoch = 0
        if key is not None:
            self._shuffle_key, self._transform_key = random.split(key)

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        """Sets the epoch that the next ``for batch in loader`` runs (e.g. when resuming)."""
        if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 0:
            raise ValueError(f"DataLoader.set_epoch: epoch must be an int >= 0, got {epoch!r}")
        self.epoch = int(epoch)

    def order(self, epoch: int) -> np.ndarray:
        """The example indices of ``epoch``, in the order they are visited."""
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        return np.asarray(random.permutation(random.fold_in(self._shuffle_key, epoch), n))

    def __iter__(self) -> Iterator[Any]:
        epoch = self.epoch
        self.epoch += 1
        return self.epoch_iter(epoch)

    def epoch_iter(self, epoch: int, start_step: int = 0) -> Iterator[Any]:
        """The batches of ``epoch`` from step ``start_step`` on; does not touch ``self.epoch``."""
        if not 0 <= start_step <= len(self):
            raise ValueError(
                f"DataLoader.epoch_iter: start_step must be in [0, {len(self)}], got {start_step}"
            )
        batches = self._batches(epoch, start_step)
        return self._prefetched(batches) if self.prefetch > 0 else batches

    def _batches(self, epoch: int, start_step: int) -> Iterator[Any]:
        order = self.order(epoch)
        for step in range(start_step, len(self)):
            yield self._batch(
                order[step * self.batch_size : (step + 1) * self.batch_size], epoch, step
            )

    def _batch(self, indices: np.ndarray, epoch: int, step: int) -> Any:
        ds = self.dataset
        if self.collate_fn is None and hasattr(ds, "get_batch"):
            batch = tree_util.tree_map(_to_array, ds.get_batch(indices))
        else:
            examples = [ds[int(i)] for i in indices]
            batch = (self.collate_fn or default_collate)(examples)
        if self.transform is None:
            return batch
        key = None
        if self.key is not None:
            key = random.fold_in(self._transform_key, epoch * len(self) + step)
        if isinstance(batch, (tuple, list)) and batch:
            return type(batch)([self.transform(batch[0], key), *batch[1:]])
        return self.transform(batch, key)

    def _prefetched(self, batches: Iterator[Any]) -> Iterator[Any]:
        q: queue.Queue = queue.Queue(maxsize=self.prefetch)
        stop = threading.Event()

        def put(item) -> bool:
            while not stop.is_set():
                try:
                    q.put(item, timeout=0.05)
                    return True
                except queue.Full:
                    pass
            return False

        def work():
            try:
                for batch in batches:
                    if not put((_ITEM, batch)):
                        return
                put((_END, None))
            except BaseException as e:  # handed to the consumer, raised there
                put((_ERROR, e))
            finally:
                batches.close()

        thread = threading.Thread(target=work, name="funcgrad-DataLoader-prefetch", daemon=True)
        thread.start()
        try:
            while True:
                tag, item = q.get()
                if tag is _END:
                    return
                if tag is _ERROR:
                    raise item
                yield item
        finally:
            stop.set()
            thread.join()

    def __repr__(self) -> str:
        return (
            f"DataLoader({type(self.dataset).__name__} of {len(self.dataset)}, "
            f"batch_size={self.batch_size}, shuffle={self.shuffle}, drop_last={self.drop_last}, "
            f"epoch={self.epoch})"
        )
