"""Batch transforms for NCHW images: pure ``(batch, key) -> batch`` callables, vectorized."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from funcgrad import numpy as fnp
from funcgrad import random

__all__ = [
    "Compose",
    "Normalize",
    "RandomCrop",
    "RandomHorizontalFlip",
    "RandomRotation",
    "ToFloat",
]


def _images(name: str, x: Any, float_only: bool = True) -> Any:
    x = fnp.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"{name}: expected a batch of images of shape (N, C, H, W), got {x.shape}")
    if float_only and x.dtype.kind != "f":
        raise TypeError(
            f"{name}: expected a floating-point batch, got {x.dtype}{list(x.shape)}; "
            "apply ToFloat first"
        )
    return x


def _need_key(name: str, key: Any) -> None:
    if key is None:
        raise ValueError(f"{name}: a random transform needs a key (give the DataLoader a key=)")


def _pair(name: str, what: str, v: Any) -> tuple[int, int]:
    pair = (v, v) if isinstance(v, (int, np.integer)) else tuple(v)
    if len(pair) != 2 or any(not isinstance(p, (int, np.integer)) or p < 0 for p in pair):
        raise ValueError(f"{name}: {what} must be an int >= 0 or a pair of them, got {v!r}")
    return int(pair[0]), int(pair[1])


class Compose:
    """Applies transforms in order, each with its own key split from the given one.

    Example:
      >>> aug = Compose([ToFloat(), RandomCrop(28, padding=2), Normalize(0.1307, 0.3081)])
      >>> xb = aug(xb, key)
    """

    def __init__(self, transforms: Sequence[Any]):
        self.transforms = list(transforms)

    def __call__(self, batch: Any, key: Any = None) -> Any:
        n = len(self.transforms)
        keys = [None] * n if key is None or n == 0 else list(random.split(key, n))
        for t, k in zip(self.transforms, keys):
            batch = t(batch, k)
        return batch

    def __repr__(self) -> str:
        return "Compose([" + ", ".join(map(repr, self.transforms)) + "])"


class ToFloat:
    """Converts a uint8 batch to float32 in [0, 1] (divides by 255); float batches pass through.

    Example:
      >>> ToFloat()(np.full((1, 1, 2, 2), 255, np.uint8))  # all ones, float32
    """

    def __init__(self, dtype=np.float32):
        self.dtype = np.dtype(dtype)

    def __call__(self, batch: Any, key: Any = None) -> Any:
        x = fnp.asarray(batch)
        if x.dtype == np.uint8:
            return x.astype(self.dtype) / 255.0
        if x.dtype.kind == "f":
            return x
        raise TypeError(f"ToFloat: expected a uint8 or float batch, got {x.dtype}{list(x.shape)}")

    def __repr__(self) -> str:
        return f"ToFloat({self.dtype})"


class Normalize:
    """``(x - mean[c]) / std[c]`` per channel (axis 1) of a float batch ``(N, C, ...)``.

    Args:
      mean: one value per channel, or a single value for all.
      std: one value per channel, or a single value for all; must be nonzero.

    Example:
      >>> Normalize([0.5, 0.5, 0.5], [0.25, 0.25, 0.25])(x)
    """

    def __init__(self, mean: Any, std: Any):
        self.mean = np.atleast_1d(np.asarray(mean, dtype=np.float64))
        self.std = np.atleast_1d(np.asarray(std, dtype=np.float64))
        if self.mean.ndim != 1 or self.std.ndim != 1:
            raise ValueError(f"Normalize: mean and std must be 1-D, got {mean!r} and {std!r}")
        if np.any(self.std == 0):
            raise ValueError(f"Normalize: std must be nonzero, got {std!r}")

    def __call__(self, batch: Any, key: Any = None) -> Any:
        x = fnp.asarray(batch)
        if x.ndim < 2 or x.dtype.kind != "f":
            raise ValueError(
                f"Normalize: expected a float batch of shape (N, C, ...), got "
                f"{x.dtype}{list(x.shape)}"
            )
        c = x.shape[1]
        for what, v in (("mean", self.mean), ("std", self.std)):
            if v.size not in (1, c):
                raise ValueError(f"Normalize: {what} has {v.size} values for {c} channels")
        shape = (1, -1) + (1,) * (x.ndim - 2)
        mean = self.mean.astype(x.dtype).reshape(shape)
        std = self.std.astype(x.dtype).reshape(shape)
        return (x - mean) / std

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()})"


class RandomHorizontalFlip:
    """Flips each image left-right with probability ``p`` (independently per example).

    Example:
      >>> RandomHorizontalFlip(0.5)(x, key)
    """

    def __init__(self, p: float = 0.5):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"RandomHorizontalFlip: p must be in [0, 1], got {p}")
        self.p = float(p)

    def __call__(self, batch: Any, key: Any = None) -> Any:
        _need_key("RandomHorizontalFlip", key)
        x = _images("RandomHorizontalFlip", batch, float_only=False)
        flip = random.bernoulli(key, self.p, (x.shape[0],))
        return fnp.where(flip[:, None, None, None], fnp.flip(x, axis=3), x)

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"


class RandomCrop:
    """Zero-pads each image by ``padding`` and cuts a ``size`` window at a random offset.

    Every example gets its own offset; the crop is two ``take_along_axis`` gathers.

    Args:
      size: output ``(height, width)``, or an int for a square.
      padding: zeros added on each side: an int, or ``(pad_h, pad_w)``.

    Example:
      >>> RandomCrop(32, padding=4)(x, key)  # the CIFAR-10 augmentation
    """

    def __init__(self, size: int | Sequence[int], padding: int | Sequence[int] = 0):
        self.size = _pair("RandomCrop", "size", size)
        self.padding = _pair("RandomCrop", "padding", padding)

    def __call__(self, batch: Any, key: Any = None) -> Any:
        _need_key("RandomCrop", key)
        x = _images("RandomCrop", batch, float_only=False)
        (ph, pw), (h, w) = self.padding, self.size
        n, hp, wp = x.shape[0], x.shape[2] + 2 * ph, x.shape[3] + 2 * pw
        if h > hp or w > wp:
            raise ValueError(
                f"RandomCrop: crop size {(h, w)} is larger than the padded image {(hp, wp)} "
                f"(input {x.shape}, padding {self.padding})"
            )
        if ph or pw:
            x = fnp.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
        ky, kx = random.split(key)
        top = random.randint(ky, (n,), 0, hp - h + 1)
        left = random.randint(kx, (n,), 0, wp - w + 1)
        rows = (top[:, None] + fnp.arange(h))[:, None, :, None]
        cols = (left[:, None] + fnp.arange(w))[:, None, None, :]
        return fnp.take_along_axis(fnp.take_along_axis(x, rows, axis=2), cols, axis=3)

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size}, padding={self.padding})"


class RandomRotation:
    """Rotates each image about its centre by its own angle, bilinear, filling with zeros.

    Angles are uniform in ``(-degrees, degrees)`` (or in ``degrees = (lo, hi)``); positive angles
    turn counter-clockwise, as in torchvision, so 90 degrees equals ``np.rot90`` on a square image.

    Example:
      >>> RandomRotation(15)(x, key)
    """

    def __init__(self, degrees: float | Sequence[float]):
        if isinstance(degrees, (int, float, np.number)):
            if degrees < 0:
                raise ValueError(f"RandomRotation: degrees must be >= 0, got {degrees}")
            degrees = (-degrees, degrees)
        lo, hi = (float(d) for d in degrees)
        if lo > hi:
            raise ValueError(f"RandomRotation: degrees range ({lo}, {hi}) is empty")
        self.degrees = (lo, hi)

    def __call__(self, batch: Any, key: Any = None) -> Any:
        _need_key("RandomRotation", key)
        x = _images("RandomRotation", batch)
        n, c, h, w = x.shape
        lo, hi = self.degrees
        angle = random.uniform(key, (n,), dtype=x.dtype, minval=lo, maxval=hi) * (math.pi / 180)
        cos, sin = fnp.cos(angle)[:, None, None], fnp.sin(angle)[:, None, None]
        ci, cj = (h - 1) / 2, (w - 1) / 2
        di = (fnp.arange(h, dtype=x.dtype) - ci)[:, None]
        dj = (fnp.arange(w, dtype=x.dtype) - cj)[None, :]
        # Output pixel p samples the input at R(-angle) p (rows point down, so the signs flip).
        src_i = ci + di * cos + dj * sin
        src_j = cj + dj * cos - di * sin
        i0, j0 = fnp.floor(src_i), fnp.floor(src_j)
        fi, fj = src_i - i0, src_j - j0
        i0, j0 = i0.astype(np.int32), j0.astype(np.int32)
        flat = x.reshape(n, c, h * w)
        out = None
        for oi, oj, weight in (
            (0, 0, (1 - fi) * (1 - fj)),
            (0, 1, (1 - fi) * fj),
            (1, 0, fi * (1 - fj)),
            (1, 1, fi * fj),
        ):
            ii, jj = i0 + oi, j0 + oj
            inside = (ii >= 0) & (ii < h) & (jj >= 0) & (jj < w)
            index = fnp.clip(ii, 0, h - 1) * w + fnp.clip(jj, 0, w - 1)
            values = fnp.take_along_axis(flat, index.reshape(n, 1, h * w), axis=2)
            term = values * fnp.where(inside, weight, 0).reshape(n, 1, h * w)
            out = term if out is None else out + term
        return out.reshape(n, c, h, w)

    def __repr__(self) -> str:
        return f"RandomRotation(degrees={self.degrees})"
