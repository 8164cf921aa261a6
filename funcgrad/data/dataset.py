"""Datasets: the ``Dataset`` protocol and ``ArrayDataset``, whose batches are one fancy-index."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["ArrayDataset", "Dataset"]


@runtime_checkable
class Dataset(Protocol):
    """Anything with ``__len__`` and ``__getitem__(i)`` returning one example (a pytree).

    As in PyTorch, a dataset may also offer ``get_batch(indices)`` returning a whole collated batch
    at once; ``DataLoader`` uses it when present instead of fetching examples one by one.
    """

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> Any: ...


class ArrayDataset:
    """A dataset of equal-length arrays indexed along their first axis (PyTorch's TensorDataset).

    The arrays are kept on the host as NumPy arrays; a batch is gathered with one fancy-index per
    array, and ``DataLoader`` turns it into Arrays.

    Args:
      *arrays: arrays (funcgrad Arrays, NumPy arrays or array-likes) with the same first dimension.

    Example:
      >>> ds = ArrayDataset(images, labels)
      >>> x0, y0 = ds[0]
      >>> xb, yb = ds.get_batch(np.array([3, 1, 4]))
    """

    def __init__(self, *arrays: Any):
        if not arrays:
            raise ValueError("ArrayDataset: give at least one array")
        arrays = tuple(np.asarray(a) for a in arrays)
        for i, a in enumerate(arrays):
            if a.ndim == 0:
                raise ValueError(f"ArrayDataset: array {i} is a scalar; arrays need a first axis")
        lengths = [a.shape[0] for a in arrays]
        if len(set(lengths)) != 1:
            shapes = ", ".join(f"array {i}: {a.shape}" for i, a in enumerate(arrays))
            raise ValueError(
                "ArrayDataset: all arrays must have the same length (first dimension), got "
                + shapes
            )
        self.arrays = arrays

    def __len__(self) -> int:
        return self.arrays[0].shape[0]

    def __getitem__(self, index: Any) -> tuple[np.ndarray, ...]:
        return tuple(a[index] for a in self.arrays)

    def get_batch(self, indices: np.ndarray) -> tuple[np.ndarray, ...]:
        """The examples at ``indices``, stacked: one fancy-index per array."""
        return tuple(a[indices] for a in self.arrays)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{a.dtype}{list(a.shape)}" for a in self.arrays)
        return f"ArrayDataset({shapes})"
